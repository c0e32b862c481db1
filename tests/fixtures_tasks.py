"""Fixtures for task persistence tests: a slow, request-counting HTTP proxy in front of moto."""

from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from fixtures_obs import BUCKET, TEST_AK, TEST_SK

CHUNK = 32 * 1024
PART = 256 * 1024
PARTS = 24
SIZE = PARTS * PART - 1000  # the last part is short
RATE = 384 * 1024  # bytes/s per connection while the first server runs


def server_config(proxy: SlowProxy, home: Path) -> dict[str, Any]:
    return {
        "MaNotebookApp": {"workspace_dir": str(home / "work")},
        "ObsService": {
            "endpoint": proxy.url,
            "access_key": TEST_AK,
            "secret_key": TEST_SK,
            "region": "us-east-1",
            "part_size": PART,
            "multipart_threshold": 2 * PART,
            "part_concurrency": 2,
            "transit_path": f"obs://{BUCKET}/transit/",
        },
        "UploadService": {"transit_max_bytes": 10 * SIZE},
    }


def s3(proxy: SlowProxy) -> Any:
    host, port = proxy.upstream
    return boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        aws_access_key_id=TEST_AK,
        aws_secret_access_key=TEST_SK,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def wait_for(lab: Any, task_id: str, until: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, task = lab.request(f"ma-notebook/api/tasks/{task_id}")
        assert status == 200, task
        if until(task):
            return task  # type: ignore[no-any-return]
        assert task["state"] not in ("failed", "cancelled"), task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not get there: {task}")


def start_transit_pull(lab: Any, proxy: SlowProxy, name: str = "big.bin") -> tuple[bytes, Any, Any]:
    """A transit upload whose parts all reached the store, its pull running slowly (>= 40 %).

    Returns (data, session, task) as the API answered them.
    """
    s3(proxy).create_bucket(Bucket=BUCKET)
    data = os.urandom(SIZE)
    body = {"path": "", "name": name, "size": SIZE, "key": f"{name}:1"}
    status, session = lab.request("ma-notebook/api/upload/transit", "POST", body)
    assert status == 201 and session["parts"] == PARTS, session
    status, signed = lab.request(
        f"ma-notebook/api/upload/transit/{session['id']}/presign",
        "POST",
        {"parts": list(range(1, PARTS + 1))},
    )
    assert status == 200, signed
    for n in range(1, PARTS + 1):  # the browser's part PUTs, straight to the store
        chunk = data[(n - 1) * PART : n * PART]
        req = urllib.request.Request(signed["urls"][str(n)], data=chunk, method="PUT")
        req.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
    proxy.rate = RATE
    status, task = lab.request(
        f"ma-notebook/api/upload/transit/{session['id']}/complete", "POST", {}
    )
    assert status == 202, task
    wait_for(lab, task["id"], lambda t: t["done"] >= SIZE * 0.4)
    return data, session, task


@dataclass
class Request:
    """One request the proxy forwarded."""

    method: str
    path: str
    query: dict[str, list[str]]
    range: str | None
    status: int = 0


@dataclass
class SlowProxy:
    """A loopback HTTP proxy to one upstream: counts requests, caps each connection's rate."""

    url: str
    upstream: tuple[str, int]
    requests: list[Request] = field(default_factory=list)
    #: Bytes per second per connection, both directions (0: no limit).
    rate: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        """The number of requests so far (to count those after a point)."""
        with self.lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Request]:
        """Requests forwarded after ``mark``."""
        with self.lock:
            return list(self.requests[mark:])

    def pause(self, nbytes: int) -> None:
        """Sleep as long as ``nbytes`` take at the current rate."""
        if self.rate > 0:
            time.sleep(nbytes / self.rate)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _forward(self) -> None:
        proxy: SlowProxy = self.server.proxy
        parts = urlsplit(self.path)
        record = Request(
            self.command, parts.path, parse_qs(parts.query, True), self.headers.get("Range")
        )
        with proxy.lock:
            proxy.requests.append(record)
        length = int(self.headers.get("Content-Length") or 0)
        body = b""
        while len(body) < length:
            chunk = self.rfile.read(min(CHUNK, length - len(body)))
            if not chunk:
                return
            body += chunk
            proxy.pause(len(chunk))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
        try:
            conn.request(self.command, self.path, body=body if length else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        record.status = resp.status
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "date"):
                self.send_header(k, v)
        length_header = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length_header or str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        for i in range(0, len(data), CHUNK):
            self.wfile.write(data[i : i + CHUNK])
            proxy.pause(min(CHUNK, len(data) - i))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed notebook server drops its connections mid-transfer: expected here."""


@pytest.fixture
def slow_moto(moto_server: Any) -> Iterator[SlowProxy]:
    """moto behind a counting, rate-capped proxy on 127.0.0.1 (reset first)."""
    moto_server.reset()
    up = urlsplit(moto_server.endpoint)
    server = _QuietServer(("127.0.0.1", 0), _ProxyHandler)
    proxy = SlowProxy(
        f"http://127.0.0.1:{server.server_address[1]}", (up.hostname or "", up.port or 80)
    )
    server.proxy = proxy  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield proxy
    server.shutdown()
    server.server_close()
    thread.join(5)
