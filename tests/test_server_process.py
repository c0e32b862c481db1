"""A real jupyter server process: persistence across restarts, auth, no auth warnings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_events_survive_a_server_restart(lab_factory, tmp_path):
    first = lab_factory(home=tmp_path, app="server")
    status, data = first.request("ma-notebook/api/events")
    assert status == 200
    assert [e["type"] for e in data["events"]] == ["NotebookHealthy"]
    first.stop()

    second = lab_factory(home=tmp_path, app="server")
    status, data = second.request("ma-notebook/api/events")
    assert [e["type"] for e in data["events"]] == [
        "NotebookHealthy",
        "StopNotebook",
        "NotebookHealthy",
    ]
    status, data = second.request("ma-notebook/api/events", token=None)
    assert status in (401, 403)
    assert data is None or "events" not in data
    second.stop()
    log = second.log_text() + first.log_text()
    # jupyter_server warns about undecorated handlers; none may be ours.
    warned = [line for line in log.splitlines() if "registered for" in line]
    assert not [line for line in warned if "ma-notebook" in line], warned
    assert second.token not in log.replace(f"token={second.token}", "")


def extension_listings(bindir: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    """What `jupyter server extension list` and `jupyter labextension list` print, uncoloured."""
    texts = []
    for args in (["server", "extension", "list"], ["labextension", "list"]):
        out = subprocess.run(
            [str(bindir / "jupyter"), *args], capture_output=True, text=True, check=True, env=env
        )
        texts.append(ANSI.sub("", out.stdout + out.stderr))
    return texts[0], texts[1]


def test_extension_is_enabled_and_labextension_listed():
    server, lab = extension_listings(Path(sys.executable).parent)
    assert "ma_notebook enabled" in server
    assert re.search(r"ma_notebook \S+ OK", server)
    assert re.search(r"ma-notebook v\S+ enabled OK", lab)


def test_wheel_works_in_a_fresh_venv_without_node(tmp_path):
    root = Path(__file__).resolve().parents[1]
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(root)],
        check=True,
    )
    wheels = list(dist.glob("ma_notebook-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
    assert any(n.endswith("labextensions/ma-notebook/static/style.js") for n in names)
    assert any(n.endswith("jupyter_server_config.d/ma_notebook.json") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])], check=True
    )
    # Only the venv on PATH: no node, no npm, no jlpm from elsewhere.
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert shutil.which("node", path=env["PATH"]) is None
    server, lab = extension_listings(venv / "bin", env)
    assert "ma_notebook enabled" in server
    assert re.search(r"ma_notebook \S+ OK", server)
    assert re.search(r"ma-notebook v\S+ enabled OK", lab)
