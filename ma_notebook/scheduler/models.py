"""Request and response models of the scheduler routes (ours and jupyter-scheduler's).

jupyter-scheduler's own models are pydantic v1 and answer 500 on bad input; these v2 models
validate first (400 naming the field) and document the routes, then the v1 model is built.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, RootModel

from ..api import (
    HOSTILE,
    Label,
    QueryModel,
    RelPath,
    RequestModel,
    ResponseModel,
    Text,
    no_control,
)

STATUSES = ("CREATED", "QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED", "STOPPING", "STOPPED")
#: Columns the job and definition lists can be sorted by.
SORT_FIELDS = (
    "name",
    "create_time",
    "update_time",
    "start_time",
    "end_time",
    "status",
    "input_filename",
    "runtime_environment_name",
)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _check_sort(value: str) -> str:
    inner = value
    for prefix in ("asc(", "desc(", "ASC(", "DESC("):
        if inner.startswith(prefix) and inner.endswith(")"):
            inner = inner[len(prefix) : -1]
            break
    if inner not in SORT_FIELDS:
        raise ValueError(f"sort by one of {', '.join(SORT_FIELDS)}, e.g. desc(create_time)")
    return value


def check_timezone(value: str) -> str:
    """An IANA time zone name."""
    import pytz

    try:
        pytz.timezone(value)
    except Exception:  # UnknownTimeZoneError, or OSError/ValueError on odd names
        raise ValueError("unknown time zone: use an IANA name such as 'UTC'") from None
    return value


TimeZone = Annotated[
    str, Field(max_length=64), AfterValidator(no_control), AfterValidator(check_timezone)
]
Status = Annotated[Literal[STATUSES], BeforeValidator(_upper)]  # type: ignore[valid-type]
SortBy = Annotated[str, Field(max_length=64), AfterValidator(_check_sort)]
Token = Annotated[str, Field(max_length=20, pattern=r"^[0-9]*$")]
ParamValue = int | float | bool | Annotated[str, Field(max_length=4096)]
Params = Annotated[dict[Label, ParamValue], Field(max_length=200)]
StrParams = Annotated[dict[Label, Annotated[str, Field(max_length=4096)]], Field(max_length=200)]
Tags = Annotated[list[Label], Field(max_length=100)]
#: A job or definition id (a UUID); also bounds query strings under tornado's header limit.
JobId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: Tags in a query string (each value travels in the URL).
QueryTags = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=10)]

_HOSTILE_JOBS: list[Any] = [
    {},
    {"name": "x", "input_uri": HOSTILE["dotdot"], "runtime_environment_name": "python3"},
    {"name": "x", "input_uri": HOSTILE["absolute"], "runtime_environment_name": "python3"},
    {"name": HOSTILE["huge"], "input_uri": "a.ipynb", "runtime_environment_name": "python3"},
    {"name": "x", "input_uri": "a.ipynb", "runtime_environment_name": HOSTILE["unicode"]},
    {"name": "x", "input_uri": HOSTILE["nul"], "runtime_environment_name": "python3"},
]


class JobFields(RequestModel):
    """Fields shared by a job and a job definition."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=8192)

    name: Label = Field(min_length=1, description="The job's name.")
    input_uri: RelPath = Field(min_length=1, description="The notebook (file-browser path).")
    input_filename: Label | None = None
    runtime_environment_name: Label = Field(
        min_length=1, description="An environment's name (or label) from runtime_environments."
    )
    runtime_environment_parameters: Params | None = None
    output_formats: Annotated[list[Label], Field(max_length=10)] | None = None
    parameters: StrParams | None = None
    tags: Tags | None = None
    output_filename_template: Text | None = None
    compute_type: Label | None = None
    package_input_folder: bool | None = None
    timeout_seconds: float | None = Field(
        None, ge=0, le=10**7, description="Stop a run after this many seconds (0: never)."
    )


class JobRequest(JobFields):
    """A notebook job to run now."""

    model_config = ConfigDict(json_schema_extra={"examples": _HOSTILE_JOBS})

    idempotency_token: Label | None = None
    job_definition_id: Label | None = None


class DefinitionRequest(JobFields):
    """A job definition (a schedule of runs)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                *_HOSTILE_JOBS,
                {
                    "name": "x",
                    "input_uri": "a.ipynb",
                    "runtime_environment_name": "nope",
                    "schedule": "0 * * * *",
                },
            ]
        }
    )

    schedule: Label | None = Field(None, description="Cron expression (Quartz or Unix).")
    timezone: TimeZone | None = Field(None, description="IANA time zone of the schedule.")


class DefinitionUpdate(RequestModel):
    """Changes to a job definition."""

    runtime_environment_name: Label | None = None
    runtime_environment_parameters: Params | None = None
    output_formats: Annotated[list[Label], Field(max_length=10)] | None = None
    parameters: StrParams | None = None
    tags: Tags | None = None
    name: Label | None = None
    url: Text | None = None
    schedule: Label | None = None
    timezone: TimeZone | None = None
    output_filename_template: Text | None = None
    active: bool | None = None
    compute_type: Label | None = None
    input_uri: RelPath | None = None


class JobUpdate(RequestModel):
    """Changes to a job: stop it (``status: STOPPED``) or rename it."""

    status: Status | None = Field(None, description="Only STOPPED.")
    name: Label | None = None
    compute_type: Label | None = None


class RunRequest(RequestModel):
    """Parameters of a run of a definition."""

    parameters: StrParams | None = None


class UpstreamQuery(QueryModel):
    """A query of a jupyter-scheduler route: unknown arguments are ignored, as upstream does
    (its frontend adds a cache-busting ``?<timestamp>``)."""

    model_config = ConfigDict(extra="ignore")


class JobsQuery(UpstreamQuery):
    """Filters of the job list."""

    job_definition_id: JobId | None = None
    status: Status | None = None
    name: Label | None = None
    tags: QueryTags = []
    start_time: int | None = Field(None, ge=0, le=10**14)
    sort_by: Annotated[list[SortBy], Field(max_length=8)] = []
    max_items: int = Field(1000, ge=0, le=1000)  # the Jobs list asks max_items=0 for a count
    next_token: Token | None = None


class DefinitionsQuery(UpstreamQuery):
    """Filters of the job definition list."""

    name: Label | None = None
    tags: QueryTags = []
    create_time: int | None = Field(None, ge=0, le=10**14)
    sort_by: Annotated[list[SortBy], Field(max_length=8)] = []
    max_items: int = Field(1000, ge=0, le=1000)  # the Jobs list asks max_items=0 for a count
    next_token: Token | None = None


class CountQuery(UpstreamQuery):
    """Jobs of which status to count."""

    status: Status = "IN_PROGRESS"


class BatchDeleteQuery(UpstreamQuery):
    """Jobs to delete."""

    job_id: Annotated[list[JobId], Field(min_length=1, max_length=100)]


class DownloadQuery(UpstreamQuery):
    """Copy a job's files into the workspace again."""

    redownload: Literal["true", "false", "True", "False", "1", "0", ""] = ""


class CronQuery(QueryModel):
    """A cron expression to check."""

    expression: Annotated[str, Field(max_length=256), AfterValidator(no_control)] = Field(
        "", description="Quartz (seconds first) or Unix cron.", examples=["0/2 * * * * ?"]
    )
    count: int = Field(3, ge=1, le=50, description="How many next run times (1-50).")
    timezone: TimeZone | None = Field(None, description="IANA time zone (default UTC).")


class CronResponse(ResponseModel):
    """The expression, normalised, and its next run times."""

    expression: str
    normalized: str
    croniter: str
    has_seconds: bool
    next_runs: list[str]


class SchedulerStatus(ResponseModel):
    """Concurrency limit, running and queued counts, and the execution backend."""


class JobCreated(ResponseModel):
    """The new job's id."""

    job_id: str


class DefinitionCreated(ResponseModel):
    """The new definition's id and its normalised schedule."""

    job_definition_id: str
    schedule: str | None = None


class JobModel(ResponseModel):
    """A notebook job."""

    job_id: str
    name: str
    status: str


class JobList(ResponseModel):
    """A page of jobs."""

    jobs: list[JobModel] = []
    total_count: int = 0
    next_token: str | None = None


class DefinitionModel(ResponseModel):
    """A job definition."""

    job_definition_id: str
    name: str
    active: bool


class DefinitionList(ResponseModel):
    """A page of job definitions."""

    job_definitions: list[DefinitionModel] = []
    total_count: int = 0
    next_token: str | None = None


class CountResponse(ResponseModel):
    """How many jobs have the status."""

    count: int


class EnvironmentModel(ResponseModel):
    """A runtime environment jobs can use."""

    name: str
    label: str
    description: str


class EnvironmentList(RootModel[list[EnvironmentModel]]):
    """Every environment jobs can use."""


class SchedulerConfig(ResponseModel):
    """Features of the execution manager."""

    supported_features: dict[str, Any]
    manage_environments_command: str
