"""The task manager: runs coroutines as tasks with an id, progress, cancel and a result.

Every task is recorded in SQLite (``tasks.sqlite3`` in the data dir, next to the event log), so a
server restart loses none: a task that was queued or running when the server died comes back as
``interrupted``. A capability registers, per task kind, how to resume such a task (work that
continues from what is already done) and how to discard it (remove its leftovers).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

TERMINAL_STATES = ("succeeded", "failed", "cancelled")
#: A task the server was running when it stopped without finishing it (crash, kill -9).
INTERRUPTED = "interrupted"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    phase TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER,
    message TEXT NOT NULL DEFAULT '',
    result TEXT,
    error TEXT,
    error_reason TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    resume TEXT NOT NULL DEFAULT '{}'
);
"""
#: The task whose work is running in this context (set by TaskManager for its work).
CURRENT_TASK: contextvars.ContextVar[Task | None] = contextvars.ContextVar(
    "ma_notebook_task", default=None
)


def suspending() -> bool:
    """Whether the current task is being stopped to be resumed later (keep its leftovers)."""
    task = CURRENT_TASK.get()
    return bool(task is not None and task.suspended)


_COLUMNS = (
    "id, kind, title, state, created, started, finished, phase, done, total, message, "
    "result, error, error_reason, meta, resume"
)
_INSERT = f"INSERT OR REPLACE INTO tasks ({_COLUMNS}) VALUES ({','.join('?' * 16)})"  # noqa: S608
_SELECT = f"SELECT {_COLUMNS} FROM tasks ORDER BY created"  # noqa: S608


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
    #: What the task's kind needs to resume or discard it after a restart (never in the API).
    resume: dict[str, Any] = field(default_factory=dict)
    #: Whether an interrupted task can be resumed (its kind registered a resumer).
    resumable: bool = False
    #: Set when the server stops a resumable task: its work keeps what resuming needs.
    suspended: bool = False
    _rate_mark: tuple[float, int] = (0.0, 0)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _future: asyncio.Future[Any] | None = None
    _on_change: Callable[[Task], None] | None = None

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
        if self._on_change is not None:
            self._on_change(self)

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
            "resumable": self.resumable and self.state == INTERRUPTED,
        }


TaskWork = Callable[[Task], Awaitable[Any]]
#: Given an interrupted task, the work that continues it (raise TaskError when it cannot).
Resumer = Callable[[Task], TaskWork]
#: Removes what an interrupted task left behind (temp files, multipart uploads, objects).
Discarder = Callable[[Task], Awaitable[None]]


@dataclass
class _Kind:
    resume: Resumer | None
    discard: Discarder | None


class TaskStore:
    """The SQLite table of tasks (one row per task, JSON columns for meta, result, resume)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def save(self, task: Task) -> None:
        """Insert or update one task."""
        row = (
            task.id,
            task.kind,
            task.title,
            task.state,
            task.created,
            task.started,
            task.finished,
            task.phase,
            task.done,
            task.total,
            task.message,
            json.dumps(task.result, default=str),
            task.error,
            task.error_reason,
            json.dumps(task.meta, default=str),
            json.dumps(task.resume, default=str),
        )
        with self._lock:
            self._db.execute(_INSERT, row)

    def delete(self, task_ids: list[str]) -> None:
        """Forget these tasks."""
        with self._lock:
            self._db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in task_ids])

    def load(self) -> list[Task]:
        """Every recorded task, oldest first."""
        with self._lock:
            rows = self._db.execute(_SELECT).fetchall()
        tasks = []
        for r in rows:
            with contextlib.suppress(ValueError, TypeError):
                tasks.append(
                    Task(
                        id=r[0],
                        kind=r[1],
                        title=r[2],
                        state=r[3],
                        created=r[4],
                        started=r[5],
                        finished=r[6],
                        phase=r[7],
                        done=r[8],
                        total=r[9],
                        message=r[10],
                        result=json.loads(r[11]) if r[11] else None,
                        error=r[12],
                        error_reason=r[13],
                        meta=json.loads(r[14] or "{}"),
                        resume=json.loads(r[15] or "{}"),
                    )
                )
        return tasks

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


class TaskManager(LoggingConfigurable):
    """Runs work as tasks that the UI can list, watch (long-poll), cancel, resume and discard."""

    keep_finished = Integer(
        200, config=True, help="How many finished tasks to remember for the UI. Default: 200."
    )
    keep_seconds = Float(
        24 * 3600.0,
        config=True,
        help="How long (seconds) a finished task stays listed. Default: 86400 (one day).",
    )
    resume_seconds = Float(
        7 * 24 * 3600.0,
        config=True,
        help=(
            "How long (seconds) an interrupted task can be resumed; older ones are discarded "
            "(their leftovers removed) at server start. Default: 604800 (7 days)."
        ),
    )
    save_interval = Float(
        1.0,
        config=True,
        help="Most often (seconds) a running task's progress is written to disk. Default: 1.",
    )

    def __init__(self, db_path: Path | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tasks: dict[str, Task] = {}
        self._listeners: list[Callable[[Task], None]] = []
        self._kinds: dict[str, _Kind] = {}
        self._saved: dict[str, tuple[float, str]] = {}
        self._store = TaskStore(Path(db_path)) if db_path else None
        if self._store is not None:
            self._load()

    # -- persistence
    def _load(self) -> None:
        assert self._store is not None
        now = time.time()
        for task in self._store.load():
            if task.state not in (*TERMINAL_STATES, INTERRUPTED):
                task.state = INTERRUPTED
                task.rate = 0.0
                task.message = "Interrupted: the server stopped before this finished."
                task.finished = now
                self._store.save(task)
            task._on_change = self._changed
            self._tasks[task.id] = task

    def _changed(self, task: Task) -> None:
        """Write a task when its state or phase changes, and its progress now and then."""
        if self._store is None:
            return
        now = time.monotonic()
        last, state = self._saved.get(task.id, (0.0, ""))
        key = f"{task.state}/{task.phase}"
        if key == state and now - last < self.save_interval:
            return
        self._saved[task.id] = (now, key)
        try:
            self._store.save(task)
        except sqlite3.Error:
            self.log.exception("Recording task %s failed", task.id)

    def close(self) -> None:
        """Close the task database."""
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- kinds
    def register(
        self, kind: str, *, resume: Resumer | None = None, discard: Discarder | None = None
    ) -> None:
        """Say how an interrupted task of ``kind`` is resumed and how its leftovers go."""
        self._kinds[kind] = _Kind(resume, discard)
        for task in self.interrupted(kind):
            task.resumable = resume is not None

    def resumable(self, task: Task) -> bool:
        """Whether an interrupted task's kind knows how to resume it."""
        kind = self._kinds.get(task.kind)
        return task.state == INTERRUPTED and kind is not None and kind.resume is not None

    def interrupted(self, kind: str | None = None) -> list[Task]:
        """Interrupted tasks (of one kind), oldest first."""
        tasks = [t for t in self._tasks.values() if t.state == INTERRUPTED]
        return sorted((t for t in tasks if kind is None or t.kind == kind), key=lambda t: t.created)

    # -- running
    def on_finished(self, callback: Callable[[Task], None]) -> None:
        """Call ``callback(task)`` whenever a task reaches a terminal state."""
        self._listeners.append(callback)

    def submit(
        self,
        kind: str,
        title: str,
        work: TaskWork,
        *,
        meta: dict[str, Any] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> Task:
        """Start ``work(task)`` in the background and return its task at once.

        ``resume`` is what the kind's resumer and discarder need after a restart (JSON, never
        shown by the API; never put secrets in it).
        """
        self._prune()
        task = Task(
            id=uuid.uuid4().hex,
            kind=kind,
            title=title,
            meta=dict(meta or {}),
            resume=dict(resume or {}),
        )
        task._on_change = self._changed
        self._tasks[task.id] = task
        self._changed(task)
        task._future = asyncio.ensure_future(self._run(task, work))
        return task

    def resume(self, task_id: str) -> Task | None:
        """Continue an interrupted task under its id; TaskError(409) when it cannot be."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        if task.state != INTERRUPTED:
            raise TaskError(
                f"The task is {task.state}, not interrupted: there is nothing to resume.",
                status=409,
                reason="not_interrupted",
            )
        kind = self._kinds.get(task.kind)
        if kind is None or kind.resume is None:
            raise TaskError(
                "This kind of task cannot be resumed; discard it and start it again.",
                status=409,
                reason="not_resumable",
            )
        work = kind.resume(task)
        task.state = "queued"
        task.finished = None
        task.error = task.error_reason = None
        task.message = "Resuming."
        task._notify()
        task._future = asyncio.ensure_future(self._run(task, work))
        return task

    async def discard(self, task_id: str) -> Task | None:
        """Drop an interrupted task and what it left behind; it ends as cancelled."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        if task.state != INTERRUPTED:
            raise TaskError(
                f"The task is {task.state}, not interrupted; cancel it instead.",
                status=409,
                reason="not_interrupted",
            )
        kind = self._kinds.get(task.kind)
        if kind is not None and kind.discard is not None:
            try:
                await kind.discard(task)
            except Exception:
                self.log.exception("Discarding task %s (%s) failed", task.id, task.kind)
        task.state = "cancelled"
        task.message = "Discarded."
        task.finished = time.time()
        task._notify()
        return task

    async def sweep(self) -> None:
        """Discard interrupted tasks older than ``resume_seconds`` (server start)."""
        now = time.time()
        for task in self.interrupted():
            if now - task.created > self.resume_seconds:
                await self.discard(task.id)

    async def _run(self, task: Task, work: TaskWork) -> None:
        CURRENT_TASK.set(task)
        task.state = "running"
        task.started = task.started or time.time()
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
        if task is None or task.is_finished or task.state == INTERRUPTED:
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
        """Stop every unfinished task (server shutdown): resumable ones come back interrupted."""
        running = [t for t in self._tasks.values() if t._future and not t.is_finished]
        for task in running:
            kind = self._kinds.get(task.kind)
            if kind is not None and kind.resume is not None:
                # keep its leftovers; it comes back interrupted at the next start
                task.suspended = True
                if self._store is not None:
                    self._store.save(task)
                task._on_change = None
            assert task._future is not None
            task._future.cancel()
        if running:
            await asyncio.gather(*(t._future for t in running if t._future), return_exceptions=True)

    def _prune(self) -> None:
        now = time.time()
        finished = [t for t in self._tasks.values() if t.is_finished]
        finished.sort(key=lambda t: t.finished or 0)
        excess = len(finished) - self.keep_finished
        gone = []
        for i, t in enumerate(finished):
            if i < excess or now - (t.finished or now) > self.keep_seconds:
                self._tasks.pop(t.id, None)
                self._saved.pop(t.id, None)
                gone.append(t.id)
        if gone and self._store is not None:
            self._store.delete(gone)
