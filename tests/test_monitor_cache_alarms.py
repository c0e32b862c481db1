"""Cache-directory alarms end to end: fill past the threshold, one alarm, webhook, resolve."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from pathlib import Path
from typing import Any

import pytest


def _rule(threshold: float) -> dict[str, Any]:
    return {
        "name": "cache-full",
        "metric": "cache_dir_util",
        "threshold": threshold,
        "statistic": "avg",
        "period_seconds": 1,
        "consecutive_periods": 2,
        "severity": "Major",
    }


async def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


async def _fill_alarm_resolve(api, ma_app, receiver, cache: Path, fill: int) -> None:
    monitor = ma_app.services["monitor"]
    await asyncio.sleep(2.5)
    assert receiver.received == []
    (cache / "big.bin").write_bytes(b"\0" * fill)
    await _wait(lambda: len(receiver.received) >= 1)
    await asyncio.sleep(3)  # staying full does not send it again
    assert [p["status"] for p in receiver.received] == ["firing"]
    payload = receiver.received[0]
    assert payload["version"] == "4" and payload["receiver"] == "ma-notebook"
    alert = payload["alerts"][0]
    assert alert["labels"]["alertname"] == "cache-full"
    assert alert["labels"]["severity"] == "major"
    assert alert["labels"]["event"] == "CacheVolumeExceedQuota"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"

    status, data = await api("events", params={"type": "CacheVolumeExceedQuota"})
    assert status == 200 and len(data["events"]) == 1
    assert data["events"][0]["severity"] == "Major"
    status, snap = await api("monitor")
    alarms = [n for n in snap["notices"] if n["kind"] == "alarm"]
    assert len(alarms) == 1 and "free space" in alarms[0]["message"]
    assert snap["alarms"][0]["state"] == "firing"

    (cache / "big.bin").unlink()
    await _wait(lambda: len(receiver.received) >= 2)
    assert [p["status"] for p in receiver.received] == ["firing", "resolved"]
    assert receiver.received[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert monitor.alarms.states["config:cache-full"].fired_count == 1


class TestTmpfsMount:
    @pytest.fixture
    def ma_config(self, tmpfs_dir, webhook_receiver) -> dict[str, Any]:
        return {
            "MonitorService": {
                "cache_dir": str(tmpfs_dir),
                "alarm_rules": [_rule(0.5)],
                "webhook_url": webhook_receiver.url,
            }
        }

    async def test_filling_the_mount_fires_one_alarm_and_freeing_resolves_it(
        self, api, ma_app, webhook_receiver, tmpfs_dir
    ):
        _status, cache = await api("monitor/cache")
        assert cache["method"] == "statvfs" and cache["capacity_bytes"] == 8 << 20
        await _fill_alarm_resolve(api, ma_app, webhook_receiver, tmpfs_dir, 6 << 20)


class TestPlainFolder:
    @pytest.fixture
    def ma_config(self, tmp_path, webhook_receiver) -> dict[str, Any]:
        cache = tmp_path / "cache"
        cache.mkdir()
        return {
            "MonitorService": {
                "cache_dir": str(cache),
                "cache_quota_bytes": 1 << 20,
                "cache_scan_interval": 0.5,
                "alarm_rules": [_rule(0.5)],
                "webhook_url": webhook_receiver.url,
            }
        }

    async def test_filling_the_folder_fires_one_alarm_and_freeing_resolves_it(
        self, api, ma_app, webhook_receiver, tmp_path
    ):
        await _fill_alarm_resolve(api, ma_app, webhook_receiver, tmp_path / "cache", 800_000)
        _status, cache = await api("monitor/cache")
        assert cache["method"] == "scan" and cache["capacity_bytes"] == 1 << 20


class TestOscillation:
    @pytest.fixture
    def ma_config(self, tmpfs_dir, webhook_receiver) -> dict[str, Any]:
        return {
            "MonitorService": {
                "cache_dir": str(tmpfs_dir),
                "alarm_rules": [{**_rule(0.5), "period_seconds": 2}],
                "webhook_url": webhook_receiver.url,
            }
        }

    async def test_usage_swinging_around_the_threshold_does_not_flap(
        self, ma_app, webhook_receiver, tmpfs_dir
    ):
        monitor = ma_app.services["monitor"]
        blob = tmpfs_dir / "big.bin"
        for i in range(10):  # above for a second, below for the next
            if i % 2 == 0:
                blob.write_bytes(b"\0" * (6 << 20))
            else:
                blob.unlink()
            await asyncio.sleep(1.0)
        assert webhook_receiver.received == []
        assert monitor.alarms.states["config:cache-full"].fired_count == 0


class TestEmail:
    @pytest.fixture
    def ma_config(self, tmp_path, smtp_receiver) -> dict[str, Any]:
        cache = tmp_path / "cache"
        cache.mkdir()
        (cache / "big.bin").write_bytes(b"\0" * 2000)
        rule = {**_rule(1000), "metric": "cache_dir_size_bytes", "severity": "Critical"}
        return {
            "MonitorService": {
                "cache_dir": str(cache),
                "cache_scan_interval": 0.5,
                "alarm_rules": [rule],
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_receiver.port,
                "smtp_to": ["ops@example.test"],
            }
        }

    async def test_a_firing_size_rule_sends_one_email(self, api, ma_app, smtp_receiver):
        await _wait(lambda: len(smtp_receiver.messages) >= 1)
        await asyncio.sleep(2)
        assert len(smtp_receiver.messages) == 1
        mail = email.message_from_string(smtp_receiver.messages[0], policy=email.policy.default)
        assert mail["Subject"] == "[firing] cache-full" and mail["To"] == "ops@example.test"
        assert "the cache directory holds" in mail.get_content()
        _, data = await api("events", params={"type": "CacheVolumeExceedQuota"})
        assert data["events"][0]["severity"] == "Critical"


async def test_metadata_webhook_is_refused_before_connecting(jp_serverapp, ma_app):
    from ma_notebook.api import ApiError
    from ma_notebook.monitor.notify import check_webhook_url

    with pytest.raises(ApiError, match="link-local/metadata"):
        check_webhook_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(ApiError, match="http"):
        check_webhook_url("file:///etc/passwd")
