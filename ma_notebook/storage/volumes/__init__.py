"""Volume providers: what the workspace disk is and how it grows online."""

from .base import GiB, VolumeError, VolumeProvider, VolumeState, statvfs_size
from .kubernetes import KubernetesVolumeProvider
from .local import LocalVolumeProvider, attach_local_volume, detach_local_volume, init_local_volume

__all__ = [
    "GiB",
    "KubernetesVolumeProvider",
    "LocalVolumeProvider",
    "VolumeError",
    "VolumeProvider",
    "VolumeState",
    "attach_local_volume",
    "detach_local_volume",
    "init_local_volume",
    "statvfs_size",
]
