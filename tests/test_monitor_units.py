"""Monitor building blocks: cgroup files (recorded v1/v2 and this machine's), alarm rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ma_notebook.monitor.alarms import AlarmEngine, AlarmRule
from ma_notebook.monitor.cgroup import Cgroup, parse_cpuset
from ma_notebook.monitor.notify import alert_payload
from ma_notebook.monitor.sampler import Sampler, flavor_label

DATA = Path(__file__).parent / "data"
GIB = 1 << 30


def test_recorded_cgroup_v2_container_reads_working_set_limit_quota_and_oom():
    cg = Cgroup.detect(DATA / "cgroup-v2")
    assert cg is not None and cg.version == 2
    r = cg.read()
    assert r.memory_usage == 2 * GIB
    assert r.memory_used == 2 * GIB - 256 * (1 << 20)  # minus inactive file cache
    assert r.memory_limit == 8 * GIB
    assert r.cpu_quota == 2.0
    assert r.cpuset_cpus == 8
    assert r.cpu_usage_ns == 123456789 * 1000
    assert r.oom_kills == 3


def test_recorded_cgroup_v1_docker_reads_per_controller_dirs():
    cg = Cgroup.detect(DATA / "cgroup-v1")
    assert cg is not None and cg.version == 1
    assert cg.memory_dir == DATA / "cgroup-v1/sys/fs/cgroup/memory"
    assert cg.cpuacct_dir == DATA / "cgroup-v1/sys/fs/cgroup/cpu,cpuacct"
    assert not cg.memory_is_root
    r = cg.read()
    assert r.memory_used == 4 * GIB - GIB
    assert r.memory_limit == 16 * GIB
    assert r.cpu_quota == 4.0
    assert r.cpuset_cpus == 16
    assert r.cpu_usage_ns == 987654321000
    assert r.oom_kills == 1


def test_flavor_shows_the_quota_not_the_host(monkeypatch):
    cg = Cgroup.detect(DATA / "cgroup-v2")
    sampler = Sampler(cg, "auto", gpu=None)
    assert sampler.cpu_source == "cgroup" and sampler.memory_source == "cgroup"
    if sampler.host_memory > 8 * GIB:
        assert sampler.flavor()["label"] == "2 vCPUs | 8 GiB"
    assert flavor_label(2, 8 * GIB, []) == "2 vCPUs | 8 GiB"
    assert flavor_label(1, 4 * GIB, [{"name": "Tesla T4"}]) == "1 vCPU | 4 GiB | 1 x Tesla T4"


def test_unlimited_v1_value_is_no_limit(tmp_path):
    (tmp_path / "memory.usage_in_bytes").write_text("1000\n")
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "memory.stat").write_text("total_inactive_file 100\n")
    r = Cgroup.at(tmp_path).read()
    assert r.memory_limit is None and r.memory_used == 900


def test_this_machines_cgroup_parses():
    text = Path("/proc/self/cgroup").read_text()
    cg = Cgroup.detect()
    assert cg is not None, text
    r = cg.read()
    if cg.version == 2 or "memory" in text:
        assert r.memory_usage is not None and r.memory_usage > 0
        assert r.memory_used is not None and r.memory_used <= r.memory_usage
    assert r.cpu_usage_ns is None or r.cpu_usage_ns > 0
    if r.memory_limit is not None:
        assert r.memory_limit > 0
    sampler = Sampler(cg, "auto", gpu=None)
    s = sampler.sample()
    assert s.memory_used > 0 and s.memory_limit >= s.memory_used
    assert s.cpu_limit >= 1 and s.cpu_limit <= (os.cpu_count() or 1)


def test_no_gpu_means_no_gpu_samples_and_no_error():
    from ma_notebook.monitor.gpu import Nvml

    nvml = Nvml()
    if not nvml.available:  # this machine: no NVIDIA driver
        assert nvml.sample() == [] and nvml.devices() == [] and nvml.reason
    nvml.close()
    assert nvml.sample() == []


def test_cache_usage_cli_matches_du(tmp_path):
    import subprocess
    import sys

    for i in range(50):
        (tmp_path / f"f{i}").write_bytes(b"x" * i * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "g").write_bytes(b"y" * 999)
    os.link(tmp_path / "sub" / "g", tmp_path / "hardlink")  # counted once, as du does
    du = int(
        subprocess.run(
            ["du", "-sb", str(tmp_path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )
    r = subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli", "cache-usage", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{tmp_path}: {du} bytes of ") and "by scan" in r.stdout


def test_cpuset_lists():
    assert parse_cpuset("0-3,8,10-11\n") == 7
    assert parse_cpuset("") == 0


def _rule(**kw):
    base = {
        "name": "cache",
        "metric": "cache_dir_util",
        "threshold": 0.9,
        "period_seconds": 60,
        "consecutive_periods": 2,
        "severity": "Major",
    }
    base.update(kw)
    return AlarmRule.model_validate(base)


def _feed(engine, values, start=0.0, step=60.0):
    out = []
    t = start
    for v in values:
        out += [(x.status, round(x.value, 3)) for x in engine.feed({"cache_dir_util": v}, t)]
        t += step
    return out, t


def test_alarm_fires_after_two_breaching_periods_and_resolves_after_two_clear_ones():
    engine = AlarmEngine()
    engine.set_rules([_rule()], "config")
    # one value per 60 s period; a period closes when the next one begins
    out, _ = _feed(engine, [0.5, 0.95, 0.96, 0.97, 0.5, 0.4, 0.3])
    assert out == [("firing", 0.96), ("resolved", 0.4)]


def test_oscillating_around_the_threshold_does_not_flap():
    engine = AlarmEngine()
    engine.set_rules([_rule()], "config")
    out, t = _feed(engine, [0.95, 0.85] * 10)
    assert out == []  # never two breaching periods in a row
    out, t = _feed(engine, [0.95, 0.95, 0.95], t)
    assert [s for s, _ in out] == ["firing"]
    out, t = _feed(engine, [0.85, 0.95] * 10, t)
    assert out == []  # never two clear periods in a row: stays firing, no re-fire
    assert engine.states["config:cache"].fired_count == 1


def test_avg_and_max_statistics_over_a_period():
    engine = AlarmEngine()
    engine.set_rules(
        [
            _rule(name="avg", consecutive_periods=1),
            _rule(name="max", statistic="max", consecutive_periods=1),
        ],
        "config",
    )
    fired = []
    for i, v in enumerate([0.5, 0.95, 0.5, 0.5, 0.1]):  # 4 values in the first 60 s period
        fired += [x.state.rule.name for x in engine.feed({"cache_dir_util": v}, i * 20.0)]
    assert fired == ["max"]


def test_user_rules_replace_only_their_own_source():
    engine = AlarmEngine()
    engine.set_rules([_rule()], "config")
    engine.set_rules([_rule(name="mine", threshold=0.5)], "user")
    engine.set_rules([_rule(name="other")], "user")
    assert sorted(engine.states) == ["config:cache", "user:other"]


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": -1},
        {"statistic": "p99"},
        {"period_seconds": 0},
        {"name": "a b"},
        {"metric": "disk"},
        {"severity": "Fatal"},
        {"consecutive_periods": "2"},
    ],
)
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        _rule(**bad)


def test_alertmanager_payload_shape():
    p = alert_payload(
        name="cache",
        status="firing",
        severity="Major",
        labels={"metric": "cache_dir_util"},
        summary="s",
        description="d",
        starts_at=0.0,
        ends_at=None,
    )
    assert p["version"] == "4" and p["status"] == "firing" and p["receiver"]
    alert = p["alerts"][0]
    assert alert["labels"]["alertname"] == "cache" and alert["labels"]["severity"] == "major"
    assert alert["startsAt"] == "1970-01-01T00:00:00Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert set(p) >= {"groupKey", "groupLabels", "commonLabels", "commonAnnotations", "alerts"}
