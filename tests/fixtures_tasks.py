"""Fixtures for task persistence tests: a slow, request-counting HTTP proxy in front of moto."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CHUNK = 32 * 1024


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
