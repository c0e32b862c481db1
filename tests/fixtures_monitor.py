"""Fixtures of the monitor tests: a loopback webhook receiver, a tmpfs mount, kernel execution."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A loopback Alertmanager-webhook receiver."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def tmpfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder that is its own 8 MiB tmpfs mount (root only)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root (the CI machine runs the tests as root)")
    path = tmp_path / "cache-mount"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def execute_message(code: str) -> dict[str, Any]:
    """A Jupyter execute_request for the kernel's shell channel."""
    msg_id = uuid.uuid4().hex
    return {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
        },
        "channel": "shell",
        "buffers": [],
    }


async def kernel_execute(ws_url: str, token: str, code: str) -> Any:
    """Send code to a kernel over its websocket; returns the open connection."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(ws_url, headers={"Authorization": f"token {token}"})
    conn = await websocket_connect(request)
    await conn.write_message(json.dumps(execute_message(code)))
    return conn


class SMTPReceiver:
    """A minimal SMTP server on 127.0.0.1 that keeps each message's DATA."""

    def __init__(self) -> None:
        import socket

        self.messages: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as rf:
                conn.sendall(b"220 test ESMTP\r\n")
                data: list[bytes] | None = None
                for line in rf:
                    if data is not None:
                        if line == b".\r\n":
                            self.messages.append(b"".join(data).decode(errors="replace"))
                            data = None
                            conn.sendall(b"250 queued\r\n")
                        else:
                            data.append(line)
                        continue
                    cmd = line[:4].upper()
                    if cmd == b"DATA":
                        data = []
                        conn.sendall(b"354 go ahead\r\n")
                    elif cmd == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def smtp_receiver() -> Iterator[SMTPReceiver]:
    """A loopback SMTP receiver."""
    receiver = SMTPReceiver()
    yield receiver
    receiver.close()
