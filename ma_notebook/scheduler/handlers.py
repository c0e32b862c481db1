"""REST routes: cron checks under /ma-notebook/api/scheduler, and every jupyter-scheduler route
answered with proper 400/404 statuses (upstream answers 500 and saves bad definitions)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_scheduler.exceptions import IdempotencyTokenError, SchedulerError
from jupyter_scheduler.extension import JOB_DEFINITION_ID_REGEX, JOB_ID_REGEX
from jupyter_scheduler.handlers import JobHandlersMixin
from jupyter_scheduler.models import (
    DEFAULT_SORT,
    CountJobsQuery,
    CreateJob,
    CreateJobDefinition,
    CreateJobFromDefinition,
    ListJobDefinitionsQuery,
    ListJobsQuery,
    SortDirection,
    SortField,
    UpdateJob,
    UpdateJobDefinition,
)
from jupyter_scheduler.models import Status as JobStatus
from jupyter_scheduler.pydantic_v1 import BaseModel as V1Model
from jupyter_scheduler.pydantic_v1 import ValidationError as V1ValidationError
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import ensure_async
from sqlalchemy.exc import NoResultFound
from tornado import web

from ..api import ApiError, endpoint, quote
from ..base import EndpointMixin, MaAPIHandler, api_path
from ..paths import allow_hidden, resolve_path
from .cron import normalize_cron
from .models import (
    BatchDeleteQuery,
    CountQuery,
    CountResponse,
    CronQuery,
    CronResponse,
    DefinitionCreated,
    DefinitionList,
    DefinitionModel,
    DefinitionRequest,
    DefinitionsQuery,
    DefinitionUpdate,
    DownloadQuery,
    EnvironmentList,
    JobCreated,
    JobList,
    JobModel,
    JobRequest,
    JobsQuery,
    JobUpdate,
    RunRequest,
    SchedulerConfig,
    SchedulerStatus,
)

ERRORS = (400, 404, 409)


class CronHandler(MaAPIHandler):
    """Check a cron expression: ``?expression=0/2 * * * * ?&count=3&timezone=UTC``."""

    @web.authenticated
    @authorized
    @endpoint(query=CronQuery, response=CronResponse, summary="Check a cron expression")
    async def get(self, query: CronQuery) -> None:
        schedule = normalize_cron(query.expression)
        times = schedule.next_times(query.count, query.timezone)
        self.write_json(
            {
                "expression": query.expression,
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
    @endpoint(response=SchedulerStatus, summary="Scheduler status")
    async def get(self) -> None:
        self.write_json(self.service("scheduler").status())


default_handlers = [
    (api_path("scheduler", "cron"), CronHandler),
    (api_path("scheduler", "status"), SchedulerStatusHandler),
]


# ---------------------------------------------------------------- jupyter-scheduler's routes


def _sort(values: list[str]) -> list[SortField]:
    fields = []
    for value in values:
        direction, _, rest = value.partition("(")
        if rest:
            fields.append(SortField(name=rest[:-1], direction=SortDirection(direction.lower())))
        else:
            fields.append(SortField(name=value, direction=SortDirection.asc))
    return fields or [DEFAULT_SORT]


class SchedulerHandler(EndpointMixin, JobHandlersMixin, ExtensionHandlerMixin, APIHandler):
    """Base of our versions of jupyter-scheduler's routes: its errors mapped in one place."""

    auth_resource = "scheduler"

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, NoResultFound):
            e = ApiError(404, "No such notebook job or job definition: it may have been deleted.")
        elif isinstance(e, IdempotencyTokenError):
            e = ApiError(409, str(e))
        elif isinstance(e, SchedulerError):  # InputUriError, schedule, environment, timeout
            e = ApiError(400, str(e))
        elif isinstance(e, V1ValidationError):
            e = ApiError(400, f"Invalid job fields: {quote(str(e), 200)}")
        super()._handle_request_exception(e)

    def input_uri(self, path: str) -> str:
        """A notebook path checked by the one workspace resolver (no escapes, no links out)."""
        root = Path(self.scheduler.root_dir).expanduser()
        hidden_ok = allow_hidden(self.serverapp)
        real = resolve_path(root, path, hidden_ok=hidden_ok, kind="notebook")
        if not real.is_file():
            raise ApiError(400, f"The notebook {quote(path)} does not exist: pick a file.")
        return path

    def write_v1(self, model: V1Model, status: int = 200) -> None:
        """Answer a jupyter-scheduler (pydantic v1) model as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(model.json(exclude_none=True))

    def no_content(self) -> None:
        """Answer 204."""
        self.set_status(204)
        self.finish()


def _fold_timeout(data: dict[str, Any]) -> dict[str, Any]:
    """``timeout_seconds`` at top level travels in runtime_environment_parameters."""
    timeout = data.pop("timeout_seconds", None)
    if timeout is not None:
        params = dict(data.get("runtime_environment_parameters") or {})
        params["timeout_seconds"] = timeout
        data["runtime_environment_parameters"] = params
    return data


class JobsHandler(SchedulerHandler):
    """``/scheduler/jobs``: list, create (400 on bad input), get/stop/delete (404 when missing)."""

    @web.authenticated
    @authorized
    @endpoint(query=JobsQuery, response=JobList, summary="List notebook jobs")
    async def get(self, query: JobsQuery) -> None:
        listing = ListJobsQuery(
            job_definition_id=query.job_definition_id,
            status=JobStatus(query.status) if query.status else None,
            name=query.name,
            tags=query.tags or None,
            start_time=query.start_time,
            sort_by=_sort(query.sort_by),
            max_items=query.max_items,
            next_token=query.next_token or None,
        )
        self.write_v1(await ensure_async(self.scheduler.list_jobs(listing)))

    @web.authenticated
    @authorized
    @endpoint(body=JobRequest, response=JobCreated, errors=ERRORS, summary="Create a job")
    async def post(self, body: JobRequest) -> None:
        data = _fold_timeout(body.model_dump(exclude_unset=True))
        data["input_uri"] = self.input_uri(body.input_uri)
        data.setdefault("input_filename", None)
        job_id = await ensure_async(self.scheduler.create_job(CreateJob(**data)))
        self.write_json({"job_id": job_id})


class JobHandler(SchedulerHandler):
    """``/scheduler/jobs/<id>``: get, stop or rename, delete (404 when missing)."""

    @web.authenticated
    @authorized
    @endpoint(response=JobModel, errors=(404,), summary="A notebook job")
    async def get(self, job_id: str) -> None:
        self.write_v1(await ensure_async(self.scheduler.get_job(job_id)))

    @web.authenticated
    @authorized
    @endpoint(body=JobUpdate, status=204, errors=ERRORS, summary="Stop or rename a job")
    async def patch(self, job_id: str, body: JobUpdate) -> None:
        self.scheduler.get_job(job_id, False)  # 404 first
        if body.status is not None:
            if body.status != "STOPPED":
                raise ApiError(400, "A job's status can only be changed to STOPPED.")
            await ensure_async(self.scheduler.stop_job(job_id))
        else:
            update = UpdateJob(**body.model_dump(exclude_unset=True))
            await ensure_async(self.scheduler.update_job(job_id, update))
        self.no_content()

    @web.authenticated
    @authorized
    @endpoint(status=204, errors=(404,), summary="Delete a job and its files")
    async def delete(self, job_id: str) -> None:
        self.scheduler.get_job(job_id, False)
        await ensure_async(self.scheduler.delete_job(job_id))
        self.no_content()


class JobsCountHandler(SchedulerHandler):
    """``/scheduler/jobs/count?status=``: how many jobs have that status."""

    @web.authenticated
    @authorized
    @endpoint(query=CountQuery, response=CountResponse, summary="Count jobs by status")
    async def get(self, query: CountQuery) -> None:
        count_query = CountJobsQuery(status=JobStatus(query.status))
        self.write_json({"count": await ensure_async(self.scheduler.count_jobs(count_query))})


class JobFilesHandler(SchedulerHandler):
    """``/scheduler/jobs/<id>/download_files``: copy a job's files into the workspace."""

    @web.authenticated
    @authorized
    @endpoint(query=DownloadQuery, status=204, errors=(404,), summary="Copy a job's files")
    async def get(self, job_id: str, query: DownloadQuery) -> None:
        self.scheduler.get_job(job_id, False)
        manager: Any = self.settings["job_files_manager"]
        redownload = query.redownload.lower() in ("true", "1")
        await manager.copy_from_staging(job_id=job_id, redownload=redownload)
        self.no_content()


class BatchJobsHandler(SchedulerHandler):
    """``/scheduler/batch/jobs?job_id=a&job_id=b``: delete several jobs."""

    @web.authenticated
    @authorized
    @endpoint(query=BatchDeleteQuery, status=204, errors=(400, 404), summary="Delete jobs")
    async def delete(self, query: BatchDeleteQuery) -> None:
        for job_id in query.job_id:
            self.scheduler.get_job(job_id, False)
        for job_id in query.job_id:
            await ensure_async(self.scheduler.delete_job(job_id))
        self.no_content()


class DefinitionsHandler(SchedulerHandler):
    """``/scheduler/job_definitions``: list, create (bad cron/environment: 400, nothing saved)."""

    @web.authenticated
    @authorized
    @endpoint(query=DefinitionsQuery, response=DefinitionList, summary="List job definitions")
    async def get(self, query: DefinitionsQuery) -> None:
        listing = ListJobDefinitionsQuery(
            name=query.name,
            tags=query.tags or None,
            create_time=query.create_time,
            sort_by=_sort(query.sort_by),
            max_items=query.max_items,
            next_token=query.next_token or None,
        )
        self.write_v1(await ensure_async(self.scheduler.list_job_definitions(listing)))

    @web.authenticated
    @authorized
    @endpoint(body=DefinitionRequest, response=DefinitionCreated, errors=ERRORS)
    async def post(self, body: DefinitionRequest) -> None:
        data = _fold_timeout(body.model_dump(exclude_unset=True))
        data["input_uri"] = self.input_uri(body.input_uri)
        data.setdefault("input_filename", None)
        model = CreateJobDefinition(**data)
        definition_id = await ensure_async(self.scheduler.create_job_definition(model))
        self.write_json({"job_definition_id": definition_id, "schedule": model.schedule})


class DefinitionHandler(SchedulerHandler):
    """``/scheduler/job_definitions/<id>``: get, change (validated first), delete."""

    @web.authenticated
    @authorized
    @endpoint(response=DefinitionModel, errors=(404,), summary="A job definition")
    async def get(self, job_definition_id: str) -> None:
        self.write_v1(await ensure_async(self.scheduler.get_job_definition(job_definition_id)))

    @web.authenticated
    @authorized
    @endpoint(body=DefinitionUpdate, status=204, errors=ERRORS, summary="Change a definition")
    async def patch(self, job_definition_id: str, body: DefinitionUpdate) -> None:
        self.scheduler.get_job_definition(job_definition_id)
        data = body.model_dump(exclude_unset=True)
        if body.input_uri:
            data["input_uri"] = self.input_uri(body.input_uri)
        model = UpdateJobDefinition(**data)
        await ensure_async(self.scheduler.update_job_definition(job_definition_id, model))
        self.no_content()

    @web.authenticated
    @authorized
    @endpoint(status=204, errors=(404,), summary="Delete a job definition")
    async def delete(self, job_definition_id: str) -> None:
        self.scheduler.get_job_definition(job_definition_id)
        await ensure_async(self.scheduler.delete_job_definition(job_definition_id))
        self.no_content()


class RunDefinitionHandler(SchedulerHandler):
    """``/scheduler/job_definitions/<id>/jobs``: run a definition now (404 when missing)."""

    @web.authenticated
    @authorized
    @endpoint(body=RunRequest, response=JobCreated, errors=ERRORS, summary="Run a definition")
    async def post(self, job_definition_id: str, body: RunRequest) -> None:
        self.scheduler.get_job_definition(job_definition_id)
        model = CreateJobFromDefinition(**body.model_dump(exclude_unset=True))
        job_id = await ensure_async(
            self.scheduler.create_job_from_definition(job_definition_id, model=model)
        )
        self.write_json({"job_id": job_id})


class EnvironmentsHandler(SchedulerHandler):
    """``/scheduler/runtime_environments``: every environment, each selectable in the form.

    jupyter-scheduler 2.12's picker shows an environment's ``name``, submits its ``label`` and
    preselects the first one by ``name``: answering ``label`` equal to ``name`` makes every
    choice consistent; the display name stays in ``display_name`` and ``description``.
    """

    @web.authenticated
    @authorized
    @endpoint(response=EnvironmentList, summary="Runtime environments for notebook jobs")
    async def get(self) -> None:
        manager = self.environments_manager
        environments = await ensure_async(manager.list_environments())
        formats = await ensure_async(manager.output_formats_mapping())
        answer = []
        for environment in environments:
            env = environment.dict()
            env["display_name"] = env["label"]
            env["label"] = env["name"]
            env["output_formats"] = [
                {"name": f, "label": formats.get(f, f)} for f in env["output_formats"]
            ]
            answer.append(env)
        self.write_json(answer)


class ConfigHandler(SchedulerHandler):
    """``/scheduler/config``: what the execution manager supports."""

    @web.authenticated
    @authorized
    @endpoint(response=SchedulerConfig, summary="Scheduler features")
    async def get(self) -> None:
        cls = self.execution_manager_class
        self.write_json(
            {
                "supported_features": cls.supported_features(cls),
                "manage_environments_command": (
                    self.environments_manager.manage_environments_command()
                ),
            }
        )


#: Routes that take precedence over jupyter-scheduler's own (same URLs, same JSON).
UPSTREAM_OVERRIDES = [
    (r"scheduler/jobs", JobsHandler),
    (r"scheduler/jobs/count", JobsCountHandler),
    (rf"scheduler/jobs/{JOB_ID_REGEX}", JobHandler),
    (rf"scheduler/jobs/{JOB_ID_REGEX}/download_files", JobFilesHandler),
    (r"scheduler/batch/jobs", BatchJobsHandler),
    (r"scheduler/job_definitions", DefinitionsHandler),
    (rf"scheduler/job_definitions/{JOB_DEFINITION_ID_REGEX}", DefinitionHandler),
    (rf"scheduler/job_definitions/{JOB_DEFINITION_ID_REGEX}/jobs", RunDefinitionHandler),
    (r"scheduler/runtime_environments", EnvironmentsHandler),
    (r"scheduler/config", ConfigHandler),
]
