"""Fixtures for upload tests: a real HTTP file server on loopback for URL imports."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: Bytes served at /files/data.bin (not a multiple of any buffer size).
FILE_BYTES = bytes(range(256)) * 4099


class _FileServerHandler(BaseHTTPRequestHandler):
    """Serves files, names, redirects and stalls for URL import tests."""

    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send_file(self, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        if path == "/files/data.bin":
            self._send_file(FILE_BYTES)
        elif path == "/export":
            self._send_file(
                b"a,b\n1,2\n",
                {"Content-Disposition": "attachment; filename*=UTF-8''report%202024.csv"},
            )
        elif path == "/both-names":
            self._send_file(
                b"x",
                {
                    "Content-Disposition": 'attachment; filename="plain-ascii.txt"; '
                    "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%96%87%E4%BB%B6.txt"
                },
            )
        elif path == "/go":
            self._redirect("/files/data.bin")
        elif path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data/")
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.server.release.wait(10)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up early (probes, timeouts) are expected here."""


@pytest.fixture(scope="module")
def file_server() -> Iterator[Any]:
    """A threaded HTTP server on 127.0.0.1 serving test files; ``.url`` is its base URL."""
    server = _QuietServer(("127.0.0.1", 0), _FileServerHandler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join(5)
