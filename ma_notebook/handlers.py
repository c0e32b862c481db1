"""Core REST routes: GET /ma-notebook/api/info and the OpenAPI document of the whole API."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from . import __version__
from .api import ResponseModel, endpoint, openapi_document
from .base import MaAPIHandler, api_path


class InfoResponse(ResponseModel):
    """Version, folders and what each capability can do on this machine."""

    version: str
    workspace_dir: str
    data_dir: str
    capabilities: dict[str, dict[str, object]]


class InfoHandler(MaAPIHandler):
    """Version, workspace and which capabilities this machine offers."""

    @web.authenticated
    @authorized
    @endpoint(response=InfoResponse, summary="Version and capabilities of this server")
    async def get(self) -> None:
        app = self.ma_app
        self.write_json(
            {
                "version": __version__,
                "workspace_dir": app.workspace_dir,
                "data_dir": app.data_dir,
                "capabilities": app.capabilities_info(),
            }
        )


class OpenAPIHandler(MaAPIHandler):
    """The OpenAPI 3.1 document of every /ma-notebook/api route."""

    @web.authenticated
    @authorized
    @endpoint(raw_response="application/json", summary="This API's OpenAPI document")
    async def get(self) -> None:
        self.write_json(openapi_document(self.ma_app.api_routes(), version=__version__))


default_handlers = [
    (api_path("info"), InfoHandler),
    (api_path("openapi.json"), OpenAPIHandler),
]
