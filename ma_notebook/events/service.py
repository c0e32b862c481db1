"""The event log service: records and queries instance events in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Integer
from traitlets.config import LoggingConfigurable

SEVERITIES = ("Warning", "Major", "Critical")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
"""


@dataclass
class Event:
    """One recorded event."""

    id: int
    time: float
    type: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as the REST API returns it."""
        return asdict(self)


class EventLog(LoggingConfigurable):
    """Records events ``{time, type, severity, message}`` and answers queries, newest first."""

    max_events = Integer(
        10000,
        config=True,
        help="How many events to keep; older ones are deleted as new ones arrive. Default: 10000.",
    )

    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def record(self, type: str, severity: str, message: str, **details: Any) -> Event:
        """Store one event and return it."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO events (time, type, severity, message, details) "
                "VALUES (?, ?, ?, ?, ?)",
                (now, type, severity, message, json.dumps(details, default=str)),
            )
            event_id = int(cur.lastrowid or 0)
            if event_id % 100 == 0:
                self._db.execute("DELETE FROM events WHERE id <= ?", (event_id - self.max_events,))
        self.log.debug("Event %s (%s): %s", type, severity, message)
        return Event(event_id, now, type, severity, message, details)

    def query(
        self,
        since: float | None = None,
        severity: list[str] | None = None,
        type: str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events newest first, optionally after ``since`` and of the given severities/type."""
        sql = "SELECT id, time, type, severity, message, details FROM events WHERE 1=1"
        args: list[Any] = []
        if since is not None:
            sql += " AND time > ?"
            args.append(since)
        if severity:
            sql += f" AND severity IN ({','.join('?' * len(severity))})"
            args.extend(severity)
        if type:
            sql += " AND type = ?"
            args.append(type)
        sql += " ORDER BY time DESC, id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}")) for r in rows]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
