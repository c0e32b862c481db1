"""First-use paper cuts: a missing tool is named before any question, a failed URL blocks Clone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_mindinsight_tile_says_the_tool_is_missing_before_asking_for_a_folder(lab_page, lab):
    status, tools = lab.request("ma-notebook/api/visualization/tools")
    assert status == 200 and tools["tools"]["mindinsight"]["available"] is False
    page = lab_page.open().page
    page.wait_for_function(
        "() => window.jupyterapp.isPluginActivated('ma-notebook:visualization')", timeout=30000
    )
    lab_page.execute("launcher:create")
    page.locator('.jp-LauncherCard[data-category="Other"]', has_text="MindInsight").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-Dialog-header", has_text="MindInsight is not installed").wait_for()
    assert dialog.locator("input").count() == 0  # no folder question first
    assert "pip install" in dialog.inner_text()
    dialog.locator("button.jp-mod-accept").click()
    assert lab_page.our_errors() == []


def test_clone_button_is_disabled_while_the_url_is_in_error(lab_page, lab, git_server):
    lab_page.open()
    page = lab_page.page
    page.locator('.jp-FileBrowser-toolbar [data-jp-item-name="ma-add-files"] button').click()
    dialog = page.locator(".ma-AddFilesDialog")
    dialog.get_by_role("tab", name="Git").click()
    tab = dialog.locator('.ma-AddFiles-tab[data-tab="git"]')
    tab.locator(".ma-GitClone-url").fill(f"{git_server.url}/public/missing.git")
    tab.locator(".ma-GitClone-error", has_text="was not found").wait_for()
    assert tab.locator(".ma-GitClone-clone").is_disabled()
    tab.locator(".ma-GitClone-url").fill(f"{git_server.url}/public/sample.git")
    tab.locator("select.ma-GitClone-branch").wait_for()
    tab.locator(".ma-GitClone-clone:enabled").wait_for()  # once the file list has loaded
