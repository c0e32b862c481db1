"""Size and utilisation of the cache directory (default ``/cache``).

When the directory is its own mount, ``statvfs`` answers in microseconds. Otherwise a bounded
scan (apparent sizes like ``du -sb``, hard links once, not crossing into other mounts, at most
``max_entries`` entries) runs in a background thread at low priority; the last finished scan is
what the API and the metrics show, so a slow scan never blocks the server.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

#: Seconds between checks whether the cache directory exists and is its own mount.
MOUNT_RECHECK = 10.0
#: Scans wait at least this many times their own duration before the next one (<= ~1 % duty).
SCAN_DUTY = 100.0


@dataclass
class CacheUsage:
    """What the cache directory holds and how full it is."""

    path: str
    available: bool
    method: str = ""  # "statvfs" or "scan"
    size_bytes: int = 0
    capacity_bytes: int = 0
    util: float = 0.0  # size / capacity, 0-1
    files: int | None = None
    truncated: bool = False
    measured_at: float = 0.0
    scan_seconds: float | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The usage as the API returns it."""
        return asdict(self)


def statvfs_usage(path: str) -> tuple[int, int]:
    """(used bytes, capacity bytes) of the file system holding ``path``."""
    st = os.statvfs(path)
    capacity = st.f_blocks * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return used, capacity


def scan_size(path: str, max_entries: int = 1_000_000) -> tuple[int, int, bool]:
    """(apparent bytes, entries, truncated) of a folder tree, ``du -sb`` style, one file system."""
    try:
        top = os.lstat(path)
    except OSError:
        return 0, 0, False
    dev = top.st_dev
    total = top.st_size
    entries = 0
    seen: set[int] = set()
    stack = [path]
    lstat = os.lstat
    is_dir = stat.S_ISDIR
    while stack:
        directory = stack.pop()
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            names = os.listdir(fd)
            for name in names:
                try:
                    st = lstat(name, dir_fd=fd)
                except OSError:
                    continue
                entries += 1
                if is_dir(st.st_mode):
                    total += st.st_size
                    if st.st_dev == dev:
                        stack.append(os.path.join(directory, name))
                elif st.st_nlink > 1:
                    if st.st_ino not in seen:
                        seen.add(st.st_ino)
                        total += st.st_size
                else:
                    total += st.st_size
                if entries >= max_entries:
                    return total, entries, True
        except OSError:
            pass
        finally:
            os.close(fd)
    return total, entries, False


class CacheMonitor:
    """Keeps the cache directory's latest usage; statvfs on a mount, else background scans."""

    def __init__(
        self,
        path: str,
        quota_bytes: int = 0,
        scan_interval: float = 60.0,
        max_entries: int = 1_000_000,
    ) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self.scan_interval = scan_interval
        self.max_entries = max_entries
        self._latest = CacheUsage(path, False, reason="not measured yet")
        self._lock = threading.Lock()
        self._scanning = False
        self._last_scan = 0.0
        self._stopped = False
        self._checked_at = -MOUNT_RECHECK
        self._last_took = 0.0
        self._is_dir = False
        self._is_mount = False

    @property
    def latest(self) -> CacheUsage:
        """The last measurement."""
        with self._lock:
            return self._latest

    def refresh(self) -> CacheUsage:
        """Measure now when cheap (statvfs), else start a background scan when one is due."""
        path = self.path
        now = time.monotonic()
        if now - self._checked_at > MOUNT_RECHECK:  # is it (still) there, is it a mount?
            self._checked_at = now
            self._is_dir = bool(path) and os.path.isdir(path)
            self._is_mount = self._is_dir and os.path.ismount(path)
        if not self._is_dir:
            usage = CacheUsage(path, False, reason=f"{path or 'no cache directory'} does not exist")
            with self._lock:
                self._latest = usage
            return usage
        if self._is_mount:
            t = time.time()
            try:
                used, capacity = statvfs_usage(path)
            except OSError as e:
                self._checked_at = 0.0
                usage = CacheUsage(path, False, reason=f"{path}: {e.strerror}")
                with self._lock:
                    self._latest = usage
                return usage
            if self.quota_bytes:
                capacity = min(capacity, self.quota_bytes) if capacity else self.quota_bytes
            usage = CacheUsage(
                path,
                True,
                "statvfs",
                used,
                capacity,
                used / capacity if capacity else 0.0,
                measured_at=t,
            )
            with self._lock:
                self._latest = usage
            return usage
        now = time.monotonic()
        # A scan that took s seconds waits at least SCAN_DUTY * s before the next one, so a
        # huge folder costs at most ~1 % of a core however short scan_interval is.
        gap = max(self.scan_interval, SCAN_DUTY * self._last_took)
        if not self._scanning and (self._last_scan == 0.0 or now - self._last_scan >= gap):
            self._scanning = True
            self._last_scan = now
            threading.Thread(target=self._scan, name="ma-cache-scan", daemon=True).start()
        return self.latest

    def _scan(self) -> None:
        try:
            # low priority: the scan must never compete with the user's work
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            t0 = time.monotonic()
            size, files, truncated = scan_size(self.path, self.max_entries)
            took = time.monotonic() - t0
            self._last_took = took
            capacity = self.quota_bytes
            if not capacity:
                try:
                    capacity = statvfs_usage(self.path)[1]
                except OSError:
                    capacity = 0
            usage = CacheUsage(
                self.path,
                True,
                "scan",
                size,
                capacity,
                size / capacity if capacity else 0.0,
                files=files,
                truncated=truncated,
                measured_at=time.time(),
                scan_seconds=round(took, 3),
            )
            if not self._stopped:
                with self._lock:
                    self._latest = usage
        finally:
            self._scanning = False

    def stop(self) -> None:
        """Ignore scans still running."""
        self._stopped = True
