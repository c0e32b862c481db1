"""`make run` starts a JupyterLab that a first-time user can open and see the Events panel in."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from ma_fixtures import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_serves_jupyterlab_with_the_events_panel(browser, tmp_path):
    port = free_port()
    env = dict(os.environ)
    env.update(
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}", f"ROOT_DIR={tmp_path / 'work'}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = None
        seen = []
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(rf"(http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]+)", line)
            if m:
                url = m.group(1)
        assert url, "make run printed no URL with a token:\n" + "".join(seen[-30:])

        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
        page.locator('[data-id="ma-notebook-events"]').click()
        page.locator('#ma-notebook-events li[data-event-type="NotebookHealthy"]').first.wait_for(
            timeout=30000
        )
        # a first start asks nothing about news (make run's settings answer it)
        page.wait_for_timeout(2000)
        assert page.get_by_text("notified about official Jupyter news").count() == 0
        context.close()
    finally:
        stop_process(proc)
