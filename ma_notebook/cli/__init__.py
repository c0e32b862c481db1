"""The ma-cli command line: one entry point whose subcommands each capability adds."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ma-cli (imported lazily, so ``python -m ma_notebook.cli.main`` imports it once)."""
    from .main import main as run

    return run(argv)


__all__ = ["main"]
