"""Save Image from inside a running notebook container (the base image), then run the result."""

from __future__ import annotations

import gzip
import io
import json
import secrets
import subprocess
import tarfile
import time
import urllib.request

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


def test_save_from_inside_the_notebook_container_and_run_the_saved_image(
    docker_daemon, notebook_base_image, registry, tmp_path
):
    base_ref = f"{registry.addr}/ma/notebook-base:test"
    docker("tag", notebook_base_image, base_ref)
    docker("push", base_ref)
    port, token = free_port(), secrets.token_hex(16)
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    (work / "notebook.ipynb").write_text("{}")  # the user's workspace: never saved
    name = f"ma-save-test-{port}"
    docker(
        "run", "-d", "--name", name, "--network", "host",
        "-e", f"JUPYTER_TOKEN={token}", "-e", f"NOTEBOOK_PORT={port}",
        "-e", "NOTEBOOK_IP=127.0.0.1",
        "-e", f"MA_NOTEBOOK_IMAGE={base_ref}", "-e", f"MA_NOTEBOOK_REGISTRY={registry.addr}",
        "-v", f"{work}:/home/ma-user/work", base_ref,
    )  # fmt: skip
    saved = f"{registry.addr}/team/saved:1"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=120)
        # What a user does in the notebook's terminal: install something outside the workspace.
        docker("exec", name, "sh", "-c", "echo saved-by-test > /home/ma-user/installed.txt")
        check = api(port, token, "images/save")
        assert check["available"] is True, check
        task = api(
            port, token, "images/save", {"organization": "team", "name": "saved", "tag": "1"}
        )
        deadline = time.monotonic() + 300
        while task["state"] not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, task
            task = api(port, token, f"tasks/{task['id']}?wait=10")
        assert task["state"] == "succeeded", task
        assert task["result"]["reused"]["uploaded"] == 2  # the new layer and the config only
    finally:
        logs = subprocess.run(
            ["docker", "logs", "--tail", "50", name], capture_output=True, text=True
        )
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    try:
        docker("pull", saved)
        out = docker("run", "--rm", "--entrypoint", "cat", saved, "/home/ma-user/installed.txt")
        assert out == "saved-by-test", logs.stdout[-2000:]
        listing = docker("run", "--rm", "--entrypoint", "ls", saved, "-A", "/home/ma-user/work")
        assert "notebook.ipynb" not in listing
        # The new layer holds no workspace entries and no server runtime secrets.
        client = registry.client()
        manifest = json.loads(client.get_manifest("team/saved", "1")[1])
        blob = client.get_blob("team/saved", manifest["layers"][-1]["digest"])
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
            names = tar.getnames()
        assert "home/ma-user/installed.txt" in names
        assert not [n for n in names if n.startswith("home/ma-user/work/")]
        assert not [n for n in names if "/jupyter/runtime/" in n or n.startswith("proc/")]
    finally:
        subprocess.run(["docker", "rmi", "-f", saved, base_ref], capture_output=True, check=False)
