"""REST API of the monitor: samples, cache usage, alarm rules and the auto-stop lease."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import endpoint
from ..base import MaAPIHandler, api_path
from .models import (
    AlarmRulesBody,
    AlarmsResponse,
    CacheResponse,
    LeasePatch,
    LeaseResponse,
    MonitorQuery,
    MonitorResponse,
)
from .service import MonitorService


class _MonitorHandler(MaAPIHandler):
    # The front end polls these routes: they never count as user activity.
    _track_activity = False
    ma_background = True

    @property
    def monitor(self) -> MonitorService:
        return self.service("monitor")  # type: ignore[no-any-return]


class MonitorHandler(_MonitorHandler):
    """GET the last 60 s of CPU/memory samples, the flavor, kernels, GPUs, cache and alarms."""

    @web.authenticated
    @authorized
    @endpoint(query=MonitorQuery, response=MonitorResponse, summary="Resource samples")
    async def get(self, query: MonitorQuery) -> None:
        monitor = self.monitor
        samples = await monitor.current()
        self.write_json(monitor.snapshot(samples, query.since))


class CacheHandler(_MonitorHandler):
    """GET size and utilisation of the cache directory."""

    @web.authenticated
    @authorized
    @endpoint(response=CacheResponse, summary="Cache directory usage")
    async def get(self) -> None:
        self.write_json(self.monitor.cache.latest.to_json())


class AlarmsHandler(_MonitorHandler):
    """GET alarm rules and states; PUT replaces the user's rules (from JupyterLab settings)."""

    @web.authenticated
    @authorized
    @endpoint(response=AlarmsResponse, summary="Alarm rules and their state")
    async def get(self) -> None:
        self.write_json({"alarms": self.monitor.alarms.to_json()})

    @web.authenticated
    @authorized
    @endpoint(body=AlarmRulesBody, response=AlarmsResponse, summary="Set the user's alarm rules")
    async def put(self, body: AlarmRulesBody) -> None:
        self.monitor.set_user_rules(body.rules)
        self.write_json({"alarms": self.monitor.alarms.to_json()})


class LeaseHandler(_MonitorHandler):
    """GET the auto-stop lease; PATCH {hours: 1-72} renews it, {enabled} switches it."""

    @web.authenticated
    @authorized
    @endpoint(response=LeaseResponse, summary="The auto-stop lease")
    async def get(self) -> None:
        self.write_json(self.monitor.lease_json())

    @web.authenticated
    @authorized
    @endpoint(body=LeasePatch, response=LeaseResponse, summary="Renew or switch auto-stop")
    async def patch(self, body: LeasePatch) -> None:
        # A renewal is a person's action: it counts as activity for the idle stop.
        self.ma_background = False
        self.write_json(self.monitor.renew(body.hours, body.enabled))


default_handlers = [
    (api_path("monitor"), MonitorHandler),
    (api_path("monitor", "cache"), CacheHandler),
    (api_path("monitor", "alarms"), AlarmsHandler),
    (api_path("lease"), LeaseHandler),
]
