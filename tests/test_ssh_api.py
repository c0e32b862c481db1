"""Remote SSH through the API: a real sshd on loopback, reached with paramiko."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fixtures_ssh import connect, private_key, run, ssh_config_for

from ma_notebook.ssh.keys import generate_key_pair


@pytest.fixture
def ma_config(ssh_port: int) -> dict[str, Any]:
    return {"SSHService": ssh_config_for(ssh_port)}


async def start(api: Any) -> dict[str, Any]:
    status, data = await api("ssh/start", "POST", body="")
    assert status == 200, data
    assert data["state"] == "running", data
    return data


async def create_key(api: Any, name: str = "laptop", **extra: Any) -> dict[str, Any]:
    status, data = await api("ssh/keys", "POST", {"name": name, **extra})
    assert status == 201, data
    return data


async def test_session_sees_notebook_path_and_sftp_and_port_forward_work(
    api, ssh_service, ssh_port, echo_server, tmp_path
):
    status, data = await api("ssh")
    assert status == 200 and data["state"] == "stopped" and data["available"]
    data = await start(api)
    assert data["address"] == f"ssh://{ssh_service.user}@127.0.0.1:{ssh_port}"
    created = await create_key(api)
    assert created["private_key"].startswith("-----BEGIN OPENSSH " + "PRIVATE KEY-----")
    assert created["key"]["type"] == "ed25519" and created["key"]["origin"] == "created"
    key = private_key(created["private_key"])

    def session() -> None:
        client = connect(ssh_port, key, ssh_service.user)
        try:
            out = run(client, 'echo "$PATH"; echo "$MA_NOTEBOOK_WORKSPACE"')
            path, workspace = out.splitlines()[:2]
            # sshd's default PATH is /usr/bin:/bin...; the notebook's own environment is on it.
            assert os.path.dirname(sys.executable) in path.split(":")
            assert workspace == ssh_service.app.workspace_dir

            payload = os.urandom(3 * 1024 * 1024 + 17)
            (tmp_path / "up.bin").write_bytes(payload)
            sftp = client.open_sftp()
            remote = f"{ssh_service.app.workspace_dir}/uploaded.bin"
            sftp.put(str(tmp_path / "up.bin"), remote)
            assert Path(remote).read_bytes() == payload
            sftp.get(remote, str(tmp_path / "down.bin"))
            assert (tmp_path / "down.bin").read_bytes() == payload
            sftp.close()

            # What `ssh -L` does: a direct-tcpip channel to a port on the notebook's side.
            channel = client.get_transport().open_channel(
                "direct-tcpip", ("127.0.0.1", echo_server), ("127.0.0.1", 0)
            )
            channel.sendall(b"through the forward")
            got = b""
            while len(got) < len(b"through the forward"):
                got += channel.recv(1024)
            assert got == b"through the forward"
            channel.close()
        finally:
            client.close()

    await asyncio.to_thread(session)


async def test_unregistered_key_is_refused_and_a_removed_key_keeps_its_open_session(
    api, ssh_service, ssh_port
):
    await start(api)
    kept = private_key((await create_key(api, "desktop"))["private_key"])
    removed = private_key((await create_key(api, "old-laptop"))["private_key"])
    stranger = private_key(generate_key_pair("ed25519", None, "stranger")[0])
    user = ssh_service.user

    def check_refusals() -> None:
        with pytest.raises(paramiko.AuthenticationException):
            connect(ssh_port, stranger, user)
        session = connect(ssh_port, removed, user)
        assert run(session, "echo before") == "before\n"
        return session

    session = await asyncio.to_thread(check_refusals)
    try:
        status, data = await api("ssh/keys/old-laptop", "DELETE")
        assert status == 200 and data["name"] == "old-laptop"

        def after_removal() -> None:
            with pytest.raises(paramiko.AuthenticationException):
                connect(ssh_port, removed, user)
            assert run(session, "echo still-open") == "still-open\n"
            connect(ssh_port, kept, user).close()

        await asyncio.to_thread(after_removal)
    finally:
        session.close()
    status, data = await api("ssh/keys")
    assert [k["name"] for k in data["keys"]] == ["desktop"]
    status, data = await api("events", params={"type": "UpdateKeyPair"})
    assert [e["details"]["action"] for e in data["events"]] == ["removed", "created", "created"]


async def test_whitelist_refuses_other_addresses_and_bad_entries_change_nothing(
    api, ssh_service, ssh_port
):
    await start(api)
    key = private_key((await create_key(api))["private_key"])
    user = ssh_service.user
    status, data = await api("ssh/whitelist", "PUT", {"entries": ["127.0.0.1"]})
    assert status == 200 and data["entries"] == ["127.0.0.1"]

    def check() -> None:
        with pytest.raises(paramiko.AuthenticationException):
            connect(ssh_port, key, user, source="127.0.0.2")
        connect(ssh_port, key, user, source="127.0.0.1").close()

    await asyncio.to_thread(check)

    for entries, fragment in [
        (["127.0.0.1", "not-an-ip"], "'not-an-ip' is not an IPv4 / IPv6 address"),
        (["10.0.0.1/8"], "host bits set: write 10.0.0.0/8"),
        (["10.0.0.1", "10.0.0.1"], "listed twice"),
        ([f"10.0.0.{i}" for i in range(6)], "at most 5"),
        (["1.2.3.4\n"], "'entries.0'"),
    ]:
        status, data = await api("ssh/whitelist", "PUT", {"entries": entries})
        assert status == 400, (entries, data)
        assert fragment in data["message"], data["message"]
    status, data = await api("ssh/whitelist")
    assert data["entries"] == ["127.0.0.1"]

    status, data = await api("ssh/whitelist", "PUT", {"entries": ["2001:db8::/32", "127.0.0.2"]})
    assert status == 200 and data["entries"] == ["2001:db8::/32", "127.0.0.2"]
    await asyncio.to_thread(lambda: connect(ssh_port, key, user, source="127.0.0.2").close())
    status, data = await api("events", params={"type": "UpdateWhitelist"})
    assert len(data["events"]) == 2 and data["events"][0]["severity"] == "Major"


async def test_host_key_survives_a_server_restart_and_ssh_starts_when_enabled(
    api, ma_app, ssh_service, ssh_port
):
    await start(api)

    def host_key() -> str:
        transport = paramiko.Transport(("127.0.0.1", ssh_port))
        try:
            transport.start_client(timeout=10)
            return str(transport.get_remote_server_key().get_base64())
        finally:
            transport.close()

    before = await asyncio.to_thread(host_key)
    await ssh_service.stop()
    # A new server process: a fresh service on the same data dir starts sshd because it was on.
    again = type(ssh_service)(ma_app, config=ssh_service.config)
    ma_app.services["ssh"] = again
    try:
        await again.start()
        assert again.state == "running"
        assert await asyncio.to_thread(host_key) == before
        _, data = await api("ssh")
        assert data["enabled"] and data["host_keys"][0]["type"] == "ssh-ed25519"
    finally:
        await again.stop()


async def test_crash_is_reported_and_restart_recovers(api, ssh_service):
    await start(api)
    os.kill(ssh_service.process.pid, signal.SIGKILL)
    for _ in range(50):
        status, data = await api("ssh")
        if data["state"] == "failed":
            break
        await asyncio.sleep(0.1)
    assert data["state"] == "failed" and "exited" in data["message"]
    status, events = await api("events", params={"type": "SSHServiceFailed"})
    assert events["events"][0]["severity"] == "Critical"
    status, data = await api("ssh/restart", "POST", body="")
    assert status == 200 and data["state"] == "running"


async def test_bad_public_keys_and_names_are_400(api, ssh_service):
    good = (await create_key(api, "first"))["key"]["public_key"]
    cases = [
        ({"name": "x", "public_key": "ssh-ed25519 !!!notbase64"}, "not valid base64"),
        ({"name": "x", "public_key": "ssh-dss AAAAB3NzaC1kc3M="}, "Unknown key type 'ssh-dss'"),
        ({"name": "x", "public_key": f'command="rm -rf ~" {good}'}, "Options before the key type"),
        ({"name": "x", "public_key": f"{good}\n{good}"}, "single line"),
        ({"name": "x", "public_key": "-----BEGIN OPENSSH " + "PRIVATE KEY-----"}, "private key"),
        ({"name": "x", "public_key": "ssh-rsa " + good.split()[1]}, "is a 'ssh-ed25519' key"),
        ({"name": "x", "public_key": good}, "already registered as 'first'"),
        ({"name": "first"}, "named 'first' exists"),
        ({"name": "bad name"}, "'name'"),
        ({"name": "x", "type": "dsa"}, "'type'"),
        ({"name": "x", "bits": 1024, "type": "rsa"}, "'bits'"),
    ]
    for body, fragment in cases:
        status, data = await api("ssh/keys", "POST", body)
        assert status == 400, (body, data)
        assert fragment in data["message"], (body, data["message"])
    small = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the weak key under test
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    status, data = await api("ssh/keys", "POST", {"name": "weak", "public_key": small})
    assert status == 400 and "at least 2048 bits" in data["message"]
    status, data = await api("ssh/keys/nope", "DELETE")
    assert status == 404

    ecdsa_line = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    status, data = await api(
        "ssh/keys", "POST", {"name": "my-ecdsa", "public_key": ecdsa_line + " me@laptop"}
    )
    assert status == 201 and data["key"]["origin"] == "registered" and "private_key" not in data
    text = ssh_service.authorized_keys_path.read_text()
    assert f"{ecdsa_line} my-ecdsa\n" in text and "me@laptop" not in text


async def test_private_key_is_returned_once_and_never_kept(api, ssh_service, ma_data_dir, caplog):
    await start(api)
    created = await create_key(api, "rsa-key", type="rsa", bits=2048)
    secret_line = created["private_key"].splitlines()[2]
    assert created["key"]["bits"] == 2048 and created["key"]["type"] == "rsa"
    for path in ma_data_dir.rglob("*"):
        if path.is_file():
            assert secret_line.encode() not in path.read_bytes(), path
    for route in ("ssh", "ssh/keys", "events", "tasks", "ssh/config"):
        status, data = await api(route)
        assert status == 200 and secret_line not in str(data), route
    assert "rsa-key" in caplog.text and secret_line not in caplog.text
    mode = ssh_service.dir.stat().st_mode & 0o777
    assert mode == 0o700
    for name in ("keys.json", "authorized_keys", "sshd_config"):
        assert (ssh_service.dir / name).stat().st_mode & 0o077 == 0, name


async def test_ppk_is_accepted_by_puttygen_and_converts_back(api, tmp_path):
    created = await create_key(api, "putty-key")
    ppk = created["private_key_ppk"]
    assert ppk.startswith("PuTTY-User-Key-File-3: ssh-ed25519")
    (tmp_path / "k.ppk").write_text(ppk)
    listed = subprocess.run(
        ["puttygen", str(tmp_path / "k.ppk"), "-L"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed[:2] == created["key"]["public_key"].split()
    back = tmp_path / "back"
    subprocess.run(
        ["puttygen", str(tmp_path / "k.ppk"), "-O", "private-openssh-new", "-o", str(back)],
        check=True,
        capture_output=True,
    )
    back.chmod(0o600)
    public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(back)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert public[:2] == created["key"]["public_key"].split()


async def test_client_config_blocks(api, ssh_service, ssh_port):
    await create_key(api, "work-key")
    status, data = await api("ssh/config")
    assert status == 200
    user = ssh_service.user
    assert f"    Port {ssh_port}\n" in data["openssh"]
    assert f"    User {user}\n" in data["openssh"]
    assert "    IdentityFile ~/.ssh/work-key.pem\n" in data["openssh"]
    assert "ServerAliveInterval 60" in data["openssh"]
    assert data["vscode_url"] == (
        f"vscode://vscode-remote/ssh-remote+ma-notebook{ssh_service.app.workspace_dir}"
    )
    assert data["ssh_command"] == (
        f"ssh -i ~/.ssh/work-key.pem -p {ssh_port} -o ServerAliveInterval=60 {user}@127.0.0.1"
    )
    assert f'"PortNumber"=dword:{ssh_port:08x}' in data["putty_reg"]
    assert '"LineCodePage"="UTF-8"' in data["putty_reg"]
    assert data["pycharm"]["deployment"]["mappings"][0]["deployment_path"] == (
        ssh_service.app.workspace_dir
    )
    assert data["pycharm"]["interpreters"], "each kernel's python is listed"
    status, data = await api("ssh/config", params={"tunnel": "true", "alias": "nb1"})
    assert "ProxyCommand ma-cli ssh-proxy --server-file" in data["openssh"]
    assert "HostKeyAlias nb1" in data["openssh"]
    status, data = await api("ssh/config", params={"alias": "-oProxyCommand=x"})
    assert status == 400


async def test_info_reports_missing_sshd_with_the_install_hint(api, ssh_service):
    status, data = await api("info")
    assert data["capabilities"]["ssh"]["available"] is True
    ssh_service.sshd_executable = "/nonexistent/sshd"
    status, data = await api("info")
    info = data["capabilities"]["ssh"]
    assert info["available"] is False and "apt-get install openssh-server" in info["reason"]
    status, data = await api("ssh/start", "POST", body="")
    assert status == 409 and "apt-get install openssh-server" in data["message"]
    _, data = await api("ssh")
    assert data["state"] == "unavailable" and not data["enabled"]


async def test_login_profile_gives_interactive_shells_the_notebook_environment(
    api, ssh_service, tmp_path
):
    await start(api)
    profile = ssh_service.profile_path
    assert profile.stat().st_mode & 0o022 == 0
    out = subprocess.run(
        ["bash", "--noprofile", "--norc", "-i", "-c", f'. {profile}; echo "$PATH"; pwd'],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    ).stdout.splitlines()
    assert os.path.dirname(sys.executable) in out[-2].split(":")
    assert out[-1] == ssh_service.app.workspace_dir  # interactive shells open the workspace
    config = ssh_service.config_path.read_text()
    assert "PasswordAuthentication no" in config and "AuthenticationMethods publickey" in config
    assert f"AllowUsers {ssh_service.user}\n" in config
    assert "Subsystem sftp internal-sftp" in config and "AllowTcpForwarding yes" in config


async def test_a_port_in_use_is_a_clear_failure(api, ssh_service, ssh_port):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", ssh_port))
    blocker.listen()
    try:
        status, data = await api("ssh/start", "POST", body="")
        assert status == 409 and "sshd could not start" in data["message"]
        assert "Address already in use" in data["message"] or "bind" in data["message"].lower()
        _, data = await api("ssh")
        assert data["state"] == "failed" and data["message"]
    finally:
        blocker.close()
    status, data = await api("ssh/start", "POST", body="")
    assert status == 200 and data["state"] == "running"
