"""REST routes: cron checks under /ma-notebook/api/scheduler, and jupyter-scheduler's own job
routes answered with proper 400/404 statuses (upstream answers 500 and saves bad definitions)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from jupyter_scheduler.exceptions import IdempotencyTokenError, InputUriError, SchedulerError
from jupyter_scheduler.extension import JOB_DEFINITION_ID_REGEX, JOB_ID_REGEX
from jupyter_scheduler.handlers import JobDefinitionHandler, JobFromDefinitionHandler, JobHandler
from jupyter_scheduler.models import (
    CreateJob,
    CreateJobDefinition,
    CreateJobFromDefinition,
    UpdateJobDefinition,
)
from jupyter_scheduler.pydantic_v1 import ValidationError
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import ensure_async
from sqlalchemy.exc import NoResultFound
from tornado import web

from ..base import MaAPIHandler, api_path, int_arg
from .cron import CronError, normalize_cron


class CronHandler(MaAPIHandler):
    """Check a cron expression: ``?expression=0/2 * * * * ?&count=3&timezone=UTC``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        expression = self.get_query_argument("expression", "")
        tz = self.get_query_argument("timezone", None) or None
        count = int_arg(self, "count", 3, minimum=1, maximum=50) or 3
        try:
            schedule = normalize_cron(expression)
            times = schedule.next_times(count, tz)
        except CronError as e:
            raise web.HTTPError(400, str(e)) from e
        except Exception as e:  # pytz.UnknownTimeZoneError
            raise web.HTTPError(400, f"Unknown time zone {tz!r}: use an IANA name.") from e
        self.write_json(
            {
                "expression": expression,
                "normalized": schedule.normalized,
                "croniter": schedule.croniter_form,
                "has_seconds": schedule.has_seconds,
                "next_runs": [datetime.fromtimestamp(t, timezone.utc).isoformat() for t in times],
            }
        )


class SchedulerStatusHandler(MaAPIHandler):
    """Concurrency limit, running and queued counts, and the execution backend."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(self.service("scheduler").status())


default_handlers = [
    (api_path("scheduler", "cron"), CronHandler),
    (api_path("scheduler", "status"), SchedulerStatusHandler),
]


# ---------------------------------------------------------------- jupyter-scheduler's routes


def _payload(handler: web.RequestHandler) -> dict[str, Any]:
    try:
        data = json.loads(handler.request.body or b"{}")
    except ValueError as e:
        raise web.HTTPError(400, f"The request body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise web.HTTPError(400, "The request body must be a JSON object.")
    return data


def _invalid(e: ValidationError) -> web.HTTPError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
    )
    return web.HTTPError(400, f"Invalid job fields: {problems}.")


def _fold_timeout(payload: dict[str, Any]) -> None:
    """Accept ``timeout_seconds`` at top level; it travels in runtime_environment_parameters."""
    if "timeout_seconds" in payload:
        params = dict(payload.get("runtime_environment_parameters") or {})
        params["timeout_seconds"] = payload.pop("timeout_seconds")
        payload["runtime_environment_parameters"] = params


class _Mixin:
    auth_resource = "scheduler"

    def _job_or_404(self, job_id: str) -> None:
        try:
            self.scheduler.get_job(job_id, False)  # type: ignore[attr-defined]
        except NoResultFound as e:
            raise web.HTTPError(404, f"No notebook job with id {job_id}.") from e

    def _definition_or_404(self, job_definition_id: str) -> None:
        try:
            self.scheduler.get_job_definition(job_definition_id)  # type: ignore[attr-defined]
        except NoResultFound as e:
            raise web.HTTPError(
                404, f"No notebook job definition with id {job_definition_id}."
            ) from e


class JobsHandler(_Mixin, JobHandler):
    """``/scheduler/jobs``: create (400 on bad input), get/stop/delete (404 when missing)."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str | None = None) -> None:
        if job_id:
            self._job_or_404(job_id)
        await super().get(job_id)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        payload = _payload(self)
        _fold_timeout(payload)
        try:
            model = CreateJob(**payload)
        except ValidationError as e:
            raise _invalid(e) from e
        try:
            job_id = await ensure_async(self.scheduler.create_job(model))
        except IdempotencyTokenError as e:
            raise web.HTTPError(409, str(e)) from e
        except (InputUriError, SchedulerError) as e:
            raise web.HTTPError(400, str(e)) from e
        self.finish(json.dumps({"job_id": job_id}))

    @web.authenticated
    @authorized
    async def patch(self, job_id: str) -> None:
        self._job_or_404(job_id)
        await super().patch(job_id)

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        self._job_or_404(job_id)
        await super().delete(job_id)


class DefinitionsHandler(_Mixin, JobDefinitionHandler):
    """``/scheduler/job_definitions``: schedules normalised; bad cron is 400 and nothing saved."""

    @web.authenticated
    @authorized
    async def get(self, job_definition_id: str | None = None) -> None:
        if job_definition_id:
            self._definition_or_404(job_definition_id)
        await super().get(job_definition_id)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        payload = _payload(self)
        _fold_timeout(payload)
        try:
            model = CreateJobDefinition(**payload)
        except ValidationError as e:
            raise _invalid(e) from e
        try:
            definition_id = await ensure_async(self.scheduler.create_job_definition(model))
        except (InputUriError, SchedulerError) as e:
            raise web.HTTPError(400, str(e)) from e
        self.finish(json.dumps({"job_definition_id": definition_id, "schedule": model.schedule}))

    @web.authenticated
    @authorized
    async def patch(self, job_definition_id: str) -> None:
        self._definition_or_404(job_definition_id)
        payload = _payload(self)
        try:
            model = UpdateJobDefinition(**payload)
        except ValidationError as e:
            raise _invalid(e) from e
        try:
            await ensure_async(self.scheduler.update_job_definition(job_definition_id, model))
        except (InputUriError, SchedulerError) as e:
            raise web.HTTPError(400, str(e)) from e
        self.set_status(204)
        self.finish()

    @web.authenticated
    @authorized
    async def delete(self, job_definition_id: str) -> None:
        self._definition_or_404(job_definition_id)
        await super().delete(job_definition_id)


class RunDefinitionHandler(_Mixin, JobFromDefinitionHandler):
    """``/scheduler/job_definitions/<id>/jobs``: run a definition now (404 when missing)."""

    @web.authenticated
    @authorized
    async def post(self, job_definition_id: str) -> None:
        self._definition_or_404(job_definition_id)
        try:
            model = CreateJobFromDefinition(**_payload(self))
        except ValidationError as e:
            raise _invalid(e) from e
        try:
            job_id = await ensure_async(
                self.scheduler.create_job_from_definition(job_definition_id, model=model)
            )
        except (InputUriError, SchedulerError) as e:
            raise web.HTTPError(400, str(e)) from e
        self.finish(json.dumps({"job_id": job_id}))


#: Routes that take precedence over jupyter-scheduler's own (same URLs, same JSON).
UPSTREAM_OVERRIDES = [
    (r"scheduler/jobs", JobsHandler),
    (rf"scheduler/jobs/{JOB_ID_REGEX}", JobsHandler),
    (r"scheduler/job_definitions", DefinitionsHandler),
    (rf"scheduler/job_definitions/{JOB_DEFINITION_ID_REGEX}", DefinitionsHandler),
    (rf"scheduler/job_definitions/{JOB_DEFINITION_ID_REGEX}/jobs", RunDefinitionHandler),
]
