"""Save Image through the REST API: a task with phases, events, bad input, failures, cancel."""

from __future__ import annotations

import asyncio
import json

import pytest


@pytest.fixture
def ma_config(tiny_base, registry, tmp_path):
    return {
        "ImageService": {
            "root": str(tiny_base["root"]),
            "baseline_path": str(tiny_base["baseline"]),
            "registry": registry.addr,
            "exclude": ["/home/ma-user/work", "/data"],
        }
    }


async def finish(api, task_id: str, timeout: float = 60) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, task = await api(f"tasks/{task_id}", params={"wait": 5})
        assert status == 200
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task
        assert asyncio.get_running_loop().time() < deadline, task


async def test_save_image_task_pushes_and_records_events(api, ma_app, tiny_base, registry):
    (tiny_base["root"] / "usr/bin/installed").write_text("pip install did this")
    status, check = await api("images/save")
    assert status == 200
    assert check["available"] is True and check["registry"] == registry.addr
    status, task = await api(
        "images/save",
        method="POST",
        body={"organization": "team", "name": "my-env", "tag": "v2", "description": "d"},
    )
    assert status == 202, task
    assert task["kind"] == "images.save"
    task = await finish(api, task["id"])
    assert task["state"] == "succeeded", (task["error"], task["error_reason"])
    assert task["result"]["image"] == f"{registry.addr}/team/my-env:v2"
    assert task["meta"]["files_walked"] > 5
    manifest = json.loads(registry.client().get_manifest("team/my-env", "v2")[1])
    assert len(manifest["layers"]) == 2
    # Saved images are listed in the catalogue that `ma-cli image get-image` reads.
    from ma_notebook.images.catalog import Catalog

    listed = Catalog(ma_app.data_dir + "/images.sqlite3").list()
    assert [(r.swr_path, r.origin) for r in listed] == [
        (f"{registry.addr}/team/my-env:v2", "SAVED")
    ]
    status, data = await api("events", params={"limit": 50})
    types = [e["type"] for e in data["events"]]
    for kind in ("SaveImage", "ImagePushSuccess", "ContainerCommitSuccess", "CheckImageSize"):
        assert kind in types


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"organization": "Team", "name": "x"}, "'organization'"),
        ({"organization": "team", "name": "x", "tag": "-bad"}, "'tag'"),
        ({"organization": "team", "name": "x", "squash": "true"}, "'squash'"),
        ({"organization": "team", "name": "x" * 5000}, "'name'"),
        ({"organization": "team", "name": "x", "description": "a\x00"}, "'description'"),
        ({"name": "x"}, "'organization'"),
    ],
)
async def test_bad_save_requests_are_400_naming_the_field(api, body, fragment):
    status, data = await api("images/save", method="POST", body=body)
    assert status == 400
    assert fragment in data["message"]
    status, data = await api("tasks", params={"kind": "images.save"})
    assert data["tasks"] == []


async def test_a_failed_save_shows_its_reason_and_a_critical_event(api, ma_app, registry):
    ma_app.services["images"].max_layers = 1
    status, task = await api(
        "images/save", method="POST", body={"organization": "team", "name": "never"}
    )
    task = await finish(api, task["id"])
    assert task["state"] == "failed"
    assert task["error_reason"] == "layers"
    assert "limit of 1" in task["error"]
    status, data = await api("events", params={"type": "SavedImageFailed"})
    assert status == 200
    assert data["events"][0]["severity"] == "Critical"


async def test_cancelling_a_save_leaves_no_tag(api, tiny_base, registry):
    import os

    (tiny_base["root"] / "big.bin").write_bytes(os.urandom(32 << 20))
    status, task = await api(
        "images/save", method="POST", body={"organization": "team", "name": "cancelled"}
    )
    await asyncio.sleep(0.3)
    status, _ = await api(f"tasks/{task['id']}", method="DELETE")
    assert status == 202
    task = await finish(api, task["id"])
    assert task["state"] == "cancelled", (task["error"], task["error_reason"])
    tags = registry.storage / "docker/registry/v2/repositories/team/cancelled/_manifests/tags"
    assert not tags.exists()


async def test_a_container_without_baseline_records_one_at_first_start(
    jp_serverapp, tmp_path, monkeypatch
):
    from ma_notebook.images.fsindex import read_index
    from ma_notebook.images.service import ImageService

    root = tmp_path / "fresh-root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("x")
    monkeypatch.setenv("MA_NOTEBOOK_IMAGE", "127.0.0.1:1/team/img:1")
    app = jp_serverapp.extension_manager.extension_apps["ma_notebook"].copy().pop()
    service = ImageService(app, root=str(root), baseline_path="/opt/ma-notebook/baseline.jsonl.gz")
    assert service.record_baseline_at_start is True
    await service.start()
    await service._baseline_task
    header, entries = read_index(root / "opt/ma-notebook/baseline.jsonl.gz")
    assert header["base_image"] == "127.0.0.1:1/team/img:1"
    assert "etc/hostname" in entries
