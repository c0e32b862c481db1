"""The one resolver for paths that touch the workspace: file-browser paths to real paths, safely."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from .api import ApiError, check_relpath, quote


def contents_root(serverapp: Any, fallback: str) -> Path:
    """The file browser's root folder (the contents manager's root_dir)."""
    root = getattr(getattr(serverapp, "contents_manager", None), "root_dir", None)
    root = root or getattr(serverapp, "root_dir", None) or fallback
    return Path(root).expanduser().resolve()


def allow_hidden(serverapp: Any) -> bool:
    """Whether the contents manager shows hidden files (``ContentsManager.allow_hidden``)."""
    return bool(getattr(getattr(serverapp, "contents_manager", None), "allow_hidden", False))


def resolve_path(
    root: Path,
    path: str,
    *,
    hidden_ok: bool = False,
    must_exist: bool = False,
    kind: str = "path",
) -> Path:
    """``path`` (relative to ``root``, as the file browser shows it) as a real path under root.

    Refuses (ApiError 400) control characters, ``..``, absolute paths outside the root, symlinks
    that lead outside it and, unless ``hidden_ok``, hidden parts (names starting with '.').
    ``must_exist`` answers 404 for a missing path.
    """
    try:
        check_relpath(path)
    except ValueError as e:
        raise ApiError(400, f"The {kind} {quote(path)} {e}.") from None
    root = root.resolve()
    if os.path.isabs(path):
        absolute = Path(os.path.normpath(path))
        if absolute != root and root not in absolute.parents:
            raise ApiError(
                400,
                f"The {kind} {quote(path)} is outside the notebook's folder {root}: "
                "use a path relative to the file browser's root.",
            )
        parts = absolute.relative_to(root).parts
    else:
        parts = PurePosixPath(path).parts
    for part in parts:
        if part == "..":
            raise ApiError(400, f"The {kind} {quote(path)} must not contain '..'.")
        if part.startswith(".") and part != "." and not hidden_ok:
            raise ApiError(
                400,
                f"The {kind} {quote(path)} is hidden (a part starts with '.'); hidden files are "
                "not shown on this server (ContentsManager.allow_hidden).",
            )
    target = root.joinpath(*[p for p in parts if p not in (".", "/")])
    real = target.resolve()
    if real != root and root not in real.parents:
        raise ApiError(
            400, f"The {kind} {quote(path)} leads outside the notebook's folder through a link."
        )
    if must_exist and not real.exists():
        raise ApiError(404, f"The {kind} {quote(path)} does not exist.")
    return real
