"""The local provider: the workspace on an XFS file system in a loop-mounted image file.

``xfs_growfs`` grows a mounted XFS online, so growing is: extend the image file (sparse), tell
the loop device (``losetup -c``), grow the file system. ``init_local_volume`` sets it up
(``ma-cli storage init-local-volume``, as root).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from traitlets import Unicode

from .. import system
from .base import GiB, Progress, VolumeError, VolumeProvider, VolumeState, statvfs_size

STATE_FILE = "local-volume.json"


def _loop_backing(device: str) -> str | None:
    name = os.path.basename(device)
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
    except OSError:
        return None


def _check(result: Any, what: str) -> str:
    if result.returncode != 0:
        raise VolumeError(f"{what} failed: {(result.stderr or result.stdout).strip()[:300]}")
    return str(result.stdout).strip()


def _state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def _read_state(state_dir: Path) -> dict[str, str]:
    try:
        data = json.loads(_state_path(state_dir).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _mount_image(image: Path, workspace: Path) -> str:
    device = _check(system.run(["losetup", "-f", "--show", str(image)]), "losetup")
    result = system.run(["mount", "-t", "xfs", device, str(workspace)])
    if result.returncode != 0:
        system.run(["losetup", "-d", device])
        _check(result, "mount")
    return device


def init_local_volume(workspace: Path, size_gb: float, image: Path, state_dir: Path) -> str:
    """Create an XFS image of ``size_gb`` and mount it on ``workspace``; the loop device."""
    if os.geteuid() != 0:
        raise VolumeError("Setting up the local volume needs root (losetup, mount).")
    for tool in ("mkfs.xfs", "xfs_growfs", "losetup"):
        if shutil.which(tool) is None:
            raise VolumeError(f"{tool} is missing: install Debian's xfsprogs and mount.")
    if size_gb <= 0:
        raise VolumeError("The size must be positive.")
    workspace.mkdir(parents=True, exist_ok=True)
    if system.mount_at(workspace) is not None:
        raise VolumeError(f"{workspace} is already a mount point.")
    if any(workspace.iterdir()):
        raise VolumeError(
            f"{workspace} is not empty: move its files away first, then copy them back in."
        )
    if image.exists():
        raise VolumeError(f"The image {image} exists already.")
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as f:
        f.truncate(int(size_gb * GiB))
    _check(system.run(["mkfs.xfs", "-q", str(image)], timeout=120), "mkfs.xfs")
    device = _mount_image(image, workspace)
    state_dir.mkdir(parents=True, exist_ok=True)
    _state_path(state_dir).write_text(
        json.dumps({"image": str(image), "mount_point": str(workspace)})
    )
    return device


def attach_local_volume(workspace: Path, state_dir: Path) -> str | None:
    """Mount the recorded image on ``workspace`` again when a reboot detached it."""
    state = _read_state(state_dir)
    image = state.get("image")
    if not image or state.get("mount_point") != str(workspace) or not os.path.exists(image):
        return None
    if system.mount_at(workspace) is not None or os.geteuid() != 0:
        return None
    return _mount_image(Path(image), workspace)


def detach_local_volume(workspace: Path, state_dir: Path, remove: bool = False) -> None:
    """Unmount the workspace volume and free its loop device (``remove`` deletes the image)."""
    entry = system.mount_at(workspace)
    state = _read_state(state_dir)
    if entry is not None and entry.source.startswith("/dev/loop"):
        if system.unmount(workspace):
            system.unmount(workspace, lazy=True)
        system.run(["losetup", "-d", entry.source])
    if remove:
        image = state.get("image")
        if image:
            Path(image).unlink(missing_ok=True)
        _state_path(state_dir).unlink(missing_ok=True)


class LocalVolumeProvider(VolumeProvider):
    """An XFS image file on a loop device, mounted on the workspace, grown with xfs_growfs."""

    name = "local"

    image_path = Unicode(
        "",
        config=True,
        help="The image file; default: the one `ma-cli storage init-local-volume` recorded "
        "(<data_dir>/storage/workspace.img).",
    )

    def _image(self) -> str:
        return self.image_path or _read_state(self.state_dir).get("image", "")

    def _device(self) -> tuple[str, str]:
        """(loop device, reason it is not ours)."""
        entry = system.mount_at(self.workspace)
        image = self._image()
        if entry is None:
            return "", f"The workspace {self.workspace} is not a mount point of its own."
        if entry.fstype != "xfs" or not entry.source.startswith("/dev/loop"):
            return "", (
                f"The workspace {self.workspace} is on {entry.fstype} ({entry.source}), not on "
                "a loop-mounted XFS image."
            )
        backing = _loop_backing(entry.source)
        if not image or backing is None or os.path.realpath(backing) != os.path.realpath(image):
            return "", f"The workspace's loop device {entry.source} is not backed by {image}."
        return entry.source, ""

    def state(self) -> VolumeState:
        """Expandable when the workspace is mounted from our image on a loop device."""
        if not self._image():
            return VolumeState(
                False,
                "The workspace is not on an expandable volume: set one up with "
                "`ma-cli storage init-local-volume` (root), or configure the Kubernetes provider.",
            )
        device, reason = self._device()
        if not device:
            return VolumeState(False, reason)
        return VolumeState(True, "", os.path.getsize(self._image()) / GiB)

    def start(self) -> None:
        """Mount the image again after a reboot."""
        try:
            attach_local_volume(self.workspace, self.state_dir)
        except VolumeError as e:
            self.log.warning("ma-notebook storage: cannot reattach the workspace volume: %s", e)

    def expand(self, new_total_gb: float, progress: Progress) -> None:
        """Extend the image, refresh the loop device, xfs_growfs the mounted workspace."""
        device, reason = self._device()
        if not device:
            raise VolumeError(reason)
        image = self._image()
        current = os.path.getsize(image)
        new_size = int(new_total_gb * GiB)
        free = shutil.disk_usage(os.path.dirname(image)).free
        if new_size - current > free:
            raise VolumeError(
                f"The disk holding {image} has only {free / GiB:.1f} GB free; "
                f"{(new_size - current) / GiB:.1f} GB are needed."
            )
        before, _ = statvfs_size(self.workspace)
        progress("Expanding", "Extending the image file")
        with open(image, "r+b") as f:
            f.truncate(new_size)
        progress("Expanding", "Refreshing the loop device")
        _check(system.run(["losetup", "-c", device]), "losetup -c")
        progress("Expanding", "Growing the XFS file system online (xfs_growfs)")
        _check(system.run(["xfs_growfs", str(self.workspace)], timeout=300), "xfs_growfs")
        deadline = time.monotonic() + 10
        while statvfs_size(self.workspace)[0] <= before:
            if time.monotonic() > deadline:
                raise VolumeError("xfs_growfs finished but the workspace did not grow.")
            time.sleep(0.2)
