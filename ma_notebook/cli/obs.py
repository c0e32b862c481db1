"""``ma-cli configure`` (credentials and endpoint) and ``ma-cli obs-copy`` (files and folders)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import threading
import time
from typing import Any

from ..obs.config import DEFAULT_PROFILE, read_profiles, resolve_settings, write_profile
from ..obs.errors import ObsCancelled, ObsError
from ..obs.paths import ObsPath, is_obs
from ..obs.store import open_store
from ..obs.transfer import TransferEngine, location
from .main import CliError


def _common(parser: argparse.ArgumentParser) -> None:
    """-C/-P/-D also after the subcommand (as the seed shows them)."""
    parser.add_argument("-h", "-H", "--help", action="help", help="Show this help and exit.")
    parser.add_argument(
        "-C",
        "--config-file",
        default=argparse.SUPPRESS,
        help="Profile file (default ~/.modelarts/ma-cli-profile.yaml).",
    )
    parser.add_argument(
        "-P", "--profile", default=argparse.SUPPRESS, help='Profile to use (default "DEFAULT").'
    )
    parser.add_argument(
        "-D",
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="Show the full traceback when an error occurs.",
    )


def register(sub: Any) -> None:
    """Add ``configure`` and ``obs-copy``."""
    conf = sub.add_parser(
        "configure",
        add_help=False,
        help="Configure authentication and endpoints for the CLI.",
        description="Save credentials and the OBS endpoint in the profile file (mode 0600). "
        "Secrets are prompted without echo, never taken from the command line.",
    )
    conf.add_argument(
        "-auth",
        "--auth",
        choices=["AKSK", "PWD"],
        default="AKSK",
        help="Authentication type (default AKSK; OBS access needs AK/SK).",
    )
    conf.add_argument("-ak", "--access-key", help="Access key (AK); prompted when omitted.")
    conf.add_argument("-r", "--region", help="Region, e.g. cn-north-4 (default: REGION_NAME).")
    conf.add_argument(
        "-e", "--endpoint", help="OBS/S3 endpoint URL (default: the region's OBS endpoint)."
    )
    conf.add_argument(
        "--addressing-style",
        choices=["auto", "path", "virtual"],
        help="Bucket addressing (default auto: path for IP/localhost endpoints).",
    )
    conf.add_argument("-a", "--account", help="IAM account (PWD).")
    conf.add_argument("-u", "--username", help="IAM user name (PWD).")
    conf.add_argument("-pi", "--project-id", help="Project id.")
    _common(conf)
    conf.set_defaults(func=configure)

    cp = sub.add_parser(
        "obs-copy",
        add_help=False,
        help="Copy files or directories between OBS and a local path.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy file or directory between OBS and local path.\n\nExamples:\n"
        "  ma-cli obs-copy ./test.zip obs://your-bucket/copy-data/\n"
        "  ma-cli obs-copy ./test/ obs://your-bucket/copy-data/\n"
        "  ma-cli obs-copy obs://your-bucket/copy-data/test.zip ./test.zip\n"
        "  ma-cli obs-copy obs://your-bucket/copy-data/ ./test/",
    )
    cp.add_argument("src", metavar="SRC")
    cp.add_argument("dst", metavar="DST")
    cp.add_argument(
        "-d",
        "--drop-last-dir",
        action="store_true",
        help="Copy a folder's contents without its last directory (default: False).",
    )
    _common(cp)
    cp.set_defaults(func=obs_copy)


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
    """A one-line progress bar on stderr."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last < (0.2 if self.tty else 5.0):
            return
        self._last = now
        rate = done / max(now - self.start, 1e-6)
        pct = f"{100 * done / total:5.1f}%" if total else "  ?  "
        width = 30
        filled = int(width * done / total) if total else 0
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {pct} {_fmt(done)}"
            f"/{_fmt(total) if total is not None else '?'} {_fmt(rate)}/s"
        )
        sys.stderr.write(("\r" if self.tty else "") + line + ("" if self.tty else "\n"))
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


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
    for label, loc, raw in (("src", src, args.src), ("dst", dst, args.dst)):
        kind = "obs" if isinstance(loc, ObsPath) else "local"
        shown = raw if isinstance(loc, ObsPath) else str(loc) + ("/" if raw.endswith("/") else "")
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
