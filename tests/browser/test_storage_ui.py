"""The Storage panel in Chromium: mount an OBS folder picked in the OBS browser, grow the disk."""

from __future__ import annotations

import os

from fixtures_storage import wait_for

from ma_notebook.storage import system
from ma_notebook.storage.volumes import GiB, init_local_volume


def test_storage_panel_mounts_an_obs_folder_and_grows_the_workspace_disk(
    browser, lab_factory, storage_base
):
    from ma_fixtures import LabPage

    home = storage_base / "home"
    obs_root = home / "ma-data" / "obs"
    (obs_root / "datasets" / "train").mkdir(parents=True)
    (obs_root / "datasets" / "train" / "hello.txt").write_text("hello from OBS")
    volume = storage_base / "vol"
    init_local_volume(volume, 1, storage_base / "ws.img", home / "ma-data" / "storage")
    data_root = home / "work" / "data"
    lab = lab_factory(
        home,
        extra_args=[
            f"--StorageService.data_root={data_root}",
            f"--MaNotebookApp.workspace_dir={volume}",
        ],
    )
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30000)
        lab_page = LabPage(page, lab).open()
        page.wait_for_function(
            "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:storage"
        )
        lab_page.execute("ma-notebook:open-storage")
        panel = page.locator(".ma-Storage")
        panel.locator('.ma-Storage-diskType[data-type="local"]').wait_for()
        size_before = panel.locator(".ma-Storage-diskSize").inner_text()

        # Mount Storage: pick obs://datasets/train/ in the OBS browser
        panel.locator("button.ma-Storage-mount").click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator('.ma-ObsBrowser tr[data-name="datasets"] a').click()
        dialog.locator('.ma-ObsBrowser tr[data-name="train"]').click()
        assert dialog.locator(".ma-StorageMount-uri").input_value() == "obs://datasets/train/"
        assert dialog.locator(".ma-StorageMount-name").input_value() == "train"
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        row = panel.locator('.ma-Storage-row[data-mount-path="/data/train/"]')
        row.locator('xpath=self::*[@data-status="MOUNTED"]').wait_for()
        assert row.locator(".ma-Storage-uri").inner_text() == "obs://datasets/train/"
        assert system.mount_at(data_root / "train") is not None

        # the folder shows in the file browser, with the object in it
        lab_page.execute("filebrowser:go-to-path", {"path": "data/train/"})
        page.locator(".jp-DirListing-content").get_by_text("hello.txt").wait_for()

        lab_page.execute("filebrowser:go-to-path", {"path": "/"})
        lab_page.execute("ma-notebook:open-storage")
        row.locator(".ma-Storage-unmount").click()
        row.wait_for(state="detached")
        wait_for(lambda: system.mount_at(data_root / "train") is None)

        # grow the workspace disk by 1 GB
        before = os.statvfs(volume).f_blocks * os.statvfs(volume).f_frsize
        panel.locator("button.ma-Storage-expand").click()
        dialog.locator(".ma-StorageExpand-increase").fill("1")
        assert (
            "Size after expansion: 2 GB" in dialog.locator(".ma-StorageExpand-after").inner_text()
        )
        assert "100 GB" in dialog.inner_text() and "4096 GB" in dialog.inner_text()
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        page.wait_for_function(
            "old => document.querySelector('.ma-Storage-diskSize').textContent !== old",
            arg=size_before,
        )
        after = os.statvfs(volume).f_blocks * os.statvfs(volume).f_frsize
        assert after - before > 0.9 * GiB
        shown = panel.locator(".ma-Storage-diskSize").inner_text()
        assert shown.endswith(f"used of {after / 1e9:.1f} GB"), shown  # decimal units, as the UI
        assert lab_page.our_errors() == []
    finally:
        context.close()
