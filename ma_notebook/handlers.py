"""Core REST routes: GET /ma-notebook/api/info."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from . import __version__
from .base import MaAPIHandler, api_path


class InfoHandler(MaAPIHandler):
    """Version, workspace and which capabilities this machine offers."""

    @web.authenticated
    @authorized
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


default_handlers = [(api_path("info"), InfoHandler)]
