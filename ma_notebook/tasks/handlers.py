"""REST API of server tasks: list, watch (long-poll) and cancel."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..base import MaAPIHandler, api_path, int_arg


class TasksHandler(MaAPIHandler):
    """GET lists tasks, newest first; ``?kind=`` filters by kind."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        kind = self.get_query_argument("kind", None) or None
        self.write_json({"tasks": [t.to_json() for t in self.ma_app.tasks.list(kind)]})


class TaskHandler(MaAPIHandler):
    """GET one task (``?wait=N`` waits up to N s for a change); DELETE cancels it."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        wait = int_arg(self, "wait", 0, minimum=0, maximum=60)
        tasks = self.ma_app.tasks
        task = await tasks.wait(task_id, wait) if wait else tasks.get(task_id)
        if task is None:
            raise web.HTTPError(404, f"No task with id {task_id}: it may have finished long ago.")
        self.write_json(task.to_json())

    @web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        task = self.ma_app.tasks.cancel(task_id)
        if task is None:
            raise web.HTTPError(404, f"No task with id {task_id}.")
        self.write_json(task.to_json(), status=202)


default_handlers = [
    (api_path("tasks"), TasksHandler),
    (api_path("tasks", r"(?P<task_id>[0-9a-f]{32})"), TaskHandler),
]
