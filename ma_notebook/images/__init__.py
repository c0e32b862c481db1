"""Notebook images: the baseline index, Save Image (snapshot + push) and the image catalogue."""

from .service import ImageService

CAPABILITY = ImageService

__all__ = ["CAPABILITY", "ImageService"]
