"""Dynamic OBS mounts at /data/<name>/: each backend against moto and the embedded store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures_obs import BUCKET, TEST_SK, obs_service_config

from ma_notebook.storage import system


def backend_path(name: str) -> str:
    return {
        "rclone": "ma_notebook.storage.backends.RcloneBackend",
        "s3fs": "ma_notebook.storage.backends.S3fsBackend",
        "bind": "ma_notebook.storage.backends.BindBackend",
    }[name]


def storage_config(target: Any, data_root: Path, backend: str) -> dict[str, Any]:
    return {
        **obs_service_config(target),
        "StorageService": {
            "data_root": str(data_root),
            "backend_class": backend_path(backend),
            "health_interval": 3600.0,
        },
        "RcloneBackend": {"dir_cache_seconds": 1.0},
    }


async def wait_status(api: Any, mount_id: str, wanted: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, m = await api(f"storage/mounts/{mount_id}")
        assert status == 200, m
        if m["status"] == wanted:
            return m
        assert m["status"] in ("MOUNTING", "UNMOUNTING", "MOUNTED"), m
        assert time.monotonic() < deadline, f"still {m['status']}: {m}"
        await asyncio.sleep(0.2)


async def poll(fn: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.3)


COMBOS = [("rclone", "moto"), ("s3fs", "moto"), ("rclone", "embedded"), ("bind", "embedded")]


@pytest.fixture(params=COMBOS, ids=[f"{b}-{s}" for b, s in COMBOS])
def combo(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


@pytest.fixture
def obs_target(combo, request, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The store of this combination (overrides the obs fixture's own parametrisation)."""
    from fixtures_obs import ObsTarget, clear_obs_env

    from ma_notebook.obs.config import resolve_settings
    from ma_notebook.obs.store import open_store

    clear_obs_env(monkeypatch, tmp_path)
    if combo[1] == "moto":
        server = request.getfixturevalue("moto_server")
        server.reset()
        from fixtures_obs import TEST_AK

        env = {
            "MA_OBS_ENDPOINT": server.endpoint,
            "HUAWEICLOUD_SDK_AK": TEST_AK,
            "HUAWEICLOUD_SDK_SK": TEST_SK,
            "MA_OBS_REGION": "us-east-1",
        }
        target = ObsTarget("moto", env, endpoint=server.endpoint)
    else:
        root = tmp_path / "obs-root"
        env = {"MA_OBS_LOCAL_ROOT": str(root)}
        target = ObsTarget("embedded", env, local_root=str(root))
    with monkeypatch.context() as m:
        for k, v in env.items():
            m.setenv(k, v)
        open_store(resolve_settings()).create_bucket(BUCKET)
    return target


@pytest.fixture
def ma_config(obs_target, data_root, combo):  # type: ignore[no-untyped-def]
    return storage_config(obs_target, data_root, combo[0])


def helper_pid(ma_app: Any, backend: str, mount_id: str) -> int:
    b = ma_app.services["storage"].backend(backend)
    if backend == "rclone":
        return b.daemon_pid()
    return b._procs[mount_id].pid


async def test_mount_write_read_list_kill_remount_unmount(
    api, ma_app, combo, data_root, obs_target
):
    backend = combo[0]
    store = ma_app.services["obs"].store
    store.put(BUCKET, "datasets/train/seed.txt", b"seed", None)

    status, m = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/datasets/train/", "mount_path": "/data/train/"},
    )
    assert status == 202, m
    assert m["status"] == "MOUNTING" and m["mount_path"] == "/data/train/"
    m = await wait_status(api, m["id"], "MOUNTED")
    assert m["backend"] == backend and m["type"] == "OBS"
    folder = data_root / "train"
    assert system.mount_at(folder) is not None

    # the object already there reads through the mount
    assert (folder / "seed.txt").read_bytes() == b"seed"

    # a file written through the mount becomes an object in the bucket
    payload = os.urandom(300_000)
    (folder / "out").mkdir(exist_ok=True)
    (folder / "out" / "model.bin").write_bytes(payload)

    def object_there() -> bool:
        try:
            info = store.head(BUCKET, "datasets/train/out/model.bin")
        except Exception:
            return False
        return info.size == len(payload)

    await poll(object_there)
    data, _ = store.get_range(BUCKET, "datasets/train/out/model.bin", 0, None)
    assert data == payload

    # an object written with the SDK reads through the mount
    store.put(BUCKET, "datasets/train/from-sdk.txt", b"written by boto3", None)
    await poll(lambda: (folder / "from-sdk.txt").exists())
    assert (folder / "from-sdk.txt").read_bytes() == b"written by boto3"

    # the list shows it; no secret anywhere: API, helper command lines, logs
    status, listing = await api("storage/mounts")
    assert status == 200
    assert [x["id"] for x in listing["mounts"]] == [m["id"]]
    assert TEST_SK not in str(listing)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                assert TEST_SK.encode() not in Path(entry.path, "cmdline").read_bytes()
    state_dir = Path(ma_app.data_dir) / "storage"
    for path in state_dir.rglob("*.log"):
        assert TEST_SK not in path.read_text(errors="replace"), path
    for path in state_dir.rglob("*"):
        if path.is_file() and TEST_SK in path.read_text(errors="replace"):
            assert path.stat().st_mode & 0o077 == 0, f"{path} holds the secret but is readable"

    if backend != "bind":
        # the helper dies: the mount is seen as failed, lazily unmounted, and remounts
        os.kill(helper_pid(ma_app, backend, m["id"]), signal.SIGKILL)
        await poll(lambda: system.health(folder) is not None or system.mount_at(folder) is None)
        status, failed = await api(f"storage/mounts/{m['id']}")
        assert failed["status"] == "MOUNT_FAILED", failed
        assert "not connected" in failed["message"]
        assert system.mount_at(folder) is None
        status, again = await api(f"storage/mounts/{m['id']}/remount", method="POST", body={})
        assert status == 202, again
        await wait_status(api, m["id"], "MOUNTED")
        assert (folder / "seed.txt").read_bytes() == b"seed"

    status, gone = await api(f"storage/mounts/{m['id']}", method="DELETE")
    assert status == 202, gone
    await wait_status(api, m["id"], "UNMOUNTED")
    assert system.mount_at(folder) is None
    assert not folder.exists()  # the folder it made is removed again
    status, listing = await api("storage/mounts")
    assert listing["mounts"] == []

    status, events = await api("events", params={"type": "DynamicMountStorage"})
    assert any(m["mount_path"] in e["message"] for e in events["events"]), events
    status, events = await api("events", params={"type": "DynamicUnmountStorage"})
    assert events["events"], events
    if backend != "bind":
        status, events = await api("events", params={"type": "DynamicMountStorageFailed"})
        assert events["events"][0]["severity"] == "Critical"
