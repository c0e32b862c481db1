"""Failing self-checks record NotebookUnhealthy; recovery records NotebookHealthy."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest


@pytest.fixture
def ma_config(tmp_path) -> dict[str, Any]:
    flag = tmp_path / "ok"
    flag.touch()
    return {
        "MonitorService": {
            "health_commands": [f"test -e {flag}"],
            "health_interval": 0.5,
            "unhealthy_after": 2,
        }
    }


async def _wait_for(api, event_type: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, data = await api("events", params={"type": event_type})
        if len(data["events"]) >= count:
            return data["events"]
        await asyncio.sleep(0.3)
    raise AssertionError(f"no {count} x {event_type}")


async def test_failing_check_makes_the_notebook_unhealthy_until_it_passes(api, ma_app, tmp_path):
    await asyncio.sleep(1.5)
    _, data = await api("events", params={"type": "NotebookUnhealthy"})
    assert data["events"] == []
    (tmp_path / "ok").unlink()
    unhealthy = await _wait_for(api, "NotebookUnhealthy", 1)
    assert unhealthy[0]["severity"] == "Critical" and "exited 1" in unhealthy[0]["message"]
    _, snap = await api("monitor")
    assert snap["health"]["status"] == "unhealthy"
    (tmp_path / "ok").touch()
    healthy = await _wait_for(api, "NotebookHealthy", 2)  # one at start-up, one on recovery
    assert "restored" in healthy[0]["message"]
    await asyncio.sleep(1.5)
    _, data = await api("events", params={"type": "NotebookUnhealthy"})
    assert len(data["events"]) == 1
