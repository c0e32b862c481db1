"""Mount backends: how an OBS folder becomes a local folder (rclone, s3fs, bind mounts)."""

from .base import MountBackend, MountError, MountSource
from .bind import BindBackend
from .rclone import RcloneBackend
from .s3fs import S3fsBackend

__all__ = [
    "BindBackend",
    "MountBackend",
    "MountError",
    "MountSource",
    "RcloneBackend",
    "S3fsBackend",
]
