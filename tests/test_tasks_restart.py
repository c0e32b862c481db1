"""Long work survives a server restart: kill -9 mid-transfer, restart, Interrupted, Resume, done.

A real ``jupyter server`` process talks to moto through a slow, request-counting proxy on
loopback, so the test can kill it mid-transfer and count what is sent again after Resume.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from fixtures_obs import BUCKET
from fixtures_tasks import PART, PARTS, RATE, SIZE, s3, server_config, start_transit_pull, wait_for

from ma_notebook.upload.service import TEMP_GRACE, sweep_temp_files


def finished(task: dict[str, Any]) -> bool:
    return task["state"] in ("succeeded", "failed", "cancelled")


def part_of(req: Any) -> int:
    """The part number a ranged GET asks for."""
    start = int(req.range.split("=")[1].split("-")[0])
    return start // PART + 1


def saved_parts(folder: Path, pattern: str) -> set[int]:
    """Part numbers the engine's resume state (as the killed server left it) records."""
    files = list(folder.glob(pattern))
    assert len(files) == 1, files
    return {int(n) for n in json.loads(files[0].read_text())["parts"]}


def nothing_left_in_the_store(client: Any, prefix: str) -> None:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    assert listed == []
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_transit_upload_killed_mid_pull_resumes_after_restart(lab_factory, slow_moto, tmp_path):
    client = s3(slow_moto)
    config = server_config(slow_moto, tmp_path)
    lab = lab_factory(home=tmp_path, app="server", config=config)
    data, session, task = start_transit_pull(lab, slow_moto)
    lab.kill()

    work = lab.root_dir
    partial = [p.name for p in work.iterdir() if p.name.endswith(".ma-download")]
    assert len(partial) == 1, list(work.iterdir())  # the pull's hidden temp file
    held = saved_parts(work, ".*.ma-download.json")
    assert 0 < len(held) < PARTS

    slow_moto.rate = 0
    lab = lab_factory(home=tmp_path, app="server", config=config)
    status, again = lab.request(f"ma-notebook/api/tasks/{task['id']}")
    assert status == 200 and again["state"] == "interrupted" and again["resumable"], again
    status, listed = lab.request("ma-notebook/api/tasks?kind=upload.transit")
    assert [t["state"] for t in listed["tasks"]] == ["interrupted"]
    # the transit session survived the start-up (its file is no longer taken for a direct one)
    status, kept = lab.request(f"ma-notebook/api/upload/transit/{session['id']}")
    assert status == 200 and kept["completed"], kept

    mark = slow_moto.mark()
    status, resumed = lab.request(f"ma-notebook/api/tasks/{task['id']}/resume", "POST")
    assert status == 202 and resumed["state"] in ("queued", "running"), resumed
    done = wait_for(lab, task["id"], finished)
    assert done["state"] == "succeeded", done
    assert (work / "big.bin").read_bytes() == data
    after = slow_moto.since(mark)
    assert not [r for r in after if r.method == "PUT"], "no part was sent again"
    fetched = {part_of(r) for r in after if r.method == "GET" and r.range}
    assert fetched and not fetched & held, (sorted(fetched), sorted(held))
    assert fetched | held == set(range(1, PARTS + 1))
    status, _ = lab.request(f"ma-notebook/api/tasks/{task['id']}/resume", "POST")
    assert status == 409
    nothing_left_in_the_store(client, "transit/")
    assert sorted(p.name for p in work.iterdir()) == ["big.bin"]


def test_obs_copy_killed_mid_upload_resumes_after_restart(lab_factory, slow_moto, tmp_path):
    client = s3(slow_moto)
    client.create_bucket(Bucket=BUCKET)
    config = server_config(slow_moto, tmp_path)
    lab = lab_factory(home=tmp_path, app="server", config=config)
    data = os.urandom(SIZE)
    (lab.root_dir / "big.bin").write_bytes(data)
    slow_moto.rate = RATE
    body = {"src": "big.bin", "dst": f"obs://{BUCKET}/copied/big.bin"}
    status, task = lab.request("ma-notebook/api/obs/copy", "POST", body)
    assert status == 202, task
    wait_for(lab, task["id"], lambda t: t["done"] >= SIZE * 0.4)
    lab.kill()
    held = saved_parts(lab.data_dir / "obs-state", "upload-*.json")
    assert 0 < len(held) < PARTS

    slow_moto.rate = 0
    lab = lab_factory(home=tmp_path, app="server", config=config)
    status, again = lab.request(f"ma-notebook/api/tasks/{task['id']}")
    assert again["state"] == "interrupted" and again["resumable"], again
    mark = slow_moto.mark()
    status, resumed = lab.request(f"ma-notebook/api/tasks/{task['id']}/resume", "POST")
    assert status == 202, resumed
    done = wait_for(lab, task["id"], finished)
    assert done["state"] == "succeeded", done
    after = slow_moto.since(mark)
    sent = {int(r.query["partNumber"][0]) for r in after if "partNumber" in r.query}
    assert sent and not sent & held, (sent, held)
    assert sent | held == set(range(1, PARTS + 1))
    assert not [r for r in after if r.method == "POST" and "uploads" in r.query]
    got = client.get_object(Bucket=BUCKET, Key="copied/big.bin")["Body"].read()
    assert got == data
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert list((lab.data_dir / "obs-state").glob("upload-*.json")) == []


def test_discarding_an_interrupted_copy_cleans_its_leftovers(lab_factory, slow_moto, tmp_path):
    client = s3(slow_moto)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="src/big.bin", Body=os.urandom(SIZE))
    config = server_config(slow_moto, tmp_path)
    lab = lab_factory(home=tmp_path, app="server", config=config)
    slow_moto.rate = RATE
    body = {"src": f"obs://{BUCKET}/src/big.bin", "dst": "big.bin"}
    status, task = lab.request("ma-notebook/api/obs/copy", "POST", body)
    assert status == 202, task
    wait_for(lab, task["id"], lambda t: t["done"] >= SIZE * 0.3)
    lab.kill()
    work = lab.root_dir
    assert sorted(p.name for p in work.iterdir()) == [
        ".big.bin.ma-download",
        ".big.bin.ma-download.json",
    ]
    slow_moto.rate = 0
    lab = lab_factory(home=tmp_path, app="server", config=config)
    status, gone = lab.request(f"ma-notebook/api/tasks/{task['id']}", "DELETE")
    assert status == 202 and gone["state"] == "cancelled", gone
    assert list(work.iterdir()) == []
    status, again = lab.request(f"ma-notebook/api/tasks/{task['id']}/resume", "POST")
    assert status == 409 and "not interrupted" in again["message"]


def test_start_up_sweep_removes_what_nothing_can_resume(tmp_path):
    root = tmp_path / "work"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    names = {
        "sub/.a.bin.ma-upload-0123456789ab": "orphan",  # a dead URL import's temp file
        "sub/.b.bin.ma-upload-aaaaaaaaaaaa": "live",  # a live upload session's
        ".c.bin.ma-upload-bbbbbbbbbbbb": "interrupted",  # an interrupted task's
        ".d.bin.ma-download": "orphan",  # a download without resume state
        ".e.bin.ma-download": "resumable",
        ".e.bin.ma-download.json": "resumable",
        ".repo.ma-clone-0badc0de/x": "orphan",
        ".hidden/.f.bin.ma-download": "hidden folder",
        "keep.ma-download": "a user's file",
    }
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    old = time.time() - TEMP_GRACE - 10
    for path in [*root.rglob("*"), root / ".repo.ma-clone-0badc0de"]:
        os.utime(path, (old, old))
    (root / ".e.bin.ma-download.json").touch()  # fresh resume state: ma-cli can resume it
    fresh = root / ".g.bin.ma-download"
    fresh.write_text("being written")  # modified just now: someone is still writing it

    removed = sweep_temp_files(
        root, {".b.bin.ma-upload-aaaaaaaaaaaa"}, {"bbbbbbbbbbbb"}, max_age=3600
    )
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == sorted(
        [
            ".c.bin.ma-upload-bbbbbbbbbbbb",
            ".e.bin.ma-download",
            ".e.bin.ma-download.json",
            ".g.bin.ma-download",
            ".hidden/.f.bin.ma-download",
            "keep.ma-download",
            "sub/.b.bin.ma-upload-aaaaaaaaaaaa",
        ]
    )
    assert removed == 3
    assert not (root / ".repo.ma-clone-0badc0de").exists()


def test_interrupted_tasks_past_the_resume_window_are_discarded_at_start(tmp_path, lab_factory):
    from ma_notebook.tasks.service import Task, TaskStore

    data_dir = tmp_path / "ma-data"
    work = tmp_path / "work"
    work.mkdir()
    temp = work / ".old.bin.ma-upload-0123456789ab"
    temp.write_bytes(b"partial")
    store = TaskStore(data_dir / "tasks.sqlite3")
    old = Task(
        id="0123456789ab" + "0" * 20,
        kind="upload.url",
        title="Import old.bin from a URL",
        state="running",
        created=time.time() - 8 * 24 * 3600,
        resume={"target": str(work / "old.bin"), "url": "http://127.0.0.1:9/old.bin"},
    )
    store.save(old)
    store.close()
    lab = lab_factory(home=tmp_path, app="server")
    deadline = time.monotonic() + 20  # the sweep runs as the extension starts, in the background
    while time.monotonic() < deadline:
        status, task = lab.request(f"ma-notebook/api/tasks/{old.id}")
        if task["state"] != "interrupted":
            break
        time.sleep(0.2)
    assert status == 200 and task["state"] == "cancelled", task
    assert not temp.exists()
