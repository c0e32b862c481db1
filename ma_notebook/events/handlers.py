"""REST API of the event log: GET /ma-notebook/api/events."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..base import MaAPIHandler, api_path, int_arg
from .service import SEVERITIES


class EventsHandler(MaAPIHandler):
    """List events newest first: ``?since=<epoch seconds>&severity=Major,Critical&limit=100``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        since_raw = self.get_query_argument("since", None)
        since = None
        if since_raw:
            try:
                since = float(since_raw)
            except ValueError as e:
                raise web.HTTPError(
                    400, f"'since' must be a time in seconds since the epoch, got {since_raw!r}."
                ) from e
        severity = None
        sev_raw = self.get_query_argument("severity", None)
        if sev_raw:
            severity = [s.strip() for s in sev_raw.split(",") if s.strip()]
            bad = [s for s in severity if s not in SEVERITIES]
            if bad:
                raise web.HTTPError(
                    400,
                    f"Unknown severity {', '.join(bad)}: use one or more of "
                    f"{', '.join(SEVERITIES)}, separated by commas.",
                )
        limit = int_arg(self, "limit", 100, minimum=1, maximum=1000)
        event_type = self.get_query_argument("type", None) or None
        events = self.ma_app.events.query(
            since=since, severity=severity, type=event_type, limit=limit or 100
        )
        self.write_json({"events": [e.to_json() for e in events]})


default_handlers = [(api_path("events"), EventsHandler)]
