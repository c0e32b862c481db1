"""Cron normalisation, parameter typing and environment listing (no server needed)."""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from ma_notebook.scheduler.cron import CronError, normalize_cron
from ma_notebook.scheduler.environments import MaEnvironmentManager
from ma_notebook.scheduler.executor import inject_parameters, parameter_literal


@pytest.mark.parametrize(
    ("expression", "normalized", "croniter_form"),
    [
        ("*/5 * * * *", "*/5 * * * *", "*/5 * * * *"),
        ("*/2 * * * * *", "*/2 * * * * *", "* * * * * */2"),
        ("0/2 * * * * ?", "0/2 * * * * *", "* * * * * 0/2"),
        ("30 15 10 ? * *", "30 15 10 * * *", "15 10 * * * 30"),
        # Quartz weekdays are 1-7 from Sunday: 2-6 is Monday-Friday, cron's 1-5.
        ("0 0 12 ? * 2-6", "0 12 * * 1-5", "0 12 * * 1-5"),
        ("0 0 12 ? * MON-FRI", "0 12 * * MON-FRI", "0 12 * * MON-FRI"),
        ("15 0 8 1 * ? *", "15 0 8 1 * *", "0 8 1 * * 15"),
    ],
)
def test_cron_forms_are_normalised(expression: str, normalized: str, croniter_form: str) -> None:
    schedule = normalize_cron(expression)
    assert schedule.normalized == normalized
    assert schedule.croniter_form == croniter_form
    assert normalize_cron(schedule.normalized).normalized == normalized  # idempotent


def test_seconds_field_fires_at_those_seconds() -> None:
    start = datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc).timestamp()
    times = normalize_cron("30 15 10 ? * *").next_times(2, "UTC", start)
    assert [datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S") for t in times] == [
        "10:15:30",
        "10:15:30",
    ]
    every2 = normalize_cron("0/2 * * * * ?").next_times(3, None, start)
    assert [t - start for t in every2] == [2, 4, 6]


@pytest.mark.parametrize(
    "expression", ["", "61 * * * *", "* * *", "? * * * *", "0 0 12 ? * ?", "* * * * * * 2030"]
)
def test_bad_cron_says_what_is_wrong(expression: str) -> None:
    with pytest.raises(CronError) as e:
        normalize_cron(expression)
    assert str(e.value)


def test_parameters_keep_their_types() -> None:
    assert parameter_literal("3") == "3"
    assert parameter_literal("0.5") == "0.5"
    assert parameter_literal("hello") == "'hello'"
    assert parameter_literal("a b") == "'a b'"
    assert parameter_literal("true") == "True"
    assert parameter_literal("[1, 2]") == "[1, 2]"
    assert parameter_literal("'7'") == "'7'"
    assert parameter_literal("__import__('os')") == "\"__import__('os')\""


def test_parameters_go_after_the_parameters_cell() -> None:
    nb = v4.new_notebook()
    first, tagged, last = v4.new_code_cell("a"), v4.new_code_cell("x = 1"), v4.new_code_cell("b")
    tagged.metadata["tags"] = ["parameters"]
    nb.cells = [first, tagged, last]
    inject_parameters(nb, {"x": "2", "name": "hello"})
    assert [c.source for c in nb.cells] == ["a", "x = 1", "x = 2\nname = 'hello'", "b"]
    with pytest.raises(ValueError, match="identifier"):
        inject_parameters(nbformat.v4.new_notebook(), {"not valid": "1"})


def test_conda_environments_are_listed_with_kernelspecs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `conda` is not installable here: a script answers `conda env list --json` like conda does.
    root = tmp_path / "miniconda3"
    torch = root / "envs" / "PyTorch-1.8"
    for prefix in (root, torch):
        (prefix / "bin").mkdir(parents=True)
        (prefix / "bin" / "python").symlink_to(sys.executable)
    conda = root / "bin" / "conda"
    conda.write_text(f"#!/bin/sh\necho '{json.dumps({'envs': [str(root), str(torch)]})}'\n")
    conda.chmod(conda.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CONDA_EXE", str(conda))
    envs = {e.name: e for e in MaEnvironmentManager().list_environments()}
    assert envs["conda:PyTorch-1.8"].label == "PyTorch-1.8"
    version = ".".join(str(v) for v in sys.version_info[:3])
    assert envs["conda:base"].label == f"python-{version}"
    assert envs["conda:base"].metadata["python"] == os.path.join(root, "bin", "python")
    assert any(e.metadata.get("kind") == "kernelspec" for e in envs.values())


def test_retention_deletes_old_runs_with_their_workspace_copies(tmp_path: Path) -> None:
    from jupyter_scheduler.models import DescribeJob
    from jupyter_scheduler.orm import Job, create_tables
    from jupyter_scheduler.utils import get_utc_timestamp
    from traitlets.config import Config

    from ma_notebook.scheduler.scheduler import MaScheduler

    db_url = f"sqlite:///{tmp_path / 'scheduler.sqlite'}"
    create_tables(db_url)
    config = Config()
    config.MaScheduler.staging_path = str(tmp_path / "staging")
    config.MaScheduler.delete_outputs_after_days = 1
    scheduler = MaScheduler(
        root_dir=str(tmp_path / "work"),
        environments_manager=MaEnvironmentManager(),
        db_url=db_url,
        config=config,
    )
    now = get_utc_timestamp()
    ids = {}
    for name, age_days, status in (
        ("old", 3, "COMPLETED"),
        ("new", 0, "COMPLETED"),
        ("old-running", 3, "IN_PROGRESS"),
    ):
        with scheduler.db_session() as session:
            job = Job(
                name=name,
                input_filename=f"{name}.ipynb",
                runtime_environment_name="python3",
                output_formats=["ipynb"],
                status=status,
                create_time=now - age_days * 86400 * 1000,
            )
            session.add(job)
            session.commit()
            model = DescribeJob.from_orm(job)
        staged = Path(scheduler.get_staging_paths(model)["input"])
        staged.parent.mkdir(parents=True)
        staged.write_text("{}")
        local = Path(scheduler.get_local_output_path(model))
        local.mkdir(parents=True)
        (local / "out.html").write_text("<p>run</p>")
        ids[name] = (model.job_id, staged.parent, local)

    assert scheduler.apply_retention() == 1
    _old_id, old_staged, old_local = ids["old"]
    assert not old_staged.exists() and not old_local.exists()
    with scheduler.db_session() as session:
        left = {j.name for j in session.query(Job)}
    assert left == {"new", "old-running"}
    for name in ("new", "old-running"):
        assert ids[name][1].exists() and ids[name][2].exists()
