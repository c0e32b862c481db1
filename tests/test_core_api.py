"""The core REST API: info, events, tasks, and that every route needs authentication."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from ma_notebook import __version__
from ma_notebook.events import EventLog
from ma_notebook.tasks import TaskError


async def test_info_reports_version_workspace_and_capabilities(api, jp_root_dir, ma_data_dir):
    status, info = await api("info")
    assert status == 200
    assert info["version"] == __version__
    assert info["workspace_dir"] == str(jp_root_dir)
    assert info["data_dir"] == str(ma_data_dir)
    assert info["capabilities"]["events"]["available"] is True


async def test_server_start_records_notebook_healthy(api):
    status, data = await api("events")
    assert status == 200
    types = [e["type"] for e in data["events"]]
    assert "NotebookHealthy" in types
    healthy = next(e for e in data["events"] if e["type"] == "NotebookHealthy")
    assert healthy["severity"] == "Major"
    assert set(healthy) >= {"time", "type", "severity", "message"}


async def test_events_filter_by_severity_since_and_limit(api, ma_app):
    before = time.time()
    await asyncio.sleep(0.01)
    ma_app.events.record("CacheAlarm", "Warning", "cache is 80% full")
    ma_app.events.record("DiskFull", "Critical", "disk is full")
    ma_app.events.record("Other", "Major", "something")

    status, data = await api("events", params={"severity": "Critical,Warning", "since": before})
    assert status == 200
    assert [e["type"] for e in data["events"]] == ["DiskFull", "CacheAlarm"]

    status, data = await api("events", params={"limit": 1})
    assert [e["type"] for e in data["events"]] == ["Other"]

    status, data = await api("events", params={"type": "DiskFull"})
    assert [e["message"] for e in data["events"]] == ["disk is full"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"severity": "Fatal"}, "unknown severity 'Fatal'"),
        ({"since": "yesterday"}, "'since': Input should be a valid number"),
        ({"limit": "ten"}, "'limit': Input should be a valid integer"),
        ({"limit": "0"}, "greater than or equal to 1"),
        ({"limit": "5000"}, "less than or equal to 1000"),
    ],
)
async def test_bad_event_query_gets_400_with_a_message(api, params, fragment):
    status, data = await api("events", params=params)
    assert status == 400
    assert fragment in data["message"]


def test_events_persist_in_sqlite(tmp_path):
    log = EventLog(tmp_path / "events.sqlite3")
    log.record("PulledImage", "Warning", "pulled")
    log.close()
    reopened = EventLog(tmp_path / "events.sqlite3")
    assert [e.type for e in reopened.query()] == ["PulledImage"]
    with pytest.raises(ValueError, match="severity must be one of"):
        reopened.record("X", "Info", "no such severity")
    reopened.close()


def test_event_log_keeps_at_most_max_events(tmp_path):
    log = EventLog(tmp_path / "events.sqlite3", max_events=50)
    for i in range(300):
        log.record("Tick", "Warning", str(i))
    events = log.query(limit=1000)
    assert len(events) <= 150
    assert events[0].message == "299"
    log.close()


async def test_task_progress_result_and_long_poll(api, ma_app):
    gate = asyncio.Event()

    async def work(task):
        task.update(phase="copying", done=0, total=10)
        await gate.wait()
        task.update(done=10)
        return {"path": "x.bin"}

    task = ma_app.tasks.submit("test", "copy x.bin", work)
    await asyncio.sleep(0.05)
    status, data = await api(f"tasks/{task.id}")
    assert status == 200
    assert data["state"] == "running"
    assert data["phase"] == "copying"
    assert data["total"] == 10

    asyncio.get_running_loop().call_later(0.2, gate.set)
    waiting = api(f"tasks/{task.id}", params={"wait": 5})
    status, data = await waiting
    await ma_app.tasks.join(task.id, 5)
    status, data = await api(f"tasks/{task.id}")
    assert data["state"] == "succeeded"
    assert data["percent"] == 100.0
    assert data["result"] == {"path": "x.bin"}

    status, listing = await api("tasks", params={"kind": "test"})
    assert [t["id"] for t in listing["tasks"]] == [task.id]


async def test_cancel_task_runs_its_cleanup(api, ma_app):
    cleaned = asyncio.Event()

    async def work(task):
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()

    task = ma_app.tasks.submit("test", "slow", work)
    await asyncio.sleep(0.05)
    status, data = await api(f"tasks/{task.id}", method="DELETE")
    assert status == 202
    await asyncio.wait_for(cleaned.wait(), 5)
    await asyncio.sleep(0)
    status, data = await api(f"tasks/{task.id}")
    assert data["state"] == "cancelled"


async def test_failed_task_reports_the_user_message(api, ma_app):
    async def work(task):
        raise TaskError("The bucket does not exist: create it first.", reason="missing")

    task = ma_app.tasks.submit("test", "fails", work)
    await ma_app.tasks.join(task.id, 5)
    _, data = await api(f"tasks/{task.id}")
    assert data["state"] == "failed"
    assert data["error"] == "The bucket does not exist: create it first."
    assert data["error_reason"] == "missing"


async def test_unknown_task_is_404(api):
    status, data = await api("tasks/" + "0" * 32)
    assert status == 404
    assert "No task" in data["message"]


async def test_every_route_refuses_requests_without_a_token(
    ma_app, http_server_client, jp_base_url
):
    patterns = [h[0] for h in ma_app.handlers if "/ma-notebook/" in h[0]]
    assert len(patterns) >= 4
    for pattern in patterns:
        path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "0" * 32, pattern).replace("(.*)", "x")
        path = path.replace("$", "").lstrip("/")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            resp = await http_server_client.fetch(
                f"{jp_base_url}{path}",
                method=method,
                body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                raise_error=False,
                follow_redirects=False,
            )
            assert resp.code in (401, 403, 405), (method, path, resp.code)
            assert b"NotebookHealthy" not in (resp.body or b"")
