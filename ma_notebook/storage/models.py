"""Request and response models of the storage API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..api import QueryModel, RequestModel, ResponseModel, Url

MountPath = Annotated[str, Field(min_length=1, max_length=1024)]


class MountRequest(RequestModel):
    """Mount an OBS folder at /data/<name>/."""

    uri: Url = Field(description="The OBS folder, obs://bucket/dir/ (s3:// also accepted).")
    mount_path: MountPath = Field(description="Where to mount it: /data/<name>/.")
    read_only: bool = False


class MountModel(ResponseModel):
    """One dynamic mount and its state."""

    id: str
    type: str
    backend: str
    uri: str
    mount_path: str
    read_only: bool
    status: str
    message: str = ""
    created: float
    updated: float


class MountList(ResponseModel):
    """Every mount that is not unmounted, with the limits."""

    mounts: list[MountModel]
    max_per_type: int
    data_root: str


class UnmountQuery(QueryModel):
    """``force=true`` unmounts lazily even when processes hold the folder."""

    force: bool = False


class VolumeModel(ResponseModel):
    """The workspace disk: where, how big, whether and how far it can grow."""

    type: str
    mount_path: str
    total_bytes: int
    used_bytes: int
    capacity_gb: float | None = None
    expandable: bool
    reason: str = ""
    status: str
    message: str = ""
    max_step_gb: int
    max_total_gb: int


class ExpandRequest(RequestModel):
    """Grow the workspace disk by ``increase_gb`` GB."""

    increase_gb: int = Field(description="How many GB to add (1-100; total at most 4,096).")
