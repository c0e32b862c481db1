"""jupyterlab-git's sidebar on a sparse, blobless clone keeps the clone small."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ma_notebook.git.labgit import status_paths


def pack_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / ".git" / "objects").rglob("*") if p.is_file())


def test_status_paths_parse_porcelain_z():
    out = "## main...origin/main\x00 M a b.txt\x00R  new.txt\x00old.txt\x00?? dir/u.py\x00"
    assert status_paths(out) == ["a b.txt", "new.txt", "dir/u.py"]


def test_git_sidebar_status_fetches_no_blobs_of_a_sparse_clone(lab, git_server):
    url = f"{git_server.url}/public/sample.git"
    status, task = lab.request(
        "ma-notebook/api/git/clone",
        "POST",
        {"url": url, "name": "sparse-sidebar", "paths": ["docs"]},
    )
    assert status == 202, task
    deadline = time.monotonic() + 60
    while task["state"] in ("queued", "running") and time.monotonic() < deadline:
        status, task = lab.request(f"ma-notebook/api/tasks/{task['id']}?wait=5")
    assert task["state"] == "succeeded", task
    repo = lab.root_dir / "sparse-sidebar"
    (repo / "docs" / "guide.md").write_text("changed\n")
    (repo / "docs" / "new.bin").write_bytes(b"\0\1\2")
    subprocess.run(["git", "-C", str(repo), "add", "docs/new.bin"], check=True)
    before = pack_bytes(repo)

    status, data = lab.request("git/sparse-sidebar/status", "POST", {})
    assert status == 200 and data["code"] == 0, data
    files = {f["to"]: f for f in data["files"]}
    assert files["docs/guide.md"]["is_binary"] is False
    assert files["docs/new.bin"]["is_binary"] is True
    after = pack_bytes(repo)
    assert after - before < 64 * 1024, (before, after)  # weights.bin alone is 256 KiB
    missing = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--objects", "--missing=print", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert any(line.startswith("?") for line in missing.splitlines())  # still blobless
