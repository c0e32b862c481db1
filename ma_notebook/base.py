"""Shared handler base class and helpers for every capability's REST API."""

from __future__ import annotations

import json
import sys
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import ensure_async
from pydantic import BaseModel
from tornado import web

from .api import IGNORED_QUERY, ApiError, parse_model, quote

if TYPE_CHECKING:
    from .app import MaNotebookApp

API_PREFIX = "/ma-notebook/api"
AUTH_RESOURCE = "ma_notebook"
#: Largest JSON request body (4 MB).
MAX_JSON_BODY = 4_000_000
#: Longest error message sent or logged (a bad input is never echoed whole).
MAX_MESSAGE = 1000

M = TypeVar("M", bound=BaseModel)
UNIONS = (typing.Union, types.UnionType)


def http_error(e: Exception) -> web.HTTPError | None:
    """The HTTP answer for a domain error (ApiError, TaskError), or None for other exceptions."""
    from .tasks import TaskError

    if isinstance(e, ApiError | TaskError):
        # Messages may hold '%' (paths, URLs): pass them as an argument, never as a format.
        return web.HTTPError(e.status, "%s", _cap(e.message), reason=e.reason)
    return None


def _cap(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "…"


if TYPE_CHECKING:
    _HandlerBase = web.RequestHandler
else:
    _HandlerBase = object


class EndpointMixin(_HandlerBase):
    """What ``@endpoint`` needs: request parsing, domain errors mapped, one JSON error shape."""

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or 400 explaining what was wrong."""
        raw = self.request.body or b"{}"
        if len(raw) > MAX_JSON_BODY:
            # Parsing and validating tens of MB would hold the event loop for seconds.
            raise web.HTTPError(
                400,
                f"The request body is {len(raw) / 1e6:.1f} MB; JSON requests are limited to "
                f"{MAX_JSON_BODY / 1e6:.0f} MB (files go through the upload routes).",
            )
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            raise web.HTTPError(
                400, f"The request body is not valid JSON: {quote(str(e), 120)}."
            ) from e
        if not isinstance(data, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return data

    def parse(self, model: type[M]) -> M:
        """The JSON body validated as ``model``, or 400 naming each bad field."""
        return parse_model(model, self.json_body())

    def parse_query(self, model: type[M]) -> M:
        """The query string validated as ``model``, or 400 naming each bad argument."""
        data: dict[str, Any] = {}
        for key, values in self.request.query_arguments.items():
            if key in IGNORED_QUERY or (key.isdigit() and values == [b""]):
                continue  # Jupyter's own arguments; JupyterLab's cache-busting ?<timestamp>
            repeatable = key in model.model_fields and is_list_field(model, key)
            if len(values) > 1 and not repeatable:
                raise web.HTTPError(400, f"Query argument {quote(key)} is given more than once.")
            try:
                texts = [v.decode("utf-8") for v in values]
            except UnicodeDecodeError:
                raise web.HTTPError(
                    400, f"Query argument {quote(key)} is not valid UTF-8."
                ) from None
            data[key] = texts if repeatable else texts[0]
        return parse_model(model, data, "query")

    def write_json(self, data: Any, status: int = 200) -> None:
        """Send ``data`` as JSON with the given status."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def _handle_request_exception(self, e: BaseException) -> None:
        # Domain errors raised by services become their 4xx answer in one place.
        mapped = http_error(e) if isinstance(e, Exception) else None
        if mapped is not None:
            if self._finished:
                return
            try:
                raise mapped from e
            except web.HTTPError:
                self.send_error(mapped.status_code, exc_info=sys.exc_info())
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one JSON error shape: ``{message, reason}``; never a traceback, never a huge echo."""
        exc_info = kwargs.get("exc_info")
        e = exc_info[1] if exc_info else None
        if isinstance(e, web.HTTPError):
            message = e.log_message % e.args if e.log_message and e.args else e.log_message
            reply = {"message": _cap(message or self._reason), "reason": e.reason}
        elif status_code >= 500 and e is not None:
            reply = {"message": "Internal error: see the server log.", "reason": None}
        else:
            reply = {"message": self._reason, "reason": None}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(reply))


class MaAPIHandler(EndpointMixin, ExtensionHandlerMixin, APIHandler):
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


def is_list_field(model: type[BaseModel], name: str) -> bool:
    """Whether a query model's field takes a list (the argument may repeat: ?tag=a&tag=b)."""
    annotation = model.model_fields[name].annotation
    candidates = typing.get_args(annotation) if typing.get_origin(annotation) in UNIONS else ()
    return any(typing.get_origin(a) is list for a in (annotation, *candidates))


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
