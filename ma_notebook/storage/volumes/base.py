"""What every volume provider offers."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from traitlets.config import LoggingConfigurable

GiB = 1024**3


class VolumeError(Exception):
    """A growth that failed; the message is for the user."""


@dataclass
class VolumeState:
    """Whether the workspace is a volume this provider can grow, and its provisioned size."""

    expandable: bool
    reason: str = ""
    capacity_gb: float | None = None


def statvfs_size(path: str | Path) -> tuple[int, int]:
    """(total, used) bytes of the file system holding ``path``."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    return total, total - st.f_bfree * st.f_frsize


Progress = Callable[[str, str], None]


class VolumeProvider(LoggingConfigurable):
    """Grows the volume behind the workspace folder in place, without a restart."""

    #: Shown as the disk's type.
    name: ClassVar[str] = ""

    def __init__(self, workspace: Path, state_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workspace = workspace
        self.state_dir = state_dir

    def state(self) -> VolumeState:
        """Whether the workspace really is such a volume (and why not)."""
        raise NotImplementedError

    def expand(self, new_total_gb: float, progress: Progress) -> None:
        """Grow the volume to ``new_total_gb`` (blocking; run in a thread); raise VolumeError."""
        raise NotImplementedError

    def start(self) -> None:
        """Reattach what a reboot detached (blocking)."""
