"""Code-cell forms in Chromium: Add Form, the field dialog, both-way binding, hide state, Colab."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fixtures_scheduler import SchedulerServer, write_notebook

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).parent.parent / "fixtures" / "colab_forms.ipynb"


class NotebookPage:
    """Page object for one open notebook and the forms of its cells."""

    def __init__(self, lab_page: Any) -> None:
        self.lab_page = lab_page
        self.page = lab_page.page

    def open(self, path: str) -> NotebookPage:
        self.page.wait_for_function(
            "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:code-forms"
        )
        self.lab_page.execute("docmanager:open", {"path": path})
        self.panel = self.page.locator(".jp-NotebookPanel:visible")
        self.panel.locator(".jp-CodeCell").first.wait_for()
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session?.kernel
                    && w.sessionContext.session.kernel.status === 'idle';
            }""",
            timeout=60000,
        )
        return self

    def cell(self, index: int) -> Any:
        return self.panel.locator(".jp-Notebook .jp-Cell").nth(index)

    def source(self, index: int) -> str:
        return str(
            self.page.evaluate(
                "i => window.jupyterapp.shell.currentWidget.content.widgets[i]"
                ".model.sharedModel.getSource()",
                index,
            )
        )

    def context_menu(self, index: int, *path: str) -> None:
        """Right-click a cell's prompt and follow a menu path (submenus by hover)."""
        self.cell(index).locator(".jp-InputPrompt").click(button="right")
        menu = self.page.locator(".lm-Menu").last
        for label in path[:-1]:
            # Lumino gives submenu items no role
            menu.locator(".lm-Menu-item[data-type='submenu']", has_text=label).hover()
            menu = self.page.locator(".lm-Menu").last
            menu.get_by_role("menuitem").first.wait_for()
        menu.get_by_role("menuitem", name=path[-1], exact=True).click()

    def add_field(self, index: int, kind: str, name: str, **options: Any) -> None:
        """Edit Form -> Add new form field, filled like a user would."""
        self.context_menu(index, "Edit Form", "Add new form field")
        dialog = self.page.locator(".jp-Dialog")
        dialog.get_by_label("Form field type").select_option(kind)
        if "type" in options:
            dialog.get_by_label("Variable type").select_option(options["type"])
        for i, item in enumerate(options.get("items", [])):
            if dialog.get_by_label(f"Item {i + 1}", exact=True).count() == 0:
                dialog.get_by_role("button", name="Add Item").click()
            dialog.get_by_label(f"Item {i + 1}", exact=True).fill(item)
        for key, label in (("min", "Minimum"), ("max", "Maximum"), ("step", "Step")):
            if key in options:
                dialog.get_by_label(label).fill(str(options[key]))
        dialog.get_by_label("Variable name").fill(name)
        dialog.get_by_role("button", name="Save").click()
        dialog.wait_for(state="detached")

    def form(self, index: int) -> Any:
        return self.cell(index).locator(".ma-CodeForm")

    def field(self, index: int, name: str) -> Any:
        return self.form(index).locator(f".ma-CodeForm-field[data-field='{name}']")


def wait_for_source(nb: NotebookPage, index: int, needle: str) -> str:
    nb.page.wait_for_function(
        """([i, n]) => window.jupyterapp.shell.currentWidget.content.widgets[i]
            .model.sharedModel.getSource().includes(n)""",
        arg=[index, needle],
    )
    return nb.source(index)


def test_form_added_edited_both_ways_run_hidden_and_kept_after_reload(lab_page, lab):
    write_notebook(lab.root_dir / "forms-demo.ipynb", "print('n is', n, 'color is', color)")
    nb = NotebookPage(lab_page.open()).open("forms-demo.ipynb")
    page = nb.page

    nb.context_menu(0, "Add Form")
    nb.form(0).locator(".ma-CodeForm-titleText", has_text="Default title text").wait_for()
    assert nb.source(0).startswith("#@title Default title text\n")

    nb.add_field(0, "slider", "n", min=0, max=10, step=1)
    nb.add_field(0, "dropdown", "color", type="string", items=["red", "blue", "green ü"])
    assert nb.source(0) == (
        "#@title Default title text\n"
        'n = 0  #@param {type:"slider", min:0, max:10, step:1}\n'
        'color = "red"  #@param ["red", "blue", "green ü"]\n'
        "print('n is', n, 'color is', color)"
    )

    # Form -> code: move the slider with the keyboard, pick a dropdown item.
    slider = nb.field(0, "n").locator("input[type=range]")
    slider.focus()
    for _ in range(7):
        slider.press("ArrowRight")
    wait_for_source(nb, 0, "n = 7  #@param")
    nb.field(0, "color").locator("select").select_option("green ü")
    source = wait_for_source(nb, 0, 'color = "green ü"  #@param')
    assert source.splitlines()[3] == "print('n is', n, 'color is', color)"

    # An invalid value is shown inline and never reaches the code.
    nb.add_field(0, "input", "rate", type="number")
    rate = nb.field(0, "rate").locator("input")
    rate.fill("fast")
    nb.field(0, "rate").get_by_role("alert").wait_for()
    assert "fast" not in nb.source(0)
    rate.fill("0.25")
    wait_for_source(nb, 0, "rate = 0.25  #@param")
    nb.field(0, "rate").get_by_title("Delete the field rate").click()
    page.wait_for_function(
        "() => !window.jupyterapp.shell.currentWidget.content.widgets[0]"
        ".model.sharedModel.getSource().includes('rate')"
    )

    # Code -> form: change the slider's value in the editor.
    line = nb.cell(0).locator(".cm-line", has_text="n = 7")
    line.click()
    page.keyboard.press("Home")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.type("3")
    wait_for_source(nb, 0, "n = 3  #@param")
    nb.field(0, "n").locator(".ma-CodeForm-sliderValue", has_text="3").wait_for()
    assert nb.field(0, "n").locator("input[type=range]").input_value() == "3"

    # Run the cell: the output shows the form's values.
    lab_page.execute("notebook:run-cell")
    nb.cell(0).locator(".jp-OutputArea-output", has_text="n is 3 color is green ü").wait_for()

    # Hide code: the editor goes, the form stays; the state is in the cell metadata.
    nb.context_menu(0, "Edit Form", "Hide code")
    nb.cell(0).locator(".jp-InputArea-editor").wait_for(state="hidden")
    assert nb.form(0).is_visible()
    lab_page.execute("docmanager:save")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
    saved = json.loads((lab.root_dir / "forms-demo.ipynb").read_text())
    assert saved["cells"][0]["metadata"]["cellView"] == "form"
    assert "n = 3  #@param" in "".join(saved["cells"][0]["source"])

    # Reload the page and reopen the notebook: form and hide state are back.
    lab_page.execute("application:close-all")
    page.reload()
    page.wait_for_function("window.jupyterapp && window.jupyterapp.started")
    nb = NotebookPage(lab_page).open("forms-demo.ipynb")
    nb.field(0, "n").locator(".ma-CodeForm-sliderValue", has_text="3").wait_for()
    assert nb.field(0, "color").locator("select").input_value() == "green ü"
    assert not nb.cell(0).locator(".jp-InputArea-editor").is_visible()

    # Hide form, then Show all.
    nb.context_menu(0, "Edit Form", "Hide form")
    nb.form(0).wait_for(state="hidden")
    assert nb.cell(0).locator(".jp-InputArea-editor").is_visible()
    nb.context_menu(0, "Edit Form", "Show all")
    nb.form(0).wait_for()
    assert nb.cell(0).locator(".jp-InputArea-editor").is_visible()
    assert lab_page.our_errors() == []


def test_colab_notebook_renders_its_forms(lab_page, lab):
    shutil.copy(FIXTURE, lab.root_dir / "colab_forms.ipynb")
    nb = NotebookPage(lab_page.open()).open("colab_forms.ipynb")

    settings = nb.form(1)
    settings.locator(".ma-CodeForm-titleText", has_text="Training settings").wait_for()
    assert settings.locator(".ma-CodeForm-markdown").inner_text() == (
        "Choose the data and the schedule."
    )
    names = settings.locator(".ma-CodeForm-field").evaluate_all(
        "rows => rows.map(r => r.dataset.field)"
    )
    assert names == [
        "dataset",
        "epochs",
        "learning_rate",
        "batch_size",
        "augment",
        "start_date",
        "run_name",
        "layers",
    ]
    assert nb.field(1, "dataset").locator("select").input_value() == "cifar10"
    assert nb.field(1, "dataset").locator("option").all_inner_texts() == [
        "mnist",
        "cifar10",
        "fashion-mnist",
    ]
    assert nb.field(1, "epochs").locator("input[type=range]").input_value() == "20"
    assert nb.field(1, "augment").locator("input[type=checkbox]").is_checked()
    assert nb.field(1, "start_date").locator("input[type=date]").input_value() == "2024-03-01"
    assert nb.field(1, "run_name").locator("input").input_value() == "Überprüfung 试验"
    assert nb.field(1, "layers").locator("input").input_value() == "[64, 32]"
    # Colab's cellView "form": the code is hidden; the cell without it shows both.
    assert not nb.cell(1).locator(".jp-InputArea-editor").is_visible()
    assert nb.cell(2).locator(".jp-InputArea-editor").is_visible()
    optimizer = nb.field(2, "optimizer").locator("input")
    assert optimizer.input_value() == "adam"
    assert optimizer.get_attribute("list")
    assert nb.form(3).count() == 0 or not nb.form(3).is_visible()

    # A Colab form edits the code the same way.
    nb.field(1, "batch_size").locator("input").fill("128")
    wait_for_source(nb, 1, 'batch_size = 128 #@param {type:"integer"}')
    assert lab_page.our_errors() == []


def test_create_job_suggests_form_variables_as_parameters(lab_page, lab):
    shutil.copy(FIXTURE, lab.root_dir / "colab-job.ipynb")
    lab_page.open()
    page = lab_page.page
    page.wait_for_function(
        "id => window.jupyterapp.isPluginActivated(id)", arg="ma-notebook:code-forms"
    )
    lab_page.execute("filebrowser:refresh")
    item = page.locator(".jp-DirListing-item[title*='colab-job.ipynb']")
    item.wait_for()
    item.click(button="right")
    page.get_by_role("menuitem", name="Create Job", exact=True).click()
    page.locator("input[name='parameter-0-name']").wait_for()
    names = page.locator("input[name$='-name'][name^='parameter-']").evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    values = page.locator("input[name$='-value'][name^='parameter-']").evaluate_all(
        "inputs => inputs.map(i => i.value)"
    )
    params = dict(zip(names, values, strict=True))
    assert params["epochs"] == "20"
    assert params["dataset"] == '"cifar10"'
    assert params["optimizer"] == "'adam'"
    assert len(names) == 9

    # Change a suggested parameter and run the job: the form's line takes the job's value.
    index = names.index("epochs")
    page.locator(f"input[name='parameter-{index}-value']").fill("33")
    page.get_by_role("radio", name="Run now").check()
    page.get_by_role("button", name="Create").click()
    page.locator("tr", has_text="colab-job.ipynb").first.wait_for()
    server = SchedulerServer(lab)
    status, data = lab.request("scheduler/jobs?name=colab-job")
    assert status == 200, data
    job = server.wait_job(data["jobs"][0]["job_id"])
    assert job["status"] == "COMPLETED", job
    assert job["parameters"]["epochs"] == "33"
    output = json.loads(server.outputs(job["job_id"])["ipynb"])
    settings = next(c for c in output["cells"] if "Training settings" in "".join(c["source"]))
    assert 'epochs = 33 #@param {type:"slider", min:1, max:50, step:1}' in "".join(
        settings["source"]
    )
    printed = "".join("".join(o.get("text", "")) for o in settings["outputs"])
    assert printed.startswith("cifar10 33 0.001 64 True")
    assert lab_page.our_errors() == []
