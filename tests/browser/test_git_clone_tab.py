"""The Git tab of "Add files to Notebook": pick a branch, tick a folder, clone, see it."""

from __future__ import annotations

import shutil


def test_git_tab_clones_one_folder_of_a_branch_into_the_file_browser(lab_page, lab, git_server):
    url = f"{git_server.url}/public/sample.git"
    lab_page.open()
    page = lab_page.page
    page.locator('.jp-FileBrowser-toolbar [data-jp-item-name="ma-add-files"] button').click()
    dialog = page.locator(".ma-AddFilesDialog")
    dialog.get_by_role("tab", name="Git").click()
    tab = dialog.locator('.ma-AddFiles-tab[data-tab="git"]')
    tab.locator(".ma-GitClone-url").fill(url)

    branch = tab.locator("select.ma-GitClone-branch")
    branch.wait_for()
    assert branch.input_value() == "main"  # the remote's default branch is preselected
    branch.select_option("dev")
    tab.locator(".ma-GitClone-preview").click()
    docs = tab.locator('li[data-path="docs"]')
    docs.wait_for()
    # folders expand to show their files
    docs.get_by_role("button", name="Expand docs").click()
    tab.locator('li[data-path="docs/guide.md"]').wait_for()
    assert tab.locator('li[data-path="dev-notes.txt"]').count() == 1
    docs.locator("input[type=checkbox]").first.check()
    assert tab.locator('li[data-path="docs/guide.md"] input').is_disabled()

    tab.locator(".ma-GitClone-clone").click()
    dialog.wait_for(state="detached", timeout=60000)
    item = page.locator('.jp-DirListing-item[data-isdir="true"]', has_text="sample")
    item.wait_for()

    dest = lab.root_dir / "sample"
    try:
        files = sorted(
            str(p.relative_to(dest))
            for p in dest.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(dest).parts
        )
        assert files == ["docs/api.md", "docs/guide.md"]

        # jupyterlab-git (a dependency) sees the clone: its REST API and its sidebar
        status, top = lab.request("git/sample/show_top_level", "POST", {})
        assert status == 200 and top["path"] == str(dest)
        status, state = lab.request("git/sample/status", "POST", {})
        assert status == 200 and state["branch"] == "dev"
        item.dblclick()
        page.locator('.jp-BreadCrumbs-item[title="sample"]').wait_for()
        page.locator('.jp-SideBar [data-id="jp-git-sessions"]').click()
        panel = page.locator("#jp-git-sessions")
        panel.get_by_text("dev", exact=True).first.wait_for()
        assert lab_page.our_errors() == []
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_private_repo_asks_for_a_token_and_existing_folder_asks_to_overwrite(
    lab_page, lab, git_server
):
    from fixtures_git import GIT_TOKEN, GIT_USER

    url = f"{git_server.url}/private/sample.git"
    dest = lab.root_dir / "private-copy"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    lab_page.open()
    page = lab_page.page
    try:
        # the command resolves when the dialog closes: do not wait for it
        page.evaluate(
            "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'git'}); }"
        )
        tab = page.locator('.ma-AddFilesDialog .ma-AddFiles-tab[data-tab="git"]')
        tab.locator(".ma-GitClone-url").fill(url)
        tab.locator(".ma-GitClone-error", has_text="Authentication required").wait_for()
        tab.locator(".ma-GitClone-username").fill(GIT_USER)
        tab.locator(".ma-GitClone-token").fill("wrong-token")
        tab.locator(".ma-GitClone-signin").click()
        tab.locator(".ma-GitClone-error", has_text="rejected").wait_for()
        tab.locator(".ma-GitClone-token").fill(GIT_TOKEN)
        tab.locator(".ma-GitClone-signin").click()
        tab.locator("select.ma-GitClone-branch").wait_for()
        tab.locator(".ma-GitClone-name").fill("private-copy")
        tab.locator(".ma-GitClone-clone").click()
        conflict = tab.locator(".ma-GitClone-conflict")
        conflict.wait_for()
        assert "already exists" in conflict.inner_text()
        assert (dest / "old.txt").exists()
        conflict.get_by_role("button", name="Overwrite").click()
        page.locator(".ma-AddFilesDialog").wait_for(state="detached", timeout=60000)
        assert (dest / "README.md").exists() and not (dest / "old.txt").exists()
        assert GIT_TOKEN not in lab.log_text() and "wrong-token" not in lab.log_text()
        assert lab_page.our_errors() == []
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_clone_progress_survives_closing_the_dialog_and_cancel_leaves_nothing(
    lab_page, lab, git_server
):
    url = f"{git_server.url}/public/sample.git"
    lab_page.open()
    page = lab_page.page
    open_git_tab = (
        "() => { window.jupyterapp.commands.execute('ma-notebook:add-files', {tab: 'git'}); }"
    )
    git_server.throttle = 0.05
    try:
        page.evaluate(open_git_tab)
        tab = page.locator('.ma-AddFilesDialog .ma-AddFiles-tab[data-tab="git"]')
        tab.locator(".ma-GitClone-url").fill(url)
        tab.locator("select.ma-GitClone-branch").wait_for()
        tab.locator(".ma-GitClone-name").fill("slow-clone")
        tab.locator(".ma-GitClone-clone").click()
        tab.locator(".ma-GitClone-task", has_text="Receiving objects").wait_for()
        assert tab.locator("progress.ma-GitClone-progress").count() == 1

        # closing the dialog does not stop the clone; reopening shows it again
        page.locator(".ma-AddFilesDialog").get_by_role("button", name="Close").last.click()
        page.locator(".ma-AddFilesDialog").wait_for(state="detached")
        page.evaluate(open_git_tab)
        tab.locator(".ma-GitClone-task", has_text="Receiving objects").wait_for()
        tab.locator(".ma-GitClone-cancel").click()
        tab.locator(".ma-GitClone-task", has_text="nothing was left behind").wait_for()
        leftovers = [p.name for p in lab.root_dir.iterdir() if "slow-clone" in p.name]
        assert leftovers == []
        assert lab_page.our_errors() == []
    finally:
        git_server.throttle = 0.0
