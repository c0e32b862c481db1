"""jupyter-scheduler's Scheduler with a run queue, environments, timeouts and punctual schedules."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_scheduler.exceptions import IdempotencyTokenError, InputUriError, SchedulerError
from jupyter_scheduler.job_files_manager import Downloader, JobFilesManager
from jupyter_scheduler.models import (
    CreateJob,
    CreateJobDefinition,
    DescribeJob,
    Status,
    UpdateJobDefinition,
)
from jupyter_scheduler.orm import Job, JobDefinition
from jupyter_scheduler.scheduler import Scheduler
from jupyter_scheduler.task_runner import TaskRunner
from jupyter_scheduler.utils import get_utc_timestamp
from jupyter_server.utils import ensure_async
from sqlalchemy.exc import NoResultFound
from traitlets import Float, Integer, Unicode
from traitlets import Type as TType

from ..api import quote
from .cron import CronError, normalize_cron

#: Statuses of a job that has not finished.
ACTIVE = (Status.CREATED, Status.QUEUED, Status.IN_PROGRESS, Status.STOPPING)
FINAL = (Status.COMPLETED, Status.FAILED, Status.STOPPED)


class ScheduleError(SchedulerError):
    """A job definition's schedule is not a cron expression we can run (answered with 400)."""


class UnknownEnvironmentError(SchedulerError):
    """A job names a runtime environment this server does not offer (answered with 400)."""


def run_execution_manager(manager: Any) -> str:
    """Run one job (on a Dask worker); returns the job id."""
    manager.process()
    return str(manager.job_id)


@dataclass
class Running:
    """A job this server started: a local process or a Dask future."""

    job_id: str
    started: float
    timeout: float
    process: Any = None
    future: Any = None
    killed_for_timeout: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def alive(self) -> bool:
        """Whether the run still executes."""
        if self.future is not None:
            return not self.future.done()
        if isinstance(self.process, psutil.Process):
            try:
                return self.process.is_running() and self.process.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                return False
        return bool(self.process.is_alive())

    def exit_code(self) -> Any:
        """The process's exit code (None when unknown)."""
        if self.process is not None and hasattr(self.process, "exitcode"):
            return self.process.exitcode
        return None

    def kill(self) -> None:
        """Kill the run's process and everything it started (the kernel)."""
        if self.future is not None:
            self.future.cancel()
            return
        try:
            root = psutil.Process(self.process.pid)
            procs = [*root.children(recursive=True), root]
        except psutil.Error:
            return
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(procs, timeout=5)
        if hasattr(self.process, "join"):
            self.process.join(1)


class MaScheduler(Scheduler):
    """The default jupyter-scheduler Scheduler plus a run queue with a concurrency limit.

    Jobs are created Queued and started while fewer than ``max_concurrent_jobs`` run; each runs
    with the environment the user picked and its timeout; a run whose process died is marked
    Failed; runs go to a Dask cluster when ``dask_scheduler_address`` is set.
    """

    execution_manager_class = TType(
        allow_none=True,
        klass="jupyter_scheduler.executors.ExecutionManager",
        default_value="ma_notebook.scheduler.executor.MaExecutionManager",
        config=True,
        help=(
            "Runs one job. Default: ma_notebook.scheduler.executor.MaExecutionManager (the "
            "job's environment, typed parameters, per-job timeout)."
        ),
    )

    task_runner_class = TType(
        allow_none=True,
        klass="jupyter_scheduler.task_runner.BaseTaskRunner",
        default_value="ma_notebook.scheduler.scheduler.MaTaskRunner",
        config=True,
        help=(
            "Creates runs of scheduled job definitions. Default: "
            "ma_notebook.scheduler.scheduler.MaTaskRunner (fires on time, not on a poll)."
        ),
    )

    max_concurrent_jobs = Integer(
        2,
        config=True,
        help="How many jobs run at once; further runs wait as Queued. 0 = no limit. Default: 2.",
    )

    default_timeout_seconds = Float(
        0,
        config=True,
        help=(
            "Timeout of a job that sets none (runtime_environment_parameters.timeout_seconds); "
            "0 = no timeout. Default: 0."
        ),
    )

    kill_grace_seconds = Float(
        60,
        config=True,
        help=(
            "After a job's timeout, how long its process may take (starting up, stopping the "
            "kernel, writing outputs) to record the failure before it and its kernel are "
            "killed. Default: 60."
        ),
    )

    dask_scheduler_address = Unicode(
        "",
        config=True,
        help=(
            "Address of a Dask scheduler (tcp://host:8786) to run jobs on; workers need this "
            "server's staging directory and database at the same paths. Default: '' (local "
            "processes)."
        ),
    )

    keep_last_runs = Integer(
        0,
        config=True,
        help=(
            "Keep only the newest N finished runs of each job definition (their outputs and "
            "downloaded copies go too). 0 = keep all. Default: 0."
        ),
    )

    delete_outputs_after_days = Float(
        0,
        config=True,
        help=(
            "Delete finished runs (outputs and downloaded copies) older than this many days. "
            "0 = never. Default: 0."
        ),
    )

    retention_interval = Float(
        300, config=True, help="Seconds between retention sweeps. Default: 300."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._running: dict[str, Running] = {}
        self._wake: asyncio.Event | None = None
        self._dispatcher: asyncio.Task | None = None
        self._dask_client: Any = None
        self._last_retention = 0.0
        #: Called with the DescribeJob of every run that finished (any final status).
        self.finished_listeners: list[Callable[[DescribeJob], Any]] = []

    # ------------------------------------------------------------ environments

    def canonical_environment(self, name: str | None) -> str | None:
        """The name of the environment called ``name`` or labelled ``name``, or None.

        jupyter-scheduler 2.12's picker sends the label of the chosen environment and the
        name of the preselected one: both must select the same environment.
        """
        if not name:
            return None
        envs = self.environments_manager.list_environments()
        for env in envs:
            if env.name == name:
                return str(env.name)
        labelled = [env for env in envs if env.label == name]
        return str(labelled[0].name) if len(labelled) == 1 else None

    def check_environment(self, name: str | None) -> str | None:
        """``name`` as an environment name, or UnknownEnvironmentError listing the choices."""
        if not name:
            return name
        canonical = self.canonical_environment(name)
        if canonical is None:
            known = ", ".join(self.environment_names()) or "none"
            raise UnknownEnvironmentError(
                f"Runtime environment {quote(name)} does not exist on this server; "
                f"choose one of: {known}."
            )
        return canonical

    def resolve_environment(self, name: str | None) -> dict[str, str] | None:
        """The runtime environment named ``name`` as the execution manager needs it."""
        name = self.canonical_environment(name)
        if not name:
            return None
        for env in self.environments_manager.list_environments():
            if env.name == name:
                meta = dict(env.metadata or {})
                meta["label"] = env.label
                if meta.get("kind") == "kernelspec":
                    spec = KernelSpecManager().get_kernel_spec(meta["kernel_name"])
                    argv = [a.replace("{resource_dir}", spec.resource_dir) for a in spec.argv]
                    meta["spec"] = json.dumps({**spec.to_dict(), "argv": argv})
                return meta
        return None

    def environment_names(self) -> list[str]:
        """Names of every environment jobs can use."""
        return [env.name for env in self.environments_manager.list_environments()]

    # ------------------------------------------------------------ schedules

    @staticmethod
    def normalize_schedule(schedule: str | None) -> str | None:
        """The normalised cron expression, or ScheduleError saying what is wrong."""
        if schedule is None or schedule == "":
            return schedule
        try:
            return normalize_cron(schedule).normalized
        except CronError as e:
            raise ScheduleError(str(e)) from e

    def create_job_definition(self, model: CreateJobDefinition) -> str:
        """Validate the environment and normalise the schedule before anything is saved."""
        model.runtime_environment_name = self.check_environment(model.runtime_environment_name)
        model.schedule = self.normalize_schedule(model.schedule)
        if model.timezone:
            _check_timezone(model.timezone)
        return super().create_job_definition(model)

    def update_job_definition(self, job_definition_id: str, model: UpdateJobDefinition) -> None:
        """Validate a changed environment and schedule before anything is saved."""
        if model.runtime_environment_name:
            model.runtime_environment_name = self.check_environment(model.runtime_environment_name)
        model.schedule = self.normalize_schedule(model.schedule)
        if model.timezone:
            _check_timezone(model.timezone)
        super().update_job_definition(job_definition_id, model)

    # ------------------------------------------------------------ jobs

    def create_job(self, model: CreateJob) -> str:
        """Record the job as Queued; the dispatcher starts it when a slot is free."""
        if not model.job_definition_id and not self.file_exists(model.input_uri):
            raise InputUriError(model.input_uri)
        if not model.job_definition_id or model.runtime_environment_name:
            model.runtime_environment_name = self.check_environment(model.runtime_environment_name)
        params = dict(model.runtime_environment_parameters or {})
        timeout = params.get("timeout_seconds", self.default_timeout_seconds) or 0
        try:
            timeout = float(timeout)
        except (TypeError, ValueError) as e:
            raise SchedulerError(f"timeout_seconds must be a number, got {timeout!r}.") from e
        if timeout < 0:
            raise SchedulerError("timeout_seconds must be 0 (no timeout) or more.")

        with self.db_session() as session:
            if model.idempotency_token:
                existing = (
                    session.query(Job)
                    .filter(Job.idempotency_token == model.idempotency_token)
                    .first()
                )
                if existing:
                    raise IdempotencyTokenError(model.idempotency_token)
            if not model.output_formats:
                model.output_formats = []
            job = Job(
                **model.dict(exclude_none=True, exclude={"input_uri"}),
                status=Status.QUEUED,
                timeout_seconds=int(timeout),
            )
            session.add(job)
            session.commit()
            staging_paths = self.get_staging_paths(DescribeJob.from_orm(job))
            if model.package_input_folder:
                copied = self.copy_input_folder(model.input_uri, staging_paths["input"])
                name = os.path.basename(model.input_uri)
                job.packaged_files = [f for f in copied if f != name]
                session.commit()
            else:
                self.copy_input_file(model.input_uri, staging_paths["input"])
            job_id = str(job.job_id)
        self.ensure_dispatcher()
        return job_id

    def stop_job(self, job_id: str) -> None:
        """Stop a running job (its kernel too) or take a queued one out of the queue."""
        with self.db_session() as session:
            record = session.query(Job).filter(Job.job_id == job_id).one()
            status = Status(record.status)
        running = self._running.get(job_id)
        if running is not None:
            self._set(job_id, status=Status.STOPPING)
            running.kill()
            self._running.pop(job_id, None)
            self._set(job_id, status=Status.STOPPED, end_time=get_utc_timestamp())
            self._notify(job_id)
        elif status in ACTIVE:
            if record.pid:
                with contextlib.suppress(psutil.Error):
                    psutil.Process(record.pid).kill()
            self._set(job_id, status=Status.STOPPED, end_time=get_utc_timestamp())
            self._notify(job_id)
        self._poke()

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db_session() as session:
            session.query(Job).filter(Job.job_id == job_id).update(values)
            session.commit()

    def _notify(self, job_id: str) -> None:
        try:
            job = self.get_job(job_id, False)
        except Exception:  # the job was deleted meanwhile
            return
        for listener in list(self.finished_listeners):
            try:
                listener(job)
            except Exception:
                self.log.exception("A scheduler listener failed for job %s", job_id)

    # ------------------------------------------------------------ dispatcher

    def ensure_dispatcher(self) -> None:
        """Start the background dispatcher on the running event loop (once)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = loop.create_task(self._dispatch_loop())
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _dispatch_loop(self) -> None:
        self._recover()
        assert self._wake is not None
        while True:
            try:
                self._reap()
                await self._start_queued()
                if time.monotonic() - self._last_retention > self.retention_interval:
                    self._last_retention = time.monotonic()
                    self.apply_retention()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("The job dispatcher failed; retrying")
            await _wait_event(self._wake, 0.25)

    def _recover(self) -> None:
        """Jobs left In progress by a previous server whose process is gone are Failed."""
        with self.db_session() as session:
            stale = session.query(Job).filter(Job.status.in_([Status.IN_PROGRESS, Status.STOPPING]))
            records = [(j.job_id, j.pid, j.timeout_seconds, j.start_time) for j in stale]
        for job_id, pid, timeout, start in records:
            if job_id in self._running:
                continue
            proc = None
            if pid:
                try:
                    proc = psutil.Process(pid)
                    if not proc.is_running():
                        proc = None
                except psutil.Error:
                    proc = None
            if proc is None:
                self._set(
                    job_id,
                    status=Status.FAILED,
                    status_message="The job's process is gone (the notebook server restarted "
                    "or the process was killed); run it again.",
                    end_time=get_utc_timestamp(),
                )
                self._notify(job_id)
            else:
                started = (start or get_utc_timestamp()) / 1000
                self._running[job_id] = Running(job_id, started, float(timeout or 0), process=proc)

    def _reap(self) -> None:
        now = time.time()
        for job_id, run in list(self._running.items()):
            if run.alive():
                limit = run.timeout + self.kill_grace_seconds
                if run.timeout and now - run.started > limit and not run.killed_for_timeout:
                    run.killed_for_timeout = True
                    self.log.warning("Job %s exceeded its timeout; killing it", job_id)
                    run.kill()
                else:
                    continue
            self._running.pop(job_id, None)
            error = None
            if run.future is not None and run.future.status == "error":
                error = run.future.exception()
            try:
                job = self.get_job(job_id, False)
            except NoResultFound:
                continue  # deleted meanwhile
            if job.status in ACTIVE:
                if run.killed_for_timeout:
                    message = (
                        f"Timed out after {run.timeout:g} s; the kernel did not stop, so the run "
                        "was killed."
                    )
                elif error is not None:
                    message = f"The run failed on the Dask cluster: {error}"
                else:
                    message = (
                        f"The job's process exited unexpectedly (exit code {run.exit_code()}) "
                        "before finishing."
                    )
                self._set(
                    job_id,
                    status=Status.FAILED,
                    status_message=message,
                    end_time=get_utc_timestamp(),
                )
            self._notify(job_id)

    def _make_execution_manager(self, job: DescribeJob, timeout: float) -> Any:
        staging_paths = self.get_staging_paths(job)
        kwargs: dict[str, Any] = {
            "job_id": job.job_id,
            "staging_paths": staging_paths,
            "root_dir": self.root_dir,
            "db_url": self.db_url,
        }
        from .executor import MaExecutionManager

        cls = self.execution_manager_class
        if cls is None:
            raise SchedulerError("Scheduler.execution_manager_class is not set.")
        if issubclass(cls, MaExecutionManager):
            kwargs["environment"] = self.resolve_environment(job.runtime_environment_name)
            kwargs["timeout_seconds"] = timeout
        return cls(**kwargs)

    async def _start_queued(self) -> None:
        limit = self.max_concurrent_jobs
        free = (limit - len(self._running)) if limit > 0 else 1000
        if free <= 0:
            return
        with self.db_session() as session:
            queued = (
                session.query(Job.job_id, Job.timeout_seconds)
                .filter(Job.status == Status.QUEUED)
                .order_by(Job.create_time.asc())
                .limit(free)
                .all()
            )
        for job_id, timeout in queued:
            job = self.get_job(job_id, False)
            manager = self._make_execution_manager(job, float(timeout or 0))
            self._set(job_id, status=Status.IN_PROGRESS, start_time=get_utc_timestamp())
            try:
                if self.dask_scheduler_address:
                    client = await self._dask()
                    future = client.submit(
                        run_execution_manager, manager, pure=False, key=f"ma-notebook-job-{job_id}"
                    )
                    run = Running(job_id, time.time(), float(timeout or 0), future=future)
                else:
                    # spawn, not fork: nbconvert's event loop is broken in forked children.
                    process = mp.get_context("spawn").Process(target=manager.process, daemon=False)
                    process.start()
                    self._set(job_id, pid=process.pid)
                    run = Running(job_id, time.time(), float(timeout or 0), process=process)
            except Exception as e:
                self.log.exception("Starting job %s failed", job_id)
                self._set(
                    job_id,
                    status=Status.FAILED,
                    status_message=f"The job could not be started: {e}",
                    end_time=get_utc_timestamp(),
                )
                self._notify(job_id)
                continue
            self._running[job_id] = run

    async def _dask(self) -> Any:
        if self._dask_client is None:
            from distributed import Client

            self._dask_client = await Client(
                self.dask_scheduler_address, asynchronous=True, timeout=30
            )
        return self._dask_client

    async def shutdown(self) -> None:
        """Stop the dispatcher and close the Dask client (running jobs keep running)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        if self._dask_client is not None:
            await self._dask_client.close()
            self._dask_client = None

    def running_count(self) -> int:
        """How many runs this server is executing."""
        return len(self._running)

    # ------------------------------------------------------------ retention

    def _delete_run(self, job: Any) -> None:
        model = DescribeJob.from_orm(job)
        local = self.get_local_output_path(model)
        if os.path.isdir(local):
            shutil.rmtree(local, ignore_errors=True)
        self.delete_job(model.job_id)

    def apply_retention(self) -> int:
        """Delete finished runs beyond ``keep_last_runs`` or older than the age limit."""
        if not self.keep_last_runs and not self.delete_outputs_after_days:
            return 0
        deleted = 0
        final = [s.value for s in FINAL]
        with self.db_session() as session:
            doomed: list[Any] = []
            if self.delete_outputs_after_days:
                cutoff = get_utc_timestamp() - int(self.delete_outputs_after_days * 86400 * 1000)
                doomed += (
                    session.query(Job).filter(Job.status.in_(final), Job.create_time < cutoff).all()
                )
            if self.keep_last_runs:
                ids = [d.job_definition_id for d in session.query(JobDefinition.job_definition_id)]
                for definition_id in ids:
                    doomed += (
                        session.query(Job)
                        .filter(Job.job_definition_id == definition_id, Job.status.in_(final))
                        .order_by(Job.create_time.desc())
                        .offset(self.keep_last_runs)
                        .all()
                    )
            seen: set[str] = set()
            for job in doomed:
                if job.job_id in seen:
                    continue
                seen.add(job.job_id)
                try:
                    self._delete_run(job)
                    deleted += 1
                except Exception:
                    self.log.exception("Retention could not delete job %s", job.job_id)
        if deleted:
            self.log.info("Retention deleted %s finished job runs", deleted)
        return deleted


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` passes, then clear it.

    Not ``asyncio.wait_for``: on Python < 3.12 it can swallow a cancellation that arrives as the
    event fires, leaving the loop running after shutdown.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    event.clear()


def _check_timezone(name: str) -> None:
    import pytz

    try:
        pytz.timezone(name)
    except pytz.UnknownTimeZoneError as e:
        raise ScheduleError(f"Unknown time zone {name!r}; use an IANA name such as 'UTC'.") from e


class MaTaskRunner(TaskRunner):
    """Creates runs of scheduled definitions at their due time (sleeps until then, no 10 s poll).

    Understands the normalised schedules (seconds first) by handing croniter its own form.
    """

    def __init__(self, scheduler: Any, config: Any = None) -> None:
        super().__init__(scheduler=scheduler, config=config)
        self._changed: asyncio.Event | None = None

    def compute_next_run_time(self, schedule: str, timezone: str | None = None) -> int:
        """Next due time in epoch milliseconds."""
        return int(normalize_cron(schedule).next_times(1, timezone)[0] * 1000)

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def populate_cache(self) -> None:
        """Load scheduled definitions, skipping (and logging) any with a broken schedule."""
        with self.db_session() as session:
            ids = [
                d.job_definition_id
                for d in session.query(JobDefinition).filter(JobDefinition.schedule.isnot(None))
            ]
        for definition_id in ids:
            try:
                self.add_job_definition(definition_id)
            except Exception:
                self.log.exception("Job definition %s has an unusable schedule", definition_id)

    def add_job_definition(self, job_definition_id: str) -> None:
        """Queue a new scheduled definition and wake the runner."""
        super().add_job_definition(job_definition_id)
        self._poke()

    def update_job_definition(self, job_definition_id: str, model: UpdateJobDefinition) -> None:
        """Apply a changed schedule or pause/resume and wake the runner."""
        if self.cache.get(job_definition_id) is None:
            super().add_job_definition(job_definition_id)
        else:
            super().update_job_definition(job_definition_id, model)
        self._poke()

    def delete_job_definition(self, job_definition_id: str) -> None:
        """Forget a deleted definition."""
        super().delete_job_definition(job_definition_id)
        self._poke()

    async def start(self) -> None:
        """Fire due definitions, then sleep until the next due time or a change."""
        self._changed = asyncio.Event()
        if hasattr(self.scheduler, "ensure_dispatcher"):
            self.scheduler.ensure_dispatcher()
        self.populate_cache()
        while True:
            try:
                self.process_queue()
            except Exception:
                self.log.exception("Processing scheduled job definitions failed")
            wait = float(self.poll_interval)
            if not self.queue.isempty():
                due = self.queue.peek().next_run_time
                wait = min(wait, max(0.0, (due - get_utc_timestamp()) / 1000))
            await _wait_event(self._changed, wait)


class MaJobFilesManager(JobFilesManager):
    """Copies a job's files into the workspace: under the server's root_dir, whatever its cwd.

    Upstream passes a root-relative output folder to its downloader, which then writes relative
    to the server process's working directory.
    """

    async def copy_from_staging(self, job_id: str, redownload: bool | None = False) -> None:
        """Copy outputs (and packaged files) from staging into <root>/jobs/<name>-<id>/."""
        job = await ensure_async(self.scheduler.get_job(job_id, False))
        staging_paths = await ensure_async(self.scheduler.get_staging_paths(job))
        downloader = Downloader(
            output_formats=job.output_formats,
            output_filenames=self.scheduler.get_job_filenames(job),
            staging_paths=staging_paths,
            output_dir=self.scheduler.get_local_output_path(model=job),
            redownload=bool(redownload),
            include_staging_files=bool(job.package_input_folder),
        )
        await asyncio.get_running_loop().run_in_executor(None, downloader.download)
