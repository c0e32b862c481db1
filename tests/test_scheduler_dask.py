"""Notebook jobs on a Dask cluster: the same outputs as local runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fixtures_scheduler import SchedulerServer


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    yield cluster
    cluster.close()


def test_dask_cluster_runs_a_job_end_to_end(scheduler_server_factory: Any, dask_cluster: Any):
    server: SchedulerServer = scheduler_server_factory(
        [f"--MaScheduler.dask_scheduler_address={dask_cluster.scheduler_address}"]
    )
    _status, info = server.request("ma-notebook/api/scheduler/status")
    assert info["backend"] == "dask"
    job_id = server.create_job(
        input_uri="report.ipynb",
        runtime_environment_name="env-beta",
        parameters={"count": "7", "name": "dask"},
    )
    job = server.wait_job(job_id, timeout=120)
    assert job["status"] == "COMPLETED", job
    files = server.outputs(job_id)
    outputs = "".join(
        "".join(o.get("text", ""))
        for c in json.loads(files["ipynb"])["cells"]
        for o in c.get("outputs", [])
    )
    assert "PARAMS int 7 str dask" in outputs
    assert "ENV beta" in outputs
    assert "PARAMS int 7 str dask" in files["html"]
    # The kernel was started by the cluster's worker process, not by the server.
    from distributed import Client

    with Client(dask_cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
    ppid = int(outputs.split("PPID ")[1].split()[0])
    assert ppid in worker_pids
