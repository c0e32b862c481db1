"""REST API of git cloning under /ma-notebook/api/git/ (POST bodies carry any credential)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import endpoint
from ..base import MaAPIHandler, api_path
from ..tasks.handlers import TaskModel
from .gitcmd import Remote
from .models import BranchesResponse, CloneRequest, PreviewRequest, PreviewResponse, RemoteRequest
from .service import GitService

ERRORS = (400, 404, 409, 502, 504)


class GitHandler(MaAPIHandler):
    """Reaches the git service."""

    def git(self) -> GitService:
        """The git service."""
        return self.service("git")  # type: ignore[no-any-return]

    def remote(self, body: RemoteRequest) -> Remote:
        """The validated remote of a request."""
        return self.git().remote(body.url, body.username, body.token)


class BranchesHandler(GitHandler):
    """POST {url, username?, token?} -> the remote's branches and default branch."""

    @web.authenticated
    @authorized
    @endpoint(body=RemoteRequest, response=BranchesResponse, errors=ERRORS)
    async def post(self, body: RemoteRequest) -> None:
        self.write_json(await self.git().branches(self.remote(body)))


class PreviewHandler(GitHandler):
    """POST {url, branch, username?, token?} -> the branch's file tree (no file contents)."""

    @web.authenticated
    @authorized
    @endpoint(body=PreviewRequest, response=PreviewResponse, errors=ERRORS)
    async def post(self, body: PreviewRequest) -> None:
        self.write_json(await self.git().preview(self.remote(body), body.branch))


class CloneHandler(GitHandler):
    """POST {url, branch?, path, name?, paths?, overwrite?, username?, token?} -> 202 task."""

    @web.authenticated
    @authorized
    @endpoint(body=CloneRequest, response=TaskModel, status=202, errors=ERRORS)
    async def post(self, body: CloneRequest) -> None:
        task = self.git().submit_clone(
            self.remote(body),
            branch=body.branch,
            path=body.path,
            name=body.name,
            paths=body.paths,
            overwrite=body.overwrite,
        )
        self.write_json(task.to_json(), status=202)


default_handlers = [
    (api_path("git", "branches"), BranchesHandler),
    (api_path("git", "preview"), PreviewHandler),
    (api_path("git", "clone"), CloneHandler),
]
