"""Chromium against a JupyterLab whose OBS is moto: transit, the OBS tab, Download via OBS.

The same JupyterLab allows URL imports from 127.0.0.1, for the Remote tab.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fixtures_obs import TEST_AK, TEST_SK
from ma_fixtures import LabPage, LabProcess
from playwright.sync_api import expect

TRANSIT_BUCKET = "transit-bucket"


@pytest.fixture(scope="module")
def obs_lab(moto_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabProcess]:
    """A JupyterLab whose OBS is moto (credentials from the environment, not arguments)."""
    moto_server.reset()
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint,
        aws_access_key_id=TEST_AK,
        aws_secret_access_key=TEST_SK,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=TRANSIT_BUCKET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MA_OBS_ENDPOINT", moto_server.endpoint)
        mp.setenv("HUAWEICLOUD_SDK_AK", TEST_AK)
        mp.setenv("HUAWEICLOUD_SDK_SK", TEST_SK)
        mp.setenv("MA_OBS_REGION", "us-east-1")
        lab = LabProcess(
            tmp_path_factory.mktemp("obs-lab"),
            extra_args=[
                f"--ObsService.transit_path=obs://{TRANSIT_BUCKET}/uploads/",
                "--UploadService.direct_max_bytes=10000000",
                f"--ObsService.part_size={8 * 1024 * 1024}",
                "--UploadService.download_via_obs_min_bytes=10000000",
                "--UploadService.url_allowed_networks=127.0.0.1/32",
            ],
        )
        lab.start()
    lab.s3 = s3  # type: ignore[attr-defined]
    yield lab
    lab.stop()


@pytest.fixture
def obs_page(browser: Any, obs_lab: LabProcess) -> Iterator[LabPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30000)
    yield LabPage(page, obs_lab)
    context.close()


def upload_through_transit(
    obs_page: LabPage, path: str, name: str, typed: str = "", remembered: bool | None = None
) -> list[str]:
    """Pick the file in the Local tab and choose OBS TRANSIT; return the PUT URLs.

    When the transit-path form appears, ``typed`` is entered (or USE DEFAULT chosen);
    ``remembered`` True/False asserts whether the form was skipped.
    """
    page = obs_page.page
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    obs_page.open()
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'local'}); }"
    )
    dialog = page.locator(".ma-AddFilesDialog")
    dialog.locator(".ma-Upload-input").set_input_files(path)
    row = dialog.locator(f'.ma-Upload-row[data-name="{name}"]')
    expect(row).to_have_attribute("data-state", "large")
    expect(row).to_contain_text("The file size exceeds 10 MB")
    # Sizes in the same (decimal) units as the limits.
    size = os.path.getsize(path)
    expect(row.locator(".ma-Upload-size")).to_have_text(f"({size / 1e6:.1f} MB)")
    row.get_by_role("button", name="OBS TRANSIT").click()
    form = dialog.locator(".ma-Upload-transit")
    page.wait_for_function(
        """name => document.querySelector('.ma-Upload-transit') || !document.querySelector(
            `.ma-Upload-row[data-name="${name}"][data-state="large"]`)""",
        arg=name,
    )
    shown = form.count() > 0
    if remembered is not None:
        assert shown is not remembered
    if shown:
        if typed:
            form.locator(".ma-Upload-transitInput").fill(typed)
            form.get_by_role("button", name="CONFIRM").click()
        else:
            form.get_by_role("button", name="USE DEFAULT").click()
    expect(row).to_have_attribute("data-state", "done", timeout=120000)
    expect(row.locator(".ma-Upload-percent")).to_have_text("100%")
    return puts


def transit_objects(obs_lab: LabProcess) -> list[str]:
    s3 = obs_lab.s3  # type: ignore[attr-defined]
    listing = s3.list_objects_v2(Bucket=TRANSIT_BUCKET, Prefix="uploads/")
    # Staged downloads stay until their link expires; uploads must be gone.
    return [o["Key"] for o in listing.get("Contents", []) if "/download-" not in o["Key"]]


def test_120_mb_file_goes_through_obs_transit_byte_identical(obs_page, obs_lab, tmp_path):
    obs_lab.s3.put_bucket_cors(  # type: ignore[attr-defined]
        Bucket=TRANSIT_BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [obs_lab.url],
                    "AllowedMethods": ["PUT", "GET"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    data = os.urandom(120 * 1000 * 1000)
    (tmp_path / "dataset.bin").write_bytes(data)
    puts = upload_through_transit(
        obs_page, str(tmp_path / "dataset.bin"), "dataset.bin", remembered=False
    )
    assert (obs_lab.root_dir / "dataset.bin").read_bytes() == data
    # The parts went straight to OBS (moto), none through the notebook server.
    moto = [u for u in puts if u.startswith(obs_lab.s3.meta.endpoint_url)]  # type: ignore[attr-defined]
    assert len(moto) >= 2 and not [u for u in puts if "/upload/transit/" in u]
    assert transit_objects(obs_lab) == []
    assert not [p for p in os.listdir(obs_lab.root_dir) if ".ma-upload-" in p]
    # USE DEFAULT is remembered for next time as "the server's default", not today's path.
    settings = obs_page.page.evaluate(
        "async () => (await window.jupyterapp.serviceManager.settings.fetch("
        "'ma-notebook:upload')).settings"
    )
    assert settings["transitPath"] == "server default"


def test_transit_relays_through_the_server_when_obs_refuses_cors(obs_page, obs_lab, tmp_path):
    obs_lab.s3.delete_bucket_cors(Bucket=TRANSIT_BUCKET)  # type: ignore[attr-defined]
    data = os.urandom(12 * 1000 * 1000)
    (tmp_path / "relayed.bin").write_bytes(data)
    # The path chosen by the first upload is remembered: no form this time.
    puts = upload_through_transit(
        obs_page, str(tmp_path / "relayed.bin"), "relayed.bin", remembered=True
    )
    assert (obs_lab.root_dir / "relayed.bin").read_bytes() == data
    assert [u for u in puts if re.search(r"/upload/transit/[0-9a-f]{32}/parts/\d+$", u)]
    assert transit_objects(obs_lab) == []


def open_dialog(obs_page: LabPage, tab: str) -> Any:
    obs_page.open()
    obs_page.page.evaluate(
        "tab => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab}); }", tab
    )
    dialog = obs_page.page.locator(".ma-AddFilesDialog")
    dialog.wait_for()
    return dialog


def test_obs_tab_imports_a_file_picked_in_the_obs_browser(obs_page, obs_lab):
    data = os.urandom(3_000_000)
    obs_lab.s3.put_object(Bucket=TRANSIT_BUCKET, Key="data/train.csv", Body=data)  # type: ignore[attr-defined]
    dialog = open_dialog(obs_page, "obs")
    tab = dialog.locator(".ma-Upload-obs")
    tab.get_by_role("button", name="OPEN OBS FILE BROWSER").click()
    tab.get_by_role("link", name=f"{TRANSIT_BUCKET}/").click()
    tab.get_by_role("link", name="data/").click()
    tab.locator('.ma-ObsBrowser-entry[data-name="train.csv"]').click()
    expect(tab.locator(".ma-Upload-obsInput")).to_have_value(
        f"obs://{TRANSIT_BUCKET}/data/train.csv"
    )
    tab.get_by_role("button", name="UPLOAD").click()
    expect(tab.locator('.ma-Upload-row[data-name="train.csv"]')).to_have_attribute(
        "data-state", "succeeded", timeout=30000
    )
    assert (obs_lab.root_dir / "train.csv").read_bytes() == data
    # A name with refused characters is explained, naming them.
    tab.locator(".ma-Upload-obsInput").fill(f"obs://{TRANSIT_BUCKET}/#.wget-log3")
    tab.get_by_role("button", name="UPLOAD").click()
    expect(tab.locator(".ma-Upload-error")).to_contain_text("invalid characters #")


def test_download_via_obs_from_the_file_browser_menu(obs_page, obs_lab):
    data = os.urandom(11_000_000)
    (obs_lab.root_dir / "results.bin").write_bytes(data)
    (obs_lab.root_dir / "small.txt").write_text("small")
    obs_page.open()
    page = obs_page.page
    item = page.locator('.jp-DirListing-item[title*="results.bin"]')
    item.click(button="right")
    menu = page.locator(".lm-Menu")
    expect(menu.get_by_text("Download via OBS")).to_be_visible()
    with page.expect_download(timeout=60000) as info:
        menu.get_by_text("Download via OBS").click()
    download = info.value
    assert download.suggested_filename == "results.bin"
    assert Path(download.path()).read_bytes() == data
    # Small files do not get the item.
    page.keyboard.press("Escape")
    expect(page.locator(".lm-Menu")).to_have_count(0)
    page.locator('.jp-DirListing-item[title*="small.txt"]').click()
    page.locator('.jp-DirListing-item[title*="small.txt"]').click(button="right")
    expect(page.locator(".lm-Menu").get_by_text("Copy Path")).to_be_visible()
    expect(page.locator(".lm-Menu").get_by_text("Download via OBS")).to_be_hidden()


def test_remote_tab_names_the_file_then_imports_it(obs_page, obs_lab, file_server):
    dialog = open_dialog(obs_page, "remote")
    tab = dialog.locator(".ma-Upload-remote")
    tab.locator(".ma-Upload-urlInput").fill(f"{file_server.url}/export?id=7")
    expect(tab.locator(".ma-Upload-probe")).to_contain_text(
        "The file you want to upload is report 2024.csv"
    )
    tab.get_by_role("button", name="UPLOAD").click()
    expect(tab.locator('.ma-Upload-row[data-name="report 2024.csv"]')).to_have_attribute(
        "data-state", "succeeded"
    )
    assert (obs_lab.root_dir / "report 2024.csv").read_bytes() == b"a,b\n1,2\n"
    # The metadata service is refused before anything is fetched.
    tab.locator(".ma-Upload-urlInput").fill("http://169.254.169.254/latest/meta-data/")
    expect(tab.locator(".ma-Upload-error")).to_contain_text("Refused to fetch 169.254.169.254")


def test_transit_resumes_from_the_parts_obs_holds_after_a_reload(obs_page, obs_lab, tmp_path):
    data = os.urandom(12 * 1000 * 1000)
    path = tmp_path / "resumed.bin"
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    remembered = f"obs://{TRANSIT_BUCKET}/uploads/"
    # A previous page uploaded part 1, then was reloaded.
    status, session = obs_lab.request(
        "ma-notebook/api/upload/transit",
        "POST",
        {
            "path": "",
            "name": "resumed.bin",
            "size": len(data),
            "key": f"resumed.bin:{len(data)}:1700000000000",
            "transit_path": remembered,
        },
    )
    assert status == 201 and session["parts"] == 2, session
    req = urllib.request.Request(
        f"{obs_lab.url}/ma-notebook/api/upload/transit/{session['id']}/parts/1",
        data=data[: session["part_size"]],
        method="PUT",
        headers={"Authorization": f"token {obs_lab.token}"},
    )
    urllib.request.urlopen(req).read()
    puts = upload_through_transit(obs_page, str(path), "resumed.bin", typed=remembered)
    assert (obs_lab.root_dir / "resumed.bin").read_bytes() == data
    row = obs_page.page.locator('.ma-Upload-row[data-name="resumed.bin"]')
    expect(row).to_contain_text(f"resumed at {session['part_size'] / 1e6:.1f} MB")
    part_puts = [u for u in puts if "partNumber=" in u or "/parts/" in u]
    # Only part 2 moved (presigned, or relayed when the bucket refuses CORS).
    assert part_puts and all("partNumber=2&" in u or u.endswith("/parts/2") for u in part_puts)
    assert transit_objects(obs_lab) == []
