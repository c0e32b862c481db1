"""REST API of Save Image under /ma-notebook/api/images/."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import endpoint
from ..base import MaAPIHandler, api_path
from ..tasks.handlers import TaskModel
from .models import SaveImageCheck, SaveImageRequest
from .service import ImageService


class _ImagesHandler(MaAPIHandler):
    @property
    def images(self) -> ImageService:
        return self.service("images")  # type: ignore[no-any-return]


class SaveImageHandler(_ImagesHandler):
    """POST saves the environment as an image (a task); GET says what blocks or warns."""

    @web.authenticated
    @authorized
    @endpoint(response=SaveImageCheck, summary="Checks before saving an image")
    async def get(self) -> None:
        self.write_json(self.images.check())

    @web.authenticated
    @authorized
    @endpoint(
        body=SaveImageRequest,
        response=TaskModel,
        status=202,
        errors=(400, 409),
        summary="Save the running environment as an image",
    )
    async def post(self, body: SaveImageRequest) -> None:
        task = self.images.submit_save(
            body.organization, body.name, body.tag, body.description, body.squash
        )
        self.write_json(task.to_json(), status=202)


default_handlers = [(api_path("images", "save"), SaveImageHandler)]
