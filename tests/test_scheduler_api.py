"""Scheduled notebook jobs through jupyter-scheduler's REST API (and ours) on a real server."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from typing import Any

import psutil
import pytest
from fixtures_scheduler import SchedulerServer, WebhookReceiver


@pytest.fixture(scope="module")
def server(scheduler_server_factory: Any, webhook: WebhookReceiver) -> SchedulerServer:
    return scheduler_server_factory(
        [
            "--MaScheduler.max_concurrent_jobs=1",
            "--MaScheduler.keep_last_runs=2",
            "--MaScheduler.retention_interval=1",
            f"--SchedulerService.failure_webhook_url={webhook.url}",
        ]
    )


def _cell_text(nb_json: str) -> str:
    nb = json.loads(nb_json)
    texts = []
    for cell in nb["cells"]:
        texts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")))
    return "\n".join(texts)


def test_environments_list_every_kernelspec_by_display_name(server: SchedulerServer) -> None:
    status, envs = server.request("scheduler/runtime_environments")
    assert status == 200
    shown = {e["name"]: e["display_name"] for e in envs}
    assert shown["env-alpha"] == "Env Alpha"
    assert shown["env-beta"] == "Env Beta"
    assert "python3" in shown
    assert "Env Alpha" in {e["name"]: e["description"] for e in envs}["env-alpha"]
    status, config = server.request("scheduler/config")
    assert config["supported_features"]["timeout_seconds"] is True


def test_job_with_parameters_writes_typed_values_into_ipynb_and_html(
    server: SchedulerServer,
) -> None:
    job_id = server.create_job(
        input_uri="report.ipynb",
        runtime_environment_name="env-alpha",
        parameters={"count": "3", "name": "hello"},
    )
    job = server.wait_job(job_id)
    assert job["status"] == "COMPLETED", job
    files = server.outputs(job_id)
    text = _cell_text(files["ipynb"])
    assert "count = 3\nname = 'hello'" in text  # the injected cell
    assert "PARAMS int 3 str hello" in text
    assert "ENV alpha" in text
    assert "PARAMS int 3 str hello" in files["html"]
    # The output notebook records the kernel the job really ran with.
    assert json.loads(files["ipynb"])["metadata"]["kernelspec"]["name"] == "env-alpha"


def test_choosing_the_other_kernelspec_changes_what_the_notebook_reports(
    server: SchedulerServer,
) -> None:
    job_id = server.create_job(input_uri="report.ipynb", runtime_environment_name="env-beta")
    assert server.wait_job(job_id)["status"] == "COMPLETED"
    text = _cell_text(server.outputs(job_id)["ipynb"])
    assert "ENV beta" in text
    assert "PARAMS int 1 str default" in text


def test_unknown_environment_is_400_naming_the_choices(server: SchedulerServer) -> None:
    status, data = server.request(
        "scheduler/jobs",
        "POST",
        {"name": "x", "input_uri": "report.ipynb", "runtime_environment_name": "nope"},
    )
    assert status == 400
    assert "env-alpha" in data["message"]
    status, data = server.request(
        "scheduler/jobs",
        "POST",
        {"name": "x", "input_uri": "missing.ipynb", "runtime_environment_name": "env-alpha"},
    )
    assert status == 400
    assert "missing.ipynb" in data["message"]
    status, data = server.request("scheduler/jobs/0000-1111-2222")
    assert status == 404


def test_job_over_its_timeout_fails_naming_the_cell_with_event_and_webhook(
    server: SchedulerServer, webhook: WebhookReceiver
) -> None:
    job_id = server.create_job(
        input_uri="slow.ipynb", runtime_environment_name="env-alpha", timeout_seconds=3
    )
    job = server.wait_job(job_id, timeout=60)
    assert job["status"] == "FAILED"
    assert "Timed out after 3 s in cell 2" in job["status_message"]
    assert "time.sleep(120)" in job["status_message"]
    assert job["end_time"] >= job["start_time"] + 2500
    deadline = time.monotonic() + 10
    while not (
        events := [
            e for e in server.events("ScheduledJobFailed") if e["details"]["job_id"] == job_id
        ]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(events) == 1 and events[0]["severity"] == "Critical"
    assert "Timed out" in events[0]["message"]
    while not any(p["job_id"] == job_id for p in webhook.received):
        assert time.monotonic() < deadline, webhook.received
        time.sleep(0.1)
    payload = next(p for p in webhook.received if p["job_id"] == job_id)
    assert payload["event"] == "ScheduledJobFailed" and "Timed out" in payload["status_message"]


def _job_process(server: SchedulerServer) -> tuple[psutil.Process, list[psutil.Process]]:
    """The running job's process and, once it started, its kernel."""
    assert server.lab.proc is not None
    parent = psutil.Process(server.lab.proc.pid)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in parent.children():
            if "spawn_main" in " ".join(child.cmdline()):
                kernels = child.children(recursive=True)
                if kernels:
                    return child, kernels
        time.sleep(0.1)
    raise AssertionError("no job process with a kernel found")


def test_second_job_waits_queued_while_one_runs_with_concurrency_1(
    server: SchedulerServer,
) -> None:
    first = server.create_job(input_uri="slow.ipynb", runtime_environment_name="env-alpha")
    server.wait_job(first, ("IN_PROGRESS",))
    second = server.create_job(input_uri="quick.ipynb", runtime_environment_name="env-alpha")
    time.sleep(1.0)
    assert server.job(second)["status"] == "QUEUED"
    assert server.job(first)["status"] == "IN_PROGRESS"
    status, info = server.request("ma-notebook/api/scheduler/status")
    assert info["running"] == 1 and info["queued"] == 1

    # Stopping the first job (kernel included) lets the second one run.
    _proc, kernels = _job_process(server)
    status, _ = server.request(f"scheduler/jobs/{first}", "PATCH", {"status": "STOPPED"})
    assert status == 204
    assert server.wait_job(first)["status"] == "STOPPED"
    assert server.wait_job(second)["status"] == "COMPLETED"
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kernels)


def test_job_whose_process_died_is_failed_not_left_in_progress(server: SchedulerServer) -> None:
    job_id = server.create_job(input_uri="slow.ipynb", runtime_environment_name="env-alpha")
    server.wait_job(job_id, ("IN_PROGRESS",))
    proc, kernels = _job_process(server)
    proc.kill()
    job = server.wait_job(job_id, timeout=20)
    assert job["status"] == "FAILED"
    assert "exited unexpectedly" in job["status_message"]
    for kernel in kernels:
        kernel.kill()


def test_quartz_schedule_is_normalised_and_runs_every_two_seconds(
    server: SchedulerServer,
) -> None:
    status, data = server.request(
        "scheduler/job_definitions",
        "POST",
        {
            "name": "every 2 s",
            "input_uri": "quick.ipynb",
            "runtime_environment_name": "env-alpha",
            "output_formats": ["ipynb"],
            "schedule": "0/2 * * * * ?",
            "timezone": "UTC",
        },
    )
    assert status == 200, data
    definition_id = data["job_definition_id"]
    assert data["schedule"] == "0/2 * * * * *"
    status, definition = server.request(f"scheduler/job_definitions/{definition_id}")
    assert definition["schedule"] == "0/2 * * * * *"

    deadline = time.monotonic() + 30
    runs: list[dict[str, Any]] = []
    while len(runs) < 4:
        assert time.monotonic() < deadline, runs
        time.sleep(0.3)
        status, data = server.request(f"scheduler/jobs?job_definition_id={definition_id}")
        runs = sorted(data["jobs"], key=lambda j: j["create_time"])
    status, _ = server.request(
        f"scheduler/job_definitions/{definition_id}", "PATCH", {"active": False}
    )
    assert status == 204
    created = [j["create_time"] for j in runs[:4]]
    gaps = [b - a for a, b in itertools.pairwise(created)]
    # Every 2 s, not every second or minute (punctuality itself is benchmarks/
    # scheduler_punctuality.py's: a loaded runner may start one run late, so one gap is short).
    assert all(1000 <= g <= 3000 for g in gaps) and 1700 <= statistics.median(gaps) <= 2300, gaps
    # Each run was created at most 1.5 s after its due time (an even second), never before.
    assert all(t % 2000 < 1500 for t in created), created

    # Retention (keep_last_runs=2) trims the finished runs of the definition.
    deadline = time.monotonic() + 30
    while True:
        status, data = server.request(f"scheduler/jobs?job_definition_id={definition_id}")
        finished = [j for j in data["jobs"] if j["status"] in ("COMPLETED", "FAILED", "STOPPED")]
        active = [j for j in data["jobs"] if j not in finished]
        if not active and len(finished) == 2:
            break
        assert time.monotonic() < deadline, [
            (j["status"], j.get("status_message")) for j in data["jobs"]
        ]
        time.sleep(0.3)
    status, _ = server.request(f"scheduler/job_definitions/{definition_id}", "DELETE")
    assert status == 204


def test_bad_cron_is_400_and_no_definition_is_saved(server: SchedulerServer) -> None:
    status, before = server.request("scheduler/job_definitions")
    for schedule in ("61 * * * *", "* * *", "0 0 12 ? * ?"):
        status, data = server.request(
            "scheduler/job_definitions",
            "POST",
            {
                "name": "bad",
                "input_uri": "quick.ipynb",
                "runtime_environment_name": "env-alpha",
                "schedule": schedule,
            },
        )
        assert status == 400, data
        assert schedule in data["message"]
    status, after = server.request("scheduler/job_definitions")
    assert after["total_count"] == before["total_count"]


def test_cron_check_endpoint_shows_the_normalised_form(server: SchedulerServer) -> None:
    status, data = server.request(
        "ma-notebook/api/scheduler/cron?expression=30+0+12+%3F+*+2&count=2"
    )
    assert status == 200, data
    assert data["normalized"] == "30 0 12 * * 1"
    assert data["croniter"] == "0 12 * * 1 30"
    assert all(t.endswith("12:00:30+00:00") for t in data["next_runs"])
    status, data = server.request("ma-notebook/api/scheduler/cron?expression=99+*+*+*+*")
    assert status == 400 and "99 * * * *" in data["message"]


def test_every_environment_in_the_create_job_picker_is_selectable(server: SchedulerServer) -> None:
    # jupyter-scheduler 2.12's picker: MenuItem value = label, preselection = environments[0].name,
    # output formats looked up by name. Each value it can send must select that environment.
    status, envs = server.request("scheduler/runtime_environments")
    assert status == 200
    assert all(e["label"] == e["name"] for e in envs), envs
    job_id = server.create_job(input_uri="report.ipynb", runtime_environment_name="env-beta")
    assert server.job(job_id)["runtime_environment_name"] == "env-beta"
    # A client that sends the display label (as the picker did) gets the same environment.
    job_id = server.create_job(input_uri="report.ipynb", runtime_environment_name="Env Beta")
    job = server.wait_job(job_id)
    assert job["runtime_environment_name"] == "env-beta"
    assert job["status"] == "COMPLETED", job
    assert "ENV beta" in _cell_text(server.outputs(job_id)["ipynb"])


def test_unknown_environment_on_a_definition_is_400_and_nothing_is_saved(
    server: SchedulerServer,
) -> None:
    status, before = server.request("scheduler/job_definitions")
    status, data = server.request(
        "scheduler/job_definitions",
        "POST",
        {
            "name": "broken",
            "input_uri": "quick.ipynb",
            "runtime_environment_name": "no-such-env",
            "schedule": "0 * * * *",
        },
    )
    assert status == 400, data
    assert "no-such-env" in data["message"] and "env-alpha" in data["message"]
    status, after = server.request("scheduler/job_definitions")
    assert after["total_count"] == before["total_count"]


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "scheduler/jobs", {}, 400),
        ("POST", "scheduler/jobs", {"name": "x", "input_uri": "../../etc/passwd"}, 400),
        ("POST", "scheduler/job_definitions", {}, 400),
        ("GET", "scheduler/jobs?status=bogus", None, 400),
        ("GET", "scheduler/jobs?sort_by=desc(nope)", None, 400),
        ("GET", "scheduler/jobs/count?status=bogus", None, 400),
        ("GET", "scheduler/jobs/0000-1111-2222/download_files", None, 404),
        ("DELETE", "scheduler/batch/jobs?job_id=0000-1111-2222", None, 404),
        ("PATCH", "scheduler/jobs/0000-1111-2222", {"status": "STOPPED"}, 404),
        ("GET", "scheduler/job_definitions/0000-1111-2222", None, 404),
        ("POST", "scheduler/job_definitions/0000-1111-2222/jobs", {}, 404),
    ],
)
def test_bad_scheduler_requests_are_4xx_never_500(
    server: SchedulerServer, method: str, path: str, body: Any, expected: int
) -> None:
    status, data = server.request(path, method, body)
    assert status == expected, data
    assert set(data) == {"message", "reason"}, data
