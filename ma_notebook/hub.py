"""Running under JupyterHub: detect the hub from the environment and ask it to stop this server.

JupyterHub's spawners give every single-user server ``JUPYTERHUB_API_URL``,
``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_USER`` and ``JUPYTERHUB_SERVER_NAME``. When the auto-stop
lease ends (or the notebook is idle) the server must not just exit: the hub would see a crashed
server. :func:`stop_via_hub` asks the hub to stop it (``DELETE /users/<name>/server``), so the
hub's state stays right. The server's token needs the ``servers!server`` scope
(``c.Spawner.server_token_scopes`` in ``deploy/jupyterhub/jupyterhub_config.py``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from .monitor.lease import StopAction
from .netguard import forbidden_address

#: Scopes the single-user server's token needs for :func:`stop_via_hub` (the hub's ``server``
#: role plus stopping its own server).
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", "servers!server"]


class HubError(Exception):
    """The hub could not be asked to stop this server (message says why and what to do)."""


@dataclass(frozen=True)
class HubContext:
    """Where the hub's API is and who this server belongs to."""

    api_url: str
    token: str
    user: str
    server_name: str = ""

    def __repr__(self) -> str:
        return f"HubContext(api_url={self.api_url!r}, user={self.user!r}, token=<hidden>)"

    @property
    def server_url(self) -> str:
        """The hub API URL of this server (default or named)."""
        user = quote(self.user, safe="")
        if self.server_name:
            return f"{self.api_url}/users/{user}/servers/{quote(self.server_name, safe='')}"
        return f"{self.api_url}/users/{user}/server"


def hub_context(environ: Mapping[str, str] | None = None) -> HubContext | None:
    """The hub this server runs under, from the spawner's environment; None when not under a hub."""
    env = os.environ if environ is None else environ
    token = env.get("JUPYTERHUB_API_TOKEN", "")
    api_url = env.get("JUPYTERHUB_API_URL", "").rstrip("/")
    user = env.get("JUPYTERHUB_USER", "")
    if not (token and api_url and user):
        return None
    return HubContext(api_url, token, user, env.get("JUPYTERHUB_SERVER_NAME", ""))


async def _check_address(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubError(f"JUPYTERHUB_API_URL must be an http(s) URL, not {url[:40]!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise HubError(f"cannot resolve the hub's host {parts.hostname!r}: {e}") from e
    bad = forbidden_address(infos)
    if bad is not None:
        raise HubError(
            f"refusing to call the hub at {bad} (a link-local or cloud metadata address); "
            "check JUPYTERHUB_API_URL"
        )


async def stop_via_hub(ctx: HubContext | None = None, *, timeout: float = 30.0) -> int:
    """Ask the hub to stop this server; returns the hub's status (202 pending, 204 stopped)."""
    ctx = ctx or hub_context()
    if ctx is None:
        raise HubError("not running under JupyterHub (JUPYTERHUB_API_TOKEN/_URL/_USER unset)")
    await _check_address(ctx.api_url)
    request = HTTPRequest(
        ctx.server_url,
        method="DELETE",
        headers={"Authorization": f"token {ctx.token}"},
        request_timeout=timeout,
        follow_redirects=False,
    )
    try:
        resp = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as e:
        hint = (
            " (the server's token lacks the 'servers!server' scope: set "
            "c.Spawner.server_token_scopes as deploy/jupyterhub/jupyterhub_config.py does)"
            if e.code == 403
            else ""
        )
        raise HubError(f"the hub refused to stop {ctx.user}'s server: HTTP {e.code}{hint}") from e
    except OSError as e:
        raise HubError(f"cannot reach the hub at {ctx.api_url}: {e}") from e
    return resp.code


async def hub_stop_action(service: Any, reason: str) -> None:
    """A ``MonitorService.stop_action`` callable: stop via the hub, else stop the server."""
    log = service.log
    ctx = hub_context()
    if ctx is not None:
        try:
            status = await stop_via_hub(ctx)
            log.warning(
                "ma-notebook: asked JupyterHub to stop this server (%s): HTTP %s", reason, status
            )
            return
        except HubError as e:
            log.error("ma-notebook: %s; shutting the server down instead", e)
    serverapp = getattr(service.app, "serverapp", None)
    if serverapp is not None:
        serverapp.stop()


class StopViaHub(StopAction):
    """Ask JupyterHub to stop this server (its state stays right); shut down if it cannot."""

    description = "ask JupyterHub to stop this server"

    async def stop(self, service: Any, reason: str) -> None:
        """Stop through the hub's API, else stop the Jupyter server."""
        await hub_stop_action(service, reason)
