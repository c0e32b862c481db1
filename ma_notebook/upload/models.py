"""Request and response models of the upload REST API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..api import (
    HOSTILE,
    Label,
    Name,
    QueryModel,
    RelPath,
    RequestModel,
    ResponseModel,
    Url,
)
from ..obs.models import ObsPathText

#: Largest file size accepted in a request (9 PB; JavaScript numbers stay exact below 2**53).
MAX_SIZE = 2**53

_HOSTILE_FILES: list[Any] = [
    {"path": HOSTILE["dotdot"], "name": "a.txt", "size": 1},
    {"path": HOSTILE["absolute"], "name": "a.txt", "size": 1},
    {"path": "", "name": HOSTILE["huge"], "size": 1},
    {"path": "", "name": HOSTILE["nul"], "size": 1},
    {"path": "", "name": HOSTILE["unicode"], "size": 1, "overwrite": HOSTILE["false"]},
]


class FileRequest(RequestModel):
    """A file to upload into a folder."""

    path: RelPath = Field("", description="Destination folder (file-browser path).")
    name: Name = Field(description="File name.")
    size: int = Field(ge=0, le=MAX_SIZE, description="File size in bytes.")
    key: Label = Field("", description="Client-side identity of the file (for resuming).")
    overwrite: bool = Field(False, description="Replace a file of that name.")


class SessionRequest(FileRequest):
    """A direct upload to start (or find again to resume)."""

    model_config = ConfigDict(json_schema_extra={"examples": _HOSTILE_FILES})

    type: Literal["file", "directory"] = Field("file", description="Folders are refused.")


class SessionModel(ResponseModel):
    """A direct upload session."""

    id: str
    path: str
    name: str
    size: int
    offset: int
    overwrite: bool
    created: float
    active: bool
    complete: bool | None = None
    file: str | None = None


class SessionList(ResponseModel):
    """Unfinished direct uploads."""

    sessions: list[SessionModel]


class OffsetQuery(QueryModel):
    """Where the bytes of a PUT start in the file."""

    offset: int = Field(0, ge=0, le=MAX_SIZE, description="Byte offset of this chunk.")


class UrlRequest(RequestModel):
    """A URL to probe."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "http://169.254.169.254/latest/meta-data/"},
                {"url": "http://127.0.0.1:1/" + HOSTILE["huge"]},
                {"url": HOSTILE["nul"]},
                {"url": "file:///etc/hostname"},
            ]
        }
    )

    url: Url = Field(description="http(s):// URL of a file.")


class UrlInfoModel(ResponseModel):
    """What a URL would give."""

    url: str
    final_url: str
    name: str
    size: int | None
    content_type: str | None


class UrlImportRequest(UrlRequest):
    """A URL to download into a folder."""

    path: RelPath = Field("", description="Destination folder (file-browser path).")
    name: Name | Literal[""] = Field("", description="File name (default: from the URL).")
    overwrite: bool = Field(False, description="Replace a file of that name.")


class TransitRequest(FileRequest):
    """A transit upload to start (or find again to resume)."""

    model_config = ConfigDict(json_schema_extra={"examples": _HOSTILE_FILES})

    size: int = Field(ge=1, le=MAX_SIZE, description="File size in bytes.")
    transit_path: ObsPathText = Field(
        "", description="obs://bucket/folder/ for the parts ('' for the server default)."
    )


class TransitModel(ResponseModel):
    """A transit upload and the parts OBS holds."""

    id: str
    path: str
    name: str
    size: int
    object: str
    part_size: int
    parts: int
    completed: bool
    task_id: str | None
    parts_done: dict[str, int] = {}


class PresignRequest(RequestModel):
    """Parts to get upload URLs for."""

    parts: list[int] = Field(min_length=1, max_length=100, description="Part numbers (1-100).")


class PresignResponse(ResponseModel):
    """Expiring PUT URLs by part number."""

    urls: dict[str, str]


class PartResponse(ResponseModel):
    """A part relayed to OBS."""

    part: int
    etag: str
    size: int


class ObsImportRequest(RequestModel):
    """An OBS file to copy into a folder."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"obs_path": "obs://bucket/a", "path": HOSTILE["dotdot"]},
                {"obs_path": HOSTILE["absolute"], "path": ""},
                {"obs_path": "obs://bucket/a", "path": "", "overwrite": HOSTILE["false"]},
            ]
        }
    )

    obs_path: ObsPathText = Field(min_length=1, description="obs://bucket/key of the file.")
    path: RelPath = Field("", description="Destination folder (file-browser path).")
    overwrite: bool = Field(False, description="Replace a file of that name.")


class DownloadRequest(RequestModel):
    """A workspace file to hand out through OBS."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"path": HOSTILE["absolute"]},
                {"path": HOSTILE["dotdot"]},
                {"path": HOSTILE["nul"]},
            ]
        }
    )

    path: RelPath = Field(min_length=1, description="The file (file-browser path).")
    transit_path: ObsPathText = Field("", description="obs://bucket/folder/ to stage it in.")
