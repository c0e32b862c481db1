"""Request and response models of the event log's REST API."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ..api import QueryModel, ResponseModel, quote
from .service import SEVERITIES


class EventsQuery(QueryModel):
    """Filters of ``GET /events``."""

    since: float | None = Field(
        None, ge=0, le=1e11, description="Only events after this time (seconds since the epoch)."
    )
    severity: str | None = Field(
        None,
        max_length=64,
        description=f"Comma-separated severities: {', '.join(SEVERITIES)}.",
        examples=["Major,Critical"],
    )
    type: str | None = Field(None, max_length=128, description="Only events of this type.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many events (1-1000).")

    @field_validator("severity")
    @classmethod
    def _severities(cls, value: str | None) -> str | None:
        if not value:
            return None
        bad = [s for s in (p.strip() for p in value.split(",")) if s and s not in SEVERITIES]
        if bad:
            raise ValueError(
                f"unknown severity {quote(bad[0])}: use one or more of "
                f"{', '.join(SEVERITIES)}, separated by commas"
            )
        return value

    def severities(self) -> list[str] | None:
        """The severities asked for, or None for all."""
        if not self.severity:
            return None
        return [s.strip() for s in self.severity.split(",") if s.strip()] or None


class EventModel(ResponseModel):
    """One event."""

    id: int
    time: float
    type: str
    severity: str
    message: str
    details: dict[str, Any] = {}


class EventList(ResponseModel):
    """Events, newest first."""

    events: list[EventModel]
