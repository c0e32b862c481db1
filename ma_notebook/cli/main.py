"""``ma-cli``: global options, subcommand dispatch and user-facing error reporting."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from .. import __version__

#: Modules that add subcommands; each has ``register(subparsers)`` setting ``func`` on its parser.
SUBCOMMAND_MODULES: list[str] = ["ma_notebook.cli.obs"]


class CliError(Exception):
    """An error whose message is for the user; ma-cli prints it without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The ma-cli argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="ma-cli",
        description="ma-notebook command line: object storage copies, configuration and more.",
        add_help=False,
    )
    parser.add_argument("-h", "-H", "--help", action="help", help="Show this help and exit.")
    parser.add_argument("-V", "--version", action="version", version=f"ma-cli {__version__}")
    parser.add_argument(
        "-C",
        "--config-file",
        help="Profile file to use (default ~/.modelarts/ma-cli-profile.yaml).",
    )
    parser.add_argument(
        "-P", "--profile", help="Profile name in the profile file (default: DEFAULT)."
    )
    parser.add_argument(
        "-D", "--debug", action="store_true", help="Print full tracebacks on errors."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ma-cli and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            traceback.print_exc()
        print(f"Error: {e}", file=sys.stderr)
        if not args.debug and not isinstance(e, CliError):
            print("Run again with -D/--debug for the full traceback.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
