"""Git routes under hostile input: huge URLs, redirects and re-resolution, tokens in URLs."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures_git import GIT_TOKEN, GitHTTPServer

from ma_notebook.git.gitcmd import redact


async def clone(api, ma_app, body: dict[str, Any]) -> dict[str, Any]:
    status, task = await api("git/clone", method="POST", body=body)
    assert status == 202, task
    await ma_app.tasks.join(task["id"], timeout=60)
    return (await api(f"tasks/{task['id']}"))[1]


def test_redaction_is_linear_in_the_input():
    for text in ("https://" + "a" * 1_000_000, "a" * 1_000_000, "a://" * 250_000):
        started = time.monotonic()
        redact(text)
        assert time.monotonic() - started < 0.5, text[:20]
    assert redact("see https://tok@h/x and git+ssh://u:p@h/y") == (
        "see https://***@h/x and git+ssh://***@h/y"
    )


async def test_huge_url_neither_blocks_the_server_nor_pins_the_cpu(api, jp_fetch):
    # a 100 KB URL is refused by the URL cap; a 50 MB body before it is even parsed
    for size, limit in ((100_000, "at most 8192"), (50_000_000, "limited to 4 MB")):
        url = "http://127.0.0.1:9/" + "a" * size
        started = time.monotonic()
        pending = asyncio.ensure_future(api("git/branches", method="POST", body={"url": url}))
        await asyncio.sleep(0.05)
        probe = time.monotonic()
        resp = await jp_fetch("api", "status")
        assert resp.code == 200
        assert time.monotonic() - probe < 1.0, f"/api/status waited behind a {size}-byte URL"
        status, data = await pending
        assert time.monotonic() - started < 5.0
        assert status == 400, data
        assert limit in data["message"] and len(data["message"]) < 400


# ---------------------------------------------------------------- redirects and resolution


class _Recorder(ThreadingHTTPServer):
    """Answers every request with ``status`` (+ Location) and records the paths it saw."""

    daemon_threads = True

    def __init__(self, status: int = 404, location: str = "") -> None:
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        self.status = status
        self.location = location
        self.hits: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _RecorderHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location.replace("{path}", self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[ThreadingHTTPServer] = []

    def start(server: ThreadingHTTPServer) -> Any:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_dns(monkeypatch) -> dict[str, str]:
    """Names the server's resolver answers from this table; any non-loopback connect fails."""
    table: dict[str, str] = {}
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    dialled: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port or 0))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not ipaddress.ip_address(address[0]).is_loopback:
            dialled.append(address)
            raise AssertionError(f"dialled a non-loopback address {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield table
    assert dialled == []


async def test_redirect_to_a_metadata_address_is_refused_before_connecting(
    api, ma_app, jp_root_dir, serve, fake_dns
):
    # git's curl resolves *.localhost to loopback by itself, so an unguarded follow is harmless
    # here but visible: it reaches ``target``. The server's resolver says it is the metadata IP.
    target = serve(_Recorder(404))
    fake_dns["meta.localhost"] = "169.254.169.254"
    jump = serve(_Recorder(302, f"http://meta.localhost:{target.port}{{path}}"))
    url = f"http://127.0.0.1:{jump.port}/o/r.git"
    status, data = await api("git/branches", method="POST", body={"url": url})
    assert status == 403 and data["reason"] == "forbidden_host", data
    status, data = await api("git/preview", method="POST", body={"url": url, "branch": "main"})
    assert status == 403, data
    task = await clone(api, ma_app, {"url": url})
    assert task["state"] == "failed" and task["error_reason"] == "forbidden_host", task
    assert target.hits == []
    assert jump.hits and all(h.startswith("/o/r.git/info/refs") for h in jump.hits)
    assert list(jp_root_dir.iterdir()) == []


async def test_redirect_to_a_checked_host_is_followed(api, ma_app, git_server, serve):
    jump = serve(
        _Recorder(301, f"{git_server.url}/public/sample.git/info/refs?service=git-upload-pack")
    )
    url = f"http://127.0.0.1:{jump.port}/moved/sample.git"
    status, data = await api("git/branches", method="POST", body={"url": url})
    assert status == 200 and data["default"] == "main", data
    assert data["url"] == url
    task = await clone(api, ma_app, {"url": url, "paths": ["docs"]})
    assert task["state"] == "succeeded", task


async def test_git_connects_to_the_addresses_that_were_checked(
    api, ma_app, jp_root_dir, tmp_path_factory, fake_dns, git_server
):
    # The server's resolver says pin.localhost is 127.0.0.2, where the repository is served;
    # git's own resolution (curl: 127.0.0.1) finds nothing there. Only a pinned git succeeds.
    other = GitHTTPServer(git_server.root, host="127.0.0.2")
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        fake_dns["pin.localhost"] = "127.0.0.2"
        url = f"http://pin.localhost:{other.server_address[1]}/public/sample.git"
        status, data = await api("git/branches", method="POST", body={"url": url})
        assert status == 200 and data["default"] == "main", data
        task = await clone(api, ma_app, {"url": url})
        assert task["state"] == "succeeded", task
    finally:
        other.shutdown()
        other.server_close()


# ---------------------------------------------------------------- credentials and names


def _argv() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


async def test_token_in_the_username_slot_is_a_credential(api, ma_app, jp_root_dir, git_server):
    git_server.credentials[GIT_TOKEN] = ""  # GitHub style: the token is the username
    git_server.throttle = 0.01
    url = f"http://{GIT_TOKEN}@127.0.0.1:{git_server.server_address[1]}/private/sample.git"
    try:
        status, task = await api("git/clone", method="POST", body={"url": url})
        assert status == 202, task
        seen: list[str] = []
        for _ in range(100):
            seen += [a for a in _argv() if "clone" in a]
            status, task = await api(f"tasks/{task['id']}", params={"wait": 1})
            if task["state"] != "running":
                break
        assert task["state"] == "succeeded", task
        assert seen and not [a for a in seen if GIT_TOKEN in a]
        config = (jp_root_dir / "sample" / ".git" / "config").read_text()
        origin = subprocess.run(
            ["git", "-C", str(jp_root_dir / "sample"), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        _, events = await api("events")
        status, branches = await api("git/branches", method="POST", body={"url": url})
        assert status == 200, branches
        for text in (config, origin, json.dumps(task), json.dumps(events), json.dumps(branches)):
            assert GIT_TOKEN not in text
    finally:
        git_server.throttle = 0.0
        del git_server.credentials[GIT_TOKEN]


async def test_longest_folder_name_clones_and_errors_never_show_the_temp_name(
    api, ma_app, jp_root_dir, git_server
):
    url = f"{git_server.url}/public/sample.git"
    task = await clone(api, ma_app, {"url": url, "name": "n" * 255, "paths": ["docs"]})
    assert task["state"] == "succeeded", task
    assert (jp_root_dir / ("n" * 255) / "docs" / "guide.md").is_file()
    status, data = await api("git/clone", method="POST", body={"url": url, "name": "n" * 256})
    assert status == 400 and "too long" in data["message"], data
    assert "ma-clone" not in json.dumps([task, data])


async def test_behind_a_proxy_metadata_hosts_stay_refused(api, monkeypatch, fake_dns):
    # git would reach the host through the proxy (nothing listens on port 9 here); the check
    # still refuses a metadata address.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    fake_dns["meta.localhost"] = "169.254.169.254"
    status, data = await api(
        "git/branches", method="POST", body={"url": "http://meta.localhost/r.git"}
    )
    assert status == 403 and data["reason"] == "forbidden_host", data
