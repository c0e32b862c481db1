"""Uploads: direct resumable uploads, OBS transit, OBS and URL imports, downloads via OBS."""

from .service import UploadService

CAPABILITY = UploadService

__all__ = ["CAPABILITY", "UploadService"]
