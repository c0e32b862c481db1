"""Notebook images: templates, builds, the image catalogue, debugging and the baseline index."""
