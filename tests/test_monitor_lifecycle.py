"""Auto-stop and idle stop on real server processes; OOM kills in a test-made cgroup."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures_monitor import execute_message, kernel_execute


def _events(lab: Any) -> list[tuple[str, str, dict[str, Any]]]:
    db = sqlite3.connect(lab.data_dir / "events.sqlite3")
    try:
        rows = db.execute("SELECT type, severity, details FROM events ORDER BY id").fetchall()
    finally:
        db.close()
    return [(t, s, json.loads(d)) for t, s, d in rows]


def _wait_exit(lab: Any, timeout: float) -> int | None:
    try:
        return lab.proc.wait(timeout)
    except Exception:
        return None


def test_lease_end_runs_the_stop_action_and_the_server_exits(lab_factory):
    lab = lab_factory(
        app="server",
        extra_args=[
            "--MonitorService.auto_stop_seconds=6",
            "--MonitorService.warn_before_seconds=4",
        ],
    )
    status, lease = lab.request("ma-notebook/api/lease")
    assert status == 200 and lease["enabled"] and 0 < lease["remaining_seconds"] <= 6
    assert lease["stop_action"] == "shut down the Jupyter server"
    deadline = time.monotonic() + 5
    notices: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not notices:
        status, snap = lab.request("ma-notebook/api/monitor")
        notices = [n for n in snap["notices"] if n["kind"] == "lease"] if status == 200 else []
        time.sleep(0.3)
    assert notices and "Renew" in notices[0]["message"]
    code = _wait_exit(lab, 40)
    assert code == 0, lab.log_text()[-3000:]
    stops = [e for e in _events(lab) if e[0] == "StopNotebook"]
    assert len(stops) == 1 and stops[0][2]["reason"] == "lease", stops


def test_lease_survives_a_restart(lab_factory, tmp_path):
    lab = lab_factory(home=tmp_path / "home", app="server")
    status, lease = lab.request("ma-notebook/api/lease", "PATCH", {"hours": 5})
    assert status == 200
    deadline = lease["deadline"]
    lab.stop()
    again = lab_factory(home=tmp_path / "home", app="server")
    status, lease = again.request("ma-notebook/api/lease")
    assert status == 200 and lease["enabled"]
    assert lease["deadline"] == pytest.approx(deadline, abs=0.01)
    assert lease["duration_seconds"] == 5 * 3600

    # ma-cli talks to the same lease
    cli = [sys.executable, "-m", "ma_notebook.cli", "auto-stop", "--url", again.url]
    cli += ["--token", again.token]
    r = subprocess.run([*cli, "3"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("Auto-stop in 2:59:"), r.stdout + r.stderr
    r = subprocess.run([*cli, "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "between 1 and 72" in r.stderr
    _, lease = again.request("ma-notebook/api/lease")
    assert 3 * 3600 - 60 < lease["remaining_seconds"] <= 3 * 3600


def _poll_like_jupyterlab(lab: Any, stop: threading.Event) -> None:
    paths = [
        "api/kernels",
        "api/sessions",
        "api/terminals",
        "api/contents?content=1",
        "api/kernelspecs",
        "api/me",
        "lab/api/settings",
        "ma-notebook/api/monitor",
        "ma-notebook/api/lease",
        "ma-notebook/api/events?limit=50",
    ]
    while not stop.is_set():
        for p in paths:
            try:
                lab.request(p)
            except OSError:
                return
        stop.wait(0.5)


IDLE_ARGS = [
    "--MonitorService.idle_timeout_seconds=6",
    "--MonitorService.auto_stop_seconds=3600",
]


def test_background_polling_alone_does_not_keep_an_idle_server_alive(lab_factory):
    lab = lab_factory(app="server", extra_args=IDLE_ARGS)
    stop = threading.Event()
    poller = threading.Thread(target=_poll_like_jupyterlab, args=(lab, stop), daemon=True)
    poller.start()
    try:
        code = _wait_exit(lab, 40)
    finally:
        stop.set()
        poller.join(10)
    assert code == 0, lab.log_text()[-3000:]
    idle = [e for e in _events(lab) if e[0] == "StopNotebookResourceIdle"]
    assert len(idle) == 1 and idle[0][1] == "Major"


async def test_a_running_kernel_keeps_an_idle_server_alive(lab_factory):
    lab = lab_factory(app="server", extra_args=IDLE_ARGS)
    status, kernel = lab.request("api/kernels", "POST", {"name": "python3"})
    assert status == 201, kernel
    ws = f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel['id']}/channels"
    conn = await kernel_execute(ws, lab.token, "import time\nfor _ in range(40): time.sleep(0.5)")
    try:
        await asyncio.sleep(14)  # more than twice the idle timeout, with no request at all
        assert lab.proc.poll() is None, lab.log_text()[-3000:]
        status, k = lab.request(f"api/kernels/{kernel['id']}")
        assert k["execution_state"] == "busy"
    finally:
        conn.close()
    assert not [e for e in _events(lab) if e[0] == "StopNotebookResourceIdle"]


# ---------------------------------------------------------------- OOM


def _make_memory_cgroup(limit: int) -> Path:
    """A memory-limited cgroup of its own (v2 when its memory controller is there, else v1)."""
    name = f"ma-test-oom-{uuid.uuid4().hex[:8]}"
    v2 = Path("/sys/fs/cgroup")
    if (
        "memory" in (v2 / "cgroup.controllers").read_text()
        if (v2 / "cgroup.controllers").exists()
        else False
    ):
        (v2 / "cgroup.subtree_control").write_text("+memory")
        d = v2 / name
        d.mkdir()
        (d / "memory.max").write_text(str(limit))
        if (d / "memory.swap.max").exists():
            (d / "memory.swap.max").write_text("0")
        return d
    v1 = Path("/sys/fs/cgroup/memory")
    if not (v1 / "memory.limit_in_bytes").exists():
        pytest.fail("no cgroup memory controller (v1 or v2) on this machine")
    d = v1 / name
    d.mkdir()
    (d / "memory.limit_in_bytes").write_text(str(limit))
    if (d / "memory.memsw.limit_in_bytes").exists():
        (d / "memory.memsw.limit_in_bytes").write_text(str(limit))
    return d


@pytest.fixture
def oom_cgroup() -> Any:
    if os.geteuid() != 0:
        pytest.fail("creating a memory-limited cgroup needs root (CI runs the tests as root)")
    d = _make_memory_cgroup(96 << 20)
    yield d
    for _ in range(50):
        pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not pids:
            break
        time.sleep(0.1)
    d.rmdir()


@pytest.fixture
def ma_config(request) -> dict[str, Any]:
    if "oom_cgroup" in request.fixturenames:
        d = request.getfixturevalue("oom_cgroup")
        return {"MonitorService": {"cgroup_dir": str(d)}}
    return {}


async def test_a_kernel_the_cgroup_oom_kills_records_out_of_memory(
    oom_cgroup, api, ma_app, jp_fetch, jp_ws_fetch
):
    monitor = ma_app.services["monitor"]
    resp = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel = json.loads(resp.body)
    km = ma_app.serverapp.kernel_manager.get_kernel(kernel["id"])
    pid = km.provisioner.pid
    await monitor.tick()  # the monitor knows the kernel's process
    (oom_cgroup / "cgroup.procs").write_text(str(pid))
    ws = await jp_ws_fetch("api", "kernels", kernel["id"], "channels")
    await ws.write_message(json.dumps(execute_message("x = b'\\1' * (400 << 20)")))
    deadline = time.monotonic() + 60
    events: list[Any] = []
    while time.monotonic() < deadline and not events:
        await asyncio.sleep(0.5)
        _, data = await api("events", params={"type": "OutOfMemory"})
        events = data["events"]
    ws.close()
    assert events, "no OutOfMemory event"
    assert events[0]["severity"] == "Critical"
    assert kernel["id"] in events[0]["details"]["kernels"]
    _status, snap = await api("monitor")
    oom = [n for n in snap["notices"] if n["kind"] == "oom"]
    assert oom and kernel["id"][:8] in oom[0]["message"] and "python3" in oom[0]["message"]
    await jp_fetch("api", "kernels", kernel["id"], method="DELETE")
