"""``ma-cli ssh config`` (client configuration) and ``ma-cli ssh-proxy`` (OpenSSH ProxyCommand).

Both read the notebook's URL and a Jupyter token from a server file (never from the command
line, where other users of the machine could see the token in the process list)::

    # ~/.modelarts/ma-notebook-server.yaml (chmod 600)
    url: https://notebook.example.com/user/you/
    token: <your Jupyter token>      # or token_file: ~/.modelarts/notebook-token
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import click
import yaml

from ..ssh.clientconfig import DEFAULT_SERVER_FILE
from .common import CONTEXT_SETTINGS, CliError, common_options

SERVER_FILE_ENV = "MA_NOTEBOOK_SERVER_FILE"
TUNNEL_PATH = "ma-notebook/api/ssh/tunnel"
BUFFER = 1024 * 1024
#: fcntl's F_SETPIPE_SZ (Linux): bigger pipes mean fewer, larger websocket frames.
F_SETPIPE_SZ = 1031


@dataclass
class Server:
    """Where the notebook is and how to authenticate to it."""

    url: str
    token: str
    source: str
    ca_file: str | None = None

    def endpoint(self, path: str, websocket: bool = False) -> str:
        """An absolute URL below the notebook's base URL (ws:// or wss:// for websockets)."""
        base = self.url if self.url.endswith("/") else self.url + "/"
        url = urllib.parse.urljoin(base, path)
        if websocket:
            url = "ws" + url[4:] if url.startswith("http") else url
        return url

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for https:// notebooks."""
        if not self.url.startswith("https"):
            return None
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None


def server_file_option(fn: Any) -> Any:
    """--server-file: the YAML file holding the notebook URL and token."""
    return click.option(
        "--server-file",
        default=None,
        metavar="FILE",
        help=f"YAML file with the notebook 'url' and 'token' (or 'token_file'); default "
        f"${SERVER_FILE_ENV} or {DEFAULT_SERVER_FILE}.",
    )(fn)


def load_server(path: str | None) -> Server:
    """The server file read and checked, or CliError saying what to put in it."""
    source = os.path.expanduser(path or os.environ.get(SERVER_FILE_ENV) or DEFAULT_SERVER_FILE)
    example = "write 'url: https://<notebook>/' and 'token: <Jupyter token>' into it (chmod 600)"
    try:
        with open(source) as f:
            data = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise CliError(f"The server file {source} does not exist: {example}.") from None
    except (OSError, yaml.YAMLError) as e:
        raise CliError(f"Cannot read the server file {source}: {e}") from None
    if not isinstance(data, dict):
        raise CliError(f"The server file {source} must be a YAML mapping: {example}.")
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise CliError(f"'url' in {source} must be the notebook's http(s):// URL: {example}.")
    token = data.get("token")
    if token is None and data.get("token_file"):
        try:
            with open(os.path.expanduser(str(data["token_file"]))) as f:
                token = f.read().strip()
        except OSError as e:
            raise CliError(f"Cannot read token_file of {source}: {e.strerror}.") from None
    if not isinstance(token, str) or not token:
        raise CliError(f"{source} has no 'token' (or 'token_file'): {example}.")
    ca_file = data.get("ca_file")
    return Server(url, token, source, os.path.expanduser(ca_file) if ca_file else None)


def _refusal(server: Server, status: int, body: bytes, what: str = "the SSH tunnel") -> CliError:
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = ""
    if status in (401, 403) and not message:
        message = f"check the token in {server.source}"
    elif status in (401, 403):
        message += f" (check the token in {server.source})"
    return CliError(f"The notebook refused {what} (HTTP {status}): {message}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _grow_pipes(*fds: int) -> None:
    """Ask for 1 MiB pipe buffers: the tunnel's cost is per frame, so bigger reads go faster."""
    try:
        import fcntl
    except ImportError:  # Windows
        return
    for fd in fds:
        # not a pipe, or above /proc/sys/fs/pipe-max-size: keep what it is
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, F_SETPIPE_SZ, BUFFER)


def run_proxy(server: Server) -> None:
    """Carry stdin/stdout over the notebook's websocket tunnel until either side closes."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    url = server.endpoint(TUNNEL_PATH, websocket=True)
    host = urllib.parse.urlsplit(url).hostname or ""
    kwargs: dict[str, Any] = {}
    if host in ("127.0.0.1", "localhost", "::1"):
        kwargs["proxy"] = None  # never send loopback traffic to an HTTP proxy from the env
    try:
        ws = connect(
            url,
            additional_headers={"Authorization": f"token {server.token}"},
            compression=None,
            max_size=None,
            open_timeout=30,
            ssl=server.ssl_context(),
            **kwargs,
        )
    except InvalidStatus as e:
        raise _refusal(server, e.response.status_code, bytes(e.response.body or b"")) from None
    except (OSError, TimeoutError) as e:
        raise CliError(f"Cannot reach the notebook at {server.url}: {e}") from None

    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    _grow_pipes(stdin, stdout)

    def upstream() -> None:
        try:
            while data := os.read(stdin, BUFFER):
                ws.send(data)
        except (OSError, ConnectionClosed):
            pass
        finally:
            ws.close()

    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    try:
        for message in ws:
            _write_all(stdout, message if isinstance(message, bytes) else message.encode())
    except (ConnectionClosed, BrokenPipeError):
        pass
    finally:
        ws.close()


@click.command(
    "ssh-proxy",
    context_settings=CONTEXT_SETTINGS,
    short_help="Reach the notebook's sshd through its JupyterLab URL (OpenSSH ProxyCommand).",
)
@server_file_option
@common_options
def ssh_proxy_cmd(server_file: str | None) -> None:
    """Carry an SSH connection over the notebook's URL, as OpenSSH's ProxyCommand.

    \b
    In ~/.ssh/config:
      Host ma-notebook
          HostName ma-notebook
          User ma-user
          ProxyCommand ma-cli ssh-proxy --server-file ~/.modelarts/ma-notebook-server.yaml
          HostKeyAlias ma-notebook
          IdentityFile ~/.ssh/ma-notebook.pem
    """
    run_proxy(load_server(server_file))


@click.group("ssh", context_settings=CONTEXT_SETTINGS, short_help="Remote SSH to the notebook.")
def ssh_group() -> None:
    """Remote SSH to the notebook: client configuration for ssh, VS Code, PyCharm and PuTTY."""


@ssh_group.command("config", context_settings=CONTEXT_SETTINGS)
@click.option("--tunnel", is_flag=True, help="Go through the notebook URL (ma-cli ssh-proxy).")
@click.option("--alias", default="", help="Host alias (default ma-notebook).")
@click.option("--key", default="", help="Name of the key (default: the newest).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["openssh", "command", "vscode", "putty-reg", "json"]),
    default="openssh",
    show_default=True,
    help="What to print.",
)
@server_file_option
@common_options
def ssh_config_cmd(tunnel: bool, alias: str, key: str, fmt: str, server_file: str | None) -> None:
    """Print the client configuration the Remote SSH panel shows (an ~/.ssh/config block)."""
    server = load_server(server_file)
    query = urllib.parse.urlencode(
        {k: v for k, v in {"tunnel": str(tunnel).lower(), "alias": alias, "key": key}.items() if v}
    )
    req = urllib.request.Request(  # noqa: S310 - http(s) only, checked in load_server
        server.endpoint(f"ma-notebook/api/ssh/config?{query}"),
        headers={"Authorization": f"token {server.token}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30, context=server.ssl_context()) as resp:  # noqa: S310 - http(s) only, checked in load_server
            config = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise _refusal(server, e.code, bytes(e.read()), "the request") from None
    except OSError as e:
        raise CliError(f"Cannot reach the notebook at {server.url}: {e}") from None
    if fmt == "json":
        click.echo(json.dumps(config, indent=2))
    elif fmt == "command":
        click.echo(config["ssh_command"])
    elif fmt == "vscode":
        click.echo(config["vscode_url"])
    elif fmt == "putty-reg":
        click.echo(config["putty_reg"], nl=False)
    else:
        click.echo(config["openssh"], nl=False)


commands = [ssh_group, ssh_proxy_cmd]
