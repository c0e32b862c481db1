"""REST API of storage: mounts under /data and the workspace disk."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import endpoint
from ..base import MaAPIHandler, api_path
from ..tasks.handlers import TaskModel
from .models import ExpandRequest, MountList, MountModel, MountRequest, UnmountQuery, VolumeModel
from .service import StorageService

MOUNT_ID = r"(?P<mount_id>[0-9a-f]{32})"


class _StorageHandler(MaAPIHandler):
    @property
    def storage(self) -> StorageService:
        return self.service("storage")  # type: ignore[no-any-return]


class MountsHandler(_StorageHandler):
    """GET lists the mounts; POST mounts an OBS folder at /data/<name>/."""

    @web.authenticated
    @authorized
    @endpoint(response=MountList, summary="List the dynamic mounts")
    async def get(self) -> None:
        storage = self.storage
        await storage.check_health()
        self.write_json(
            {
                "mounts": [m.to_json() for m in storage.list()],
                "max_per_type": storage.max_mounts_per_type,
                "data_root": "/data",
            }
        )

    @web.authenticated
    @authorized
    @endpoint(
        body=MountRequest,
        response=MountModel,
        status=202,
        errors=(400, 404, 409),
        summary="Mount an OBS folder at /data/<name>/ (answers MOUNTING)",
    )
    async def post(self, body: MountRequest) -> None:
        m = await self.storage.submit_mount(body.uri, body.mount_path, body.read_only)
        self.write_json(m.to_json(), 202)


class MountHandler(_StorageHandler):
    """GET one mount; DELETE unmounts it (?force=true: lazily, even when busy)."""

    @web.authenticated
    @authorized
    @endpoint(response=MountModel, errors=(400, 404), summary="Get a mount")
    async def get(self, mount_id: str) -> None:
        storage = self.storage
        await storage.check_health()
        self.write_json(storage.get(mount_id).to_json())

    @web.authenticated
    @authorized
    @endpoint(
        query=UnmountQuery,
        response=MountModel,
        status=202,
        errors=(400, 404, 409),
        summary="Unmount (409 'busy' names the processes; force=true unmounts lazily)",
    )
    async def delete(self, mount_id: str, query: UnmountQuery) -> None:
        m = await self.storage.submit_unmount(mount_id, force=query.force)
        self.write_json(m.to_json(), 202)


class RemountHandler(_StorageHandler):
    """POST mounts a failed mount again."""

    @web.authenticated
    @authorized
    @endpoint(response=MountModel, status=202, errors=(404, 409), summary="Remount a failed mount")
    async def post(self, mount_id: str) -> None:
        m = await self.storage.remount(mount_id)
        self.write_json(m.to_json(), 202)


class VolumeHandler(_StorageHandler):
    """GET the workspace disk: type, used/total, whether it can grow and the limits."""

    @web.authenticated
    @authorized
    @endpoint(response=VolumeModel, summary="The workspace disk")
    async def get(self) -> None:
        import asyncio

        self.write_json(await asyncio.to_thread(self.storage.volume_info))


class ExpandHandler(_StorageHandler):
    """POST grows the workspace disk by increase_gb (a task)."""

    @web.authenticated
    @authorized
    @endpoint(
        body=ExpandRequest,
        response=TaskModel,
        status=202,
        errors=(400, 409),
        summary="Grow the workspace disk online (<= 100 GB a step, <= 4,096 GB in total)",
    )
    async def post(self, body: ExpandRequest) -> None:
        task = await self.storage.submit_expand(body.increase_gb)
        self.write_json(task.to_json(), 202)


default_handlers = [
    (api_path("storage", "mounts"), MountsHandler),
    (api_path("storage", "mounts", MOUNT_ID), MountHandler),
    (api_path("storage", "mounts", MOUNT_ID, "remount"), RemountHandler),
    (api_path("storage", "volume"), VolumeHandler),
    (api_path("storage", "volume", "expand"), ExpandHandler),
]
