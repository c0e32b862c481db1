"""JupyterLab in Chromium: the extension activates and the Events panel shows the events."""

from __future__ import annotations

import pytest

from ma_notebook.events import EventLog

pytestmark = pytest.mark.browser

PLUGINS = ["ma-notebook:core", "ma-notebook:events"]


def test_plugins_activate_and_events_panel_shows_notebook_healthy(lab_page):
    lab_page.open()
    for plugin in PLUGINS:
        lab_page.page.wait_for_function(
            "id => window.jupyterapp.isPluginActivated(id)", arg=plugin, timeout=30000
        )
    lab_page.execute("ma-notebook:open-events")
    panel = lab_page.page.locator("#ma-notebook-events")
    panel.wait_for(state="visible")
    healthy = panel.locator('li[data-event-type="NotebookHealthy"]').first
    healthy.wait_for(state="visible")
    assert "ma-event-major" in (healthy.get_attribute("class") or "").lower()
    assert lab_page.our_errors() == []


def test_events_panel_refresh_shows_new_events_and_auto_refresh_choices(lab_page, lab):
    lab_page.open()
    lab_page.execute("ma-notebook:open-events")
    panel = lab_page.page.locator("#ma-notebook-events")
    panel.locator('li[data-event-type="NotebookHealthy"]').first.wait_for()
    options = panel.locator("select.ma-Events-interval option").all_text_contents()
    assert options == ["Off", "30 s", "1 min", "5 min"]
    assert panel.locator('li[data-event-type="CacheAlarmTest"]').count() == 0

    # Another process records an event in the same log (as a capability would).
    log = EventLog(lab.data_dir / "events.sqlite3")
    log.record("CacheAlarmTest", "Critical", "The cache directory is 95% full.")
    log.close()

    panel.locator("button.ma-Events-refresh").click()
    alarm = panel.locator('li[data-event-type="CacheAlarmTest"]')
    alarm.wait_for()
    assert "ma-event-critical" in (alarm.get_attribute("class") or "").lower()
    # Newest first.
    assert panel.locator("li.ma-Event").first.get_attribute("data-event-type") == "CacheAlarmTest"

    panel.locator("select.ma-Events-interval").select_option("30")
    assert panel.locator("select.ma-Events-interval").input_value() == "30"
