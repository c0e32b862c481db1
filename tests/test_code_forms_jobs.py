"""Code-cell forms in scheduled jobs: a job parameter replaces the form's value on its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

from ma_notebook.scheduler.executor import inject_parameters
from ma_notebook.scheduler.forms import comment_start, set_form_line

FIXTURE = Path(__file__).parent / "fixtures" / "colab_forms.ipynb"


def test_form_line_gets_the_new_value_and_keeps_every_other_byte() -> None:
    values = {"x": "7", "s": "'new'"}
    assert set_form_line('  x =  5   #@param {type:"integer"}  # note', values) == (
        '  x =  7   #@param {type:"integer"}  # note'
    )
    assert set_form_line('x=5#@param {type:"integer"}', values) == 'x=7 #@param {type:"integer"}'
    assert set_form_line('s = "a # b" # @param {type:"string"}', values) == (
        "s = 'new' # @param {type:\"string\"}"
    )
    # Not form fields: untouched.
    for line in ["x = 5  # a comment", "y = 5  #@param", 'x = "#@param"', "# x = 5 #@param"]:
        assert set_form_line(line, values) == line
    assert comment_start("a = '#'  # c") == 9


def test_job_parameter_overrides_a_form_value_when_the_notebook_runs(tmp_path: Path) -> None:
    path = tmp_path / "colab.ipynb"
    shutil.copy(FIXTURE, path)
    nb = nbformat.read(path, as_version=4)
    nb = inject_parameters(nb, {"epochs": "33", "run_name": "nightly", "optimizer": "sgd"})
    # The injected cell comes first (no `parameters` tag); the forms now hold the job's values.
    assert nb.cells[0].metadata["tags"] == ["injected-parameters"]
    settings = nb.cells[2].source.split("\n")
    assert settings[3] == 'epochs = 33 #@param {type:"slider", min:1, max:50, step:1}'
    assert settings[8] == "run_name = 'nightly' #@param {type:\"string\"}"
    original = nbformat.read(path, as_version=4).cells[1].source.split("\n")
    assert [i for i, (a, b) in enumerate(zip(original, settings, strict=True)) if a != b] == [3, 8]

    ExecutePreprocessor(kernel_name="python3", timeout=60).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}}
    )
    printed = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert printed.startswith("cifar10 33 0.001 64 True 2024-03-01 nightly [64, 32]")
    assert "".join(o.get("text", "") for o in nb.cells[3].outputs) == "sgd\n"
