"""Chromium: a transit upload whose server was killed mid-pull shows Interrupted; Resume ends it."""

from __future__ import annotations

from typing import Any

from fixtures_obs import BUCKET
from fixtures_tasks import s3, server_config, start_transit_pull
from ma_fixtures import LabPage
from playwright.sync_api import expect


def test_interrupted_transit_upload_resumes_from_the_dialog(
    browser: Any, lab_factory: Any, slow_moto: Any, tmp_path: Any
) -> None:
    config = server_config(slow_moto, tmp_path)
    first = lab_factory(home=tmp_path, app="server", config=config)
    data, _session, _task = start_transit_pull(first, slow_moto, name="resume-me.bin")
    first.kill()
    slow_moto.rate = 0

    lab = lab_factory(home=tmp_path, app="lab", config=config)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = LabPage(context.new_page(), lab).open()
        page.page.evaluate(
            "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'local'}); }"
        )
        dialog = page.page.locator(".ma-AddFilesDialog")
        row = dialog.locator('.ma-Upload-row[data-name="resume-me.bin"]')
        expect(row).to_have_attribute("data-state", "interrupted", timeout=30000)
        expect(row).to_contain_text("Interrupted at")
        expect(dialog).to_contain_text("Interrupted by a server restart")
        expect(row.get_by_role("button", name="Discard")).to_be_visible()
        row.get_by_role("button", name="Resume").click()
        expect(row).to_have_attribute("data-state", "succeeded", timeout=60000)
        expect(row).to_contain_text("uploaded successfully")
        assert (lab.root_dir / "resume-me.bin").read_bytes() == data
        assert sorted(p.name for p in lab.root_dir.iterdir()) == ["resume-me.bin"]
        client = s3(slow_moto)
        assert client.list_objects_v2(Bucket=BUCKET, Prefix="transit/").get("Contents") is None
        assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        assert page.our_errors() == []
    finally:
        context.close()
