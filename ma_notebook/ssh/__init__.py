"""Remote SSH for local IDEs: a real sshd, keys, a whitelist and a tunnel via the notebook URL."""

from __future__ import annotations

from typing import Any

__all__ = ["CAPABILITY", "SSHService"]


def __getattr__(name: str) -> Any:
    # Lazy, so ma-cli (which only needs clientconfig) does not import the server side.
    if name in ("CAPABILITY", "SSHService"):
        from .service import SSHService

        return SSHService
    raise AttributeError(name)
