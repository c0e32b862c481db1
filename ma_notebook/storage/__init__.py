"""Storage: OBS folders mounted at /data/<name>/ at runtime, and online workspace disk growth."""

from .service import StorageService

CAPABILITY = StorageService

__all__ = ["CAPABILITY", "StorageService"]
