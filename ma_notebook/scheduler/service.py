"""The scheduler capability: wires jupyter-scheduler to ma-notebook's events, webhook and routes."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from jupyter_scheduler.models import DescribeJob, Status
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from traitlets import Bool, Float, Unicode

from ..capability import Capability
from ..netguard import forbidden_address


class WebhookRefused(ValueError):
    """The webhook URL points somewhere the server must not call."""


def check_webhook_url(url: str, allow_link_local: bool = False) -> None:
    """Refuse non-HTTP URLs and link-local/metadata addresses (unless allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("The failure webhook must be an http:// or https:// URL.")
    if allow_link_local:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as e:
        raise WebhookRefused(f"The webhook host cannot be resolved: {e}") from e
    if forbidden_address(infos) is not None:
        raise WebhookRefused(
            "The webhook host resolves to a link-local/metadata address; set "
            "SchedulerService.webhook_allow_link_local = True to allow it."
        )


class SchedulerService(Capability):
    """Scheduled notebook jobs on jupyter-scheduler: failure events, webhook, status."""

    name = "scheduler"

    failure_webhook_url = Unicode(
        "",
        config=True,
        help=(
            "URL that gets a JSON POST for every failed notebook job run (job id, name, status "
            "message, times). Default: '' (no webhook)."
        ),
    )

    webhook_allow_link_local = Bool(
        False,
        config=True,
        help="Allow the webhook to reach link-local/metadata addresses. Default: False.",
    )

    webhook_timeout = Float(10.0, config=True, help="Webhook request timeout in s. Default: 10.")

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._tasks: set[asyncio.Task] = set()
        self.webhook_deliveries = 0
        #: Routes outside the extension's own handlers (for the OpenAPI document).
        self.api_routes: list[tuple[str, type]] = []
        self._install_routes()

    @property
    def scheduler(self) -> Any:
        """jupyter-scheduler's scheduler object, or None when its extension is not loaded."""
        web_app = getattr(self.app.serverapp, "web_app", None)
        return web_app.settings.get("scheduler") if web_app is not None else None

    def _install_routes(self) -> None:
        """Put our versions of jupyter-scheduler's job routes ahead of its own."""
        from .handlers import UPSTREAM_OVERRIDES
        from .scheduler import MaScheduler

        serverapp = self.app.serverapp
        if serverapp is None or not isinstance(self.scheduler, MaScheduler):
            return
        web_app = serverapp.web_app
        base_url = web_app.settings.get("base_url", "/")
        self.api_routes = [("/" + pattern, cls) for pattern, cls in UPSTREAM_OVERRIDES]
        handlers = [
            (url_path_join(base_url, pattern), cls, {"name": "jupyter_scheduler"})
            for pattern, cls in UPSTREAM_OVERRIDES
        ]
        web_app.add_handlers(".*$", handlers)
        rules = web_app.default_router.rules
        rules.insert(0, rules.pop(-2))  # add_handlers put it just before the fallback rule

    def info(self) -> dict[str, Any]:
        """Whether scheduled jobs work here and how runs execute."""
        from .scheduler import MaScheduler

        scheduler = self.scheduler
        if scheduler is None:
            return {
                "available": False,
                "reason": "The jupyter_scheduler server extension is not enabled.",
            }
        info: dict[str, Any] = {"available": True, "scheduler_class": type(scheduler).__name__}
        if isinstance(scheduler, MaScheduler):
            info.update(self.status())
        return info

    def status(self) -> dict[str, Any]:
        """Concurrency limit, running/queued counts and backend."""
        from jupyter_scheduler.orm import Job

        from .scheduler import MaScheduler

        scheduler = self.scheduler
        if not isinstance(scheduler, MaScheduler):
            return {"available": False}
        with scheduler.db_session() as session:
            queued = session.query(Job).filter(Job.status == Status.QUEUED).count()
        return {
            "max_concurrent_jobs": scheduler.max_concurrent_jobs,
            "running": scheduler.running_count(),
            "queued": queued,
            "backend": "dask" if scheduler.dask_scheduler_address else "local",
            "keep_last_runs": scheduler.keep_last_runs,
            "delete_outputs_after_days": scheduler.delete_outputs_after_days,
            "webhook": bool(self.failure_webhook_url),
        }

    async def start(self) -> None:
        """Listen for finished runs."""
        from .scheduler import MaScheduler

        scheduler = self.scheduler
        if isinstance(scheduler, MaScheduler):
            scheduler.finished_listeners.append(self.on_job_finished)
            scheduler.ensure_dispatcher()

    async def stop(self) -> None:
        """Stop listening; wait briefly for webhook deliveries in flight."""
        from .scheduler import MaScheduler

        scheduler = self.scheduler
        if isinstance(scheduler, MaScheduler):
            if self.on_job_finished in scheduler.finished_listeners:
                scheduler.finished_listeners.remove(self.on_job_finished)
            await scheduler.shutdown()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.webhook_timeout)

    def on_job_finished(self, job: DescribeJob) -> None:
        """A failed run becomes a Critical event and a webhook call."""
        if job.status != Status.FAILED:
            return
        message = f"Notebook job '{job.name}' failed: {job.status_message or 'no details'}"
        details = {
            "job_id": job.job_id,
            "job_name": job.name,
            "job_definition_id": job.job_definition_id,
            "input_filename": job.input_filename,
            "status_message": job.status_message,
        }
        self.app.events.record("ScheduledJobFailed", "Critical", message, **details)
        if self.failure_webhook_url:
            payload = {
                "event": "ScheduledJobFailed",
                **details,
                "status": str(job.status),
                "create_time": job.create_time,
                "start_time": job.start_time,
                "end_time": job.end_time,
            }
            task = asyncio.ensure_future(self._post_webhook(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post_webhook(self, payload: dict[str, Any]) -> None:
        url = self.failure_webhook_url
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, check_webhook_url, url, self.webhook_allow_link_local
            )
            request = HTTPRequest(
                url,
                method="POST",
                body=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                request_timeout=self.webhook_timeout,
                follow_redirects=False,
            )
            await AsyncHTTPClient().fetch(request)
            self.webhook_deliveries += 1
        except Exception as e:
            # The URL may carry a token: never log it.
            self.log.warning("The job failure webhook could not be delivered: %s", type(e).__name__)
