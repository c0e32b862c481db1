"""Request and response models of the git clone REST API."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from ..api import HOSTILE, Label, Name, RelPath, RequestModel, ResponseModel, Secret, Url


class RemoteRequest(RequestModel):
    """A repository URL and, for private repositories, a username and access token."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "http://127.0.0.1:1/" + HOSTILE["huge"]},
                {"url": HOSTILE["nul"], "token": HOSTILE["newline"]},
                {"url": "http://127.0.0.1:1/r.git", "username": HOSTILE["unicode"]},
            ]
        }
    )

    url: Url = Field(description="http(s)://host/owner/repo.git (or git@host:owner/repo.git).")
    username: Label | None = Field(None, description="Username for a private repository.")
    token: Secret | None = Field(None, description="Personal access token (never echoed).")


class PreviewRequest(RemoteRequest):
    """The repository and the branch whose file tree to show."""

    branch: Label = Field(description="The branch to preview.")


class CloneRequest(RemoteRequest):
    """What to clone and where."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "http://127.0.0.1:1/r.git", "path": HOSTILE["dotdot"], "name": "x"},
                {"url": "http://127.0.0.1:1/r.git", "path": HOSTILE["absolute"]},
                {"url": "http://127.0.0.1:1/r.git", "overwrite": HOSTILE["false"]},
                {"url": "http://127.0.0.1:1/r.git", "name": HOSTILE["nul"]},
                {"url": "http://127.0.0.1:1/r.git", "paths": [HOSTILE["dotdot"]]},
            ]
        }
    )

    branch: Label | None = Field(None, description="Branch to clone (default: the remote's).")
    path: RelPath = Field("", description="Folder (file-browser path) to clone into.")
    name: Name | None = Field(None, description="Folder name (default: the repository's).")
    paths: list[RelPath] = Field(
        default_factory=list, max_length=10000, description="Only these paths (sparse clone)."
    )
    overwrite: bool = Field(False, description="Replace an existing folder of that name.")

    @field_validator("name", "branch", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value


class Branch(ResponseModel):
    """One branch of the remote."""

    name: str
    commit: str


class BranchesResponse(ResponseModel):
    """The remote's branches, default first."""

    url: str
    name: str
    default: str | None
    branches: list[Branch]


class PreviewResponse(ResponseModel):
    """The branch's file tree (no file contents)."""

    url: str
    branch: str
    commit: str
    entries: list[dict[str, Any]]
    truncated: bool
