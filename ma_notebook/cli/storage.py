"""``ma-cli storage``: mount OBS folders at /data/<name>/, list, unmount, grow the workspace disk.

Commands talk to the running notebook server (``--url``/``--token``, ``$MA_NOTEBOOK_URL`` and
``$MA_NOTEBOOK_TOKEN``, else the servers listed in Jupyter's runtime folder). ``list``,
``unmount``, ``expand`` and ``init-local-volume`` also work directly, without a server
(``--direct``), on the state in the data folder; mounting needs the server, whose helper
processes serve the mounts.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from .common import CONTEXT_SETTINGS, CliError, common_options

DEFAULT_WORKSPACE = "/home/ma-user/work"


def _default_data_dir() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return os.environ.get("MA_NOTEBOOK_DATA_DIR") or os.path.join(jupyter_data_dir(), "ma_notebook")


class Server:
    """A running notebook server's ma-notebook API."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/") + "/"
        self.token = token

    def call(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """One API call; CliError carrying the server's message on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.url}ma-notebook/api/{path}"
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - the user's server
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - user's server
                raw = resp.read()
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("message") or e.reason
            except ValueError:
                message = e.reason
            raise CliError(f"{message} (HTTP {e.code})") from None
        except OSError as e:
            raise CliError(f"Cannot reach the notebook server at {self.url}: {e}") from None
        return json.loads(raw) if raw else None


def find_server(url: str | None, token: str | None) -> Server | None:
    """The server named by options or environment, else the first one Jupyter lists."""
    url = url or os.environ.get("MA_NOTEBOOK_URL")
    token = token or os.environ.get("MA_NOTEBOOK_TOKEN") or os.environ.get("JUPYTER_TOKEN") or ""
    if url:
        return Server(url, token)
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    for info in list_running_servers():
        return Server(info["url"], token or info.get("token", ""))
    return None


def _server(ctx_url: str | None, ctx_token: str | None) -> Server:
    server = find_server(ctx_url, ctx_token)
    if server is None:
        raise CliError(
            "No running notebook server found: start JupyterLab, pass --url/--token "
            "(or set MA_NOTEBOOK_URL and MA_NOTEBOOK_TOKEN), or use --direct where offered."
        )
    return server


def _print_mounts(mounts: list[dict[str, Any]]) -> None:
    if not mounts:
        click.echo("No storage mounted.")
        return
    rows = [("ID", "TYPE", "STATUS", "STORAGE PATH", "MOUNT PATH")]
    rows += [(m["id"], m["type"], m["status"], m["uri"], m["mount_path"]) for m in mounts]
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    for m in mounts:
        if m.get("message"):
            click.echo(f"{m['mount_path']}: {m['message']}")


def _wait_mount(server: Server, mount_id: str, wanted: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        m = server.call(f"storage/mounts/{mount_id}")
        if m["status"] == wanted:
            return m  # type: ignore[no-any-return]
        if m["status"] in ("MOUNT_FAILED", "UNMOUNT_FAILED"):
            raise CliError(f"{m['status']}: {m['message']}")
        if time.monotonic() > deadline:
            raise CliError(f"Still {m['status']} after {timeout:g} s.")
        time.sleep(0.3)


def _find_mount(mounts: list[dict[str, Any]], which: str) -> dict[str, Any]:
    norm = which.rstrip("/") + "/"
    for m in mounts:
        if which in (m["id"], m["uri"]) or m["mount_path"] == norm:
            return m
    raise CliError(f"No mount {which!r}: see `ma-cli storage list`.")


server_options = [
    click.option("--url", default=None, help="Notebook server URL (default: the running one)."),
    click.option("--token", default=None, help="Its token (default: $MA_NOTEBOOK_TOKEN)."),
]


def with_server(fn: Any) -> Any:
    """--url and --token."""
    for option in reversed(server_options):
        fn = option(fn)
    return fn


def direct_options(fn: Any) -> Any:
    """--direct, --data-dir, --workspace."""
    fn = click.option(
        "--workspace",
        default=None,
        help=f"Workspace folder (default {DEFAULT_WORKSPACE}, else the current folder).",
    )(fn)
    fn = click.option(
        "--data-dir", default=None, help="ma-notebook data folder (default: Jupyter's)."
    )(fn)
    return click.option(
        "--direct", is_flag=True, default=False, help="Work without the notebook server."
    )(fn)


def _workspace(value: str | None) -> Path:
    if value:
        return Path(value).resolve()
    return Path(DEFAULT_WORKSPACE) if os.path.isdir(DEFAULT_WORKSPACE) else Path.cwd()


@click.group("storage", context_settings=CONTEXT_SETTINGS)
def storage() -> None:
    """Mount OBS folders at /data/<name>/ and grow the workspace disk."""


@storage.command("list", context_settings=CONTEXT_SETTINGS)
@with_server
@direct_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def list_cmd(
    url: str | None,
    token: str | None,
    direct: bool,
    data_dir: str | None,
    workspace: str | None,
    as_json: bool,
) -> None:
    """List the mounted storage (type, status, storage path, mount path)."""
    if direct:
        from ..storage import system

        path = Path(data_dir or _default_data_dir()) / "storage" / "mounts.json"
        try:
            mounts = json.loads(path.read_text())
        except (OSError, ValueError):
            mounts = []
        for m in mounts:
            if m.get("status") == "MOUNTED" and system.mount_at(m["real_path"]) is None:
                m["status"], m["message"] = "MOUNT_FAILED", "Not mounted (server stopped?)."
    else:
        mounts = _server(url, token).call("storage/mounts")["mounts"]
    if as_json:
        click.echo(json.dumps(mounts, indent=1))
    else:
        _print_mounts(mounts)


@storage.command("mount", context_settings=CONTEXT_SETTINGS)
@click.argument("uri", metavar="OBS_PATH")
@click.argument("mount_path", metavar="MOUNT_PATH")
@click.option("--read-only", is_flag=True, help="Mount read-only.")
@click.option("--no-wait", is_flag=True, help="Return while it is still MOUNTING.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait.")
@with_server
@common_options
def mount_cmd(
    uri: str,
    mount_path: str,
    read_only: bool,
    no_wait: bool,
    timeout: float,
    url: str | None,
    token: str | None,
) -> None:
    """Mount OBS_PATH (obs://bucket/dir/) at MOUNT_PATH (/data/<name>/)."""
    server = _server(url, token)
    m = server.call(
        "storage/mounts",
        "POST",
        {"uri": uri, "mount_path": mount_path, "read_only": read_only},
    )
    if not no_wait:
        m = _wait_mount(server, m["id"], "MOUNTED", timeout)
    click.echo(f"{m['status']}: {m['uri']} at {m['mount_path']} (id {m['id']})")


@storage.command("unmount", context_settings=CONTEXT_SETTINGS)
@click.argument("which", metavar="MOUNT_PATH_OR_ID")
@click.option("-f", "--force", is_flag=True, help="Unmount lazily even when it is in use.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait.")
@with_server
@direct_options
@common_options
def unmount_cmd(
    which: str,
    force: bool,
    timeout: float,
    url: str | None,
    token: str | None,
    direct: bool,
    data_dir: str | None,
    workspace: str | None,
) -> None:
    """Unmount a mount, by its mount path (/data/<name>/) or id."""
    if direct:
        from ..storage import system

        path = Path(data_dir or _default_data_dir()) / "storage" / "mounts.json"
        try:
            mounts = json.loads(path.read_text())
        except (OSError, ValueError):
            mounts = []
        m = _find_mount(mounts, which)
        if system.mount_at(m["real_path"]) is not None:
            busy = system.holders(m["real_path"])
            if busy and not force:
                names = ", ".join(str(h) for h in busy[:10])
                raise CliError(f"{m['mount_path']} is in use by {names}; use --force.")
            error = system.unmount(m["real_path"], lazy=force)
            if error:
                raise CliError(f"umount failed: {error}")
        path.write_text(json.dumps([x for x in mounts if x["id"] != m["id"]], indent=1))
        click.echo(f"UNMOUNTED: {m['mount_path']}")
        return
    server = _server(url, token)
    m = _find_mount(server.call("storage/mounts")["mounts"], which)
    suffix = "?force=true" if force else ""
    server.call(f"storage/mounts/{m['id']}{suffix}", "DELETE")
    m = _wait_mount(server, m["id"], "UNMOUNTED", timeout)
    click.echo(f"UNMOUNTED: {m['mount_path']}")


def _print_volume(v: dict[str, Any]) -> None:
    gb = 1024**3
    click.echo(
        f"{v['type']} disk at {v['mount_path']}: {v['used_bytes'] / gb:.2f} GB used of "
        f"{v['total_bytes'] / gb:.2f} GB"
        + ("" if v["expandable"] else f" (not expandable: {v['reason']})")
    )


@storage.command("expand", context_settings=CONTEXT_SETTINGS)
@click.argument("increase_gb", type=int, metavar="INCREASE_GB")
@click.option("--no-wait", is_flag=True, help="Return once the expansion has started.")
@with_server
@direct_options
@common_options
def expand_cmd(
    increase_gb: int,
    no_wait: bool,
    url: str | None,
    token: str | None,
    direct: bool,
    data_dir: str | None,
    workspace: str | None,
) -> None:
    """Grow the workspace disk by INCREASE_GB GB online (at most 100 a step, 4,096 in total)."""
    from ..api import ApiError

    if direct:
        from ..storage import rules
        from ..storage.volumes import GiB, LocalVolumeProvider, VolumeError, statvfs_size

        ws = _workspace(workspace)
        provider = LocalVolumeProvider(ws, Path(data_dir or _default_data_dir()) / "storage")
        state = provider.state()
        try:
            new_total = rules.check_increase(
                increase_gb, state.capacity_gb or statvfs_size(ws)[0] / GiB
            )
        except ApiError as e:
            raise CliError(e.message) from None
        if not state.expandable:
            raise CliError(state.reason)
        try:
            provider.expand(new_total, lambda phase, message: click.echo(message))
        except VolumeError as e:
            raise CliError(str(e)) from None
        click.echo(f"The workspace disk is now {new_total:g} GB.")
        return
    server = _server(url, token)
    task = server.call("storage/volume/expand", "POST", {"increase_gb": increase_gb})
    while not no_wait and task["state"] not in ("succeeded", "failed", "cancelled"):
        task = server.call(f"tasks/{task['id']}?wait=10")
        if task.get("message"):
            click.echo(task["message"], err=True)
    if task["state"] == "failed":
        raise CliError(task.get("error") or "The expansion failed.")
    if no_wait:
        click.echo(f"Expanding (task {task['id']}).")
        return
    _print_volume(server.call("storage/volume"))


@storage.command("volume", context_settings=CONTEXT_SETTINGS)
@with_server
@common_options
def volume_cmd(url: str | None, token: str | None) -> None:
    """Show the workspace disk: type, used / total, whether it can grow."""
    _print_volume(_server(url, token).call("storage/volume"))


@storage.command("init-local-volume", context_settings=CONTEXT_SETTINGS)
@click.option("--size", "size_gb", type=float, required=True, help="Initial size in GB.")
@click.option(
    "--image", default=None, help="Image file (default <data-dir>/storage/workspace.img)."
)
@direct_options
@common_options
def init_local_volume_cmd(
    size_gb: float, image: str | None, direct: bool, data_dir: str | None, workspace: str | None
) -> None:
    """Put the (empty) workspace on a loop-mounted XFS image that can grow online (root)."""
    from ..storage.volumes import VolumeError, init_local_volume

    state_dir = Path(data_dir or _default_data_dir()) / "storage"
    ws = _workspace(workspace)
    try:
        device = init_local_volume(
            ws, size_gb, Path(image) if image else state_dir / "workspace.img", state_dir
        )
    except VolumeError as e:
        raise CliError(str(e)) from None
    click.echo(f"{ws} is now an XFS volume of {size_gb:g} GB on {device}.")


commands = [storage]
