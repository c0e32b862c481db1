"""The shipped Prometheus alerting rules pass promtool and fire like the built-in rule."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
RULES = ROOT / "ma_notebook" / "monitor" / "prometheus" / "alerts.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    for candidate in (
        os.environ.get("MA_PROMTOOL", ""),
        str(ROOT / ".tools" / "prometheus" / "usr" / "bin" / "promtool"),
        shutil.which("promtool") or "",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("promtool is missing: `make promtool` unpacks it from Debian's prometheus package")


def test_rules_file_passes_promtool_check_rules(promtool):
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 4 rules found" in r.stdout


def test_cache_rule_fires_after_two_minutes_above_ninety_percent(promtool):
    r = subprocess.run(
        [promtool, "test", "rules", "prometheus-alerts-test.yml"],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests" / "data",
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_use_only_gauges_the_server_exports():
    exported = set(
        re.findall(r'"(ma_[a-z_]+)"', (ROOT / "ma_notebook/monitor/metrics.py").read_text())
    )
    used = set(re.findall(r"\b(ma_[a-z_]+)\b", RULES.read_text())) - {"ma_notebook"}
    assert used and used <= exported, used - exported
