"""What every mount backend offers, and what it is told about the folder to mount."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from traitlets.config import LoggingConfigurable

from ...obs.config import ObsSettings


class MountError(Exception):
    """A mount or unmount that did not work; the message is for the user (no secrets)."""


@dataclass
class MountSource:
    """The OBS folder to mount and how to reach its store."""

    bucket: str
    prefix: str  # '' or 'dir/sub' (no slashes around)
    settings: ObsSettings = field(repr=False)

    @property
    def embedded(self) -> bool:
        """Whether the folder lives in the embedded store (a local directory)."""
        return self.settings.mode == "embedded"

    @property
    def local_path(self) -> Path:
        """The folder on disk, for the embedded store."""
        return (
            Path(self.settings.local_root, self.bucket, *self.prefix.split("/"))
            if (self.prefix)
            else Path(self.settings.local_root, self.bucket)
        )


class MountBackend(LoggingConfigurable):
    """Mounts OBS folders on local folders; one instance serves every mount of the server."""

    #: Name shown in the API and the panel.
    name: ClassVar[str] = ""

    def __init__(self, state_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state_dir = state_dir

    def unavailable(self) -> str | None:
        """Why this backend cannot mount here (missing FUSE or helper), or None."""
        return None

    async def mount(
        self, mount_id: str, source: MountSource, target: Path, read_only: bool
    ) -> None:
        """Mount ``source`` on ``target`` (an existing empty folder); raise MountError."""
        raise NotImplementedError

    async def unmount(self, mount_id: str, target: Path, lazy: bool = False) -> None:
        """Unmount ``target`` and stop its helper; raise MountError."""
        raise NotImplementedError

    def helper_pids(self) -> set[int]:
        """Processes of this backend (never reported as holding a mount busy)."""
        return set()

    async def stop(self) -> None:
        """Stop every helper (the server is stopping; mounts are already unmounted)."""


def write_private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (mode 0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
