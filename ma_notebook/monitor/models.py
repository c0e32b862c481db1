"""Request and response models of the monitor and lease routes."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ..api import QueryModel, RequestModel, ResponseModel
from .alarms import AlarmRule
from .lease import MAX_HOURS, MIN_HOURS


class MonitorQuery(QueryModel):
    """Which samples to send."""

    since: float | None = Field(
        None, ge=0, le=1e11, description="Only samples taken after this time (epoch seconds)."
    )


class MonitorResponse(ResponseModel):
    """The last 60 s of samples, the flavor, kernels, GPUs, cache, alarms and notices."""

    interval: float
    window: int
    flavor: dict[str, Any]
    latest: dict[str, Any]
    samples: list[dict[str, Any]]
    kernels: list[dict[str, Any]]
    gpus: list[dict[str, Any]]
    cache: dict[str, Any]
    alarms: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    health: dict[str, Any]
    lease: dict[str, Any]
    source: str


class CacheResponse(ResponseModel):
    """Size and utilisation of the cache directory."""

    path: str
    available: bool
    method: str
    size_bytes: int
    capacity_bytes: int
    util: float
    files: int | None = None
    truncated: bool = False
    measured_at: float
    scan_seconds: float | None = None
    reason: str = ""


class AlarmRulesBody(RequestModel):
    """The user's alarm rules (from the JupyterLab settings)."""

    rules: list[AlarmRule] = Field(max_length=50)


class AlarmsResponse(ResponseModel):
    """Every alarm rule with its state."""

    alarms: list[dict[str, Any]]


class LeasePatch(RequestModel):
    """Renew the auto-stop lease for ``hours`` from now (1-72), and/or switch it on or off."""

    hours: float | None = Field(
        None, description=f"Hours from now until auto-stop, {MIN_HOURS}-{MAX_HOURS}."
    )
    enabled: bool | None = None

    @field_validator("hours")
    @classmethod
    def _range(cls, v: float | None) -> float | None:
        if (v is not None and not (MIN_HOURS <= v <= MAX_HOURS)) or v != v:
            raise ValueError(
                f"must be between {MIN_HOURS} and {MAX_HOURS} hours (got {v:g}); "
                "choose 1, 2, 4, 6 or a custom value in that range"
            )
        return v


class IdleInfo(ResponseModel):
    """Idle-stop settings and how long nothing has happened."""

    enabled: bool
    timeout_seconds: float
    last_activity: float
    idle_seconds: float


class LeaseResponse(ResponseModel):
    """The auto-stop lease."""

    enabled: bool
    deadline: float | None
    remaining_seconds: float | None
    duration_seconds: float
    renewed_at: float
    warn_before_seconds: float
    min_hours: int
    max_hours: int
    stop_action: str
    idle: IdleInfo
