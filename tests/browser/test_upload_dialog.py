"""The Local tab of "Add files to Notebook": progress, speed, the queue and the overwrite prompt."""

from __future__ import annotations

import json
import os
import re
import urllib.request
import uuid

from playwright.sync_api import expect


def open_local_tab(lab_page):
    lab_page.open()
    # The command resolves when the dialog closes: start it without waiting.
    lab_page.page.evaluate(
        "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'local'}); }"
    )
    dialog = lab_page.page.locator(".ma-AddFilesDialog")
    dialog.wait_for()
    dialog.locator(".ma-Upload-local").wait_for()
    return dialog


def row(dialog, name):
    return dialog.locator(f'.ma-Upload-row[data-name="{name}"]')


def test_small_file_reaches_100_percent_with_a_speed(lab_page, lab, tmp_path):
    name = f"small-{uuid.uuid4().hex[:6]}.bin"
    data = os.urandom(300_000)
    (tmp_path / name).write_bytes(data)
    dialog = open_local_tab(lab_page)
    dialog.locator(".ma-Upload-input").set_input_files(str(tmp_path / name))
    expect(row(dialog, name)).to_have_attribute("data-state", "done", timeout=20000)
    expect(row(dialog, name).locator(".ma-Upload-percent")).to_have_text("100%")
    speed = row(dialog, name).locator(".ma-Upload-speed").inner_text()
    assert re.fullmatch(r"\d+(\.\d)? (B|KB|MB|GB)/s", speed) and not speed.startswith("0 "), speed
    expect(row(dialog, name)).to_contain_text("uploaded successfully")
    assert (lab.root_dir / name).read_bytes() == data
    assert not [p for p in os.listdir(lab.root_dir) if ".ma-upload-" in p]
    assert lab_page.our_errors() == []


def test_twelve_files_queue_with_at_most_ten_active(lab_page, lab, tmp_path):
    tag = uuid.uuid4().hex[:6]
    paths = []
    for i in range(12):
        path = tmp_path / f"q{tag}-{i:02}.txt"
        path.write_bytes(f"file {i}\n".encode() * 100)
        paths.append(str(path))
    page = lab_page.page
    held = []
    holding = [True]

    def hold(route):
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    # Hold every upload's bytes so the queue can be seen with uploads in flight.
    puts = re.compile(r".*/ma-notebook/api/upload/sessions/[0-9a-f]{32}\?offset=.*")
    page.route(puts, hold)
    dialog = open_local_tab(lab_page)
    dialog.locator(".ma-Upload-input").set_input_files(paths)
    rows = dialog.locator(".ma-Upload-row")
    expect(rows).to_have_count(12)
    expect(dialog.locator('.ma-Upload-row[data-state="uploading"]')).to_have_count(10)
    expect(dialog.locator('.ma-Upload-row[data-state="awaiting"]')).to_have_count(2)
    expect(dialog.locator('.ma-Upload-row[data-state="awaiting"]').first).to_contain_text(
        "awaiting upload"
    )
    status = page.locator(".ma-UploadStatus")
    expect(status).to_have_text("Uploading: 0 / 12")
    assert len(held) == 10
    holding[0] = False
    for route in held:
        route.continue_()
    expect(status).to_have_text("Uploading: 12 / 12", timeout=30000)
    expect(dialog.locator('.ma-Upload-row[data-state="done"]')).to_have_count(12)
    for i in range(12):
        assert (lab.root_dir / f"q{tag}-{i:02}.txt").read_bytes() == f"file {i}\n".encode() * 100


def test_duplicate_name_asks_overwrite_or_cancel(lab_page, lab, tmp_path):
    name = f"dup-{uuid.uuid4().hex[:6]}.txt"
    (lab.root_dir / name).write_text("old content")
    (tmp_path / name).write_text("new content")
    dialog = open_local_tab(lab_page)
    dialog.locator(".ma-Upload-input").set_input_files(str(tmp_path / name))
    the_row = row(dialog, name)
    expect(the_row).to_have_attribute("data-state", "conflict")
    expect(the_row).to_contain_text(f"{name} already exists")
    assert (lab.root_dir / name).read_text() == "old content"
    the_row.get_by_role("button", name="Overwrite").click()
    expect(the_row).to_have_attribute("data-state", "done")
    assert (lab.root_dir / name).read_text() == "new content"
    # Cancel leaves the existing file alone.
    (tmp_path / name).write_text("third")
    dialog.locator(".ma-Upload-input").set_input_files(str(tmp_path / name))
    second = dialog.locator(f'.ma-Upload-row[data-name="{name}"][data-state="conflict"]')
    second.get_by_role("button", name="Cancel").click()
    expect(
        dialog.locator(f'.ma-Upload-row[data-name="{name}"][data-state="cancelled"]')
    ).to_have_count(1)
    assert (lab.root_dir / name).read_text() == "new content"


def test_picking_the_same_file_after_a_reload_resumes_the_upload(lab_page, lab, tmp_path):
    name = f"resume-{uuid.uuid4().hex[:6]}.bin"
    data = os.urandom(2 * 1024 * 1024)
    path = tmp_path / name
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    # A previous page sent the first MiB, then was reloaded.
    key = f"{name}:{len(data)}:1700000000000"
    status, session = lab.request(
        "ma-notebook/api/upload/sessions",
        "POST",
        {"path": "", "name": name, "size": len(data), "key": key},
    )
    assert status == 201, session
    req = urllib.request.Request(
        f"{lab.url}/ma-notebook/api/upload/sessions/{session['id']}?offset=0",
        data=data[: 1024 * 1024],
        method="PUT",
        headers={"Authorization": f"token {lab.token}"},
    )
    with urllib.request.urlopen(req) as resp:
        assert json.load(resp)["offset"] == 1024 * 1024
    puts = []
    lab_page.page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    dialog = open_local_tab(lab_page)
    dialog.locator(".ma-Upload-input").set_input_files(str(path))
    expect(row(dialog, name)).to_have_attribute("data-state", "done")
    expect(row(dialog, name)).to_contain_text("resumed at 1.0 MB")
    assert [u for u in puts if "upload/sessions" in u] == [
        f"{lab.url}/ma-notebook/api/upload/sessions/{session['id']}?offset=1048576"
    ]
    assert (lab.root_dir / name).read_bytes() == data


def test_files_dropped_on_the_file_browser_join_the_queue(lab_page, lab):
    name = f"dropped-{uuid.uuid4().hex[:6]}.txt"
    lab_page.open()
    page = lab_page.page
    listing = page.locator(".jp-DirListing-content")
    listing.wait_for()
    # ma-notebook's drop handler is in place (else JupyterLab's own uploader takes the drop).
    page.locator('.jp-FileBrowser[data-ma-drop-queue="on"]').wait_for()
    transfer = page.evaluate_handle(
        """name => {
            const dt = new DataTransfer();
            dt.items.add(new File(['dropped onto the browser'], name, {type: 'text/plain'}));
            return dt;
        }""",
        name,
    )
    contents_puts = []
    page.on(
        "request",
        lambda r: (
            contents_puts.append(r.url) if r.method == "PUT" and "/api/contents/" in r.url else None
        ),
    )
    listing.dispatch_event("drop", {"dataTransfer": transfer})
    dialog = page.locator(".ma-AddFilesDialog")
    expect(row(dialog, name)).to_have_attribute("data-state", "done")
    expect(page.locator(".ma-UploadStatus")).to_have_text("Uploading: 1 / 1")
    assert (lab.root_dir / name).read_text() == "dropped onto the browser"
    assert contents_puts == []  # JupyterLab's own uploader did not run
    # The file browser shows it without a manual refresh.
    expect(page.locator(f'.jp-DirListing-item[title*="{name}"]')).to_have_count(1)
