"""The task manager's record: tasks come back after a restart, interrupted, and resume or go."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ma_notebook.tasks import INTERRUPTED, Task, TaskError, TaskManager


def test_unfinished_tasks_come_back_interrupted_and_resume_under_their_id(tmp_path: Path):
    db = tmp_path / "tasks.sqlite3"
    release = asyncio.Event()

    async def first_server() -> tuple[str, str]:
        tasks = TaskManager(db)

        async def slow(task: Task) -> str:
            task.update(phase="copying", done=10, total=100)
            await release.wait()
            return "never"

        async def quick(task: Task) -> str:
            return "done"

        running = tasks.submit("copy", "Copy it", slow, meta={"name": "a"}, resume={"n": 1})
        finished = tasks.submit("copy", "Copy that", quick)
        await tasks.join(finished.id)
        await asyncio.sleep(0.05)
        tasks.close()  # a crash: the running task never finished
        return running.id, finished.id

    running_id, finished_id = asyncio.run(first_server())

    async def second_server() -> None:
        tasks = TaskManager(db)
        again = tasks.get(running_id)
        assert again is not None and again.state == INTERRUPTED
        assert again.resume == {"n": 1} and again.meta == {"name": "a"}
        assert again.to_json()["resumable"] is False  # nothing registered for "copy" yet
        assert "resume" not in again.to_json()  # what resuming needs is never shown
        assert tasks.get(finished_id).state == "succeeded"  # type: ignore[union-attr]
        with pytest.raises(TaskError, match="cannot be resumed"):
            tasks.resume(running_id)

        def resume(task: Task):  # type: ignore[no-untyped-def]
            async def work(t: Task) -> str:
                return f"resumed from {t.done} with {t.resume['n']}"

            return work

        tasks.register("copy", resume=resume)
        assert again.to_json()["resumable"] is True
        tasks.resume(running_id)
        await tasks.join(running_id)
        assert again.state == "succeeded" and again.result == "resumed from 10 with 1"
        with pytest.raises(TaskError, match="not interrupted"):
            tasks.resume(running_id)
        tasks.close()
        assert TaskManager(db).get(running_id).state == "succeeded"  # type: ignore[union-attr]

    asyncio.run(second_server())


def test_discard_runs_the_kinds_cleanup_and_ends_cancelled(tmp_path: Path):
    db = tmp_path / "tasks.sqlite3"
    leftover = tmp_path / ".x.ma-upload-0123456789ab"
    leftover.write_bytes(b"partial")

    async def run() -> None:
        store = TaskManager(db)
        store._store.save(Task(id="a" * 32, kind="pull", title="Pull", state="running"))  # type: ignore[union-attr]
        store.close()
        tasks = TaskManager(db)

        async def discard(task: Task) -> None:
            leftover.unlink()

        tasks.register("pull", discard=discard)
        task = await tasks.discard("a" * 32)
        assert task is not None and task.state == "cancelled" and task.message == "Discarded."
        assert not leftover.exists()
        tasks.close()
        assert TaskManager(db).get("a" * 32).state == "cancelled"  # type: ignore[union-attr]

    asyncio.run(run())


def test_a_graceful_stop_keeps_resumable_work_for_the_next_start(tmp_path: Path):
    db = tmp_path / "tasks.sqlite3"
    kept: list[bool] = []

    async def run() -> str:
        from ma_notebook.tasks import suspending

        tasks = TaskManager(db)
        tasks.register("pull", resume=lambda t: None)  # type: ignore[arg-type,return-value]

        async def work(task: Task) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                kept.append(suspending())  # the work keeps its partial state
                raise

        task = tasks.submit("pull", "Pull", work)
        await asyncio.sleep(0.05)
        await tasks.stop()
        tasks.close()
        return task.id

    task_id = asyncio.run(run())
    assert kept == [True]
    assert TaskManager(db).get(task_id).state == INTERRUPTED  # type: ignore[union-attr]
