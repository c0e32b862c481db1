"""REST API of git cloning under /ma-notebook/api/git/ (POST bodies carry any credential)."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..base import MaAPIHandler, api_path
from ..tasks import TaskError
from .service import GitService


class GitHandler(MaAPIHandler):
    """Common parsing of ``{url, username?, token?}`` and mapping of user-facing errors."""

    def git(self) -> GitService:
        return self.service("git")  # type: ignore[no-any-return]

    def body(self) -> dict[str, Any]:
        data = self.json_body()
        for key in ("url", "username", "token", "branch", "path", "name"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise web.HTTPError(400, f"'{key}' must be a string.")
        return data

    def remote(self, data: dict[str, Any]) -> Any:
        return self.git().remote(data.get("url") or "", data.get("username"), data.get("token"))

    def fail(self, e: TaskError) -> web.HTTPError:
        return web.HTTPError(e.status, e.message, reason=e.reason)


class BranchesHandler(GitHandler):
    """POST {url, username?, token?} -> the remote's branches and default branch."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        data = self.body()
        try:
            result = await self.git().branches(self.remote(data))
        except TaskError as e:
            raise self.fail(e) from None
        self.write_json(result)


class PreviewHandler(GitHandler):
    """POST {url, branch, username?, token?} -> the branch's file tree (no file contents)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        data = self.body()
        try:
            result = await self.git().preview(self.remote(data), data.get("branch") or "")
        except TaskError as e:
            raise self.fail(e) from None
        self.write_json(result)


class CloneHandler(GitHandler):
    """POST {url, branch?, path, name?, paths?, overwrite?, username?, token?} -> 202 task."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        data = self.body()
        paths = data.get("paths") or []
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise web.HTTPError(400, "'paths' must be a list of repository paths.")
        try:
            task = self.git().submit_clone(
                self.remote(data),
                branch=data.get("branch") or None,
                path=data.get("path") or "",
                name=data.get("name"),
                paths=paths,
                overwrite=bool(data.get("overwrite")),
            )
        except TaskError as e:
            raise self.fail(e) from None
        self.write_json(task.to_json(), status=202)


default_handlers = [
    (api_path("git", "branches"), BranchesHandler),
    (api_path("git", "preview"), PreviewHandler),
    (api_path("git", "clone"), CloneHandler),
]
