"""The OBS file browser in JupyterLab: which store is in use, buckets, folders, paging, filter."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_obs_browser_shows_embedded_store_and_pages_and_filters_folders(lab_page, lab):
    root = lab.data_dir / "obs"
    data = root / "browse-bucket" / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(120):
        (data / f"f{i:03d}.txt").write_text("x" * i)
    (root / "other-bucket").mkdir(exist_ok=True)

    lab_page.open()
    lab_page.page.wait_for_function(
        "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:obs", timeout=30000
    )
    lab_page.execute("ma-notebook:open-obs")
    browser = lab_page.page.locator(".ma-ObsBrowser")
    store = browser.locator('.ma-ObsBrowser-store[data-store="embedded"]')
    store.wait_for()
    assert "Embedded local store" in store.inner_text()

    rows = browser.locator("tr.ma-ObsBrowser-entry")
    browser.locator('tr[data-name="other-bucket"]').wait_for()
    assert browser.locator('tr[data-name="browse-bucket"]').count() == 1

    browser.locator('tr[data-name="browse-bucket"] a').click()
    browser.locator('tr[data-name="data"] a').click()
    browser.locator('tr[data-name="f099.txt"]').wait_for()
    assert rows.count() == 100
    size_cell = browser.locator('tr[data-name="f099.txt"] td').nth(2).inner_text()
    assert size_cell == "99 B"

    browser.locator("button.ma-ObsBrowser-more").click()
    browser.locator('tr[data-name="f119.txt"]').wait_for()
    assert rows.count() == 120
    assert browser.locator("button.ma-ObsBrowser-more").count() == 0

    browser.locator("input.ma-ObsBrowser-filter").fill("F11")
    lab_page.page.wait_for_function(
        "() => document.querySelectorAll('.ma-ObsBrowser tr.ma-ObsBrowser-entry').length === 10"
    )
    names = rows.evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert names == [f"f11{i}.txt" for i in range(10)]

    browser.locator("input.ma-ObsBrowser-filter").fill("")
    browser.locator("button.ma-ObsBrowser-up").click()
    browser.locator('tr[data-name="data"]').wait_for()
    crumbs = browser.locator(".ma-ObsBrowser-crumb").all_inner_texts()
    assert crumbs == ["obs://", "browse-bucket"]
    assert lab_page.our_errors() == []
