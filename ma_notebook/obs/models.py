"""Request and response models of the OBS file browser's REST API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from ..api import (
    HOSTILE,
    MAX_PATH,
    Label,
    QueryModel,
    RequestModel,
    ResponseModel,
    no_control,
)

#: obs://bucket/key, or (for copies) a file-browser path.
ObsPathText = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(no_control)]
#: obs://bucket/key in a query string (object keys are at most 1024 bytes).
ObsQueryPath = Annotated[str, Field(max_length=1100), AfterValidator(no_control)]


class BucketRequest(RequestModel):
    """A bucket to create."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": HOSTILE["huge"]}, {"name": HOSTILE["nul"]}]}
    )

    name: Label = Field(min_length=1, description="Bucket name (3-63 lowercase letters, digits).")


class BucketCreated(ResponseModel):
    """The bucket just created."""

    name: str
    path: str
    type: str


class ObsEntry(ResponseModel):
    """A file, folder or bucket."""

    name: str
    path: str
    type: str


class BucketList(ResponseModel):
    """Buckets, and which store is in use (never its secrets)."""

    store: dict[str, Any]
    buckets: list[ObsEntry]


class ListQuery(QueryModel):
    """One page of a folder."""

    path: ObsQueryPath = Field("obs://", description="obs://bucket/folder/ (obs:// lists buckets).")
    limit: int = Field(100, ge=1, le=1000, description="Entries per page (1-1000).")
    cursor: ObsQueryPath | None = Field(None, description="next_cursor of the previous page.")
    filter: Label = Field("", description="Only names containing this text.")


class FolderPage(ResponseModel):
    """One page of a folder listing."""

    path: str
    entries: list[ObsEntry]
    next_cursor: str | None


class StatQuery(QueryModel):
    """A file or folder to describe."""

    path: ObsQueryPath = Field(min_length=1, description="obs://bucket/key")


class CopyRequest(RequestModel):
    """A copy between OBS and the notebook's files (either direction) or within OBS."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"src": HOSTILE["absolute"], "dst": "obs://bucket/x"},
                {"src": "obs://bucket/x", "dst": HOSTILE["dotdot"]},
                {"src": "obs://bucket/x", "dst": "x", "drop_last_dir": HOSTILE["false"]},
                {"src": HOSTILE["nul"], "dst": "obs://bucket/" + HOSTILE["unicode"]},
            ]
        }
    )

    src: ObsPathText = Field(min_length=1, description="obs://bucket/key or a file-browser path.")
    dst: ObsPathText = Field(min_length=1, description="obs://bucket/key or a file-browser path.")
    drop_last_dir: bool = Field(False, description="Copy a folder's contents, not the folder.")

    @model_validator(mode="after")
    def _one_side_is_obs(self) -> CopyRequest:
        if not (self.src.startswith("obs://") or self.dst.startswith("obs://")):
            raise ValueError("at least one of 'src' and 'dst' must be an obs:// path")
        return self


class ObjectQuery(QueryModel):
    """A signed GET of the embedded store (or none, for a logged-in user)."""

    op: Label | None = Field(None, description="'get' for a signed URL.")
    expires: Label | None = Field(None, description="Expiry, seconds since the epoch.")
    signature: Label | None = Field(None, description="The URL's HMAC signature.")
    filename: Label | None = Field(None, description="File name for Content-Disposition.")


class PartQuery(QueryModel):
    """A PUT of one multipart part of the embedded store."""

    uploadId: Label = Field(description="The multipart upload.")
    partNumber: int = Field(ge=1, le=10000, description="The part number.")
    op: Label | None = Field(None, description="'part' for a signed URL.")
    expires: Label | None = Field(None, description="Expiry, seconds since the epoch.")
    signature: Label | None = Field(None, description="The URL's HMAC signature.")
