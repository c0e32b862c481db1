"""What a logged-in page can reach: no generic proxy to any port unless an admin enables it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Peer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PeerHandler)
        self.seen: list[tuple[str, dict[str, str]]] = []


class _PeerHandler(BaseHTTPRequestHandler):
    server: _Peer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    do_POST = do_GET


@pytest.fixture
def peer() -> Iterator[_Peer]:
    """Something listening on a loopback port, as a database or another user's tool would."""
    server = _Peer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_generic_proxy_routes_are_not_exposed_by_default(lab, peer):
    port = peer.server_address[1]
    for path in (f"proxy/{port}/", f"proxy/127.0.0.1:{port}/", f"proxy/absolute/127.0.0.1:{port}/"):
        status, body = lab.request(path)
        assert status == 404, (path, status, body)
    assert peer.seen == []
    # our own visualization proxy (built on jupyter-server-proxy's classes) keeps working
    (lab.root_dir / "tb-empty").mkdir(exist_ok=True)
    status, inst = lab.request(
        "ma-notebook/api/visualization/instances",
        "POST",
        {"tool": "tensorboard", "folder": "tb-empty"},
    )
    assert status in (200, 201), inst
    try:
        status, page = lab.request(inst["url"].lstrip("/") + "index.html")
        assert status == 200 and "<tb-webapp>" in page
    finally:
        lab.request(f"ma-notebook/api/visualization/instances/{inst['id']}", "DELETE")


def test_an_administrator_can_turn_the_generic_proxy_on(lab_factory, peer):
    lab = lab_factory(extra_args=["--ServerApp.jpserver_extensions={'jupyter_server_proxy': True}"])
    status, body = lab.request(f"proxy/{peer.server_address[1]}/x")
    assert status == 200 and body == "secret", (status, body)
