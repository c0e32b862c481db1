"""REST API of the event log: GET /ma-notebook/api/events."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import endpoint
from ..base import MaAPIHandler, api_path
from .models import EventList, EventsQuery


class EventsHandler(MaAPIHandler):
    """List events newest first: ``?since=<epoch seconds>&severity=Major,Critical&limit=100``."""

    @web.authenticated
    @authorized
    @endpoint(query=EventsQuery, response=EventList, summary="List events, newest first")
    async def get(self, query: EventsQuery) -> None:
        events = self.ma_app.events.query(
            since=query.since, severity=query.severities(), type=query.type, limit=query.limit
        )
        self.write_json({"events": [e.to_json() for e in events]})


default_handlers = [(api_path("events"), EventsHandler)]
