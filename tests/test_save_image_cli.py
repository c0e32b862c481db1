"""ma-cli image save as a user runs it from a terminal in the notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def ma_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_image_save_pushes_with_a_progress_bar(registry, tiny_base, tmp_path):
    (tiny_base["root"] / "usr/bin/from-cli").write_bytes(os.urandom(200_000))
    r = ma_cli(
        "image",
        "save",
        "--path",
        "team/cli-env:v1",
        "--registry",
        registry.addr,
        "--root",
        str(tiny_base["root"]),
        "--baseline",
        str(tiny_base["baseline"]),
        "--description",
        "from the terminal",
        env={"MA_NOTEBOOK_DATA_DIR": str(tmp_path / "data")},
    )
    assert r.returncode == 0, r.stderr
    assert f"[OK] saved {registry.addr}/team/cli-env:v1" in r.stdout
    assert "Pushing" in r.stderr and "100%" in r.stderr
    manifest = json.loads(registry.client().get_manifest("team/cli-env", "v1")[1])
    assert len(manifest["layers"]) == 2


def test_image_save_argument_errors_are_one_line_and_exit_non_zero(tiny_base):
    r = ma_cli("image", "save", "--path", "Team/X:1", "--registry", "127.0.0.1:1")
    assert r.returncode == 1
    assert "--path 'Team/X:1'" in r.stderr and "Traceback" not in r.stderr
    r = ma_cli("image", "save", "--path", "team/x:1", env={"MA_NOTEBOOK_REGISTRY": ""})
    assert r.returncode == 1 and "No registry" in r.stderr
    r = ma_cli("image", "save")
    assert r.returncode == 2 and "Missing option '--path'" in r.stderr
    r = ma_cli("image", "save", "--path", "t/x:1", "--registry", "127.0.0.1:1", "--baseline", "/no")
    assert r.returncode == 1 and "No baseline index at /no" in r.stderr
