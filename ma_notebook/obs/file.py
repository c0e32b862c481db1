"""MoXing's ``mox.file`` functions on ``obs://`` and local paths alike.

``from ma_notebook.obs import file as mox_file``; then ``mox_file.read("obs://b/a.txt")``,
``mox_file.copy_parallel("obs://b/dir", "/tmp/dir")`` and so on, with the semantics of the
seed's mapping table (os.listdir -> list_directory, shutil.copytree -> copy_parallel, ...).
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import fsspec

from .config import resolve_settings
from .errors import ObsError, ObsNotFound
from .paths import ObsPath, is_obs
from .store import open_store
from .transfer import TransferEngine, location

__all__ = [
    "File",
    "StatResult",
    "append",
    "copy",
    "copy_parallel",
    "exists",
    "get_size",
    "glob",
    "is_directory",
    "list_directory",
    "make_dirs",
    "mk_dir",
    "read",
    "remove",
    "rename",
    "scan_dir",
    "stat",
    "walk",
    "write",
]

_lock = threading.Lock()
_engines: dict[tuple[Any, ...], TransferEngine] = {}


def _engine() -> TransferEngine:
    settings = resolve_settings()
    key = (
        settings.mode,
        settings.effective_endpoint(),
        settings.access_key,
        settings.local_root,
        settings.region,
        settings.secret_key,
    )
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = TransferEngine(open_store(settings))
            _engines.clear()
            _engines[key] = engine
        return engine


def _missing(path: str, what: str) -> ObsNotFound:
    """Not found, naming the real cause: a missing bucket, else the missing ``what``."""
    if is_obs(path):
        p = ObsPath.parse(path)
        if p.bucket:
            try:
                _engine().store.list_objects(p.bucket, "", "/", None, 1)
            except ObsNotFound as e:
                if e.reason == "no_such_bucket":
                    return ObsNotFound(
                        f"The bucket {p.bucket} does not exist (obs://{p.bucket}/): create it "
                        f"with make_dirs('obs://{p.bucket}') or check the name.",
                        "no_such_bucket",
                    )
    return ObsNotFound(f"No such {what}: {path}")


def _object(path: str) -> ObsPath:
    """The ObsPath of a file operation, or 400 when ``path`` names no bucket."""
    p = ObsPath.parse(path)
    if p.is_root:
        raise ObsError(
            f"{path} names no bucket: use obs://<bucket>/<path>, e.g. obs://my-bucket/a.txt.",
            400,
            "no_bucket",
        )
    return p


def _fs(path: str) -> tuple[Any, str]:
    if is_obs(path):
        _object(path)
        from .fs import ObsFileSystem

        fs = ObsFileSystem()
        return fs, fs._strip_protocol(path)
    return fsspec.filesystem("file"), os.path.abspath(os.path.expanduser(path))


def File(path: str, mode: str = "r", **kwargs: Any) -> IO[Any]:
    """Open a file like ``open()``; writes reach OBS when the file is closed."""
    fs, p = _fs(path)
    if not is_obs(path):
        if any(m in mode for m in "wa"):
            os.makedirs(os.path.dirname(p) or ".", exist_ok=True)
        return open(p, mode, **kwargs)
    if "a" in mode:
        return _AppendFile(path, mode, kwargs)  # type: ignore[return-value]
    return fs.open(p, mode, **kwargs)  # type: ignore[no-any-return]


class _AppendFile:
    """Append mode on object storage: existing content plus what is written, on close."""

    def __init__(self, path: str, mode: str, kwargs: dict[str, Any]) -> None:
        self._path = path
        self._binary = "b" in mode
        self._existing = read(path, binary=True) if exists(path) else b""
        self._parts: list[Any] = []
        self._kwargs = kwargs
        self.closed = False

    def write(self, data: Any) -> int:
        self._parts.append(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._binary:
            body = self._existing + b"".join(self._parts)
        else:
            body = self._existing + "".join(self._parts).encode(
                self._kwargs.get("encoding") or "utf-8"
            )
        write(self._path, body)

    def __enter__(self) -> _AppendFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read(path: str, binary: bool = False) -> Any:
    """The whole file as str (or bytes with ``binary=True``)."""
    with File(path, "rb" if binary else "r") as f:
        return f.read()


def write(path: str, content: str | bytes, binary: bool = False) -> None:
    """Create or overwrite a file with ``content``."""
    if isinstance(content, str):
        content = content.encode()
    with File(path, "wb") as f:
        f.write(content)


def append(path: str, content: str | bytes, binary: bool = False) -> None:
    """Append ``content`` to a file (created when missing)."""
    with File(path, "ab") as f:
        f.write(content.encode() if isinstance(content, str) else content)


def exists(path: str) -> bool:
    """Whether a file or folder exists."""
    fs, p = _fs(path)
    if is_obs(path) and "/" not in p:
        return bool(p) and p in [b.rstrip("/") for b in fs.ls("", detail=False)]
    return bool(fs.exists(p))


def is_directory(path: str) -> bool:
    """Whether ``path`` is a folder (True on OBS when a folder of that name exists)."""
    if not is_obs(path):
        return os.path.isdir(os.path.expanduser(path))
    p = ObsPath.parse(path)
    if p.is_root or not p.key.strip("/"):
        return exists(path) if p.bucket else True
    return _engine().is_folder(p.as_folder())


def list_directory(path: str, recursive: bool = False) -> list[str]:
    """Names in a folder; with ``recursive``, every file and folder as a relative path."""
    fs, p = _fs(path)
    if not is_directory(path):
        raise _missing(path, "folder")
    base = p.rstrip("/")
    if recursive:
        found = fs.find(base, withdirs=True, detail=False)
        rels = []
        for item in found:
            rel = item[len(base) :].strip("/") if base else item.strip("/")
            if rel:
                rels.append(rel)
        return sorted(set(rels))
    names = [str(item).rstrip("/").rsplit("/", 1)[-1] for item in fs.ls(base, detail=False)]
    return sorted({n for n in names if n})


def make_dirs(path: str) -> None:
    """Create a folder and its parents (nothing happens when it exists)."""
    if not is_obs(path):
        os.makedirs(os.path.expanduser(path), exist_ok=True)
        return
    p = ObsPath.parse(path)
    if p.is_root:
        return
    engine = _engine()
    if not p.key.strip("/"):
        if not exists(f"obs://{p.bucket}"):
            engine.store.create_bucket(p.bucket)
        return
    if not engine.is_folder(p.as_folder()):
        engine.store.put(p.bucket, p.as_folder().key, b"", None)


def mk_dir(path: str) -> None:
    """Create one folder (its parent must exist)."""
    if not is_obs(path):
        os.mkdir(os.path.expanduser(path))
        return
    parent = path.rstrip("/").rsplit("/", 1)[0]
    if parent.count("/") > 2 and not is_directory(parent):
        raise ObsNotFound(f"No such folder: {parent}")
    make_dirs(path)


def get_size(path: str, recursive: bool = False) -> int:
    """Size of a file in bytes; with ``recursive``, the total size of a folder's files."""
    if recursive and is_directory(path):
        engine = _engine()
        loc = location(path)
        return sum(
            size
            for _, size in engine.iter_tree(loc.as_folder() if isinstance(loc, ObsPath) else loc)
        )
    fs, p = _fs(path)
    try:
        return int(fs.size(p))
    except FileNotFoundError:
        raise _missing(path, "file") from None


@dataclass
class StatResult:
    """mox.file.stat's answer: length, mtime_nsec and is_directory."""

    length: int
    mtime_nsec: int
    is_directory: bool


def stat(path: str) -> StatResult:
    """Length, modification time (ns) and whether it is a folder."""
    if not is_obs(path):
        st = os.stat(os.path.expanduser(path))
        return StatResult(st.st_size, st.st_mtime_ns, os.path.isdir(path))
    p = ObsPath.parse(path)
    engine = _engine()
    if p.key and not p.is_folder:
        try:
            info = engine.store.head(p.bucket, p.key)
            return StatResult(info.size, int(info.last_modified * 1e9), False)
        except ObsNotFound:
            pass
    if is_directory(path):
        return StatResult(0, 0, True)
    raise ObsNotFound(f"No such file or folder: {path}")


def remove(path: str, recursive: bool = False) -> None:
    """Delete a file; a folder and all its content with ``recursive``."""
    if not is_obs(path):
        p = os.path.expanduser(path)
        if recursive and os.path.isdir(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
        return
    p2 = _object(path)
    engine = _engine()
    if recursive:
        if not is_directory(path):
            raise _missing(path, "folder")
        folder = p2.as_folder()
        keys = [folder.key + rel for rel, _ in engine.iter_tree(folder)]
        keys.append(folder.key)
        engine.store.delete(p2.bucket, [k for k in keys if k])
        return
    try:
        engine.store.head(p2.bucket, p2.key)
    except ObsNotFound as e:
        if e.reason != "no_such_bucket" and is_directory(path):
            raise ObsError(
                f"{path} is a folder that is not empty: remove(path, recursive=True) deletes it "
                "with everything in it.",
                409,
                "folder_not_empty",
            ) from None
        raise
    engine.store.delete(p2.bucket, [p2.key])


def copy(src: str, dst: str) -> None:
    """Copy one file between any two of OBS and local paths."""
    if is_directory(src):
        raise ObsError(f"{src} is a folder: use copy_parallel for folders.", 400, "is_folder")
    _engine().copy_file(location(src), location(dst))


def copy_parallel(src: str, dst: str, **_: Any) -> None:
    """Copy a folder's contents into ``dst`` (like shutil.copytree), many files at once."""
    if not is_directory(src):
        raise ObsNotFound(f"No such folder: {src} (use copy for files).")
    _engine().copy_tree(location(src), location(dst))


def rename(src: str, dst: str) -> None:
    """Move a file or folder (copy then delete across stores)."""
    if not is_obs(src) and not is_obs(dst):
        os.makedirs(os.path.dirname(os.path.abspath(dst)) or ".", exist_ok=True)
        os.rename(os.path.expanduser(src), os.path.expanduser(dst))
        return
    if is_directory(src):
        copy_parallel(src, dst)
        remove(src, recursive=True)
    else:
        copy(src, dst)
        remove(src)


def glob(pattern: str) -> list[str]:
    """Paths matching a glob pattern (obs:// patterns answer obs:// paths)."""
    if not is_obs(pattern):
        return sorted(_glob.glob(os.path.expanduser(pattern)))
    fs, p = _fs(pattern)
    return sorted("obs://" + str(m).lstrip("/") for m in fs.glob(p))


def walk(top: str, topdown: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """(folder, sub-folder names, file names) for every folder below ``top``, like os.walk."""
    if not is_obs(top):
        yield from os.walk(os.path.expanduser(top), topdown=topdown)
        return
    fs, p = _fs(top)
    items = list(fs.walk(p.rstrip("/"), topdown=topdown))
    for root, dirs, files in items:
        yield "obs://" + str(root).strip("/"), sorted(dirs), sorted(files)


@dataclass
class DirEntry:
    """One entry of scan_dir, like os.DirEntry."""

    name: str
    path: str
    _is_dir: bool

    def is_dir(self) -> bool:
        return self._is_dir

    def is_file(self) -> bool:
        return not self._is_dir


def scan_dir(path: str) -> Iterator[DirEntry]:
    """Entries of a folder, like os.scandir."""
    fs, p = _fs(path)
    for item in fs.ls(p.rstrip("/"), detail=True):
        name = str(item["name"]).rstrip("/").rsplit("/", 1)[-1]
        full = ("obs://" + str(item["name"]).strip("/")) if is_obs(path) else str(item["name"])
        yield DirEntry(name, full, item.get("type") == "directory")
