"""Bind mounts of the embedded store's folders (no FUSE, no helper process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .. import system
from .base import MountBackend, MountError, MountSource


class BindBackend(MountBackend):
    """The embedded store's folder bind-mounted on the mount path (root only)."""

    name = "bind"

    def unavailable(self) -> str | None:
        """Bind mounts need root (CAP_SYS_ADMIN)."""
        import os

        return None if os.geteuid() == 0 else "Bind mounts need root."

    async def mount(
        self, mount_id: str, source: MountSource, target: Path, read_only: bool
    ) -> None:
        """``mount --bind`` the embedded folder (read-only when asked)."""
        if not source.embedded:
            raise MountError("Bind mounts serve the embedded store only; use rclone or s3fs.")
        folder = source.local_path
        folder.mkdir(parents=True, exist_ok=True)
        opts = "bind,ro" if read_only else "bind"
        result = await asyncio.to_thread(
            system.run, ["mount", "-o", opts, str(folder), str(target)]
        )
        if result.returncode != 0:
            raise MountError(f"mount --bind failed: {result.stderr.strip()[:300]}")

    async def unmount(self, mount_id: str, target: Path, lazy: bool = False) -> None:
        """``umount`` (``-l`` when lazy)."""
        error = await asyncio.to_thread(system.unmount, target, lazy)
        if error:
            raise MountError(f"umount failed: {error[:300]}")
