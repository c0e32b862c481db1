"""The file browser's upload button opens the "Add files to Notebook" dialog."""

from __future__ import annotations


def test_upload_button_opens_add_files_dialog(lab_page):
    lab_page.open()
    page = lab_page.page
    toolbar = page.locator(".jp-FileBrowser-toolbar")
    button = toolbar.locator('[data-jp-item-name="ma-add-files"]')
    button.wait_for()
    # JupyterLab's own uploader is replaced by ours.
    assert toolbar.locator('[data-jp-item-name="uploader"]').count() == 0
    button.locator("button").click()
    dialog = page.locator(".ma-AddFilesDialog")
    dialog.wait_for()
    assert "Add files to Notebook" in dialog.locator(".jp-Dialog-header").inner_text()
    dialog.get_by_role("button", name="Close").last.click()
    dialog.wait_for(state="detached")
    assert lab_page.our_errors() == []
