"""The REST contract: every route is in the OpenAPI document, and a fuzzing gate (schemathesis)
finds no 5xx and no answer off the document, while the server keeps answering within 1 s."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_scheduler.extension import SchedulerApp
from ma_fixtures import LabProcess, free_port, stop_process
from tornado import web

from ma_notebook.api import VERBS, openapi_path
from ma_notebook.base import API_PREFIX
from ma_notebook.scheduler.handlers import UPSTREAM_OVERRIDES


def implemented_verbs(cls: type) -> set[str]:
    """The HTTP verbs a handler class answers itself (not tornado's default 405)."""
    return {v for v in VERBS if getattr(cls, v, None) is not getattr(web.RequestHandler, v)}


async def test_every_api_route_and_verb_is_in_the_openapi_document(api, ma_app):
    status, doc = await api("openapi.json")
    assert status == 200
    routes = [r for r in ma_app.handlers if r[0].startswith(API_PREFIX)]
    assert len(routes) > 20
    missing = []
    for route in routes:
        path, _ = openapi_path(route[0])
        for verb in implemented_verbs(route[1]):
            op = doc["paths"].get(path, {}).get(verb)
            if op is None:
                missing.append(f"{verb.upper()} {path}")
            else:
                assert {"401", "403"} <= set(op["responses"]), (verb, path)
    assert missing == [], missing


def test_every_jupyter_scheduler_route_is_overridden():
    """Upstream routes answer 500 on bad input: each one has our validated version."""
    ours = {pattern for pattern, _ in UPSTREAM_OVERRIDES}
    upstream = {route[0] for route in SchedulerApp.handlers}
    assert upstream <= ours, upstream - ours


# ---------------------------------------------------------------- the fuzzing gate

FUZZ_SECONDS = int(os.environ.get("MA_FUZZ_SECONDS", "180"))
STATUS_PROBE_LIMIT = 1.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the server's unix socket."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class Relay(socketserver.ThreadingTCPServer):
    """127.0.0.1:port -> the server's unix socket (the server lives in its own netns)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sock_path: str) -> None:
        self.sock_path = sock_path
        super().__init__(("127.0.0.1", free_port()), RelayHandler)


class RelayHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(self.server.sock_path)  # type: ignore[attr-defined]
        back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
        back.start()
        _pump(self.request, upstream)
        back.join(10)
        upstream.close()


class IsolatedServer(LabProcess):
    """``jupyter server`` with ma-notebook in a fresh network namespace, on a unix socket.

    The fuzzer sends arbitrary URLs to git and URL imports: in its own namespace the server
    reaches nothing but its own loopback, whatever the URL.
    """

    def start(self, timeout: float = 90.0) -> IsolatedServer:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.sock = str(self.home / "jupyter.sock")
        cfg = self.home / "jupyter_server_config.json"
        cfg.write_text(json.dumps({"IdentityProvider": {"token": self.token}}))
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--sock={self.sock}",
            "--no-browser",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--config={cfg}",
            f"--MaNotebookApp.data_dir={self.data_dir}",
            "--ServerApp.allow_unauthenticated_access=False",
            # Capabilities that act on the machine stay inside the test's folders.
            f"--StorageService.data_root={self.home / 'data'}",
            "--SSHService.login_profile=False",
            "--SSHService.listen_addresses=127.0.0.1",
            f"--ImageService.root={self.home / 'rootfs'}",
            *(["--allow-root"] if os.getuid() == 0 else []),
        ]
        (self.home / "data").mkdir(exist_ok=True)
        (self.home / "rootfs").mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in self.env().items()
            if not k.startswith(("AWS_", "OBS_", "HUAWEICLOUD_", "MA_OBS", "MA_CLI"))
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        inner = "ip link set lo up && exec " + " ".join(f"'{a}'" for a in args)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", inner],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_text()[-3000:]}")
            try:
                if self.get("/api/status")[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(self.log_text()[-3000:])
            time.sleep(0.3)

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        conn = UnixHTTPConnection(self.sock, timeout)
        try:
            conn.request("GET", path, headers={"Authorization": f"token {self.token}"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def isolated_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedServer]:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("the fuzzing gate needs unshare (util-linux) and ip (iproute2)")
    home = tmp_path_factory.mktemp("fuzz")
    server = IsolatedServer(home, app="server")
    (server.root_dir / "notes").mkdir(parents=True)
    (server.root_dir / "notes" / "a.txt").write_text("hello")
    (server.root_dir / "report.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    os.symlink("/etc", server.root_dir / "etc-link")
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            stop_process(server.proc)


class StatusProbe(threading.Thread):
    """Asks /api/status every half second; records the slowest answer."""

    def __init__(self, server: IsolatedServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop_event = threading.Event()
        self.slowest = 0.0
        self.failures: list[str] = []
        self.count = 0

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            started = time.monotonic()
            try:
                status, _ = self.server.get("/api/status", timeout=STATUS_PROBE_LIMIT * 5)
                if status != 200:
                    self.failures.append(f"status {status}")
            except OSError as e:
                self.failures.append(repr(e))
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.count += 1


def test_fuzzing_finds_no_server_error_and_keeps_the_server_responsive(
    isolated_server: IsolatedServer, tmp_path: Path
) -> None:
    relay = Relay(isolated_server.sock)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{relay.server_address[1]}"
    status, body = isolated_server.get("/ma-notebook/api/openapi.json")
    assert status == 200
    doc: dict[str, Any] = json.loads(body)
    assert any(p.startswith("/scheduler/") for p in doc["paths"])
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(doc))
    # 502/504 name a remote the user gave that cannot be reached (git, URL imports): in this
    # network namespace nothing can be. Every other 5xx, 500 first, fails the gate.
    (tmp_path / "schemathesis.toml").write_text(
        '[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "502", "504"]\n'
    )
    probe = StatusProbe(isolated_server)
    probe.start()
    args = [
        "timeout",
        "--kill-after=10",
        str(FUZZ_SECONDS + 60),
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(schema),
        f"--url={base}",
        "-H",
        f"Authorization: token {isolated_server.token}",
        "--checks=not_a_server_error,response_schema_conformance",
        "--max-examples=12",
        f"--max-time={FUZZ_SECONDS}",
        "--phases=examples,coverage,fuzzing",
        "--request-timeout=30",
        "--seed=20261201",
        "--no-shrink",
        "--workers=1",
        "--suppress-health-check=all",
        "--output-truncate=true",
    ]
    try:
        run = subprocess.run(
            args, cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_SECONDS + 90
        )
    finally:
        probe.stop_event.set()
        probe.join(10)
        relay.shutdown()
        relay.server_close()
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)
    output = run.stdout[:12000] + "\n[...]\n" + run.stdout[-6000:] + run.stderr[-3000:]
    log = isolated_server.log_text()
    errors = [block[:3000] for block in log.split("Traceback")[1:4]]
    assert run.returncode == 0, output + "\n\nServer tracebacks:\n" + "\n".join(errors)
    assert probe.count > 5, output
    assert probe.failures == [], probe.failures
    assert probe.slowest < STATUS_PROBE_LIMIT, f"/api/status took {probe.slowest:.2f} s"
