"""Instance event log: what happened to this notebook, with a severity, kept in SQLite."""

from .service import SEVERITIES, Event, EventLog

__all__ = ["SEVERITIES", "Event", "EventLog"]
