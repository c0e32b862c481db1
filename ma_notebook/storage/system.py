"""What the kernel says about mounts: mountinfo, mount health, who holds a folder, unmounting."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..procenv import tool_env


@dataclass
class MountEntry:
    """One line of /proc/self/mountinfo."""

    mount_point: str
    fstype: str
    source: str
    options: str


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts() -> list[MountEntry]:
    """Every mount this process sees."""
    entries = []
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 2:
            continue
        entries.append(
            MountEntry(
                _unescape(parts[4]),
                rparts[0],
                _unescape(rparts[1]),
                rparts[2] if len(rparts) > 2 else "",
            )
        )
    return entries


def mount_at(path: str | Path) -> MountEntry | None:
    """The topmost mount on exactly ``path``, if any."""
    target = os.path.normpath(str(path))
    found = None
    for entry in mounts():
        if entry.mount_point == target:
            found = entry
    return found


def health(path: str | Path) -> str | None:
    """None when ``path`` answers; else why not (ENOTCONN: the helper is gone)."""
    try:
        os.stat(path)
        os.listdir(path)
    except OSError as e:
        if e.errno == errno.ENOTCONN:
            return "Transport endpoint is not connected: the mount helper is gone."
        return f"{e.strerror or e}"
    return None


@dataclass
class Holder:
    """A process that keeps a folder busy."""

    pid: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


def holders(path: str | Path, exclude: set[int] | None = None) -> list[Holder]:
    """Processes whose working folder, root or open files are under ``path``."""
    base = os.path.normpath(str(path))
    skip = {os.getpid(), *(exclude or set())}
    found: list[Holder] = []

    def inside(link: str) -> bool:
        try:
            target = os.readlink(link)
        except OSError:
            return False
        return target == base or target.startswith(base + "/")

    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        pid_dir = entry.path
        busy = inside(f"{pid_dir}/cwd") or inside(f"{pid_dir}/root")
        if not busy:
            try:
                fds = os.listdir(f"{pid_dir}/fd")
            except OSError:
                fds = []
            busy = any(inside(f"{pid_dir}/fd/{fd}") for fd in fds)
        if busy:
            try:
                name = Path(f"{pid_dir}/comm").read_text().strip()
            except OSError:
                name = "?"
            found.append(Holder(int(entry.name), name))
    return found


def run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a system tool with an allow-listed environment; output captured."""
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=tool_env(), check=False
    )


def unmount(path: str | Path, lazy: bool = False) -> str | None:
    """Unmount ``path`` (lazily: detach now, release when no longer busy); None or the error."""
    cmd = ["umount", *(["-l"] if lazy else []), str(path)]
    if os.geteuid() != 0 and shutil.which("fusermount3"):
        cmd = ["fusermount3", "-u", *(["-z"] if lazy else []), str(path)]
    result = run(cmd)
    if result.returncode == 0 or mount_at(path) is None:
        return None
    return (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"


def fuse_missing() -> str | None:
    """Why FUSE mounts cannot work here, or None."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing: FUSE is not available in this container."
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not accessible to this user."
    return None
