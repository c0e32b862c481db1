"""Object-storage fixtures: moto's S3 server on 127.0.0.1 and the embedded local store."""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ma_notebook.obs.config import ENV_NAMES, LOCAL_ROOT_ENV, PROFILE_FILE_ENV

TEST_AK = "AKIDTESTACCESSKEY0001"
TEST_SK = "sk-Secret-Test-Value-7f3a9c1e5b"
BUCKET = "test-bucket"


@dataclass
class MotoServer:
    """A running moto S3 server."""

    endpoint: str

    def reset(self) -> None:
        """Forget every bucket and object."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()


@pytest.fixture(autouse=True)
def _obs_env_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process OBS service exports its embedded root for kernels; undo that per test."""
    monkeypatch.delenv(LOCAL_ROOT_ENV, raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's S3 server on a free loopback port, honouring bucket CORS, small parts allowed."""
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    os.environ["S3_UPLOAD_PART_MIN_SIZE"] = str(128 * 1024)
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from ma_fixtures import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield MotoServer(f"http://127.0.0.1:{port}")
    server.stop()


def clear_obs_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No object-storage settings from the machine leak into a test."""
    for names in ENV_NAMES.values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(LOCAL_ROOT_ENV, raising=False)
    monkeypatch.delenv("MA_CLI_PROFILE", raising=False)
    monkeypatch.setenv(PROFILE_FILE_ENV, str(tmp_path / "no-profile.yaml"))


@dataclass
class ObsTarget:
    """One store under test and the environment that selects it."""

    kind: str
    env: dict[str, str]
    endpoint: str = ""
    local_root: str = ""


@pytest.fixture
def obs_clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment with no object-storage settings."""
    clear_obs_env(monkeypatch, tmp_path)


@pytest.fixture(params=["moto", "embedded"])
def obs_target(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ObsTarget]:
    """Each test runs against moto (reset first) and against the embedded store.

    The environment selects the store, as it would for a kernel or ma-cli; the bucket
    ``test-bucket`` exists.
    """
    clear_obs_env(monkeypatch, tmp_path)
    if request.param == "moto":
        server: MotoServer = request.getfixturevalue("moto_server")
        server.reset()
        env = {
            "MA_OBS_ENDPOINT": server.endpoint,
            "HUAWEICLOUD_SDK_AK": TEST_AK,
            "HUAWEICLOUD_SDK_SK": TEST_SK,
            "MA_OBS_REGION": "us-east-1",
        }
        target = ObsTarget("moto", env, endpoint=server.endpoint)
    else:
        root = tmp_path / "obs-root"
        env = {LOCAL_ROOT_ENV: str(root)}
        target = ObsTarget("embedded", env, local_root=str(root))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from ma_notebook.obs.config import resolve_settings
    from ma_notebook.obs.store import open_store

    open_store(resolve_settings()).create_bucket(BUCKET)
    yield target


def obs_service_config(target: ObsTarget, **traits: Any) -> dict[str, Any]:
    """``ma_config`` section selecting this target for an in-process server."""
    if target.kind == "moto":
        section = {
            "endpoint": target.endpoint,
            "access_key": TEST_AK,
            "secret_key": TEST_SK,
            "region": "us-east-1",
        }
    else:
        section = {"store_kind": "embedded", "local_root": target.local_root}
    return {"ObsService": {**section, **traits}}
