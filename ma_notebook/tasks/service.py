"""The task manager: runs coroutines as tasks with an id, progress, cancel and a result."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

TERMINAL_STATES = ("succeeded", "failed", "cancelled")


class TaskError(Exception):
    """A failure whose message is meant for the user (no traceback is shown)."""

    def __init__(self, message: str, *, status: int = 400, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class TaskCancelled(Exception):
    """Raised inside a task's work when the user cancelled it."""


@dataclass
class Task:
    """One unit of long work and what is known about its progress."""

    id: str
    kind: str
    title: str
    state: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    phase: str = ""
    done: int = 0
    total: int | None = None
    rate: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    error_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _rate_mark: tuple[float, int] = (0.0, 0)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _future: asyncio.Future[Any] | None = None

    @property
    def percent(self) -> float | None:
        """Progress in percent when the total is known."""
        if self.state == "succeeded":
            return 100.0
        if not self.total:
            return None
        return min(100.0, 100.0 * self.done / self.total)

    @property
    def is_finished(self) -> bool:
        """Whether the task has reached a terminal state."""
        return self.state in TERMINAL_STATES

    def update(
        self,
        *,
        phase: str | None = None,
        done: int | None = None,
        total: int | None = None,
        message: str | None = None,
    ) -> None:
        """Report progress; the transfer rate is derived from successive ``done`` values."""
        if self.state in ("cancelling",):
            raise TaskCancelled()
        if phase is not None and phase != self.phase:
            self.phase = phase
            self._rate_mark = (time.monotonic(), done or 0)
        if total is not None:
            self.total = total
        if done is not None:
            now = time.monotonic()
            mark_t, mark_done = self._rate_mark
            if mark_t == 0.0:
                self._rate_mark = (now, done)
            elif now - mark_t >= 0.5:
                self.rate = max(0.0, (done - mark_done) / (now - mark_t))
                self._rate_mark = (now, done)
            self.done = done
        if message is not None:
            self.message = message
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def to_json(self) -> dict[str, Any]:
        """The task as the REST API returns it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "rate": self.rate,
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "error_reason": self.error_reason,
            "meta": self.meta,
        }


TaskWork = Callable[[Task], Awaitable[Any]]


class TaskManager(LoggingConfigurable):
    """Runs work as tasks that the UI can list, watch (long-poll) and cancel."""

    keep_finished = Integer(
        200, config=True, help="How many finished tasks to remember for the UI. Default: 200."
    )
    keep_seconds = Float(
        24 * 3600.0,
        config=True,
        help="How long (seconds) a finished task stays listed. Default: 86400 (one day).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tasks: dict[str, Task] = {}
        self._listeners: list[Callable[[Task], None]] = []

    def on_finished(self, callback: Callable[[Task], None]) -> None:
        """Call ``callback(task)`` whenever a task reaches a terminal state."""
        self._listeners.append(callback)

    def submit(
        self, kind: str, title: str, work: TaskWork, *, meta: dict[str, Any] | None = None
    ) -> Task:
        """Start ``work(task)`` in the background and return its task at once."""
        self._prune()
        task = Task(id=uuid.uuid4().hex, kind=kind, title=title, meta=dict(meta or {}))
        self._tasks[task.id] = task
        task._future = asyncio.ensure_future(self._run(task, work))
        return task

    async def _run(self, task: Task, work: TaskWork) -> None:
        task.state = "running"
        task.started = time.time()
        task._notify()
        try:
            task.result = await work(task)
            task.state = "succeeded"
        except (asyncio.CancelledError, TaskCancelled):
            task.state = "cancelled"
            task.message = "Cancelled."
        except TaskError as e:
            task.state = "failed"
            task.error = e.message
            task.error_reason = e.reason
        except Exception as e:
            self.log.exception("Task %s (%s) failed", task.id, task.kind)
            task.state = "failed"
            task.error = f"{type(e).__name__}: {e}"
        finally:
            task.finished = time.time()
            task._notify()
            for callback in self._listeners:
                try:
                    callback(task)
                except Exception:
                    self.log.exception("Task listener failed for %s", task.id)

    def get(self, task_id: str) -> Task | None:
        """The task with this id, if known."""
        return self._tasks.get(task_id)

    def list(self, kind: str | None = None) -> list[Task]:
        """Known tasks, newest first, optionally of one kind."""
        tasks = [t for t in self._tasks.values() if kind is None or t.kind == kind]
        return sorted(tasks, key=lambda t: t.created, reverse=True)

    def cancel(self, task_id: str) -> Task | None:
        """Ask a running task to stop; its work is cancelled and cleans up after itself."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        if not task.is_finished and task._future is not None:
            task._future.cancel()
        return task

    async def wait(self, task_id: str, timeout: float | None = None) -> Task | None:
        """Wait until the task changes or finishes (or ``timeout`` passes) and return it."""
        task = self._tasks.get(task_id)
        if task is None or task.is_finished:
            return task
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task._changed.wait(), timeout)
        return task

    async def join(self, task_id: str, timeout: float | None = None) -> Task | None:
        """Wait until the task has finished."""
        task = self._tasks.get(task_id)
        if task is None or task._future is None:
            return task
        await asyncio.wait_for(asyncio.shield(task._future), timeout)
        return task

    async def stop(self) -> None:
        """Cancel every unfinished task (server shutdown)."""
        futures = [t._future for t in self._tasks.values() if t._future and not t.is_finished]
        for fut in futures:
            fut.cancel()
        if futures:
            await asyncio.gather(*futures, return_exceptions=True)

    def _prune(self) -> None:
        now = time.time()
        finished = [t for t in self._tasks.values() if t.is_finished]
        finished.sort(key=lambda t: t.finished or 0)
        excess = len(finished) - self.keep_finished
        for i, t in enumerate(finished):
            if i < excess or now - (t.finished or now) > self.keep_seconds:
                self._tasks.pop(t.id, None)
