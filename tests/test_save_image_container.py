"""Save Image from inside a running notebook container (the base image), then run the result."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request

from fixtures_save_image import Registry, top_layer_names
from ma_fixtures import free_port, wait_for_http


def docker(*args: str, timeout: float = 600) -> str:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"docker {' '.join(args[:3])}: {r.stderr[-2000:]}"
    return r.stdout.strip()


def api(port: int, token: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/ma-notebook/api/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"token {token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def start_notebook(image: str, registry: Registry, work) -> tuple[str, int, str]:
    """A notebook container of ``image`` on the host network: (name, port, token)."""
    port, token = free_port(), secrets.token_hex(16)
    name = f"ma-save-test-{port}"
    docker(
        "run", "-d", "--name", name, "--network", "host",
        "-e", f"JUPYTER_TOKEN={token}", "-e", f"NOTEBOOK_PORT={port}",
        "-e", "NOTEBOOK_IP=127.0.0.1",
        "-e", f"MA_NOTEBOOK_IMAGE={image}", "-e", f"MA_NOTEBOOK_REGISTRY={registry.addr}",
        "-v", f"{work}:/home/ma-user/work", image,
    )  # fmt: skip
    wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=120)
    return name, port, token


def save(port: int, token: str, name: str, tag: str) -> dict:
    """Save Image through the API from inside the container; the finished task."""
    check = api(port, token, "images/save")
    assert check["available"] is True, check
    task = api(port, token, "images/save", {"organization": "team", "name": name, "tag": tag})
    deadline = time.monotonic() + 300
    while task["state"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, task
        task = api(port, token, f"tasks/{task['id']}?wait=10")
    assert task["state"] == "succeeded", task
    return task


def test_save_from_inside_the_notebook_container_and_run_the_saved_image(
    docker_daemon, notebook_base_image, registry, tmp_path
):
    base_ref = f"{registry.addr}/ma/notebook-base:test"
    docker("tag", notebook_base_image, base_ref)
    docker("push", base_ref)
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    (work / "notebook.ipynb").write_text("{}")  # the user's workspace: never saved
    saved = f"{registry.addr}/team/saved:1"
    again = f"{registry.addr}/team/saved:2"
    names: list[str] = []
    try:
        name, port, token = start_notebook(base_ref, registry, work)
        names.append(name)
        # What a user does in the notebook's terminal: install something outside the workspace.
        docker("exec", name, "sh", "-c", "echo saved-by-test > /home/ma-user/installed.txt")
        task = save(port, token, "saved", "1")
        assert task["result"]["reused"]["uploaded"] == 2  # the new layer and the config only
        out = docker("run", "--rm", "--entrypoint", "cat", saved, "/home/ma-user/installed.txt")
        assert out == "saved-by-test"
        listing = docker("run", "--rm", "--entrypoint", "ls", saved, "-A", "/home/ma-user/work")
        assert "notebook.ipynb" not in listing
        # The new layer holds no workspace entries and no server runtime secrets.
        top = top_layer_names(registry.client(), "team/saved", "1")
        assert "home/ma-user/installed.txt" in top
        assert not [n for n in top if n.startswith("home/ma-user/work/")]
        assert not [n for n in top if "/jupyter/runtime/" in n or n.startswith("proc/")]

        # A notebook started from the saved image saves again: only what changed since.
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        name, port, token = start_notebook(saved, registry, work)
        names.append(name)
        docker("exec", name, "sh", "-c", "echo second > /home/ma-user/installed-2.txt")
        task = save(port, token, "saved", "2")
        assert task["result"]["reused"]["uploaded"] == 2
        top = top_layer_names(registry.client(), "team/saved", "2")
        assert "home/ma-user/installed-2.txt" in top
        assert "home/ma-user/installed.txt" not in top  # generation 1's change is not saved again
        out = docker("run", "--rm", "--entrypoint", "cat", again, "/home/ma-user/installed.txt")
        assert out == "saved-by-test"
    finally:
        for name in names:
            logs = subprocess.run(["docker", "logs", "--tail", "30", name], capture_output=True)
            print(logs.stdout.decode(errors="replace")[-2000:])
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", "-f", again, saved, base_ref], capture_output=True, check=False
        )
