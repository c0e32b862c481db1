"""Allow-listed environments for the tool processes ma-notebook starts (sshd, mount helpers, ...).

A child gets only the variables it needs: never the server's cloud credentials or tokens.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: Variables every tool may see: locale, paths, terminal and time zone; nothing secret.
BASE_ALLOW: frozenset[str] = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "TMPDIR",
        "PYTHONUNBUFFERED",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "VIRTUAL_ENV",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_VISIBLE_DEVICES",
        "LD_LIBRARY_PATH",
        "NVIDIA_VISIBLE_DEVICES",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
    }
)
#: Prefixes of variables tools may see (locale settings).
BASE_PREFIXES: tuple[str, ...] = ("LC_",)


def tool_env(
    extra: Mapping[str, str] | None = None,
    *,
    allow: Iterable[str] = (),
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The allow-listed part of ``source`` (default: this process's env) plus ``extra``."""
    src = os.environ if source is None else source
    names = BASE_ALLOW | frozenset(allow)
    env = {k: v for k, v in src.items() if k in names or k.startswith(BASE_PREFIXES)}
    env.update(extra or {})
    return env
