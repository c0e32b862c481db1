"""Object storage (OBS/S3/MinIO or the embedded local store): service, transfers, obs:// paths."""

from .errors import ObsError, ObsNotFound
from .paths import ObsPath, is_obs
from .service import ObsService

CAPABILITY = ObsService

__all__ = ["CAPABILITY", "ObsError", "ObsNotFound", "ObsPath", "ObsService", "is_obs"]
