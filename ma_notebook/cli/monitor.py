"""``ma-cli auto-stop`` (show or renew the running notebook's lease) and ``ma-cli cache-usage``."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

import click

from .common import CONTEXT_SETTINGS, CliError

MIN_HOURS, MAX_HOURS = 1, 72


def _server(url: str | None, token: str | None) -> tuple[str, str]:
    """The notebook server to talk to: --url/--token, else the newest running Jupyter server."""
    if url:
        return url.rstrip("/"), token or os.environ.get("JUPYTER_TOKEN", "")
    from jupyter_server.serverapp import list_running_servers

    servers = sorted(list_running_servers(), key=lambda s: s.get("pid", 0))
    if not servers:
        raise CliError("No running Jupyter server found; pass --url and --token.")
    info = servers[-1]
    return str(info["url"]).rstrip("/"), token or str(info.get("token", ""))


def _call(base: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    if not base.startswith(("http://", "https://")):
        raise CliError("--url must be an http:// or https:// URL.")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{base}/ma-notebook/api/{path}", data=data, method="PATCH" if data else "GET"
    )
    if token:
        req.add_header("Authorization", f"token {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("message") or e.reason
        except ValueError:
            message = e.reason
        raise CliError(f"The server answered {e.code}: {message}") from None
    except OSError as e:
        raise CliError(f"Cannot reach the notebook server at {base}: {e}") from None


def _describe(lease: dict[str, Any]) -> str:
    if not lease["enabled"]:
        return "Auto-stop is off."
    left = int(lease["remaining_seconds"])
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(lease["deadline"]))
    return f"Auto-stop in {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d} (at {at})."


@click.command("auto-stop", context_settings=CONTEXT_SETTINGS)
@click.argument("hours", required=False, type=float)
@click.option("--off", is_flag=True, help="Switch auto-stop off.")
@click.option("--url", default=None, help="Notebook server URL (default: the running one).")
@click.option("--token", default=None, help="Its token (default: from the running server).")
def auto_stop(hours: float | None, off: bool, url: str | None, token: str | None) -> None:
    """Show the auto-stop time, or renew it HOURS (1-72) from now."""
    if hours is not None and not MIN_HOURS <= hours <= MAX_HOURS:
        raise CliError(f"HOURS must be between {MIN_HOURS} and {MAX_HOURS}, not {hours:g}.")
    base, tok = _server(url, token)
    body: dict[str, Any] | None = None
    if hours is not None:
        body = {"hours": hours}
    elif off:
        body = {"enabled": False}
    lease = _call(base, tok, "lease", body)
    click.echo(_describe(lease))


@click.command("cache-usage", context_settings=CONTEXT_SETTINGS)
@click.argument("path", required=False, default="/cache")
def cache_usage(path: str) -> None:
    """Print the size and utilisation of a cache directory (statvfs on a mount, else a scan)."""
    from ..monitor.cache import CacheMonitor

    monitor = CacheMonitor(path, scan_interval=0)
    usage = monitor.refresh()
    if usage.method != "statvfs" and usage.available is False and os.path.isdir(path):
        deadline = time.monotonic() + 600
        while not monitor.latest.available and time.monotonic() < deadline:
            time.sleep(0.05)
        usage = monitor.latest
    if not usage.available:
        raise CliError(usage.reason or f"{path} cannot be measured.")
    click.echo(
        f"{path}: {usage.size_bytes} bytes of {usage.capacity_bytes} "
        f"({usage.util * 100:.1f} %), by {usage.method}"
        + (" (truncated)" if usage.truncated else "")
    )


commands = [auto_stop, cache_usage]
