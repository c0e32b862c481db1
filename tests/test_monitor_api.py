"""Monitor API on an in-process server: first reading right, /metrics, lease validation."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture
def ma_config(tmp_path) -> dict[str, Any]:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "blob").write_bytes(b"x" * 12345)
    return {"MonitorService": {"cache_dir": str(cache), "cache_scan_interval": 0.5}}


async def test_busy_child_shows_cpu_on_the_very_first_read(api, ma_app):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.4)  # the child runs; the sampler has not had a tick yet
        status, data = await api("monitor")
        assert status == 200, data
        first = data["samples"][0]
        assert first["cpu_cores"] > 0.2, data["samples"]
        assert 0 < first["cpu_percent"] <= 100
        assert data["flavor"]["vcpus"] >= 1
        assert "vCPU" in data["flavor"]["label"] and "GiB" in data["flavor"]["label"]
        assert first["memory_used"] > 10 << 20
        assert first["memory_limit"] >= first["memory_used"]
    finally:
        busy.kill()
        busy.wait()


async def test_window_fills_once_a_second_and_keeps_60(api, ma_app):
    monitor = ma_app.services["monitor"]
    for _ in range(3):
        await monitor.tick()
    status, data = await api("monitor")
    assert status == 200
    assert 3 <= len(data["samples"]) <= 60
    times = [s["time"] for s in data["samples"]]
    assert times == sorted(times)
    assert monitor.samples.maxlen == 60
    status, data = await api("monitor", params={"since": str(times[-1])})
    assert data["samples"] == []


async def test_metrics_hold_both_cache_gauges(jp_fetch, api, ma_app):
    monitor = ma_app.services["monitor"]
    deadline = time.monotonic() + 10
    while not monitor.cache.latest.available and time.monotonic() < deadline:
        monitor.cache.refresh()
        time.sleep(0.1)
    await monitor.tick()
    resp = await jp_fetch("metrics")
    families = {f.name: f for f in text_string_to_metric_families(resp.body.decode())}
    size = families["ma_container_notebook_cache_dir_size_bytes"].samples[0]
    util = families["ma_container_notebook_cache_dir_util"].samples[0]
    assert size.value >= 12345
    assert 0 < util.value < 1
    assert families["ma_container_memory_used_bytes"].samples[0].value > 0
    assert families["ma_container_cpu_limit_cores"].samples[0].value >= 1
    status, cache = await api("monitor/cache")
    assert status == 200 and cache["method"] == "scan" and cache["size_bytes"] >= 12345


@pytest.mark.parametrize(
    "body",
    [{"hours": 0}, {"hours": 73}, {"hours": 0.5}, {"hours": -1}, {"hours": "4"}, {"hours": True}],
)
async def test_lease_outside_1_to_72_hours_is_refused_with_the_range(api, body):
    status, data = await api("lease", method="PATCH", body=body)
    assert status == 400, data
    if not isinstance(body["hours"], str | bool):
        assert "between 1 and 72" in data["message"]


async def test_lease_nonsense_bodies_are_400(api):
    for raw in ["nonsense", "[]", '{"hours": 4, "extra": 1}', '{"hours": 1e400}']:
        status, data = await api("lease", method="PATCH", body=raw)
        assert status == 400, (raw, data)


async def test_lease_renewal_moves_the_deadline(api):
    status, lease = await api("lease")
    assert status == 200 and lease["enabled"] is True
    assert 3500 < lease["remaining_seconds"] <= 3600  # 1 hour by default, as the seed
    status, lease = await api("lease", method="PATCH", body={"hours": 6})
    assert status == 200
    assert 6 * 3600 - 5 < lease["remaining_seconds"] <= 6 * 3600
    status, lease = await api("lease", method="PATCH", body={"enabled": False})
    assert lease["enabled"] is False and lease["deadline"] is None
    status, lease = await api("lease", method="PATCH", body={"hours": 2})
    assert lease["enabled"] is True and 7190 < lease["remaining_seconds"] <= 7200


async def test_routes_are_in_the_openapi_document(api):
    status, doc = await api("openapi.json")
    assert status == 200
    for path in ("monitor", "monitor/cache", "monitor/alarms", "lease"):
        assert f"/ma-notebook/api/{path}" in doc["paths"]
    assert "patch" in doc["paths"]["/ma-notebook/api/lease"]
