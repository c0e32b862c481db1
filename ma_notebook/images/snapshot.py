"""The snapshotter: what changed under a root since the baseline, written as one OCI layer.

The layer is a sorted tar with numeric owners and clamped mtimes: added and changed files,
directories with their parents, symlinks, hardlinks, FIFOs, and ``.wh.`` whiteouts for what was
deleted (an opaque whiteout where a directory lost all its former entries). It is compressed and
hashed in one streaming pass, so a large layer never sits in memory or twice on disk.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .fsindex import Entry, entry_from_stat, walk

try:  # isal's deflate is ~10x faster than zlib's at level 1 (see benchmarks/save_image.py)
    from isal import isal_zlib as _fast_zlib

    COMPRESSOR = "isal"
except ImportError:  # pragma: no cover - isal is a dependency; zlib stays correct without it
    _fast_zlib = zlib  # type: ignore[assignment,misc]
    COMPRESSOR = "zlib"

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
CHUNK = 1 << 20


class SnapshotError(Exception):
    """The snapshot cannot be taken; the message says why and lists the paths at fault."""

    def __init__(self, message: str, *, reason: str = "snapshot", paths: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.paths = paths or []


@dataclass
class Changes:
    """What differs between the root and its baseline."""

    upserts: list[tuple[str, os.stat_result, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    bytes: int = 0
    walked: int = 0
    unreadable: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)  # folders this user cannot list

    @property
    def empty(self) -> bool:
        """Whether nothing changed at all."""
        return not (self.upserts or self.deleted or self.opaque)


@dataclass
class Layer:
    """A written layer blob and its digests."""

    path: str
    digest: str  # sha256 of the compressed blob
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # compressed bytes
    uncompressed: int
    entries: int


def find_changes(
    root: str,
    baseline: dict[str, Entry],
    skip: set[str],
    *,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Changes:
    """Compare ``root`` with ``baseline`` (``full``: everything counts as added, for a squash)."""
    changes = Changes()
    seen: set[str] = set()

    def unlistable(path: str, error: OSError) -> None:
        changes.unlisted.append(os.path.relpath(path, root))

    for rel, st, link in walk(root, skip, on_error=unlistable):
        changes.walked += 1
        if changes.walked % 2000 == 0:
            if cancelled and cancelled():
                raise SnapshotError("Cancelled.", reason="cancelled")
            if progress:
                progress(changes.walked, changes.bytes)
        seen.add(rel)
        entry = entry_from_stat(rel, st, link)
        if entry.type in ("s", "c", "b"):
            continue  # sockets and device nodes belong to the runtime, not the image
        old = None if full else baseline.get(rel)
        if old is not None and old.same_as(entry):
            continue
        if entry.type == "f":
            if not os.access(os.path.join(root, rel), os.R_OK):
                changes.unreadable.append("/" + rel)
                continue
            changes.bytes += st.st_size
        changes.upserts.append((rel, st, link))
    if progress:
        progress(changes.walked, changes.bytes)
    if not full:
        _deletions(baseline, seen, skip, root, changes)
    return changes


def _deletions(
    baseline: dict[str, Entry], seen: set[str], skip: set[str], root: str, changes: Changes
) -> None:
    skipped_rel = {os.path.relpath(p, root) for p in skip if p.startswith(root.rstrip("/") + "/")}
    # What is below a folder this user cannot list is unknown, not deleted.
    skipped_rel |= {p for p in changes.unlisted if p != "."}
    gone = [
        p
        for p in baseline
        if p not in seen and not any(p == s or p.startswith(s + "/") for s in skipped_rel)
    ]
    gone_set = set(gone)
    # A directory that still exists but lost every former entry gets one opaque whiteout.
    children: dict[str, list[str]] = {}
    for p in baseline:
        children.setdefault(os.path.dirname(p), []).append(p)
    opaque = {
        d
        for d, kids in children.items()
        if d
        and d in seen
        and baseline.get(d) is not None
        and baseline[d].type == "d"
        and kids
        and all(k in gone_set for k in kids)
    }
    for p in sorted(gone):
        parent = os.path.dirname(p)
        if parent in gone_set:
            continue  # only the topmost deleted path needs a whiteout
        if any(parent == d or parent.startswith(d + "/") for d in opaque):
            continue
        changes.deleted.append(p)
    changes.opaque = sorted(opaque)


class _HashingCompressor:
    """A write-only file: hashes the tar, gzips it at level 1, hashes and writes the blob."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.comp = _fast_zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip wrapper, mtime 0
        self.size = 0
        self.raw = 0

    def write(self, data: bytes) -> int:
        self.diff.update(data)
        self.raw += len(data)
        self._emit(self.comp.compress(data))
        return len(data)

    def _emit(self, data: bytes) -> None:
        if data:
            self.blob.update(data)
            self.out.write(data)
            self.size += len(data)

    def close(self) -> None:
        self._emit(self.comp.flush())


def _tarinfo(rel: str, st: os.stat_result, link: str, now: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = min(max(int(st.st_mtime), 0), now)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, link
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    else:
        info.type, info.size = tarfile.REGTYPE, st.st_size
    return info


def _whiteout(rel: str, now: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.type, info.mode, info.mtime = tarfile.REGTYPE, 0o644, now
    info.uname = info.gname = ""
    return info


def write_layer(
    root: str,
    changes: Changes,
    out_path: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    extra: dict[str, str] | None = None,
) -> Layer:
    """Write ``changes`` as a gzip'd layer at ``out_path``; report (entries, bytes) written.

    ``extra`` maps layer paths to files elsewhere written there as root's, mode 0644 (the next
    baseline index).
    """
    now = int(time.time())
    items: dict[str, tuple[str, Any]] = {}
    for rel, st, link in changes.upserts:
        items[rel] = ("entry", (st, link))
    for rel, source in (extra or {}).items():
        items[rel] = ("extra", source)
    for rel in changes.deleted:
        parent, name = os.path.split(rel)
        items[os.path.join(parent, WHITEOUT + name)] = ("whiteout", None)
    for rel in changes.opaque:
        items[os.path.join(rel, OPAQUE)] = ("whiteout", None)
    # Every entry's parent directories come along, with their current metadata.
    for rel in list(items):
        parent = os.path.dirname(rel)
        while parent and parent not in items:
            try:
                items[parent] = ("entry", (os.lstat(os.path.join(root, parent)), ""))
            except OSError as e:
                raise SnapshotError(f"Cannot read the folder /{parent}: {e.strerror}.") from None
            parent = os.path.dirname(parent)
    order = sorted(items, key=lambda p: p.split("/"))
    links: dict[tuple[int, int], str] = {}
    written = 0
    with open(out_path, "wb") as raw:
        sink = _HashingCompressor(raw)
        with tarfile.open(
            fileobj=sink,
            mode="w|",
            format=tarfile.PAX_FORMAT,
            copybufsize=CHUNK,  # type: ignore[call-overload]
        ) as tar:
            for n, rel in enumerate(order):
                if cancel is not None and cancel.is_set():
                    raise SnapshotError("Cancelled.", reason="cancelled")
                kind, data = items[rel]
                if kind == "whiteout":
                    tar.addfile(_whiteout(rel, now))
                    continue
                if kind == "extra":
                    info = _tarinfo(rel, os.stat(data), "", now)
                    info.uid = info.gid = 0
                    info.mode = 0o644
                    with open(data, "rb") as f:
                        tar.addfile(info, f)
                    written += info.size
                    continue
                st, link = data
                info = _tarinfo(rel, st, link, now)
                if info.type == tarfile.REGTYPE and st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in links:
                        info.type, info.linkname, info.size = tarfile.LNKTYPE, links[key], 0
                        tar.addfile(info)
                        continue
                    links[key] = rel
                if info.type == tarfile.REGTYPE:
                    try:
                        with open(os.path.join(root, rel), "rb") as f:
                            tar.addfile(info, f)
                    except OSError as e:
                        raise SnapshotError(
                            f"Cannot read /{rel}: {e.strerror}.", paths=["/" + rel]
                        ) from None
                    written += info.size
                else:
                    tar.addfile(info)
                if progress and (n % 200 == 0 or info.size > CHUNK):
                    progress(n + 1, written)
        sink.close()
    if progress:
        progress(len(order), written)
    return Layer(
        path=out_path,
        digest="sha256:" + sink.blob.hexdigest(),
        diff_id="sha256:" + sink.diff.hexdigest(),
        size=sink.size,
        uncompressed=sink.raw,
        entries=len(order),
    )


def d_state_processes(proc: str = "/proc") -> list[tuple[int, str]]:
    """Processes in uninterruptible sleep (state D), as (pid, command)."""
    found = []
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        # pid (comm) state ... ; comm may hold spaces and parentheses: split at the last ')'.
        head, _, tail = text.rpartition(")")
        state = tail.split()[0] if tail.split() else ""
        if state == "D":
            found.append((int(name), head.partition("(")[2]))
    return found
