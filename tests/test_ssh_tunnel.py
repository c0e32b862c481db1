"""OpenSSH's ssh through ``ma-cli ssh-proxy`` over the Jupyter port; ``ma-cli ssh config``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures_ssh import ssh_config_for

MA_CLI = str(Path(sys.executable).with_name("ma-cli"))


@pytest.fixture
def ma_config(ssh_port: int) -> dict[str, Any]:
    return {"SSHService": ssh_config_for(ssh_port)}


def server_file(path: Path, url: str, token: str) -> Path:
    path.write_text(f"url: {url}\ntoken: {token}\n")
    path.chmod(0o600)
    return path


async def sh(*args: str, stdin: bytes = b"", timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def ssh_args(tmp: Path, key: Path, proxy_file: Path) -> list[str]:
    return [
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
        f"UserKnownHostsFile={tmp / 'known_hosts'}",
        "-o",
        "HostKeyAlias=ma-notebook",
        "-o",
        f"ProxyCommand={MA_CLI} ssh-proxy --server-file {proxy_file}",
        # No sshd port is used by the client: port 1 would fail if it were.
        "-p",
        "1",
    ]


async def test_openssh_reaches_sshd_through_the_jupyter_port_and_a_wrong_token_fails(
    api, ssh_service, jp_serverapp, jp_http_port, jp_base_url, tmp_path
):
    status, data = await api("ssh/start", "POST", body="")
    assert status == 200 and data["state"] == "running"
    status, data = await api("ssh/tunnel")
    assert status == 400 and "ma-cli ssh-proxy" in data["message"]  # not a websocket request
    status, created = await api("ssh/keys", "POST", {"name": "tunnel-key"})
    key = tmp_path / "tunnel-key.pem"
    key.write_text(created["private_key"])
    key.chmod(0o600)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    good = server_file(tmp_path / "server.yaml", url, jp_serverapp.identity_provider.token)
    user = ssh_service.user

    code, out, err = await sh(*ssh_args(tmp_path, key, good), f"{user}@ma-notebook", "echo $USER")
    assert code == 0, err
    assert out == f"{user}\n"
    assert "ma-notebook" in (tmp_path / "known_hosts").read_text()  # filed under the alias

    # sftp over the same tunnel (what VS Code and PyCharm use for files)
    payload = os.urandom(512 * 1024)
    (tmp_path / "up.bin").write_bytes(payload)
    remote = f"{ssh_service.app.workspace_dir}/via-tunnel.bin"
    sftp = ["sftp", *ssh_args(tmp_path, key, good)[1:-2], "-P", "1", "-b", "-"]
    code, out, err = await sh(
        *sftp, f"{user}@ma-notebook", stdin=f"put {tmp_path / 'up.bin'} {remote}\n".encode()
    )
    assert code == 0, err
    assert Path(remote).read_bytes() == payload

    bad = server_file(tmp_path / "bad.yaml", url, "wrong-token")
    code, out, err = await sh(*ssh_args(tmp_path, key, bad), f"{user}@ma-notebook", "true")
    assert code == 255 and out == ""
    assert "The notebook refused the SSH tunnel (HTTP 403)" in err, err
    assert "wrong-token" not in err
    assert "Traceback" not in err

    # The tunnel applies the whitelist to its own client (here 127.0.0.1).
    status, _ = await api("ssh/whitelist", "PUT", {"entries": ["192.0.2.0/24"]})
    code, out, err = await sh(*ssh_args(tmp_path, key, good), f"{user}@ma-notebook", "true")
    assert code == 255 and "not on this notebook's SSH whitelist" in err, err
    await api("ssh/whitelist", "PUT", {"entries": []})

    # sshd stopped: a clear 503 instead of a hanging connection.
    await api("ssh/stop", "POST", body="")
    code, out, err = await sh(*ssh_args(tmp_path, key, good), f"{user}@ma-notebook", "true")
    assert code == 255 and "HTTP 503" in err and "Remote SSH panel" in err, err


async def test_ma_cli_ssh_config_prints_the_panels_blocks(
    api, ssh_service, ssh_port, jp_serverapp, jp_http_port, jp_base_url, tmp_path
):
    await api("ssh/keys", "POST", {"name": "cli-key"})
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    good = server_file(tmp_path / "server.yaml", url, jp_serverapp.identity_provider.token)
    code, out, err = await sh(MA_CLI, "ssh", "config", "--server-file", str(good))
    assert code == 0, err
    assert out.startswith("Host ma-notebook\n") and f"    Port {ssh_port}\n" in out
    assert "IdentityFile ~/.ssh/cli-key.pem" in out
    code, out, err = await sh(MA_CLI, "ssh", "config", "--tunnel", "--server-file", str(good))
    assert code == 0 and "    ProxyCommand ma-cli ssh-proxy --server-file" in out, err
    code, out, err = await sh(MA_CLI, "ssh", "config", "--server-file", str(tmp_path / "none"))
    assert code == 1 and err.startswith("Error: The server file") and "does not exist" in err
    bad = server_file(tmp_path / "bad.yaml", url, "nope")
    code, out, err = await sh(MA_CLI, "ssh", "config", "--server-file", str(bad))
    assert code == 1 and "HTTP 403" in err, err
