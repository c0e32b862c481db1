"""JupyterHub in Chromium: log in, JupyterLab loads with ma-notebook, the upload dialog opens."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures_hub import HubDeployment

pytestmark = pytest.mark.browser

PLUGINS = ["ma-notebook:core", "ma-notebook:events"]


def test_hub_login_opens_jupyterlab_with_ma_notebook_and_the_upload_dialog(
    browser: Any, hub_deployment: HubDeployment
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(60000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{hub_deployment.url}/hub/login?next=/hub/user/bob/lab")
        page.fill("#username_input", "bob")
        page.fill("#password_input", "any")
        page.click("#login_submit")
        page.wait_for_url("**/user/bob/lab**")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
        for plugin in PLUGINS:
            page.wait_for_function("id => window.jupyterapp.isPluginActivated(id)", arg=plugin)
        toolbar = page.locator(".jp-FileBrowser-toolbar")
        button = toolbar.locator('[data-jp-item-name="ma-add-files"]')
        button.locator("button").click()
        dialog = page.locator(".ma-AddFilesDialog")
        dialog.wait_for()
        assert "Add files to Notebook" in dialog.locator(".jp-Dialog-header").inner_text()
        dialog.get_by_role("button", name="Close").last.click()
        dialog.wait_for(state="detached")
        assert errors == []
    finally:
        context.close()
