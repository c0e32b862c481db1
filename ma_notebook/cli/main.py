"""``ma-cli``: global options, subcommand groups and user-facing error reporting (on click)."""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence

import click

from .. import __version__
from .common import CONTEXT_SETTINGS, Options

#: Modules that add subcommands; each exposes ``commands``, a list of click commands or groups.
SUBCOMMAND_MODULES: list[str] = [
    "ma_notebook.cli.obs",
    "ma_notebook.cli.ssh",
    "ma_notebook.cli.image",
]


@click.group(
    name="ma-cli",
    context_settings=CONTEXT_SETTINGS,
    help="ma-notebook command line: object storage copies, configuration and more.",
)
@click.version_option(
    __version__, "-V", "--version", prog_name="ma-cli", message="%(prog)s %(version)s"
)
@click.option(
    "-C",
    "--config-file",
    default=None,
    help="Profile file to use (default ~/.modelarts/ma-cli-profile.yaml).",
)
@click.option(
    "-P", "--profile", default=None, help="Profile name in the profile file (default: DEFAULT)."
)
@click.option("-D", "--debug", is_flag=True, default=False, help="Print full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, profile: str | None, debug: bool) -> None:
    """The ma-cli root group."""
    ctx.obj = Options(config_file, profile, debug)


@cli.command("auto-completion", context_settings=CONTEXT_SETTINGS)
@click.argument("shell", required=False, type=click.Choice(["bash", "zsh", "fish"]), default="bash")
def auto_completion(shell: str) -> None:
    """Print the line that turns on ma-cli's shell completion (add it to your shell's rc file)."""
    source = {"bash": "bash_source", "zsh": "zsh_source", "fish": "fish_source"}[shell]
    if shell == "fish":
        click.echo(f"_MA_CLI_COMPLETE={source} ma-cli | source")
    else:
        click.echo(f'eval "$(_MA_CLI_COMPLETE={source} ma-cli)"')


def _register() -> None:
    for name in SUBCOMMAND_MODULES:
        for command in importlib.import_module(name).commands:
            cli.add_command(command)


_register()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ma-cli and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "-D" in args or "--debug" in args
    try:
        cli.main(args=args, prog_name="ma-cli", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except Exception as e:
        if debug:
            traceback.print_exc()
        click.echo(f"Error: {e}", err=True)
        if not debug:
            click.echo("Run again with -D/--debug for the full traceback.", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
