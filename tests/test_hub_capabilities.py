"""More capabilities behind JupyterHub's proxy: Git clone, jobs, the monitor, Events, Save Image.

All of it through ``/user/<name>/`` with the user's hub token, against the servers the session's
``hub_deployment`` spawned (DockerSpawner, host network: the containers reach the loopback git
server and registry).
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from fixtures_git import GitHTTPServer
from fixtures_hub import HubDeployment

pytestmark = pytest.mark.timeout(600)

API = "/user/alice/ma-notebook/api"


def wait_task(hub: HubDeployment, task: Any, timeout: float = 300) -> dict:
    """Follow a task through the hub (long polls) until it ends."""
    assert isinstance(task, dict) and task.get("id"), task
    deadline = time.monotonic() + timeout
    while task["state"] not in ("succeeded", "failed", "cancelled", "interrupted"):
        assert time.monotonic() < deadline, task
        status, task = hub.request(
            f"{API}/tasks/{task['id']}?wait=10", token=hub.tokens["alice"], timeout=60
        )
        assert status == 200 and isinstance(task, dict), (status, task)
    return task


def test_git_clone_through_the_hub_lands_in_the_users_workspace(
    hub_deployment: HubDeployment, git_server: GitHTTPServer
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    url = f"{git_server.url}/public/sample.git"
    status, branches = hub.request(
        f"{API}/git/branches", token=token, method="POST", body={"url": url}
    )
    assert status == 200 and isinstance(branches, dict), (status, branches)
    status, task = hub.request(
        f"{API}/git/clone",
        token=token,
        method="POST",
        body={"url": url, "branch": "dev", "name": "hub-clone"},
    )
    assert status == 202, (status, task)
    task = wait_task(hub, task)
    assert task["state"] == "succeeded", task
    status, model = hub.request("/user/alice/api/contents/hub-clone?content=1", token=token)
    assert status == 200 and isinstance(model, dict), (status, model)
    names = {item["name"] for item in model["content"]}
    assert {"README.md", "dev-notes.txt", "src", "data"} <= names, names
    # The clone is alice's alone.
    status, _ = hub.request("/user/bob/api/contents/hub-clone", token=hub.tokens["bob"])
    assert status == 404


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "params",
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": "n = 1",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "work",
            "metadata": {},
            "outputs": [],
            "source": "print('HUB JOB', n * 7)",
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_a_notebook_job_runs_behind_the_hub_and_its_output_is_downloaded(
    hub_deployment: HubDeployment,
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    status, _ = hub.request(
        "/user/alice/api/contents/hub-job.ipynb",
        token=token,
        method="PUT",
        body={"type": "notebook", "format": "json", "content": NOTEBOOK},
    )
    assert status in (200, 201), status
    status, created = hub.request(
        "/user/alice/scheduler/jobs",
        token=token,
        method="POST",
        body={
            "name": "hub job",
            "input_uri": "hub-job.ipynb",
            "runtime_environment_name": "python3",
            "output_formats": ["ipynb"],
            "parameters": {"n": "6"},
        },
    )
    assert status == 200 and isinstance(created, dict), (status, created)
    job_url = f"/user/alice/scheduler/jobs/{created['job_id']}"
    deadline = time.monotonic() + 180
    while True:
        status, job = hub.request(job_url, token=token)
        assert status == 200 and isinstance(job, dict), (status, job)
        if job["status"] in ("COMPLETED", "FAILED", "STOPPED"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["status"] == "COMPLETED", job
    status, _ = hub.request(f"{job_url}/download_files", token=token)
    assert status == 204
    deadline = time.monotonic() + 60
    while not job["downloaded"]:
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
        job = hub.request(job_url, token=token)[1]
    (path,) = [f["file_path"] for f in job["job_files"] if f["file_format"] == "ipynb"]
    status, model = hub.request(f"/user/alice/api/contents/{path}?content=1", token=token)
    assert status == 200 and isinstance(model, dict), (status, model)
    assert "HUB JOB 42" in json.dumps(model["content"])  # the job's parameter beat the cell's


def test_the_monitor_behind_the_hub_reports_the_spawners_limits_and_events_are_listed(
    hub_deployment: HubDeployment,
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    status, snapshot = hub.request(f"{API}/monitor", token=token)
    assert status == 200 and isinstance(snapshot, dict), (status, snapshot)
    latest = snapshot["latest"]
    # DockerSpawner's mem_limit=1G and cpu_limit=1 (fixtures_hub), read from the container's cgroup.
    assert latest["memory_limit"] == 1 << 30, latest
    assert latest["cpu_limit"] == 1, latest
    assert "cgroup" in snapshot["source"], snapshot["source"]
    assert 0 < latest["memory_used"] < latest["memory_limit"]
    assert snapshot["lease"]["stop_action"] == "ask JupyterHub to stop this server"
    # Events: what happened in this server (its start at least) is listed through the hub, and
    # bob's list is his own.
    status, events = hub.request(f"{API}/events", token=token)
    assert status == 200 and isinstance(events, dict), (status, events)
    assert "NotebookHealthy" in {e["type"] for e in events["events"]}, events
    status, _ = hub.request(f"{API}/events", token=hub.tokens["bob"])
    assert status in (403, 404)


def test_save_image_behind_the_hub_pushes_an_image_that_runs_with_the_users_change(
    hub_deployment: HubDeployment, docker_registry: str
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    container = f"{hub.prefix}-alice"
    marker = "saved-behind-the-hub"
    out = subprocess.run(
        ["docker", "exec", container, "sh", "-c", f"echo {marker} > /home/ma-user/hub-installed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    status, check = hub.request(f"{API}/images/save", token=token)
    assert status == 200 and isinstance(check, dict) and check["available"], (status, check)
    status, task = hub.request(
        f"{API}/images/save",
        token=token,
        method="POST",
        body={"organization": "team", "name": "alice-env", "tag": "1"},
    )
    assert status in (200, 201, 202), (status, task)
    task = wait_task(hub, task)
    assert task["state"] == "succeeded", task
    # The hub image's own baseline: only the user's layer and the config were uploaded.
    assert task["result"]["reused"]["uploaded"] == 2, task["result"]
    saved = f"{docker_registry}/team/alice-env:1"
    try:
        for args in (["pull", saved], ["run", "--rm", "--entrypoint", "cat", saved,
                                       "/home/ma-user/hub-installed"]):  # fmt: skip
            out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == marker
    finally:
        subprocess.run(["docker", "rmi", "-f", saved], capture_output=True, check=False)
