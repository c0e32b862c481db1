"""An index of a container's files: the walk that skips mount points, and its on-disk form.

The baseline index records the image's files when it is built (or at first start); Save Image
compares the running container against it to find what was added, changed and deleted.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The on-disk format (shared with ``ma_notebook.images.baseline``, which the image build runs).
FORMAT = "ma-notebook-baseline/1"
_ESCAPE = re.compile(r"\\([0-7]{3})")

#: Entry types as one letter: file, dir, symlink, fifo, char device, block device, socket.
TYPES = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFIFO: "p",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFSOCK: "s",
}


@dataclass(frozen=True)
class Entry:
    """What the index knows of one path (relative to the root, without a leading '/')."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str = ""

    def same_as(self, other: Entry) -> bool:
        """Whether ``other`` describes the same content and metadata (a directory's mtime and
        size change whenever an entry below it does, so for directories only metadata counts)."""
        if _kind(self.type) != _kind(other.type) or (self.mode, self.uid, self.gid, self.link) != (
            other.mode,
            other.uid,
            other.gid,
            other.link,
        ):
            return False
        if self.type == "d":
            return True
        return self.size == other.size and self.mtime == other.mtime

    def to_json(self) -> list[Any]:
        """The compact form stored in the index file (paths relative to the root)."""
        return [
            self.path,
            self.type,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.mtime,
            self.link,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> Entry:
        """The entry from its stored form."""
        path, *rest = row
        return cls(str(path).lstrip("/"), *rest)


def _kind(kind: str) -> str:
    """Files, folders and symlinks by their letter; everything else as 'o' (other)."""
    return kind if kind in ("f", "d", "l") else "o"


def decode_mountinfo_path(raw: str) -> str:
    """A mount point as /proc/self/mountinfo writes it (octal escapes for space, tab, \\, \\n)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), raw)


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> set[str]:
    """The mount points of this process's mount namespace other than ``/`` (their contents are
    not the image's)."""
    points: set[str] = set()
    try:
        text = Path(mountinfo).read_text()
    except OSError:
        return points
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.add(os.path.normpath(decode_mountinfo_path(fields[4])))
    points.discard("/")
    return points


def entry_from_stat(rel: str, st: os.stat_result, link: str = "") -> Entry:
    """The index entry of a path from its lstat()."""
    kind = TYPES.get(stat.S_IFMT(st.st_mode), "?")
    return Entry(
        path=rel,
        type=kind,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        size=st.st_size if kind == "f" else 0,
        mtime=int(st.st_mtime),
        link=link,
    )


def walk(
    root: str | os.PathLike[str],
    skip: Iterable[str] = (),
    on_error: Callable[[str, OSError], None] | None = None,
) -> Iterator[tuple[str, os.stat_result, str]]:
    """(relative path, lstat, link target) of everything under ``root``, parents first, sorted.

    ``skip`` holds absolute paths (mount points, exclusions) that are left out with all below
    them; the root itself is never yielded.
    """
    top = os.path.abspath(root)
    skipped = {os.path.normpath(p) for p in skip}
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it)
        except OSError as e:
            if on_error:
                on_error(folder, e)
            continue
        subdirs = []
        for name in names:
            full = os.path.join(folder, name)
            if full in skipped:
                continue
            try:
                st = os.lstat(full)
            except OSError as e:
                if on_error:
                    on_error(full, e)
                continue
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            yield os.path.relpath(full, top), st, link
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(full)
        # Depth first, in name order: push in reverse so the first name is walked first.
        stack.extend(reversed(subdirs))


def write_index(
    path: str | os.PathLike[str], header: dict[str, Any], entries: Iterable[Entry]
) -> int:
    """Write the index (gzip'd JSON lines: a header, then one entry per line); return the count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as f:
        f.write(json.dumps({"format": FORMAT, **header}) + "\n")
        for entry in entries:
            f.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, target)
    return count


def read_index(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Entry]]:
    """The header and the entries (by path) of an index file."""
    entries: dict[str, Entry] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a baseline index ({FORMAT})")
        for line in f:
            entry = Entry.from_json(json.loads(line))
            entries[entry.path] = entry
    return header, entries
