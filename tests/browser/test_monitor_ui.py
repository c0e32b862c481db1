"""Resource Monitor in Chromium: status bar, charts, auto-stop countdown renewal, alarm toast."""

from __future__ import annotations

import json
import re
import time

import pytest
from ma_fixtures import LabPage

pytestmark = pytest.mark.browser


@pytest.fixture
def monitor_lab(lab_factory, tmp_path_factory):
    home = tmp_path_factory.mktemp("lab-monitor")
    cache = home / "cache"
    cache.mkdir()
    rule = {
        "name": "cache-full",
        "metric": "cache_dir_util",
        "threshold": 0.5,
        "period_seconds": 1,
        "consecutive_periods": 2,
        "severity": "Major",
    }
    args = [
        f"--MonitorService.cache_dir={cache}",
        f"--MonitorService.cache_quota_bytes={1 << 20}",
        "--MonitorService.cache_scan_interval=0.5",
        # the 1-hour lease is inside the warning window from the start: the Renew toast shows
        "--MonitorService.warn_before_seconds=3700",
        f"--MonitorService.alarm_rules={json.dumps([rule])}",
    ]
    lab = lab_factory(home=home, extra_args=args)
    lab.cache_dir = cache
    return lab


def test_status_bar_charts_countdown_renewal_and_cache_alarm(browser, monitor_lab):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30000)
        lab_page = LabPage(page, monitor_lab).open()
        page.wait_for_function(
            "() => window.jupyterapp.isPluginActivated('ma-notebook:monitor')", timeout=30000
        )
        status = page.locator(".ma-ResourceStatus")
        page.wait_for_function(
            "() => /CPU \\d+% \\| Mem .+ \\/ .+/.test("
            "document.querySelector('.ma-ResourceStatus')?.textContent || '')"
        )
        assert re.match(r"CPU \d+% \| Mem [\d.]+ [GM]iB / [\d.]+ GiB", status.inner_text())

        lab_page.execute("ma-notebook:open-resource-monitor")
        panel = page.locator("#ma-notebook-resource-monitor")
        panel.wait_for()
        assert "vCPU" in panel.locator(".ma-ResourcePanel-flavor").inner_text()
        for kind in ("cpu", "memory"):
            page.wait_for_function(
                f"() => Number(document.querySelector('.ma-MonitorChart-{kind} polyline')"
                "?.dataset.count || 0) >= 3",
                timeout=30000,
            )
        assert "CPU" in panel.locator(".ma-MonitorChart-cpu .ma-MonitorChart-label").inner_text()

        countdown = page.locator("#ma-notebook-auto-stop")
        countdown.wait_for()
        assert re.match(r"Auto stop in 0:5\d:\d\d", countdown.inner_text())  # 1 hour default
        warning = page.locator(".Toastify__toast", has_text="stops automatically in")
        warning.wait_for()
        warning.get_by_role("button", name="Renew").click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator("select").select_option("4")
        dialog.locator("button.jp-mod-accept").click()
        dialog.wait_for(state="detached")
        page.wait_for_function(
            "() => /Auto stop in 3:5\\d/.test("
            "document.querySelector('#ma-notebook-auto-stop').textContent)"
        )
        _status_code, lease = monitor_lab.request("ma-notebook/api/lease")
        assert 4 * 3600 - 60 < lease["remaining_seconds"] <= 4 * 3600

        # custom value through the same dialog
        countdown.click()
        dialog.locator("select").select_option("custom")
        dialog.locator("input.ma-RenewDialog-custom").fill("30")
        dialog.locator("button.jp-mod-accept").click()
        page.wait_for_function(
            "() => /Auto stop in (29|30):/.test("
            "document.querySelector('#ma-notebook-auto-stop').textContent)"
        )

        (monitor_lab.cache_dir / "big.bin").write_bytes(b"\0" * 800_000)
        deadline = time.monotonic() + 30
        notices: list = []
        while time.monotonic() < deadline and not notices:
            _, snap = monitor_lab.request("ma-notebook/api/monitor")
            notices = [n for n in snap["notices"] if n["kind"] == "alarm"]
            time.sleep(0.5)
        assert notices, snap["alarms"]
        toast = page.get_by_text(
            re.compile(r"Alarm cache-full: the cache directory is [\d.]+ % full")
        )
        toast.first.wait_for(timeout=40000)
        assert "free space" in toast.first.inner_text()
        time.sleep(0.5)
        assert lab_page.our_errors() == []
    finally:
        context.close()
