"""Fixtures for Remote SSH tests: sshd on loopback through the API, paramiko clients."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from ma_fixtures import free_port


def ssh_config_for(port: int) -> dict[str, Any]:
    """SSHService traits for tests: loopback only, no edits to the user's login profile."""
    return {
        "port": port,
        "listen_addresses": ["127.0.0.1"],
        "login_profile": False,
    }


def ssh_cli_args(port: int) -> list[str]:
    """The same settings as command-line options of a real JupyterLab process."""
    return [
        f"--SSHService.port={port}",
        "--SSHService.listen_addresses=127.0.0.1",
        "--SSHService.login_profile=False",
    ]


@pytest.fixture
def ssh_port() -> int:
    """A free loopback port for sshd."""
    return free_port()


def private_key(pem: str) -> Any:
    """A paramiko key from an OpenSSH private key text."""
    import paramiko

    for cls in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            return cls.from_private_key(io.StringIO(pem))
        except paramiko.SSHException:
            continue
    raise ValueError("not a private key paramiko reads")


def connect(
    port: int, key: Any, user: str, *, source: str = "127.0.0.1", host: str = "127.0.0.1"
) -> Any:
    """A paramiko client logged in to sshd from ``source`` (a loopback address)."""
    import paramiko

    sock = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a fresh test sshd
    try:
        client.connect(
            host,
            port,
            username=user,
            pkey=key,
            sock=sock,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
            auth_timeout=10,
            banner_timeout=10,
        )
    except Exception:
        client.close()
        sock.close()
        raise
    return client


def run(client: Any, command: str) -> str:
    """Run a command over SSH and return its standard output."""
    _, stdout, _ = client.exec_command(command, timeout=20)
    out = stdout.read().decode()
    stdout.channel.recv_exit_status()
    return str(out)


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A TCP echo server on loopback (the target of a port forward)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.5)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


@pytest.fixture
def ssh_service(ma_app: Any, jp_asyncio_loop: Any) -> Iterator[Any]:
    """The app's SSHService; sshd is stopped after the test whatever happened."""
    service = ma_app.services["ssh"]
    yield service
    jp_asyncio_loop.run_until_complete(service.stop())
