"""Schedule punctuality: lateness of runs of a 1-second schedule, ours vs upstream's task runner.

Both runners drive the same scheduler database in this process with a no-op execution manager
(no kernels), so only scheduling is measured: lateness = when the run was created minus when it
was due. Upstream's TaskRunner polls every 10 s (its default), so its 20 runs take ~200 s.

Usage: .venv/bin/python benchmarks/scheduler_punctuality.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_scheduler.executors import ExecutionManager
from jupyter_scheduler.models import CreateJobDefinition
from jupyter_scheduler.orm import Job, create_tables
from jupyter_scheduler.scheduler import Scheduler
from nbformat import v4
from traitlets.config import Config

from ma_notebook.scheduler.environments import MaEnvironmentManager
from ma_notebook.scheduler.scheduler import MaScheduler


class NoopExecutionManager(ExecutionManager):
    """Marks the run completed without running a kernel."""

    def execute(self) -> None:
        """Nothing to run: only scheduling is measured."""

    def supported_features(cls) -> dict:  # type: ignore[override]
        """No optional features."""
        return {}

    def validate(cls, input_path: str) -> bool:  # type: ignore[override]
        """Any notebook (upstream calls this unbound, with the class as first argument)."""
        return True


def _due_after(ms: int) -> int:
    """The first whole second strictly after ``ms`` (a 1-second schedule's next due time)."""
    return (math.floor(ms / 1000) + 1) * 1000


async def measure(kind: str, runs: int, work: Path) -> list[float]:
    """Lateness in ms of ``runs`` runs of a 1-second schedule under the given runner."""
    root = work / kind
    root.mkdir()
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, str(root / "bench.ipynb"))
    db_url = f"sqlite:///{root / 'scheduler.sqlite'}"
    create_tables(db_url)
    config = Config()
    cls: type[Scheduler]
    if kind == "ours":
        cls = MaScheduler
        config.MaScheduler.execution_manager_class = NoopExecutionManager
        config.MaScheduler.max_concurrent_jobs = 4
        config.MaScheduler.staging_path = str(root / "staging")
    else:
        cls = Scheduler
        config.Scheduler.execution_manager_class = NoopExecutionManager
        config.Scheduler.task_runner_class = "jupyter_scheduler.task_runner.TaskRunner"
        config.Scheduler.staging_path = str(root / "staging")
    scheduler = cls(
        root_dir=str(root),
        environments_manager=MaEnvironmentManager(),
        db_url=db_url,
        config=config,
    )
    assert scheduler.task_runner is not None
    runner_task = asyncio.ensure_future(scheduler.task_runner.start())
    await asyncio.sleep(0.2)
    created_at = int(time.time() * 1000)
    definition_id = scheduler.create_job_definition(
        CreateJobDefinition(
            input_uri="bench.ipynb",
            runtime_environment_name="python3",
            name=f"bench-{kind}",
            schedule="* * * * * *",
            output_formats=[],
        )
    )
    times: list[int] = []
    deadline = time.monotonic() + runs * 12 + 30
    while len(times) < runs and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        with scheduler.db_session() as session:
            times = sorted(
                t
                for (t,) in session.query(Job.create_time).filter(
                    Job.job_definition_id == definition_id
                )
            )
    runner_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner_task
    if isinstance(scheduler, MaScheduler):
        await scheduler.shutdown()
    for child in multiprocessing.active_children():  # runs started just before the stop
        child.join(30)
    scheduler.delete_job_definition(definition_id)
    lateness = []
    previous = created_at
    for t in times[:runs]:
        lateness.append(float(t - _due_after(previous)))
        previous = t
    return lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ma-bench-sched-") as tmp:
        work = Path(tmp)
        ours = asyncio.run(measure("ours", args.runs, work))
        print(f"ours:     {len(ours)} runs measured", file=sys.stderr)
        upstream = asyncio.run(measure("upstream", args.runs, work))
        print(f"upstream: {len(upstream)} runs measured", file=sys.stderr)
    print(f"Lateness of {args.runs} runs of a 1-second schedule (ms), same machine, same run:")
    print(f"{'runner':<34}{'median':>10}{'max':>10}")
    if not ours or not upstream:
        sys.exit(f"No runs measured (ours {len(ours)}, upstream {len(upstream)}).")
    for name, values in (
        ("ma-notebook MaTaskRunner", ours),
        ("jupyter-scheduler TaskRunner (10 s)", upstream),
    ):
        print(f"{name:<34}{statistics.median(values):>10.0f}{max(values):>10.0f}")
    ratio = statistics.median(upstream) / max(statistics.median(ours), 1.0)
    print(f"median lateness ratio upstream/ours: {ratio:.0f}x")


if __name__ == "__main__":
    main()
