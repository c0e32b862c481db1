"""Notebook images: templates, builds, the image catalogue, debugging, the baseline index and
Save Image (snapshot + push)."""

from .service import ImageService

CAPABILITY = ImageService

__all__ = ["CAPABILITY", "ImageService"]
