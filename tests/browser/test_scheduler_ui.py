"""Notebook jobs from JupyterLab in Chromium: create from the file browser, run, open outputs."""

from __future__ import annotations

import shutil
import time

import pytest
from fixtures_scheduler import make_kernelspec, write_notebook

pytestmark = pytest.mark.browser


def test_create_notebook_job_from_file_browser_runs_and_html_output_opens(lab_page, lab):
    write_notebook(lab.root_dir / "ui-report.ipynb", "print('hello from the job', 6 * 7)")
    lab_page.open()
    page = lab_page.page
    page.wait_for_function(
        "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:scheduler"
    )
    lab_page.execute("filebrowser:refresh")
    item = page.locator(".jp-DirListing-item[title*='ui-report.ipynb']")
    item.wait_for()
    item.click(button="right")
    # jupyter-scheduler 2.12 labels the menu item "Create Job" (the seed: "Create Notebook Job").
    page.get_by_role("menuitem", name="Create Job", exact=True).click()

    page.get_by_role("radio", name="Run now").wait_for()
    assert page.get_by_role("radio", name="Run now").is_checked()
    page.get_by_role("button", name="Create").click()

    row = page.locator("tr", has_text="ui-report.ipynb").first
    row.wait_for()
    deadline = time.monotonic() + 90
    while "Completed" not in row.inner_text():
        assert "Failed" not in row.inner_text()
        assert time.monotonic() < deadline, row.inner_text()
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Reload").click()

    # Download the outputs into the workspace, then open the HTML from the job's detail view.
    row.get_by_role("button", name="download").click()
    row.get_by_title('Open detail view for "ui-report"').click()
    html_link = page.get_by_role("link", name="HTML", exact=True)
    deadline = time.monotonic() + 30
    while not html_link.count():
        assert time.monotonic() < deadline
        page.get_by_role("button", name="Reload Job").click()
        page.wait_for_timeout(500)
    html_link.click()
    frame = page.frame_locator(".jp-HTMLViewer iframe").first
    frame.get_by_text("hello from the job 42").wait_for()
    assert lab_page.our_errors() == []


def test_failed_job_run_shows_a_notification(lab_page, lab):
    write_notebook(lab.root_dir / "ui-broken.ipynb", "1 / 0")
    lab_page.open()
    page = lab_page.page
    page.wait_for_function(
        "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:scheduler"
    )
    status, data = lab.request(
        "scheduler/jobs",
        "POST",
        {"name": "broken", "input_uri": "ui-broken.ipynb", "runtime_environment_name": "python3"},
    )
    assert status == 200, data
    toast = page.locator(".Toastify__toast", has_text="Notebook job 'broken' failed")
    toast.wait_for(timeout=60000)
    assert "ZeroDivisionError" in toast.inner_text()
    assert "cell 1" in toast.inner_text()
    assert toast.get_by_role("button", name="Show Notebook Jobs").count() == 1


def test_the_second_environment_in_the_create_job_form_runs_the_job(lab_page, lab):
    # jupyter-scheduler 2.12's picker submits the chosen item's label: before the fix only
    # the preselected first environment could create a job.
    data = lab.home / "jupyter-data"
    make_kernelspec(data, "ui-env-alpha", "UI Env Alpha", {"MA_JOB_ENV": "alpha"})
    make_kernelspec(data, "ui-env-beta", "UI Env Beta", {"MA_JOB_ENV": "beta"})
    try:
        write_notebook(
            lab.root_dir / "ui-env.ipynb", "import os\nprint('ENV', os.environ.get('MA_JOB_ENV'))"
        )
        lab_page.open()
        page = lab_page.page
        page.wait_for_function(
            "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:scheduler"
        )
        lab_page.execute("filebrowser:refresh")
        item = page.locator(".jp-DirListing-item[title*='ui-env.ipynb']")
        item.wait_for()
        item.click(button="right")
        page.get_by_role("menuitem", name="Create Job", exact=True).click()
        page.get_by_role("radio", name="Run now").wait_for()
        # MUI's Select: the picker shows the preselected (first) environment's name.
        page.locator("[aria-haspopup='listbox']", has_text="python3").first.click()
        page.get_by_role("option", name="ui-env-beta", exact=True).click()
        page.get_by_role("button", name="Create").click()
        page.locator("tr", has_text="ui-env.ipynb").first.wait_for()
        status, listing = lab.request("scheduler/jobs")
        assert status == 200, listing
        (job,) = [j for j in listing["jobs"] if j["input_filename"] == "ui-env.ipynb"]
        assert job["runtime_environment_name"] == "ui-env-beta"
        deadline = time.monotonic() + 90
        while job["status"] not in ("COMPLETED", "FAILED"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
            job = lab.request(f"scheduler/jobs/{job['job_id']}")[1]
        assert job["status"] == "COMPLETED", job
        assert lab_page.our_errors() == []
    finally:
        for name in ("ui-env-alpha", "ui-env-beta"):
            shutil.rmtree(data / "kernels" / name, ignore_errors=True)
