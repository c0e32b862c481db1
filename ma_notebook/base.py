"""Shared handler base class and helpers for every capability's REST API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import ensure_async
from tornado import web

if TYPE_CHECKING:
    from .app import MaNotebookApp

API_PREFIX = "/ma-notebook/api"
AUTH_RESOURCE = "ma_notebook"


class MaAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base for every ma-notebook REST handler: JSON in and out, one auth resource."""

    auth_resource = AUTH_RESOURCE

    @property
    def ma_app(self) -> MaNotebookApp:
        """The running ma-notebook extension app."""
        return self.extensionapp  # type: ignore[return-value]

    def service(self, name: str) -> Any:
        """The capability service registered under ``name``."""
        try:
            return self.ma_app.services[name]
        except KeyError as e:
            raise web.HTTPError(
                404, f"The '{name}' capability is not enabled on this server."
            ) from e

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or 400 explaining what was wrong."""
        raw = self.request.body or b"{}"
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPError(400, f"The request body is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return data

    def write_json(self, data: Any, status: int = 200) -> None:
        """Send ``data`` as JSON with the given status."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


async def require_authorized(handler: JupyterHandler, action: str, message: str = "") -> None:
    """403 unless the handler's user may ``action`` on ma-notebook.

    For decisions that must come before ``@authorized`` can run, e.g. in ``prepare()`` of a
    streaming upload, whose body arrives before the verb method is called.
    """
    user = handler.current_user
    if not user or not await ensure_async(
        handler.authorizer.is_authorized(handler, user, action, AUTH_RESOURCE)
    ):
        raise web.HTTPError(403, message or None)


def api_path(*parts: str) -> str:
    """The URL pattern for a route under the ma-notebook API prefix."""
    return "/".join([API_PREFIX, *(p.strip("/") for p in parts if p)])


def int_arg(
    handler: web.RequestHandler,
    name: str,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """A query argument as an integer in range, or 400 naming the argument."""
    raw = handler.get_query_argument(name, None)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise web.HTTPError(400, f"Query argument '{name}' must be an integer, got {raw!r}.") from e
    if minimum is not None and value < minimum:
        raise web.HTTPError(400, f"Query argument '{name}' must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise web.HTTPError(400, f"Query argument '{name}' must be at most {maximum}.")
    return value
