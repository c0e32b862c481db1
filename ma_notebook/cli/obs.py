"""``ma-cli configure`` (credentials and endpoint) and ``ma-cli obs-copy`` (files and folders)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
from typing import Any

import click
from tqdm import tqdm

from ..obs.config import DEFAULT_PROFILE, read_profiles, resolve_settings, write_profile
from ..obs.errors import ObsCancelled, ObsError
from ..obs.paths import ObsPath, is_obs
from ..obs.store import open_store
from ..obs.transfer import TransferEngine, location
from .common import CONTEXT_SETTINGS, CliError, common_options, options


@click.command(
    "configure",
    context_settings=CONTEXT_SETTINGS,
    help="Save credentials and the OBS endpoint in the profile file (mode 0600). "
    "Secrets are prompted without echo, never taken from the command line.",
    short_help="Configure authentication and endpoints for the CLI.",
)
@click.option(
    "-auth",
    "--auth",
    type=click.Choice(["AKSK", "PWD"]),
    default="AKSK",
    show_default=True,
    help="Authentication type (OBS access needs AK/SK).",
)
@click.option("-ak", "--access-key", help="Access key (AK); prompted when omitted.")
@click.option("-r", "--region", help="Region, e.g. cn-north-4 (default: REGION_NAME).")
@click.option("-e", "--endpoint", help="OBS/S3 endpoint URL (default: the region's OBS endpoint).")
@click.option(
    "--addressing-style",
    type=click.Choice(["auto", "path", "virtual"]),
    help="Bucket addressing (default auto: path for IP/localhost endpoints).",
)
@click.option("-a", "--account", help="IAM account (PWD).")
@click.option("-u", "--username", help="IAM user name (PWD).")
@click.option("-pi", "--project-id", help="Project id.")
@common_options
def configure_cmd(**kwargs: Any) -> None:
    """Configure authentication and endpoints for the CLI."""
    configure(argparse.Namespace(**kwargs, **vars(options())))


@click.command(
    "obs-copy",
    context_settings=CONTEXT_SETTINGS,
    short_help="Copy files or directories between OBS and a local path.",
)
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
@click.option(
    "-d",
    "--drop-last-dir",
    is_flag=True,
    help="Copy a folder's contents without its last directory (default: False).",
)
@common_options
def obs_copy_cmd(**kwargs: Any) -> None:
    """Copy file or directory between OBS and local path.

    \b
    Examples:
      ma-cli obs-copy ./test.zip obs://your-bucket/copy-data/
      ma-cli obs-copy ./test/ obs://your-bucket/copy-data/
      ma-cli obs-copy obs://your-bucket/copy-data/test.zip ./test.zip
      ma-cli obs-copy obs://your-bucket/copy-data/ ./test/
    """
    obs_copy(argparse.Namespace(**kwargs, **vars(options())))


#: The commands this module adds to ma-cli.
commands = [configure_cmd, obs_copy_cmd]


def _secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\n")


def _ask(prompt: str) -> str:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return sys.stdin.readline().rstrip("\n")


def configure(args: argparse.Namespace) -> int:
    """Prompt for what is missing and save the profile."""
    profile = getattr(args, "profile", None) or DEFAULT_PROFILE
    path = getattr(args, "config_file", None)
    try:
        existing = read_profiles(path).get(profile, {})
    except ObsError as e:
        raise CliError(e.message) from None
    values: dict[str, Any] = {"auth": args.auth}
    if args.auth == "AKSK":
        ak = args.access_key or _ask(
            f"access key [{'***' if existing.get('access_key') else ''}]: "
        )
        sk = _secret(f"secret key [{'***' if existing.get('secret_key') else ''}]: ")
        values["access_key"] = ak or existing.get("access_key")
        values["secret_key"] = sk or existing.get("secret_key")
        if not values["access_key"] or not values["secret_key"]:
            raise CliError("Both an access key and a secret key are needed for --auth AKSK.")
    else:
        values["account"] = args.account if args.account is not None else _ask("account: ")
        values["username"] = args.username if args.username is not None else _ask("username: ")
        values["password"] = _secret("password: ")
    values["region"] = args.region or os.environ.get("REGION_NAME") or existing.get("region")
    values["obs_endpoint"] = args.endpoint
    values["addressing_style"] = args.addressing_style
    values["project_id"] = args.project_id or os.environ.get("PROJECT_ID")
    try:
        saved = write_profile(values, profile, path)
    except OSError as e:
        raise CliError(f"Cannot write the profile file: {e}") from None
    print(f"[OK] Profile {profile!r} saved in {saved} (mode 0600).")
    if args.auth == "PWD":
        print("[WARN] OBS copies need an AK/SK: run `ma-cli configure --auth AKSK` for them.")
    return 0


class _Bar:
    """The copy's progress bar on stderr (tqdm), fed with (done, total) callbacks."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is None:
            self._bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                mininterval=0.2 if sys.stderr.isatty() else 5.0,
                dynamic_ncols=True,
            )
        elif total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _fmt(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def obs_copy(args: argparse.Namespace) -> int:
    """Copy SRC to DST (one side obs://), with a progress bar; Ctrl-C cancels cleanly."""
    if not (is_obs(args.src) or is_obs(args.dst)):
        raise CliError("One of SRC and DST must be an obs:// path.")
    try:
        settings = resolve_settings(
            profile=getattr(args, "profile", None), profile_file=getattr(args, "config_file", None)
        )
        src, dst = location(args.src), location(args.dst)
    except ObsError as e:
        raise CliError(e.message) from None
    for raw, loc in ((args.src, src), (args.dst, dst)):
        if isinstance(loc, ObsPath) and loc.is_root:
            raise CliError(
                f"{raw} names no bucket: use obs://<bucket>/<path>, e.g. obs://my-bucket/data/."
            )
    for label, loc, raw in (("src", src, args.src), ("dst", dst, args.dst)):
        kind = "obs" if isinstance(loc, ObsPath) else "local"
        shown = raw if isinstance(loc, ObsPath) else str(loc)
        print(f"[OK] {kind} {label} path: [{shown}]")
    if settings.mode == "embedded":
        print(f"[OK] store: embedded local store at {settings.local_root}")
    engine = TransferEngine(open_store(settings))
    cancel = threading.Event()
    bar = _Bar()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = engine.copy(
                src, dst, drop_last_dir=args.drop_last_dir, progress=bar, cancel=cancel
            )
        except BaseException as e:  # handed to the main thread
            outcome["error"] = e

    worker = threading.Thread(target=run, name="obs-copy")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        sys.stderr.write("\nCancelling...\n")
        worker.join()
        raise
    finally:
        bar.close()
        engine.close()
    error = outcome.get("error")
    if isinstance(error, ObsCancelled):
        raise KeyboardInterrupt
    if isinstance(error, ObsError):
        if getattr(args, "debug", False):
            raise error
        raise CliError(error.message)
    if error is not None:
        raise error
    result = outcome["result"]
    print(f"[OK] copied {result.files} file(s), {_fmt(result.bytes)}")
    return 0
