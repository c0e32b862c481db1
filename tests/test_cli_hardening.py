"""ma-cli and mox.file errors a new user hits: folder destinations, no bucket, no credentials."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures_obs import BUCKET

from ma_notebook.obs import file as mox_file
from ma_notebook.obs.config import LOCAL_ROOT_ENV
from ma_notebook.obs.errors import ObsError


def ma_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=env,
    )


@pytest.fixture
def embedded_env(obs_clean_env, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, **{LOCAL_ROOT_ENV: str(tmp_path / "obs-root")})
    (tmp_path / "obs-root" / BUCKET).mkdir(parents=True)
    (tmp_path / "obs-root" / BUCKET / "file.txt").write_text("hello")
    return env


def test_a_destination_ending_in_a_slash_is_a_folder_even_when_missing(embedded_env, tmp_path):
    r = ma_cli("obs-copy", f"obs://{BUCKET}/file.txt", "./new-dir/", cwd=tmp_path, env=embedded_env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new-dir" / "file.txt").read_text() == "hello"
    assert f"[OK] local dst path: [{tmp_path}/new-dir/]" in r.stdout


def test_obs_without_a_bucket_is_explained(embedded_env, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    for dst in ("obs://", "obs:///x.txt"):
        r = ma_cli("obs-copy", "./x.txt", dst, cwd=tmp_path, env=embedded_env)
        assert r.returncode == 1
        assert "names no bucket: use obs://<bucket>/<path>" in r.stderr, r.stderr
        assert "ParamValidationError" not in r.stderr and "Traceback" not in r.stderr


class _Refuses(ThreadingHTTPServer):
    """An S3 endpoint answering every (unsigned) request with 500, as OBS does."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RefusesHandler)
        self.requests = 0


class _RefusesHandler(BaseHTTPRequestHandler):
    server: _Refuses

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<Error><Code>InternalError</Code><Message>Internal Server Error</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any


@pytest.fixture
def refusing_endpoint() -> Iterator[_Refuses]:
    server = _Refuses()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_missing_credentials_are_named_at_once(obs_clean_env, refusing_endpoint, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    port = refusing_endpoint.server_address[1]
    env = dict(os.environ, MA_OBS_ENDPOINT=f"http://127.0.0.1:{port}")
    r = ma_cli("obs-copy", "./x.txt", f"obs://{BUCKET}/x.txt", cwd=tmp_path, env=env)
    assert r.returncode == 1
    assert "No credentials are set" in r.stderr, r.stderr
    assert "HUAWEICLOUD_SDK_AK" in r.stderr and "ma-cli configure" in r.stderr
    assert refusing_endpoint.requests <= 2  # no retry storm: main made 12 requests in ~15 s


def test_mox_file_errors_name_the_real_cause(obs_target):
    mox_file.write(f"obs://{BUCKET}/dir/a.txt", "a")
    with pytest.raises(ObsError, match=r"is a folder that is not empty.*recursive=True"):
        mox_file.remove(f"obs://{BUCKET}/dir")
    assert mox_file.exists(f"obs://{BUCKET}/dir/a.txt")
    for call in (
        lambda: mox_file.list_directory("obs://no-such-bucket/"),
        lambda: mox_file.get_size("obs://no-such-bucket/a.txt"),
        lambda: mox_file.remove("obs://no-such-bucket/a.txt"),
        lambda: mox_file.copy(f"obs://{BUCKET}/dir/a.txt", "obs://no-such-bucket/a.txt"),
    ):
        with pytest.raises(ObsError) as caught:
            call()
        message = caught.value.message
        assert "bucket" in message and "does not exist" in message, message
        assert "no-such-bucket" in message, message
    with pytest.raises(ObsError, match="names no bucket"):
        mox_file.read("obs://")
