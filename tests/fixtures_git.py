"""A real git smart-HTTP server on loopback (``git http-backend`` behind a tiny threaded server).

Repositories under ``/public/`` are open; those under ``/private/`` need HTTP basic auth.
``GitHTTPServer.throttle`` slows upload-pack answers (seconds per 4 KiB) for progress tests.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

GIT_USER = "alice"
GIT_TOKEN = "ghp_s3cretTOKENvalue123"  # the token the private server accepts


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def make_sample_repo(work: Path, bare: Path, big_bytes: int = 256 * 1024) -> None:
    """A repo with folders, a binary file, a default branch `main` and a branch `dev`."""
    work.mkdir(parents=True)
    _git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("# Sample\n")
    (work / "docs").mkdir()
    (work / "docs" / "guide.md").write_text("guide\n")
    (work / "docs" / "api.md").write_text("api\n")
    (work / "src" / "lib").mkdir(parents=True)
    (work / "src" / "app.py").write_text("print('app')\n")
    (work / "src" / "lib" / "util.py").write_text("X = 1\n")
    (work / "data").mkdir()
    (work / "data" / "weights.bin").write_bytes(os.urandom(big_bytes))
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "initial", cwd=work)
    _git("checkout", "-q", "-b", "dev", cwd=work)
    (work / "dev-notes.txt").write_text("dev only\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "dev", cwd=work)
    _git("checkout", "-q", "main", cwd=work)
    _git("clone", "-q", "--bare", str(work), str(bare))
    _git("-C", str(bare), "config", "uploadpack.allowFilter", "true")
    _git("-C", str(bare), "config", "uploadpack.allowAnySHA1InWant", "true")


class GitHTTPServer(ThreadingHTTPServer):
    """Serves ``root`` with git http-backend; records request lines and headers it received."""

    daemon_threads = True

    def __init__(self, root: Path, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.root = root
        self.throttle = 0.0
        self.log_lines: list[str] = []
        self.credentials = {GIT_USER: GIT_TOKEN}

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GitHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log_lines.append(format % args)

    def do_GET(self) -> None:
        self._backend()

    def do_POST(self) -> None:
        self._backend()

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
        return self.server.credentials.get(user) == token

    def _backend(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/private/") and not self._authorized():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(length)) if length else b""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        }
        for header in ("Git-Protocol", "Content-Encoding"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        proc = subprocess.Popen(
            ["git", "http-backend"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        threading.Thread(target=self._feed, args=(proc.stdin, body), daemon=True).start()
        status = "200 OK"
        headers: list[tuple[str, str]] = []
        while True:
            line = proc.stdout.readline().decode().rstrip("\r\n")
            if not line:
                break
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = value.strip()
            else:
                headers.append((key, value.strip()))
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason or None)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        slow = self.server.throttle and self.command == "POST" and "upload-pack" in path
        try:
            while True:
                chunk = proc.stdout.read(4096 if slow else 65536)
                if not chunk:
                    break
                self.wfile.write(chunk)
                if slow:
                    self.wfile.flush()
                    time.sleep(self.server.throttle)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            proc.kill()
            proc.wait()

    @staticmethod
    def _feed(stdin: Any, body: bytes) -> None:
        try:
            stdin.write(body)
            stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def _read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHTTPServer]:
    """A loopback smart-HTTP git server with /public/sample.git and /private/sample.git."""
    base = tmp_path_factory.mktemp("git-server")
    root = base / "repos"
    make_sample_repo(base / "work", root / "public" / "sample.git")
    shutil.copytree(root / "public" / "sample.git", root / "private" / "sample.git")
    server = GitHTTPServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)
