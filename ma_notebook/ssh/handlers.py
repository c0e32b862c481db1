"""REST API of Remote SSH under /ma-notebook/api/ssh/, and the websocket bridge to sshd."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import iostream, tcpclient, web, websocket

from ..api import ApiError, ResponseModel, endpoint
from ..base import AUTH_RESOURCE, MaAPIHandler, api_path, http_error
from .models import (
    ClientConfigModel,
    ConfigQuery,
    CreatedKey,
    KeyList,
    KeyModel,
    KeyRequest,
    StatusModel,
    WhitelistModel,
    WhitelistRequest,
)
from .service import SSHService

#: How much the bridge reads from sshd per websocket frame.
CHUNK = 256 * 1024


class _SSHHandler(MaAPIHandler):
    @property
    def ssh(self) -> SSHService:
        return self.service("ssh")  # type: ignore[no-any-return]

    @property
    def base_url(self) -> str:
        return str(self.settings.get("base_url", "/") or "/")

    def status(self) -> dict[str, Any]:
        return self.ssh.status(self.request.host_name, self.base_url)


class StatusHandler(_SSHHandler):
    """GET the SSH service's state, address, keys and whitelist."""

    @web.authenticated
    @authorized
    @endpoint(response=StatusModel, summary="State of the SSH service")
    async def get(self) -> None:
        self.write_json(self.status())


class ActionHandler(_SSHHandler):
    """POST start, stop or restart sshd."""

    @web.authenticated
    @authorized("execute")  # sshd grants shell access
    @endpoint(response=StatusModel, errors=(400, 404, 409), summary="Start, stop or restart sshd")
    async def post(self, action: str) -> None:
        ssh = self.ssh
        if action not in ("start", "stop", "restart"):
            raise web.HTTPError(404, "Unknown SSH action: use start, stop or restart.")
        if action == "start":
            await ssh.start_sshd()
        elif action == "stop":
            await ssh.stop_sshd()
        else:
            await ssh.restart_sshd()
        self.write_json(self.status())


class KeysHandler(_SSHHandler):
    """GET the registered keys; POST creates a key pair or registers a public key."""

    @web.authenticated
    @authorized
    @endpoint(response=KeyList, summary="Registered SSH public keys")
    async def get(self) -> None:
        self.write_json({"keys": self.ssh.keys()})

    @web.authenticated
    @authorized("execute")  # a key grants shell access
    @endpoint(
        body=KeyRequest,
        response=CreatedKey,
        status=201,
        summary="Create a key pair (private key returned once) or register a public key",
    )
    async def post(self, body: KeyRequest) -> None:
        answer = await self.ssh.add_key(body)
        self.set_header("Cache-Control", "no-store")
        self.write_json(answer, 201)


class KeyHandler(_SSHHandler):
    """DELETE one key: new logins with it are refused, open sessions stay."""

    @web.authenticated
    @authorized
    @endpoint(response=KeyModel, errors=(404,), summary="Remove an SSH key")
    async def delete(self, name: str) -> None:
        self.write_json(self.ssh.remove_key(name))


class WhitelistHandler(_SSHHandler):
    """GET / PUT the addresses allowed to connect (at most 5; empty means any)."""

    @web.authenticated
    @authorized
    @endpoint(response=WhitelistModel, summary="The SSH whitelist")
    async def get(self) -> None:
        self.write_json({"entries": self.ssh.whitelist()})

    @web.authenticated
    @authorized("execute")  # the whitelist guards shell access
    @endpoint(body=WhitelistRequest, response=WhitelistModel, summary="Replace the SSH whitelist")
    async def put(self, body: WhitelistRequest) -> None:
        self.write_json({"entries": self.ssh.set_whitelist(body.entries)})


class ConfigHandler(_SSHHandler):
    """GET ready-made client configuration (OpenSSH / VS Code, PyCharm, PuTTY, ssh)."""

    @web.authenticated
    @authorized
    @endpoint(query=ConfigQuery, response=ClientConfigModel, summary="Client configuration")
    async def get(self, query: ConfigQuery) -> None:
        request = self.request
        notebook_url = f"{request.protocol}://{request.host}{self.base_url}"
        self.write_json(
            self.ssh.client_config(
                request_host=request.host_name,
                notebook_url=notebook_url,
                tunnel=query.tunnel,
                alias=query.alias,
                key=query.key,
            )
        )


class TunnelSwitching(ResponseModel):
    """The websocket handshake's answer (101 Switching Protocols)."""


class TunnelHandler(
    ExtensionHandlerMixin, WebSocketMixin, websocket.WebSocketHandler, JupyterHandler
):  # type: ignore[misc]
    """A websocket carrying one SSH connection to the local sshd (``ma-cli ssh-proxy``'s peer)."""

    auth_resource = AUTH_RESOURCE
    _sshd: iostream.IOStream | None = None
    _pump: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """No JSON or CSP headers on a websocket upgrade."""

    def get_compression_options(self) -> None:
        """SSH traffic is encrypted: compressing it costs CPU and gains nothing."""
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused handshake answers the one JSON error shape."""
        MaAPIHandler.write_error(self, status_code, **kwargs)  # type: ignore[arg-type]

    def _handle_request_exception(self, e: BaseException) -> None:
        mapped = http_error(e) if isinstance(e, Exception) else None
        if mapped is not None and not self._finished:
            self.send_error(mapped.status_code, exc_info=(type(mapped), mapped, None))
            return
        super()._handle_request_exception(e)

    @ws_authenticated
    @authorized("execute")
    @endpoint(
        response=TunnelSwitching,
        status=101,
        errors=(400, 403, 503),
        summary="Websocket tunnel to sshd (for ma-cli ssh-proxy as ProxyCommand)",
    )
    async def get(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(
                400,
                "This route is a websocket tunnel to sshd: use `ma-cli ssh-proxy` as OpenSSH's "
                "ProxyCommand (see `ma-cli ssh config --tunnel`).",
            )
        service: SSHService | None = self.extensionapp.services.get("ssh")  # type: ignore[attr-defined]
        if service is None:
            raise web.HTTPError(404, "The 'ssh' capability is not enabled on this server.")
        if not service.allows(self.request.remote_ip or ""):
            raise ApiError(
                403,
                "Your address is not on this notebook's SSH whitelist.",
                reason="not-whitelisted",
            )
        host, port, source = await service.tunnel_target()
        try:
            self._sshd = await tcpclient.TCPClient().connect(host, port, source_ip=source)
        except OSError as e:
            raise ApiError(503, f"sshd does not answer on port {port}: {e.strerror}.") from None
        self._sshd.set_nodelay(True)
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Start copying sshd's bytes to the websocket."""
        super().open()  # type: ignore[misc]
        self.set_nodelay(True)
        self._pump = asyncio.ensure_future(self._sshd_to_client())

    async def _sshd_to_client(self) -> None:
        sshd = self._sshd
        assert sshd is not None
        try:
            while True:
                data = await sshd.read_bytes(CHUNK, partial=True)
                await self.write_message(data, binary=True)
        except (iostream.StreamClosedError, websocket.WebSocketClosedError):
            pass
        finally:
            self.close()

    async def on_message(self, message: str | bytes) -> None:
        """Client bytes to sshd (the next frame waits until these are written)."""
        if self._sshd is None or self._sshd.closed():
            self.close()
            return
        data = message.encode() if isinstance(message, str) else message
        with contextlib.suppress(iostream.StreamClosedError):
            await self._sshd.write(data)

    def on_close(self) -> None:
        """The client left: close the sshd side too."""
        if self._sshd is not None:
            self._sshd.close()
        if self._pump is not None:
            self._pump.cancel()

    def on_finish(self) -> None:
        """A refused handshake must not leave an sshd connection open."""
        if self._sshd is not None and self.ws_connection is None:
            self._sshd.close()


default_handlers = [
    (api_path("ssh"), StatusHandler),
    (api_path("ssh", "keys"), KeysHandler),
    (api_path("ssh", "keys", r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})"), KeyHandler),
    (api_path("ssh", "whitelist"), WhitelistHandler),
    (api_path("ssh", "config"), ConfigHandler),
    (api_path("ssh", "tunnel"), TunnelHandler),
    # last: it would match the fixed names above
    (api_path("ssh", r"(?P<action>[a-z0-9]+)"), ActionHandler),
]
