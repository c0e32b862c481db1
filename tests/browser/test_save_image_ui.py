"""File > Save Image: the dialog, progress to Done in a notification, and a failure's reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from ma_fixtures import LabPage

pytestmark = pytest.mark.browser


@pytest.fixture
def lab_args() -> list[str]:
    return []


@pytest.fixture
def save_page(browser: Any, lab_factory, tiny_base, registry, lab_args) -> Iterator[LabPage]:
    lab = lab_factory(
        extra_args=[
            f"--ImageService.root={tiny_base['root']}",
            f"--ImageService.baseline_path={tiny_base['baseline']}",
            f"--ImageService.registry={registry.addr}",
            *lab_args,
        ]
    )
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30000)
    yield LabPage(page, lab)
    context.close()


def open_dialog(save_page: LabPage):
    page = save_page.open().page
    page.wait_for_function(
        "() => window.jupyterapp.isPluginActivated('ma-notebook:save-image')", timeout=30000
    )
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-item", has_text="Save Image…").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".ma-SaveImage").wait_for()
    return page, dialog


def test_save_image_dialog_saves_and_shows_done(save_page, tiny_base, registry):
    (tiny_base["root"] / "usr/bin/from-browser").write_text("installed")
    page, dialog = open_dialog(save_page)
    assert registry.addr in dialog.inner_text()
    dialog.locator("input[name=organization]").fill("team")
    dialog.locator("input[name=name]").fill("browser-env")
    dialog.locator("input[name=tag]").fill("v1")
    dialog.locator("button.jp-mod-accept").click()
    page.locator(".Toastify__toast", has_text="Done: saved").wait_for(timeout=60000)
    manifest = json.loads(registry.client().get_manifest("team/browser-env", "v1")[1])
    assert len(manifest["layers"]) == 2
    status, data = save_page.lab.request("ma-notebook/api/events?type=SaveImage")
    assert status == 200 and len(data["events"]) == 1
    assert not save_page.console_errors


@pytest.mark.parametrize("lab_args", [["--ImageService.max_layers=1"]])
def test_a_failing_save_shows_its_reason(save_page, registry):
    page, dialog = open_dialog(save_page)
    dialog.locator("input[name=organization]").fill("Not-Lower-Case")
    dialog.locator("input[name=name]").fill("x")
    dialog.locator("button.jp-mod-accept").click()
    # A 400 names the field and the dialog comes back with what was typed.
    page.locator(".Toastify__toast", has_text="'organization'").wait_for()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".ma-SaveImage").wait_for()
    assert dialog.locator("input[name=organization]").input_value() == "Not-Lower-Case"
    dialog.locator("input[name=organization]").fill("team")
    dialog.locator("input[name=name]").fill("too-big")
    # A limit the server enforces fails the task; the notification says why.
    dialog.locator("button.jp-mod-accept").click()
    failed = page.locator(".Toastify__toast", has_text="Failed:")
    failed.wait_for(timeout=60000)
    assert "more than the limit of 1" in failed.inner_text()
    status, data = save_page.lab.request("ma-notebook/api/events?type=SavedImageFailed")
    assert status == 200
    assert data["events"][0]["severity"] == "Critical"
