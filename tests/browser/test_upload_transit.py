"""Chromium against a JupyterLab whose OBS is moto: transit, the OBS tab, Download via OBS.

The same JupyterLab allows URL imports from 127.0.0.1, for the Remote tab.
"""

from __future__ import annotations

import json
import os
import re
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
    obs_page: LabPage, path: str, name: str, remembered: str = ""
) -> list[str]:
    """Pick the file in the Local tab and choose OBS TRANSIT; return the PUT URLs.

    Without a remembered transit path the path form appears and USE DEFAULT is chosen.
    """
    page = obs_page.page
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    obs_page.open()
    page.evaluate(
        "raw => window.jupyterapp.serviceManager.settings.save('ma-notebook:upload', raw)",
        json.dumps({"transitPath": remembered}),
    )
    page.evaluate(
        "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'local'}); }"
    )
    dialog = page.locator(".ma-AddFilesDialog")
    dialog.locator(".ma-Upload-input").set_input_files(path)
    row = dialog.locator(f'.ma-Upload-row[data-name="{name}"]')
    expect(row).to_have_attribute("data-state", "large")
    expect(row).to_contain_text("The file size exceeds 10 MB")
    row.get_by_role("button", name="OBS TRANSIT").click()
    if not remembered:
        dialog.get_by_role("button", name="USE DEFAULT").click()
    expect(row).to_have_attribute("data-state", "done", timeout=120000)
    expect(row.locator(".ma-Upload-percent")).to_have_text("100%")
    return puts


def transit_objects(obs_lab: LabProcess) -> list[str]:
    listing = obs_lab.s3.list_objects_v2(Bucket=TRANSIT_BUCKET)  # type: ignore[attr-defined]
    return [o["Key"] for o in listing.get("Contents", [])]


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
    puts = upload_through_transit(obs_page, str(tmp_path / "dataset.bin"), "dataset.bin")
    assert (obs_lab.root_dir / "dataset.bin").read_bytes() == data
    # The parts went straight to OBS (moto), none through the notebook server.
    moto = [u for u in puts if u.startswith(obs_lab.s3.meta.endpoint_url)]  # type: ignore[attr-defined]
    assert len(moto) >= 2 and not [u for u in puts if "/upload/transit/" in u]
    assert transit_objects(obs_lab) == []
    assert not [p for p in os.listdir(obs_lab.root_dir) if ".ma-upload-" in p]
    # USE DEFAULT is remembered for next time.
    settings = obs_page.page.evaluate(
        "async () => (await window.jupyterapp.serviceManager.settings.fetch("
        "'ma-notebook:upload')).settings"
    )
    assert settings["transitPath"] == f"obs://{TRANSIT_BUCKET}/uploads/"


def test_transit_relays_through_the_server_when_obs_refuses_cors(obs_page, obs_lab, tmp_path):
    obs_lab.s3.delete_bucket_cors(Bucket=TRANSIT_BUCKET)  # type: ignore[attr-defined]
    data = os.urandom(12 * 1000 * 1000)
    (tmp_path / "relayed.bin").write_bytes(data)
    remembered = f"obs://{TRANSIT_BUCKET}/uploads/"
    # A remembered transit path is used without asking again.
    puts = upload_through_transit(
        obs_page, str(tmp_path / "relayed.bin"), "relayed.bin", remembered
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
