"""Fixtures for scheduled-job tests: a real Jupyter server with two kernelspecs, notebooks and a
loopback webhook receiver."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ma_fixtures import LabProcess
from nbformat import v4

FINAL = ("COMPLETED", "FAILED", "STOPPED")


def make_kernelspec(data_dir: Path, name: str, display: str, env: dict[str, str]) -> None:
    """A kernelspec running this Python with ``env`` set (so jobs can tell kernels apart)."""
    spec_dir = data_dir / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display,
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def write_notebook(path: Path, *cells: str, parameters: str | None = None) -> None:
    """A notebook with an optional ``parameters``-tagged cell, then the given code cells."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if parameters is not None:
        cell = v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(v4.new_code_cell(c) for c in cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


class WebhookReceiver:
    """A loopback HTTP server that records JSON POSTs."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SchedulerServer:
    """Helpers over a real server's jupyter-scheduler REST API."""

    def __init__(self, lab: LabProcess) -> None:
        self.lab = lab

    def request(self, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        return self.lab.request(path, method, body)

    def create_job(self, **fields: Any) -> str:
        body = {"name": "test job", "output_formats": ["ipynb", "html"], **fields}
        status, data = self.request("scheduler/jobs", "POST", body)
        assert status == 200, data
        return str(data["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        status, data = self.request(f"scheduler/jobs/{job_id}")
        assert status == 200, data
        return dict(data)

    def wait_job(
        self, job_id: str, statuses: tuple[str, ...] = FINAL, timeout: float = 90
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        job = self.job(job_id)
        while job["status"] not in statuses:
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stayed {job['status']}: {job}")
            time.sleep(0.2)
            job = self.job(job_id)
        return job

    def outputs(self, job_id: str) -> dict[str, str]:
        """Download a job's files into the workspace and return their texts by format."""
        status, data = self.request(f"scheduler/jobs/{job_id}/download_files", "GET")
        assert status == 204, data
        deadline = time.monotonic() + 30
        job = self.job(job_id)
        while not job["downloaded"]:
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
            job = self.job(job_id)
        return {
            f["file_format"]: (self.lab.root_dir / f["file_path"]).read_text()
            for f in job["job_files"]
            if f["file_path"]
        }

    def events(self, event_type: str) -> list[dict[str, Any]]:
        status, data = self.request(f"ma-notebook/api/events?type={event_type}")
        assert status == 200, data
        return list(data["events"])


@pytest.fixture(scope="module")
def scheduler_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., SchedulerServer]]:
    """Start real servers with kernelspecs env-alpha/env-beta and test notebooks."""
    started: list[LabProcess] = []

    def start(extra_args: list[str] | None = None, app: str = "server") -> SchedulerServer:
        home = tmp_path_factory.mktemp("sched")
        data = home / "jupyter-data"
        make_kernelspec(data, "env-alpha", "Env Alpha", {"MA_JOB_ENV": "alpha"})
        make_kernelspec(data, "env-beta", "Env Beta", {"MA_JOB_ENV": "beta"})
        work = home / "work"
        write_notebook(
            work / "report.ipynb",
            "import os\nprint('PARAMS', type(count).__name__, count, type(name).__name__, name)",
            "print('ENV', os.environ.get('MA_JOB_ENV'))\nprint('PPID', os.getppid())",
            parameters="count = 1\nname = 'default'",
        )
        write_notebook(work / "slow.ipynb", "x = 1", "import time\ntime.sleep(120)")
        write_notebook(work / "quick.ipynb", "print('quick', 6 * 7)")
        lab = LabProcess(home, app=app, extra_args=extra_args or [])
        started.append(lab)
        lab.start()
        return SchedulerServer(lab)

    yield start
    for lab in started:
        lab.stop()


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    """A loopback webhook receiver."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
