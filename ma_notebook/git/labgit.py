"""Keeps jupyterlab-git's sidebar from downloading every blob of a sparse, blobless clone.

jupyterlab-git's status call diffs the whole index against the empty tree to tell binary files
apart (``git diff --numstat --cached 4b825dc...``). In a partial clone that reads every blob the
index names, and git fetches each missing one from the remote: a 0.26 MB sparse clone became
21 MB when the sidebar opened. The flags are only used for the files ``git status`` lists, so the
diff is limited to those paths (all present locally); its output, and the answer, are unchanged.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
STATUS_CMD = ["git", "status", "--porcelain", "-b", "-u", "-z"]
NUMSTAT_CMD = ["git", "diff", "--numstat", "-z", "--cached", EMPTY_TREE]
#: Most paths put on one diff command line (beyond: no binary flags in a partial clone).
MAX_PATHS = 2000

_status_paths: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "ma_notebook_status_paths", default=None
)


def status_paths(porcelain: str) -> list[str]:
    """The paths ``git status --porcelain -b -u -z`` lists (a rename's source skipped)."""
    paths: list[str] = []
    tokens = iter(porcelain.strip("\x00").split("\x00"))
    for token in tokens:
        if len(token) < 4 or token.startswith("## "):
            continue
        paths.append(token[3:])
        if token[0] in "RC" or token[1] in "RC":
            next(tokens, None)
    return paths


def install() -> bool:
    """Wrap jupyterlab-git's command runner once; False when jupyterlab-git is not installed."""
    try:
        from jupyterlab_git_core.git import Git
    except ImportError:
        return False
    original: Callable[..., Awaitable[tuple[int, str, str]]] | None = getattr(
        Git, "_Git__execute", None
    )
    if original is None or getattr(original, "_ma_notebook", False):
        return original is not None

    @functools.wraps(original)
    async def execute(
        self: Any, cmdline: list[str], cwd: str, *args: Any, **kwargs: Any
    ) -> tuple[int, str, str]:
        assert original is not None
        if list(cmdline) == NUMSTAT_CMD:
            paths = _status_paths.get()
            _status_paths.set(None)
            if paths is not None:
                if not paths:
                    return 0, "", ""
                if len(paths) <= MAX_PATHS:
                    limited = ["git", "--literal-pathspecs", *NUMSTAT_CMD[1:], "--", *paths]
                    return await original(self, limited, cwd, *args, **kwargs)
                if await _is_partial(original, self, cwd):
                    return 0, "", ""
        result = await original(self, cmdline, cwd, *args, **kwargs)
        if list(cmdline) == STATUS_CMD and result[0] == 0:
            _status_paths.set(status_paths(result[1]))
        return result

    execute._ma_notebook = True  # type: ignore[attr-defined]
    Git._Git__execute = execute  # type: ignore[attr-defined]
    return True


async def _is_partial(original: Callable[..., Any], git: Any, cwd: str) -> bool:
    code, out, _ = await original(git, ["git", "config", "--get", "extensions.partialclone"], cwd)
    return bool(code == 0 and out.strip())
