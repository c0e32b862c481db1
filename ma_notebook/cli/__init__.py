"""The ma-cli command line: one entry point whose subcommands each capability adds."""

from .main import main

__all__ = ["main"]
