"""OBS transit uploads, OBS imports and downloads via OBS, on moto's S3 server and embedded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fixtures_obs import BUCKET, obs_service_config
from tornado.httpclient import AsyncHTTPClient

from ma_notebook.obs.errors import ObsError, ObsNotFound
from ma_notebook.obs.paths import ObsPath
from ma_notebook.upload.transit import Transit

PART = 256 * 1024


@pytest.fixture
def ma_config(obs_target: Any) -> dict[str, Any]:
    config = obs_service_config(obs_target)
    config["ObsService"]["part_size"] = PART
    if obs_target.kind == "moto":
        config["ObsService"]["transit_path"] = f"obs://{BUCKET}/transit/"
    config["UploadService"] = {"transit_max_bytes": 5_000_000, "obs_import_max_bytes": 2_000_000}
    return config


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def wait_task(api: Any, task_id: str) -> dict[str, Any]:
    for _ in range(100):
        _status, task = await api(f"tasks/{task_id}", params={"wait": 5})
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task  # type: ignore[no-any-return]
    raise AssertionError("task did not finish")


def absolute(url: str, port: int) -> str:
    """Presigned URLs of the embedded store are relative to the notebook server."""
    return url if url.startswith("http") else f"http://127.0.0.1:{port}{url}"


async def put_url(url: str, data: bytes) -> tuple[int, str]:
    resp = await AsyncHTTPClient().fetch(url, method="PUT", body=data, raise_error=False)
    return resp.code, resp.headers.get("ETag", "")


async def test_transit_upload_presigned_parts_relay_complete_pull_and_cleanup(
    api, ma_app, jp_root_dir, http_server_port
):
    data = os.urandom(2 * PART + 1234)
    body = {"path": "", "name": "big.bin", "size": len(data), "key": "big.bin:1"}
    status, session = await api("upload/transit", method="POST", body=body)
    assert status == 201, session
    assert (session["parts"], session["part_size"], session["parts_done"]) == (3, PART, {})
    assert session["object"].startswith("obs://")
    sid = session["id"]

    # Parts 1 and 2 go straight to OBS with presigned URLs, as the browser sends them.
    status, signed = await api(
        f"upload/transit/{sid}/presign", method="POST", body={"parts": [1, 2]}
    )
    assert status == 200 and set(signed["urls"]) == {"1", "2"}
    for n in (1, 2):
        url = absolute(signed["urls"][str(n)], http_server_port[-1])
        code, etag = await put_url(url, data[(n - 1) * PART : n * PART])
        assert code == 200 and etag
    # Picking the same file again resumes: the server lists what OBS holds.
    status, again = await api("upload/transit", method="POST", body=body)
    assert again["id"] == sid and sorted(again["parts_done"]) == ["1", "2"]
    # Completing now names the missing part.
    status, err = await api(f"upload/transit/{sid}/complete", method="POST", body={})
    assert status == 409 and "Parts 3 have not reached OBS" in err["message"]
    # Part 3 is relayed through the notebook server (the browser could not reach OBS).
    status, err = await api(
        f"upload/transit/{sid}/parts/3", method="PUT", body=data[2 * PART : 2 * PART + 10]
    )
    assert status == 400 and "must be 1234 bytes" in err["message"]
    status, relayed = await api(
        f"upload/transit/{sid}/parts/3", method="PUT", body=data[2 * PART :]
    )
    assert status == 200 and relayed["size"] == 1234

    status, task = await api(f"upload/transit/{sid}/complete", method="POST", body={})
    assert status == 202 and task["kind"] == "upload.transit"
    task = await wait_task(api, task["id"])
    assert task["state"] == "succeeded", task
    assert task["result"]["path"] == "big.bin"
    assert (jp_root_dir / "big.bin").read_bytes() == data
    assert files_in(jp_root_dir) == ["big.bin"]
    # The transit object is gone from OBS, and the session with it.
    status, err = await api("obs/stat", params={"path": session["object"]})
    assert status == 404, err
    status, _ = await api(f"upload/transit/{sid}")
    assert status == 404


async def test_cancelled_transit_upload_aborts_the_parts(api, ma_app, jp_root_dir):
    body = {"path": "", "name": "c.bin", "size": 3 * PART, "key": "c"}
    status, session = await api("upload/transit", method="POST", body=body)
    await api(f"upload/transit/{session['id']}/parts/1", method="PUT", body=b"z" * PART)
    status, _ = await api(f"upload/transit/{session['id']}", method="DELETE")
    assert status == 204
    status, _ = await api(f"upload/transit/{session['id']}")
    assert status == 404
    obs = ma_app.services["obs"]
    transit = await obs.default_transit_path()
    try:
        entries = (await obs.list_folder(transit))["entries"]
    except ObsNotFound:
        entries = []
    assert [e for e in entries if e["name"].endswith("c.bin")] == []
    assert files_in(jp_root_dir) == []


async def test_transit_refuses_files_over_the_limit_and_existing_names(api, jp_root_dir):
    body = {"path": "", "name": "huge.bin", "size": 6_000_000, "key": "h"}
    status, err = await api("upload/transit", method="POST", body=body)
    assert status == 413 and "ma-cli obs-copy" in err["message"]
    (jp_root_dir / "have.bin").write_bytes(b"1")
    body = {"path": "", "name": "have.bin", "size": PART, "key": "x"}
    status, err = await api("upload/transit", method="POST", body=body)
    assert status == 409 and "already exists" in err["message"]
    body = {**body, "name": "new.bin", "transit_path": "s3:/bad"}
    status, err = await api("upload/transit", method="POST", body=body)
    assert status == 400 and "obs://" in err["message"]


async def put_object(ma_app: Any, key: str, data: bytes) -> None:
    store = ma_app.services["obs"].store
    store.put(BUCKET, key, data)


async def test_obs_import_copies_a_file_into_the_folder(api, ma_app, jp_root_dir):
    data = os.urandom(PART + 99)
    await put_object(ma_app, "data/train.csv", data)
    (jp_root_dir / "sub").mkdir()
    body = {"obs_path": f"obs://{BUCKET}/data/train.csv", "path": "sub"}
    status, task = await api("upload/obs", method="POST", body=body)
    assert status == 202 and task["kind"] == "upload.obs"
    task = await wait_task(api, task["id"])
    assert task["state"] == "succeeded", task
    assert (jp_root_dir / "sub" / "train.csv").read_bytes() == data
    assert files_in(jp_root_dir / "sub") == ["train.csv"]
    status, _ = await api("upload/obs", method="POST", body=body)
    assert status == 409


@pytest.mark.parametrize(
    ("obs_path", "status", "fragment"),
    [
        (f"obs://{BUCKET}/data/", 400, "enter a file path, not a folder"),
        (f"obs://{BUCKET}/data", 400, "enter a file path, not a folder"),
        (f"obs://{BUCKET}/#.wget-log3", 400, "invalid characters #"),
        (f"obs://{BUCKET}/a=b&c.txt", 400, "invalid characters = &"),
        (f"obs://{BUCKET}/big.bin", 413, "The file size exceeds 2 MB"),
        (f"obs://{BUCKET}/missing.txt", 404, "missing.txt"),
        ("http://x/y", 400, "obs://bucket/key"),
    ],
)
async def test_obs_import_refusals_explain_themselves(
    api, ma_app, jp_root_dir, obs_path, status, fragment
):
    await put_object(ma_app, "data/one.txt", b"1")
    await put_object(ma_app, "big.bin", b"b" * 2_000_001)
    got, err = await api("upload/obs", method="POST", body={"obs_path": obs_path, "path": ""})
    assert got == status, err
    assert fragment in err["message"]
    assert files_in(jp_root_dir) == []


async def test_download_via_obs_hands_out_an_expiring_link(api, jp_root_dir, http_server_port):
    data = os.urandom(PART * 2 + 7)
    (jp_root_dir / "results.bin").write_bytes(data)
    status, task = await api("upload/download", method="POST", body={"path": "results.bin"})
    assert status == 202 and task["kind"] == "upload.download"
    task = await wait_task(api, task["id"])
    assert task["state"] == "succeeded", task
    url = absolute(task["result"]["url"], http_server_port[-1])
    resp = await AsyncHTTPClient().fetch(url, raise_error=False)
    assert resp.code == 200 and resp.body == data
    assert "results.bin" in resp.headers.get("Content-Disposition", "")
    status, _ = await api("upload/download", method="POST", body={"path": "nope.bin"})
    assert status == 404


async def test_transit_uploads_too_old_to_resume_are_aborted_at_start(api, ma_app):
    body = {"path": "", "name": "old.bin", "size": 3 * PART, "key": "old"}
    _, session = await api("upload/transit", method="POST", body=body)
    await api(f"upload/transit/{session['id']}/parts/1", method="PUT", body=b"o" * PART)
    service = ma_app.services["upload"]
    meta = service.state_dir / f"transit-{session['id']}.json"
    state = json.loads(meta.read_text())
    state["created"] -= service.partial_max_age + 1
    meta.write_text(json.dumps(state))
    fresh = Transit(service)  # what a restarted server loads
    assert session["id"] not in fresh.sessions and not meta.exists()
    await fresh.drop_expired()
    p = ObsPath.parse(session["object"])
    store = ma_app.services["obs"].store
    with pytest.raises(ObsError):
        store.list_parts(p.bucket, p.key, state["upload_id"])
