"""The baseline index: every file an image ships, recorded as its build's last step.

Save Image compares the running container against it to find what the user changed. The index
is a gzip'd JSON-lines file: a header object, then one array per entry
``[path, type, mode, uid, gid, size, mtime, link]``: path relative to the root without a
leading ``/``, parents before children in name order; type ``f`` file, ``d`` folder, ``l``
symlink, ``p`` fifo, ``c``/``b`` character/block device, ``s`` socket; mtime in whole seconds;
link is the symlink's target or ``""``. The header names the image the index describes
(``base_image``: what Save Image stacks its layer on, when the build was told its reference)
and the image it was built ``FROM`` (``from_image``). Mount points (from
/proc/self/mountinfo) and everything below them are skipped: they are not part of the image.
``python -m ma_notebook.images.baseline record`` writes it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the base image keeps its index: root-owned, outside ma-user's home.
DEFAULT_INDEX = "/opt/ma-notebook/baseline.jsonl.gz"
FORMAT = "ma-notebook-baseline/1"


@dataclass(frozen=True)
class Entry:
    """One file system entry of the baseline."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str = ""

    def row(self) -> list[Any]:
        """The entry as the index stores it."""
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


def _unescape_mount(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> set[str]:
    """Mount points other than ``/`` (their contents are not the image's)."""
    points: set[str] = set()
    try:
        text = Path(mountinfo).read_text()
    except OSError:
        return points
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = _unescape_mount(fields[4])
            if point != "/":
                points.add(point)
    return points


#: Entry types as one letter.
TYPES = {
    stat.S_IFREG: "f",
    stat.S_IFDIR: "d",
    stat.S_IFLNK: "l",
    stat.S_IFIFO: "p",
    stat.S_IFCHR: "c",
    stat.S_IFBLK: "b",
    stat.S_IFSOCK: "s",
}


def _kind(mode: int) -> str:
    return TYPES.get(stat.S_IFMT(mode), "?")


def walk(root: str = "/", skip: set[str] | None = None) -> Iterator[Entry]:
    """Entries under ``root``, parents first in name order, leaving out ``skip`` and below."""
    top = os.path.abspath(root)
    skipped = {os.path.normpath(p) for p in (skip or set())}
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it)
        except OSError:
            continue
        subdirs = []
        for name in names:
            full = os.path.join(folder, name)
            if full in skipped:
                continue
            try:
                st = os.lstat(full)
            except OSError:
                continue
            kind = _kind(st.st_mode)
            link = ""
            if kind == "l":
                try:
                    link = os.readlink(full)
                except OSError:
                    link = ""
            yield Entry(
                os.path.relpath(full, top),
                kind,
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
                st.st_size if kind == "f" else 0,
                int(st.st_mtime),
                link,
            )
            if kind == "d":
                subdirs.append(full)
        # depth first in name order: push in reverse so the first name is walked first
        stack.extend(reversed(subdirs))


def record(
    output: str = DEFAULT_INDEX,
    *,
    root: str = "/",
    base_image: str = "",
    from_image: str = "",
    base_digest: str = "",
    skip: set[str] | None = None,
) -> dict[str, Any]:
    """Write the index of ``root`` to ``output``; return its header (with the entry count)."""
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    skipped = set(skip or set()) | (mount_points() if root == "/" else set())
    skipped |= {str(out), str(out) + ".tmp"}
    header: dict[str, Any] = {
        "format": FORMAT,
        "base_image": base_image,
        "base_digest": base_digest,
        "from_image": from_image,
        "created": int(time.time()),
        "root": root,
        "skipped": sorted(skipped - {str(out), str(out) + ".tmp"}),
        "fields": ["path", "type", "mode", "uid", "gid", "size", "mtime", "link"],
    }
    tmp = Path(str(out) + ".tmp")
    count = 0
    with gzip.open(tmp, "wt", encoding="utf-8", compresslevel=6) as f:
        f.write(json.dumps(header) + "\n")
        for entry in walk(root, skipped):
            f.write(json.dumps(entry.row(), ensure_ascii=False) + "\n")
            count += 1
    tmp.replace(out)
    os.chmod(out, 0o644)
    header["entries"] = count
    return header


def read_header(path: str = DEFAULT_INDEX) -> dict[str, Any]:
    """The index's header (format, base image, creation time, skipped mount points)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a baseline index ({FORMAT})")
    return dict(header)


def iter_entries(path: str = DEFAULT_INDEX) -> Iterator[Entry]:
    """The index's entries in the order they were recorded."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a baseline index ({FORMAT})")
        for line in f:
            row = json.loads(line)
            yield Entry(*row)


def load(path: str = DEFAULT_INDEX) -> dict[str, Entry]:
    """The index as a mapping from path to entry."""
    return {e.path: e for e in iter_entries(path)}


def main(argv: list[str] | None = None) -> int:
    """``python -m ma_notebook.images.baseline record|show``."""
    parser = argparse.ArgumentParser(prog="python -m ma_notebook.images.baseline")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="index the file system into the baseline file")
    rec.add_argument(
        "--output", default=DEFAULT_INDEX, help=f"index file (default {DEFAULT_INDEX})"
    )
    rec.add_argument("--root", default="/", help="folder to index (default /)")
    rec.add_argument(
        "--base-image", default="", help="the reference of the image this index describes"
    )
    rec.add_argument("--base-digest", default="", help="that image's manifest digest, if known")
    rec.add_argument("--from-image", default="", help="the image it was built FROM")
    show = sub.add_parser("show", help="print the header and entry count of an index")
    show.add_argument("--index", default=DEFAULT_INDEX)
    args = parser.parse_args(argv)
    if args.command == "record":
        header = record(
            args.output,
            root=args.root,
            base_image=args.base_image,
            base_digest=args.base_digest,
            from_image=args.from_image,
        )
        print(f"baseline: {header['entries']} entries in {args.output}")
        return 0
    header = read_header(args.index)
    header["entries"] = sum(1 for _ in iter_entries(args.index))
    print(json.dumps(header, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
