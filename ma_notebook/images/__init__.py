"""Notebook images: the baseline index, Save Image (snapshot + push) and the image catalogue."""
