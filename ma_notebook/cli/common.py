"""What every ma-cli command shares: user errors, the global options and their decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

#: -h and -H as the seed spells help, besides --help.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "-H", "--help"]}


class CliError(click.ClickException):
    """An error whose message is for the user: one line on stderr, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@dataclass
class Options:
    """The global options, as given before or after the subcommand."""

    config_file: str | None = None
    profile: str | None = None
    debug: bool = False


def options() -> Options:
    """The global options of the running command."""
    ctx = click.get_current_context()
    obj = ctx.find_object(Options)
    return obj if obj is not None else Options()


def _merge(ctx: click.Context, config_file: str | None, profile: str | None, debug: bool) -> None:
    opts = ctx.ensure_object(Options)
    opts.config_file = config_file or opts.config_file
    opts.profile = profile or opts.profile
    opts.debug = debug or opts.debug


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """-C/--config-file, -P/--profile and -D/--debug, accepted after the subcommand too."""

    @click.option(
        "-C",
        "--config-file",
        "config_file_",
        default=None,
        hidden=False,
        help="Profile file (default ~/.modelarts/ma-cli-profile.yaml).",
    )
    @click.option(
        "-P", "--profile", "profile_", default=None, help='Profile to use (default "DEFAULT").'
    )
    @click.option(
        "-D",
        "--debug",
        "debug_",
        is_flag=True,
        default=False,
        help="Show the full traceback when an error occurs.",
    )
    @functools.wraps(fn)
    def inner(
        *args: Any, config_file_: str | None, profile_: str | None, debug_: bool, **kwargs: Any
    ) -> Any:
        _merge(click.get_current_context(), config_file_, profile_, debug_)
        return fn(*args, **kwargs)

    return inner
