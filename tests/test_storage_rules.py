"""Storage rules through the API: path rules, the per-type limit, busy unmounts, availability."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import pytest
from fixtures_obs import BUCKET, obs_service_config

from ma_notebook.api import ApiError
from ma_notebook.storage import rules, system


@pytest.fixture
def ma_config(obs_target, data_root, request):  # type: ignore[no-untyped-def]
    backend = getattr(request, "param", "ma_notebook.storage.backends.BindBackend")
    return {
        **obs_service_config(obs_target),
        "StorageService": {
            "data_root": str(data_root),
            "backend_class": backend,
            "health_interval": 3600.0,
        },
    }


@pytest.fixture
def obs_target(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The embedded store only (the rules do not depend on the store)."""
    from fixtures_obs import ObsTarget, clear_obs_env

    from ma_notebook.obs.store import LocalStore

    clear_obs_env(monkeypatch, tmp_path)
    root = tmp_path / "obs-root"
    LocalStore(root).create_bucket(BUCKET)
    return ObsTarget("embedded", {}, local_root=str(root))


async def wait_status(api: Any, mount_id: str, wanted: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, m = await api(f"storage/mounts/{mount_id}")
        if m["status"] == wanted:
            return m
        assert time.monotonic() < deadline, m
        await asyncio.sleep(0.1)


PATH_RULES = [
    ("/data/a\tb/", "bad_path", "control characters"),
    ("data/x/", "not_absolute", "must be absolute"),
    ("/data/../etc/x/", "dotdot", "'..'"),
    ("/data/a/../../x", "dotdot", "'..'"),
    ("/data", "data_root", "itself is not a mount point"),
    ("/data/", "data_root", "itself is not a mount point"),
    ("/home/ma-user/work/x", "not_under_data", "only subfolders of /data/"),
    ("/datasets/x", "not_under_data", "only subfolders of /data/"),
    ("/data/.hidden/", "hidden", "hidden"),
    *[(f"{prefix}x/", "forbidden_folder", f"falls under {prefix}") for prefix in rules.FORBIDDEN],
]


@pytest.mark.parametrize(("path", "reason", "words"), PATH_RULES)
async def test_each_path_rule_is_refused_with_its_message(api, path, reason, words):
    status, err = await api(
        "storage/mounts", method="POST", body={"uri": f"obs://{BUCKET}/d/", "mount_path": path}
    )
    assert status == 400, err
    assert err["reason"] == reason
    assert words in err["message"]


async def test_a_mount_path_that_is_not_utf8_is_a_400(api):
    body = '{"uri": "obs://test-bucket/d/", "mount_path": "/data/\\ud800x/"}'
    status, err = await api("storage/mounts", method="POST", body=body)
    assert status == 400, err


async def test_symlinks_out_of_data_are_refused(api, data_root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (data_root / "link").symlink_to(outside)
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/", "mount_path": "/data/link/"},
    )
    assert status == 400 and err["reason"] == "symlink_escape", err
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/", "mount_path": "/data/link/inner"},
    )
    assert status == 400 and err["reason"] == "symlink_escape", err


async def test_bad_uri_missing_bucket_and_busy_folder_are_refused(api, data_root):
    status, err = await api(
        "storage/mounts", method="POST", body={"uri": "http://x/", "mount_path": "/data/a/"}
    )
    assert status == 400 and "obs://" in err["message"], err
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": "obs://no-such-bucket/", "mount_path": "/data/a/"},
    )
    assert status == 404, err
    (data_root / "full").mkdir()
    (data_root / "full" / "f.txt").write_text("x")
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/", "mount_path": "/data/full/"},
    )
    assert status == 409 and err["reason"] == "not_empty", err
    status, err = await api(
        "storage/mounts", method="POST", body={"uri": f"obs://{BUCKET}/", "mount_path": 5}
    )
    assert status == 400, err


async def test_a_sixth_mount_of_a_type_is_refused(api, data_root):
    ids = []
    for i in range(5):
        status, m = await api(
            "storage/mounts",
            method="POST",
            body={
                "uri": f"obs://{BUCKET}/d{i}/",
                "mount_path": f"/data/m{i}/",
                "read_only": i == 0,
            },
        )
        assert status == 202, m
        ids.append(m["id"])
    for mount_id in ids:
        await wait_status(api, mount_id, "MOUNTED")
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/d5/", "mount_path": "/data/m5/"},
    )
    assert status == 409 and err["reason"] == "limit", err
    assert "At most 5 OBS mounts" in err["message"]
    status, err = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/", "mount_path": "/data/m1/sub/"},
    )
    assert status == 409, err
    # the read-only mount refuses writes
    with pytest.raises(OSError):
        (data_root / "m0" / "nope.txt").write_text("x")
    status, _ = await api(f"storage/mounts/{ids[0]}", method="DELETE")
    await wait_status(api, ids[0], "UNMOUNTED")
    status, m = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/d5/", "mount_path": "/data/m5/"},
    )
    assert status == 202, m


@pytest.mark.parametrize("ma_config", ["ma_notebook.storage.backends.RcloneBackend"], indirect=True)
async def test_busy_unmount_names_the_processes_and_force_unmounts_lazily(api, data_root):
    status, m = await api(
        "storage/mounts",
        method="POST",
        body={"uri": f"obs://{BUCKET}/w/", "mount_path": "/data/busy/"},
    )
    assert status == 202, m
    await wait_status(api, m["id"], "MOUNTED")
    folder = data_root / "busy"
    holder = subprocess.Popen(["sleep", "60"], cwd=folder)
    try:
        status, err = await api(f"storage/mounts/{m['id']}", method="DELETE")
        assert status == 409 and err["reason"] == "busy", err
        assert f"sleep (pid {holder.pid})" in err["message"]
        assert system.mount_at(folder) is not None
        status, _ = await api(
            f"storage/mounts/{m['id']}", method="DELETE", params={"force": "true"}
        )
        assert status == 202
        await wait_status(api, m["id"], "UNMOUNTED")
        assert system.mount_at(folder) is None
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("ma_config", ["ma_notebook.storage.backends.RcloneBackend"], indirect=True)
async def test_info_says_why_mounting_is_unavailable(api, ma_app):
    status, info = await api("info")
    assert info["capabilities"]["storage"]["available"] is True
    ma_app.services["storage"].backend().rclone = "/nonexistent/rclone"
    status, info = await api("info")
    storage = info["capabilities"]["storage"]
    assert storage["available"] is False and "rclone" in storage["reason"]
    status, err = await api(
        "storage/mounts", method="POST", body={"uri": f"obs://{BUCKET}/", "mount_path": "/data/x/"}
    )
    assert status == 409 and err["reason"] == "unavailable", err


def test_increase_rules():
    assert rules.check_increase(1, 10) == 11
    for bad, reason in [(0, "not_positive"), (-5, "not_positive"), (101, "step_too_large")]:
        with pytest.raises(ApiError) as e:
            rules.check_increase(bad, 10)
        assert e.value.reason == reason
    with pytest.raises(ApiError) as e:
        rules.check_increase(100, 4000)
    assert e.value.reason == "total_too_large"


async def test_routes_are_in_the_openapi_document_and_hostile_input_is_a_4xx(api):
    status, doc = await api("openapi.json")
    for path in (
        "/ma-notebook/api/storage/mounts",
        "/ma-notebook/api/storage/mounts/{mount_id}",
        "/ma-notebook/api/storage/mounts/{mount_id}/remount",
        "/ma-notebook/api/storage/volume",
        "/ma-notebook/api/storage/volume/expand",
    ):
        assert path in doc["paths"], path
    hostile = [
        ("storage/mounts", "POST", "not json"),
        ("storage/mounts", "POST", "[]"),
        (
            "storage/mounts",
            "POST",
            '{"uri": "obs://test-bucket/", "mount_path": "/data/x/", "x": 1}',
        ),
        (
            "storage/mounts",
            "POST",
            '{"uri": "obs://test-bucket/", "mount_path": "/data/x/", "read_only": "yes"}',
        ),
        (
            "storage/mounts",
            "POST",
            '{"uri": "obs://' + "a" * 9000 + '/", "mount_path": "/data/x/"}',
        ),
        (
            "storage/mounts",
            "POST",
            '{"uri": "obs://test-bucket/", "mount_path": "/data/' + "n" * 300 + '/"}',
        ),
        ("storage/mounts", "POST", '{"uri": "obs://../", "mount_path": "/data/x/"}'),
        ("storage/volume/expand", "POST", '{"increase_gb": 1e400}'),
        ("storage/volume/expand", "POST", '{"increase_gb": 99999999999999999999999999}'),
        ("storage/volume/expand", "POST", '{"increase_gb": true}'),
        ("storage/mounts/" + "0" * 32, "DELETE", None),
        ("storage/mounts/" + "0" * 32 + "/remount", "POST", "{}"),
    ]
    for path, method, body in hostile:
        status, err = await api(path, method=method, body=body)
        assert 400 <= status < 500, (path, body, status, err)
        assert set(err) == {"message", "reason"}
