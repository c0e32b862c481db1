"""TensorBoard from the launcher renders in a tab, is listed in Running, and SHUT DOWN ends it."""

from __future__ import annotations

import os
import time

import pytest
from fixtures_visualization import write_tensorboard_scalars

pytestmark = pytest.mark.browser


def test_tensorboard_tile_opens_a_tab_listed_in_running_until_shut_down(lab_page, lab):
    write_tensorboard_scalars(lab.root_dir / "summary" / "run1", tag="browser_loss")
    page = lab_page.open().page
    page.wait_for_function(
        "() => window.jupyterapp.isPluginActivated('ma-notebook:visualization')", timeout=30000
    )
    lab_page.execute("launcher:create")
    tile = page.locator('.jp-LauncherCard[data-category="Other"]', has_text="TensorBoard")
    assert tile.locator(".jp-LauncherCard-label").inner_text().strip() == "TensorBoard"
    tile.click()

    dialog = page.locator(".jp-Dialog")
    field = dialog.locator("input")
    field.wait_for()
    assert field.input_value() == "summary"  # <workspace>/summary, where the run was written
    dialog.locator("button.jp-mod-accept").click()

    tab = page.locator(".ma-VisualizationTab")
    tab.wait_for(timeout=60000)
    frame = page.frame_locator(".ma-VisualizationTab iframe")
    frame.get_by_text("browser_loss").first.wait_for(timeout=60000)

    status, data = lab.request("ma-notebook/api/visualization/instances")
    assert status == 200 and len(data["instances"]) == 1
    instance = data["instances"][0]
    assert instance["state"] == "running" and instance["path"] == "summary"

    # A closed tab comes back for the running instance (what layout restoration does).
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="TensorBoard: summary").locator(
        ".lm-TabBar-tabCloseIcon"
    ).click()
    tab.wait_for(state="detached")
    lab_page.execute("ma-notebook:open-visualization", {"id": instance["id"]})
    frame.get_by_text("browser_loss").first.wait_for(timeout=60000)

    # The folder's context menu reuses the running instance and its tab.
    lab_page.execute("filebrowser:activate")
    page.locator('.jp-DirListing-item[data-isdir="true"]', has_text="summary").click(button="right")
    with page.expect_response(
        lambda r: (
            r.url.split("?")[0].endswith("visualization/instances") and r.request.method == "POST"
        )
    ) as started:
        page.locator(".lm-Menu-item", has_text="Open in TensorBoard").click()
    assert started.value.status == 200  # reused, not created
    assert page.locator(".ma-VisualizationTab").count() == 1
    status, data = lab.request("ma-notebook/api/visualization/instances")
    assert [i["id"] for i in data["instances"]] == [instance["id"]]

    page.evaluate("() => window.jupyterapp.shell.activateById('jp-running-sessions')")
    heading = page.locator('#jp-running-sessions h3[aria-label="TensorBoard Section"]')
    heading.wait_for()
    section = page.locator(f"#{heading.get_attribute('aria-controls')}")
    item = section.locator(".ma-VisualizationItem")
    item.wait_for()
    assert item.locator(".jp-RunningSessions-itemLabel").inner_text().strip() == "summary"
    assert item.locator(".jp-RunningSessions-itemDetail").inner_text().strip().endswith("s")

    item.hover()
    item.locator(".jp-RunningSessions-itemShutdown").click()
    item.wait_for(state="detached")
    tab.wait_for(state="detached")

    status, data = lab.request("ma-notebook/api/visualization/instances")
    assert data["instances"] == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(instance["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("TensorBoard's process group is still alive after SHUT DOWN")
    assert lab_page.our_errors() == []
