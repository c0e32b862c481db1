"""REST API of server tasks: list, watch (long-poll), cancel, resume or discard."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import Field
from tornado import web

from ..api import QueryModel, ResponseModel, endpoint
from ..base import MaAPIHandler, api_path
from .service import INTERRUPTED


class TaskModel(ResponseModel):
    """A task as the API returns it."""

    id: str
    kind: str
    title: str
    state: str
    created: float
    started: float | None = None
    finished: float | None = None
    phase: str = ""
    done: int = 0
    total: int | None = None
    percent: float | None = None
    rate: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    error_reason: str | None = None
    meta: dict[str, Any] = {}
    resumable: bool = Field(
        False, description="An interrupted task that POST tasks/<id>/resume can continue."
    )


class TaskList(ResponseModel):
    """Tasks, newest first."""

    tasks: list[TaskModel]


class TasksQuery(QueryModel):
    """Filter of the task list."""

    kind: str | None = Field(None, max_length=64, description="Only tasks of this kind.")


class TaskQuery(QueryModel):
    """Long-poll option of one task."""

    wait: int = Field(0, ge=0, le=60, description="Seconds to wait for a change (0-60).")


class TasksHandler(MaAPIHandler):
    """GET lists tasks, newest first; ``?kind=`` filters by kind."""

    @web.authenticated
    @authorized
    @endpoint(query=TasksQuery, response=TaskList, summary="List tasks")
    async def get(self, query: TasksQuery) -> None:
        tasks = self.ma_app.tasks.list(query.kind or None)
        self.write_json({"tasks": [t.to_json() for t in tasks]})


class TaskHandler(MaAPIHandler):
    """GET one task (``?wait=N`` waits up to N s for a change); DELETE cancels it.

    DELETE on an ``interrupted`` task (the server stopped while it ran) discards it: what it
    left behind (temp files, multipart uploads) is removed and it ends as ``cancelled``.
    """

    @web.authenticated
    @authorized
    @endpoint(query=TaskQuery, response=TaskModel, errors=(400, 404), summary="Get a task")
    async def get(self, task_id: str, query: TaskQuery) -> None:
        tasks = self.ma_app.tasks
        task = await tasks.wait(task_id, query.wait) if query.wait else tasks.get(task_id)
        if task is None:
            raise web.HTTPError(404, f"No task with id {task_id}: it may have finished long ago.")
        self.write_json(task.to_json())

    @web.authenticated
    @authorized
    @endpoint(response=TaskModel, status=202, errors=(404,), summary="Cancel or discard a task")
    async def delete(self, task_id: str) -> None:
        tasks = self.ma_app.tasks
        current = tasks.get(task_id)
        if current is not None and current.state == INTERRUPTED:
            task = await tasks.discard(task_id)
        else:
            task = tasks.cancel(task_id)
        if task is None:
            raise web.HTTPError(404, f"No task with id {task_id}.")
        self.write_json(task.to_json(), status=202)


class TaskResumeHandler(MaAPIHandler):
    """POST continues an interrupted task where it stopped (409 when it cannot)."""

    @web.authenticated
    @authorized
    @endpoint(response=TaskModel, status=202, errors=(404, 409), summary="Resume a task")
    async def post(self, task_id: str) -> None:
        task = self.ma_app.tasks.resume(task_id)
        if task is None:
            raise web.HTTPError(404, f"No task with id {task_id}.")
        self.write_json(task.to_json(), status=202)


default_handlers = [
    (api_path("tasks"), TasksHandler),
    (api_path("tasks", r"(?P<task_id>[0-9a-f]{32})"), TaskHandler),
    (api_path("tasks", r"(?P<task_id>[0-9a-f]{32})", "resume"), TaskResumeHandler),
]
