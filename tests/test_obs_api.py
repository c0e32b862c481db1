"""The OBS REST API and service, against moto and against the embedded store."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from fixtures_obs import TEST_AK, TEST_SK, obs_service_config
from tornado.httpclient import AsyncHTTPClient

from ma_notebook.obs.errors import ObsNotFound

PART = 256 * 1024


@pytest.fixture
def ma_config(obs_target):
    # small parts so multipart paths run on small test data
    return obs_service_config(
        obs_target, part_size=PART, multipart_threshold=PART, part_concurrency=2
    )


def absolute(url: str, port: int) -> str:
    return url if url.startswith("http") else f"http://127.0.0.1:{port}{url}"


async def test_info_says_which_store_is_in_use_without_secrets(api, obs_target):
    status, info = await api("info")
    assert status == 200
    obs = info["capabilities"]["obs"]
    assert obs["available"] is True
    text = json.dumps(info)
    assert TEST_SK not in text and TEST_AK not in text
    if obs_target.kind == "moto":
        assert obs["store"] == "endpoint"
        assert obs["endpoint"] == obs_target.endpoint
        assert obs["addressing_style"] == "path"
    else:
        assert obs["store"] == "embedded"


async def test_browse_buckets_and_folders_with_paging_and_name_filter(api, ma_app):
    store = ma_app.services["obs"].store
    for i in range(25):
        store.put("test-bucket", f"data/f{i:02d}.txt", b"x" * i, None)
    store.put("test-bucket", "data/sub/inner.txt", b"in", None)

    status, data = await api("obs/buckets")
    assert status == 200
    assert [b["name"] for b in data["buckets"]] == ["test-bucket"]
    assert "secret" not in json.dumps(data).lower()

    names, token, pages = [], None, 0
    while True:
        params = {"path": "obs://test-bucket/data/", "limit": 10}
        if token:
            params["cursor"] = token
        status, page = await api("obs/list", params=params)
        assert status == 200
        assert len(page["entries"]) <= 10
        names += [e["name"] for e in page["entries"]]
        pages += 1
        token = page["next_cursor"]
        if not token:
            break
    assert pages == 3
    assert sorted(names) == sorted([f"f{i:02d}.txt" for i in range(25)] + ["sub"])
    status, page = await api("obs/list", params={"path": "obs://test-bucket/data/"})
    entry = next(e for e in page["entries"] if e["name"] == "f03.txt")
    assert entry["type"] == "file" and entry["size"] == 3 and entry["last_modified"]
    assert next(e for e in page["entries"] if e["name"] == "sub")["type"] == "directory"

    status, page = await api("obs/list", params={"path": "obs://test-bucket/data", "filter": "F1"})
    assert sorted(e["name"] for e in page["entries"]) == [f"f1{i}.txt" for i in range(10)]

    status, st = await api("obs/stat", params={"path": "obs://test-bucket/data/sub"})
    assert (status, st["type"]) == (200, "directory")
    status, st = await api("obs/stat", params={"path": "obs://test-bucket/data/f24.txt"})
    assert (status, st["size"]) == (200, 24)

    status, err = await api("obs/stat", params={"path": "obs://test-bucket/nope.txt"})
    assert status == 404 and "nope.txt" in err["message"]
    status, err = await api("obs/list", params={"path": "obs://no-such-bucket/"})
    assert status == 404 and "bucket does not exist" in err["message"]
    status, err = await api("obs/list", params={"path": "obs://Bad_Bucket/"})
    assert status == 400 and "Invalid bucket name" in err["message"]
    status, err = await api("obs/list", params={"path": "obs://test-bucket/data/", "limit": 0})
    assert status == 400


async def test_copy_runs_as_a_task_both_ways(api, ma_app, jp_root_dir):
    src = jp_root_dir / "data"
    (src / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "deep" / "b.bin").write_bytes(os.urandom(3000))
    status, task = await api(
        "obs/copy", method="POST", body={"src": "data", "dst": "obs://test-bucket/up/"}
    )
    assert status == 202 and task["kind"] == "obs-copy"
    task = await ma_app.tasks.join(task["id"], timeout=60)
    assert task.state == "succeeded", task.error
    assert task.result == {"files": 2, "bytes": 3005}
    status, st = await api("obs/stat", params={"path": "obs://test-bucket/up/data/deep/b.bin"})
    assert status == 200 and st["size"] == 3000

    status, task = await api(
        "obs/copy",
        method="POST",
        body={"src": "obs://test-bucket/up/data/", "dst": "copied/", "drop_last_dir": True},
    )
    task = await ma_app.tasks.join(task["id"], timeout=60)
    assert task.state == "succeeded", task.error
    assert (jp_root_dir / "copied" / "deep" / "b.bin").read_bytes() == (
        src / "deep" / "b.bin"
    ).read_bytes()

    status, _ = await api("obs/copy", method="POST", body={"src": "a", "dst": "b"})
    assert status == 400
    status, task = await api(
        "obs/copy", method="POST", body={"src": "obs://test-bucket/missing/", "dst": "x/"}
    )
    task = await ma_app.tasks.join(task["id"], timeout=60)
    assert task.state == "failed" and "No such" in task.error


@pytest.mark.parametrize(
    ("local", "fragment"),
    [
        ("/etc/hostname", "outside the notebook's folder"),
        ("../outside.txt", "'..'"),
        ("link/hostname", "through a link"),
        (".hidden/x", "hidden"),
        ("a\x00b", "control characters"),
    ],
)
async def test_copy_refuses_paths_outside_the_workspace(
    api, ma_app, jp_root_dir, tmp_path, local, fragment
):
    os.symlink("/etc", jp_root_dir / "link")
    (jp_root_dir / ".hidden").mkdir()
    for body in (
        {"src": local, "dst": "obs://test-bucket/stolen/"},
        {"src": "obs://test-bucket/seed/", "dst": local},
    ):
        status, data = await api("obs/copy", method="POST", body=body)
        assert status == 400, (body, data)
        assert fragment in data["message"], data
    assert ma_app.tasks.list("obs-copy") == []
    assert not (tmp_path / "outside.txt").exists()


async def test_browser_style_multipart_upload_with_presigned_part_urls(
    api, ma_app, jp_http_port, obs_target
):
    obs = ma_app.services["obs"]
    client = AsyncHTTPClient()
    data = os.urandom(2 * PART + 1000)
    plan = obs.plan_multipart(len(data))
    assert plan == {"part_size": PART, "parts": 3}
    path = "obs://test-bucket/transit/upload.bin"
    upload_id = await obs.create_multipart(path)
    parts = []
    for n, start in enumerate(range(0, len(data), PART + 500), start=1):
        url = absolute(obs.presign_upload_part(path, upload_id, n, expires=60), jp_http_port)
        resp = await client.fetch(
            url, method="PUT", body=data[start : start + PART + 500], raise_error=False
        )
        assert resp.code == 200, resp.body
        parts.append((n, resp.headers["ETag"].strip('"')))
    entry = await obs.complete_multipart(path, upload_id, parts)
    assert entry["size"] == len(data)

    url = absolute(obs.presign_get(path, expires=60, filename="résumé.bin"), jp_http_port)
    resp = await client.fetch(url, headers={"Range": "bytes=100-199"}, raise_error=False)
    assert resp.code == 206 and resp.body == data[100:200]
    resp = await client.fetch(url, raise_error=False)
    assert resp.code == 200 and resp.body == data
    assert "attachment" in resp.headers.get("Content-Disposition", "")

    # a big download lands verified and whole
    out = obs_target.local_root or "/nonexistent"
    dest = os.path.join(os.path.dirname(out) if obs_target.local_root else "/tmp", "dl.bin")
    seen = []
    await obs.download(path, dest, on_progress=lambda d, t: seen.append((d, t)))
    with open(dest, "rb") as f:
        assert f.read() == data
    assert seen[-1] == (len(data), len(data))
    os.unlink(dest)

    upload_id = await obs.create_multipart("obs://test-bucket/transit/aborted.bin")
    await obs.abort_multipart("obs://test-bucket/transit/aborted.bin", upload_id)
    transit = await obs.default_transit_path() if obs_target.kind == "embedded" else None
    if transit is not None:
        assert str(transit) == "obs://ma-notebook-transit/"


async def test_cancelled_download_stops_and_leaves_no_partial_file(api, ma_app, tmp_path):
    obs = ma_app.services["obs"]
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(8 * PART))
    await obs.upload(str(src), "obs://test-bucket/big.bin")
    out = tmp_path / "out"
    out.mkdir()
    job = None

    def on_progress(done, total):
        # cancelled on every progress report: repeated cancels still wait for the cleanup
        if done and job is not None:
            job.cancel()

    job = asyncio.ensure_future(
        obs.download("obs://test-bucket/big.bin", str(out / "big.bin"), on_progress=on_progress)
    )
    with pytest.raises(asyncio.CancelledError):
        await job
    assert list(out.iterdir()) == []

    await obs.download("obs://test-bucket/big.bin", str(out / "big.bin"))
    assert (out / "big.bin").read_bytes() == src.read_bytes()


async def test_delete_objects_and_folders(api, ma_app):
    obs = ma_app.services["obs"]
    for key in ["d/a.txt", "d/sub/b.txt", "keep.txt"]:
        obs.store.put("test-bucket", key, b"x", None)
    assert await obs.delete("obs://test-bucket/keep.txt") == 1
    assert await obs.delete("obs://test-bucket/d/", recursive=True) == 2
    _, page = await api("obs/list", params={"path": "obs://test-bucket/"})
    assert page["entries"] == []
    with pytest.raises(ObsNotFound):
        await obs.delete("obs://test-bucket/keep.txt")
