"""ma-notebook behind JupyterHub: DockerSpawner on loopback, two users, the hub's proxy between."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures_hub import SHORT_LEASE, HubDeployment, login

pytestmark = pytest.mark.timeout(600)

MA_CLI = str(Path(sys.executable).with_name("ma-cli"))


def upload(hub: HubDeployment, user: str, name: str, data: bytes) -> tuple[int, object]:
    """A direct upload (session + one raw PUT) into ``user``'s workspace through the proxy."""
    token = hub.tokens[user]
    base = f"/user/{user}/ma-notebook/api/upload/sessions"
    status, session = hub.request(
        base,
        token=token,
        method="POST",
        body={"path": "", "name": name, "size": len(data), "key": f"{name}:{len(data)}"},
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, (status, session)
    assert isinstance(session, dict)
    return hub.request(
        f"{base}/{session['id']}?offset=0",
        token=token,
        method="PUT",
        body=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def test_each_user_reaches_their_own_ma_notebook_under_the_hub_prefix(
    hub_deployment: HubDeployment,
) -> None:
    for user in ("alice", "bob"):
        status, info = hub_deployment.request(
            f"/user/{user}/ma-notebook/api/info", token=hub_deployment.tokens[user]
        )
        assert status == 200, (status, info)
        assert isinstance(info, dict) and info["version"]
        assert info["workspace_dir"] == "/home/ma-user/work"
    print("spawn to ready (s):", hub_deployment.ready_seconds)


def test_direct_upload_through_the_hub_lands_in_that_users_workspace(
    hub_deployment: HubDeployment,
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    status, done = upload(hub_deployment, "alice", "through-hub.bin", data)
    assert status == 200 and isinstance(done, dict) and done["complete"], (status, done)
    status, model = hub_deployment.request(
        "/user/alice/api/contents/through-hub.bin?content=0", token=hub_deployment.tokens["alice"]
    )
    assert status == 200 and isinstance(model, dict) and model["size"] == len(data)
    # The bytes are really in alice's workspace volume, and nowhere in bob's.
    out = subprocess.run(
        ["docker", "exec", f"{hub_deployment.prefix}-alice", "sha256sum", "through-hub.bin"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split()[0] == hashlib.sha256(data).hexdigest(), out.stderr
    status, _ = hub_deployment.request(
        "/user/bob/api/contents/through-hub.bin?content=0", token=hub_deployment.tokens["bob"]
    )
    assert status == 404


@pytest.mark.parametrize(
    "path",
    ["ma-notebook/api/info", "api/contents", "ma-notebook/api/upload/sessions", "lab"],
)
def test_one_user_cannot_reach_the_others_routes(hub_deployment: HubDeployment, path: str) -> None:
    status, _ = hub_deployment.request(
        f"/user/alice/{path}", token=hub_deployment.tokens["bob"], timeout=30
    )
    assert status in (403, 404), status
    # Without any token the API refuses too (or sends the browser to the hub's login).
    status, _ = hub_deployment.request(f"/user/alice/{path}")
    assert status in (302, 403), status


def container_gone(name: str, timeout: float = 60) -> bool:
    """Wait until no container called ``name`` is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ps = subprocess.run(
            ["docker", "ps", "-a", "-q", "--filter", f"name={name}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if not ps.stdout.strip():
            return True
        time.sleep(0.5)
    return False


def test_a_short_lease_stops_the_server_through_the_hub_and_the_hub_shows_it_stopped(
    hub_deployment: HubDeployment,
) -> None:
    hub = hub_deployment
    token = hub.tokens["carol"] = login(hub, "carol")
    api = "/user/carol/ma-notebook/api"
    status, body = hub.hub_api("users/carol/server", token=token, method="POST")
    assert status in (201, 202), (status, body)
    hub.wait_ready("carol")
    # The lease of SHORT_LEASE s is running, and it will ask the hub, not exit under it.
    status, lease = hub.request(f"{api}/lease", token=token)
    assert status == 200 and isinstance(lease, dict), (status, lease)
    assert lease["enabled"] and lease["duration_seconds"] == SHORT_LEASE, lease
    assert 0 < lease["remaining_seconds"] <= SHORT_LEASE
    assert lease["stop_action"] == "ask JupyterHub to stop this server", lease
    first_deadline = lease["deadline"]
    # The Renew warning reaches the front end through the hub (warn_before = the whole lease).
    deadline = time.monotonic() + 30
    notices: list = []
    while time.monotonic() < deadline and not notices:
        status, snapshot = hub.request(f"{api}/monitor", token=token)
        assert status == 200 and isinstance(snapshot, dict), (status, snapshot)
        notices = [n for n in snapshot["notices"] if n["kind"] == "lease"]
        time.sleep(0.5)
    assert notices and "Renew" in notices[0]["message"], snapshot["notices"]

    # Nobody renews: at the deadline carol's server asks the hub (with its own token) to stop it.
    assert hub.wait_stopped("carol", timeout=SHORT_LEASE + 60), hub.log_text()[-3000:]
    assert container_gone(f"{hub.prefix}-carol"), "the hub stopped the server, its container stays"
    assert re.search(r"20[24] DELETE /hub/api/users/carol/server \(carol@", hub.log_text())
    status, _ = hub.request("/user/bob/ma-notebook/api/info", token=hub.tokens["bob"])
    assert status == 200  # the hub still serves the others

    # Started again, the Events panel's API shows why it stopped (the data volume kept it), and
    # the new server has a fresh lease, which carol renews.
    status, body = hub.hub_api("users/carol/server", token=token, method="POST")
    assert status in (201, 202), (status, body)
    try:
        hub.wait_ready("carol")
        status, events = hub.request(f"{api}/events?type=StopNotebook", token=token)
        assert status == 200 and isinstance(events, dict), (status, events)
        reasons = [e["details"].get("reason") for e in events["events"]]
        assert "lease" in reasons, events
        status, lease = hub.request(f"{api}/lease", token=token, method="PATCH", body={"hours": 1})
        assert status == 200 and isinstance(lease, dict), (status, lease)
        assert lease["deadline"] > first_deadline + 3000 and lease["remaining_seconds"] > 3500
    finally:
        hub.hub_api("users/carol/server", method="DELETE")
        hub.wait_stopped("carol")


def test_transit_upload_through_the_hub_uses_presigned_links_under_the_users_prefix(
    hub_deployment: HubDeployment,
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    api = "/user/alice/ma-notebook/api"
    data = os.urandom(1024 * 1024 + 7)
    body = {"path": "", "name": "transit.bin", "size": len(data), "key": "transit.bin:1"}
    status, session = hub.request(f"{api}/upload/transit", token=token, method="POST", body=body)
    assert status == 201, (status, session)
    assert isinstance(session, dict)
    sid, parts = session["id"], session["parts"]
    size = session["part_size"]
    status, signed = hub.request(
        f"{api}/upload/transit/{sid}/presign",
        token=token,
        method="POST",
        body={"parts": list(range(1, parts + 1))},
    )
    assert status == 200 and isinstance(signed, dict), (status, signed)
    for n in range(1, parts + 1):
        url = signed["urls"][str(n)]
        # The embedded store's links are the server's own routes: under the hub's prefix.
        assert url.startswith("/user/alice/"), url
        status, _ = hub.request(url, method="PUT", body=data[(n - 1) * size : n * size])
        assert status == 200, (n, status)
    status, task = hub.request(
        f"{api}/upload/transit/{sid}/complete", token=token, method="POST", body={}
    )
    assert status == 202 and isinstance(task, dict), (status, task)
    for _ in range(60):
        status, task = hub.request(f"{api}/tasks/{task['id']}?wait=5", token=token)
        assert isinstance(task, dict)
        if task["state"] in ("succeeded", "failed", "cancelled"):
            break
    assert task["state"] == "succeeded", task
    status, model = hub.request("/user/alice/api/contents/transit.bin?content=0", token=token)
    assert status == 200 and isinstance(model, dict) and model["size"] == len(data)


def test_ssh_tunnel_through_the_hub_url_with_a_hub_token(
    hub_deployment: HubDeployment, tmp_path: Path
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["bob"]
    api = "/user/bob/ma-notebook/api"
    status, state = hub.request(f"{api}/ssh/start", token=token, method="POST", body=b"")
    assert status == 200 and isinstance(state, dict) and state["state"] == "running", state
    status, created = hub.request(
        f"{api}/ssh/keys", token=token, method="POST", body={"name": "hub-key"}
    )
    assert status == 201 and isinstance(created, dict), (status, created)
    key = tmp_path / "hub-key.pem"
    key.write_text(created["private_key"])
    key.chmod(0o600)
    # ma-cli ssh-proxy given the hub's URL of bob's server and bob's hub API token.
    server = tmp_path / "server.yaml"
    server.write_text(f"url: {hub.url}/user/bob/\ntoken: {token}\n")
    server.chmod(0o600)
    args = [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={tmp_path / 'known_hosts'}",
        "-o",
        f"ProxyCommand={MA_CLI} ssh-proxy --server-file {server}",
        "-p",
        "1",
        "ma-user@ma-notebook",
        "echo $USER; pwd",
    ]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "ma-user", out.stdout
    # alice's token opens no tunnel into bob's server.
    server.write_text(f"url: {hub.url}/user/bob/\ntoken: {hub.tokens['alice']}\n")
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 255 and "HTTP 403" in out.stderr, out.stderr[-2000:]


TB_WRITER = (
    "from tensorboard.summary import Writer\n"
    "w = Writer('/home/ma-user/work/summary/run1')\n"
    "[w.add_scalar('hub_loss', 1.0 / (s + 1), s) for s in range(5)]\n"
    "w.flush(); w.close()\n"
)


def test_tensorboard_scalars_through_our_proxy_behind_the_hub(
    hub_deployment: HubDeployment,
) -> None:
    hub, token = hub_deployment, hub_deployment.tokens["alice"]
    python = "/home/ma-user/anaconda3/bin/python"
    out = subprocess.run(
        ["docker", "exec", f"{hub.prefix}-alice", python, "-c", TB_WRITER],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    api = "/user/alice/ma-notebook/api"
    status, inst = hub.request(
        f"{api}/visualization/instances", token=token, method="POST", body={"tool": "tensorboard"}
    )
    assert status == 201 and isinstance(inst, dict), (status, inst)
    try:
        url = "/user/alice/" + inst["url"].lstrip("/") + "data/plugin/scalars/tags"
        deadline = time.monotonic() + 90
        tags: object = None
        while time.monotonic() < deadline:
            status, tags = hub.request(url, token=token)
            if status == 200 and isinstance(tags, dict) and "hub_loss" in tags.get("run1", {}):
                break
            time.sleep(0.5)
        assert isinstance(tags, dict) and "hub_loss" in tags.get("run1", {}), (status, tags)
        # bob cannot read alice's TensorBoard.
        status, _ = hub.request(url, token=hub.tokens["bob"])
        assert status in (403, 404)
    finally:
        hub.request(f"{api}/visualization/instances/{inst['id']}", token=token, method="DELETE")
