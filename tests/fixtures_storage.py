"""Storage fixtures: a temporary /data root, loop XFS workspaces, and cleanup of every mount,
loop device and helper a test left, even when it failed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ma_notebook.storage import system
from ma_notebook.storage.volumes import detach_local_volume, init_local_volume


def _helpers_under(base: Path) -> list[int]:
    """Pids of rclone/s3fs processes whose command line names a path under ``base``."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ours = cmdline and any(str(base).encode() in arg for arg in cmdline)
        if ours and any(name in cmdline[0] for name in (b"rclone", b"s3fs", b"setpriv")):
            pids.append(int(entry.name))
    return pids


def cleanup_under(base: Path) -> None:
    """Lazily unmount everything below ``base``, free its loop devices, kill its helpers."""
    base = base.resolve()
    for entry in reversed(system.mounts()):
        if entry.mount_point == str(base) or entry.mount_point.startswith(f"{base}/"):
            system.unmount(entry.mount_point, lazy=True)
            if entry.source.startswith("/dev/loop"):
                system.run(["losetup", "-d", entry.source])
    for pid in _helpers_under(base):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    result = subprocess.run(["losetup", "-a"], capture_output=True, text=True)
    for line in (result.stdout or "").splitlines():
        device, _, rest = line.partition(":")
        if str(base) in rest:
            system.run(["losetup", "-d", device])


@pytest.fixture
def storage_base(tmp_path: Path) -> Iterator[Path]:
    """A folder for this test's mounts and volumes; cleaned up whatever happens."""
    base = tmp_path / "st"
    base.mkdir()
    yield base
    cleanup_under(tmp_path)


@pytest.fixture
def data_root(storage_base: Path) -> Path:
    """The folder that stands for /data."""
    root = storage_base / "data"
    root.mkdir()
    return root


@pytest.fixture
def loop_workspace(storage_base: Path, ma_data_dir: Path) -> Iterator[tuple[Path, Path]]:
    """(workspace, state dir): a 1 GB loop-mounted XFS workspace, detached after the test."""
    workspace = storage_base / "work"
    state_dir = ma_data_dir / "storage"
    init_local_volume(workspace, 1, storage_base / "workspace.img", state_dir)
    yield workspace, state_dir
    detach_local_volume(workspace, state_dir)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
