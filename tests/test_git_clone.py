"""Cloning git repositories into the workspace, against a real git http-backend on loopback."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures_git import GIT_TOKEN, GIT_USER

from ma_notebook.git.gitcmd import classify_failure, parse_remote, redact
from ma_notebook.tasks import TaskError


@pytest.fixture
def public_url(git_server) -> str:
    return f"{git_server.url}/public/sample.git"


@pytest.fixture
def private_url(git_server) -> str:
    return f"{git_server.url}/private/sample.git"


async def clone(api, ma_app, body: dict[str, Any]) -> dict[str, Any]:
    """Start a clone and wait for its task to finish; return the task JSON."""
    status, task = await api("git/clone", method="POST", body=body)
    assert status == 202, task
    await ma_app.tasks.join(task["id"], timeout=60)
    status, task = await api(f"tasks/{task['id']}")
    assert status == 200
    return task


def files_under(path: Path) -> set[str]:
    return {
        str(p.relative_to(path))
        for p in path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(path).parts
    }


async def test_branch_list_preselects_the_default_branch(api, public_url):
    status, data = await api("git/branches", method="POST", body={"url": public_url})
    assert status == 200, data
    assert data["default"] == "main"
    assert [b["name"] for b in data["branches"]] == ["main", "dev"]
    assert data["name"] == "sample"
    assert all(len(b["commit"]) == 40 for b in data["branches"])


async def test_files_preview_lists_the_branch_tree_without_checkout(api, public_url, ma_data_dir):
    status, data = await api(
        "git/preview", method="POST", body={"url": public_url, "branch": "dev"}
    )
    assert status == 200, data
    entries = {e["path"]: e["type"] for e in data["entries"]}
    assert entries["docs"] == "folder"
    assert entries["src/lib"] == "folder"
    assert entries["src/lib/util.py"] == "file"
    assert entries["data/weights.bin"] == "file"
    assert entries["dev-notes.txt"] == "file"
    assert data["truncated"] is False
    # the scratch repository is gone
    assert list((ma_data_dir / "git-preview").iterdir()) == []


async def test_full_clone_lands_in_the_folder(api, ma_app, jp_root_dir, public_url):
    (jp_root_dir / "projects").mkdir()
    task = await clone(api, ma_app, {"url": public_url, "branch": "main", "path": "projects"})
    assert task["state"] == "succeeded", task
    dest = jp_root_dir / "projects" / "sample"
    assert files_under(dest) == {
        "README.md",
        "docs/guide.md",
        "docs/api.md",
        "src/app.py",
        "src/lib/util.py",
        "data/weights.bin",
    }
    assert task["result"]["path"] == "projects/sample"
    assert task["result"]["branch"] == "main"
    # no temporary sibling is left behind
    assert sorted(p.name for p in (jp_root_dir / "projects").iterdir()) == ["sample"]

    _, events = await api("events", params={"type": "GitCloneSucceeded"})
    assert [e["details"]["path"] for e in events["events"]] == ["projects/sample"]


async def test_clone_of_another_branch_checks_it_out(api, ma_app, jp_root_dir, public_url):
    task = await clone(api, ma_app, {"url": public_url, "branch": "dev", "name": "sample-dev"})
    assert task["state"] == "succeeded", task
    assert (jp_root_dir / "sample-dev" / "dev-notes.txt").read_text() == "dev only\n"


async def test_sparse_clone_of_one_folder_and_one_file(api, ma_app, jp_root_dir, public_url):
    task = await clone(
        api,
        ma_app,
        {"url": public_url, "branch": "main", "paths": ["docs", "src/lib/util.py"]},
    )
    assert task["state"] == "succeeded", task
    dest = jp_root_dir / "sample"
    assert files_under(dest) == {"docs/guide.md", "docs/api.md", "src/lib/util.py"}
    assert task["result"]["sparse"] is True
    # the big file's contents were never downloaded (blobless clone)
    objects = subprocess.run(
        ["git", "-C", str(dest), "cat-file", "-e", "HEAD:data/weights.bin"],
        capture_output=True,
        env={"GIT_NO_LAZY_FETCH": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert objects.returncode != 0


async def test_existing_folder_conflicts_then_overwrite_replaces_it(
    api, ma_app, jp_root_dir, public_url
):
    dest = jp_root_dir / "sample"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me unless told")
    status, data = await api("git/clone", method="POST", body={"url": public_url})
    assert status == 409
    assert data["reason"] == "exists" and "already exists" in data["message"]
    assert (dest / "mine.txt").exists()  # nothing touched

    task = await clone(api, ma_app, {"url": public_url, "overwrite": True})
    assert task["state"] == "succeeded", task
    assert not (dest / "mine.txt").exists()
    assert (dest / "README.md").exists()
    assert sorted(p.name for p in jp_root_dir.iterdir()) == ["sample"]


async def test_progress_is_streamed_then_cancel_leaves_no_folder(
    api, ma_app, jp_root_dir, public_url, git_server
):
    git_server.throttle = 0.01
    try:
        status, task = await api("git/clone", method="POST", body={"url": public_url})
        assert status == 202
        seen: list[tuple[str, float | None]] = []
        for _ in range(200):
            status, task = await api(f"tasks/{task['id']}", params={"wait": 5})
            seen.append((task["phase"], task["percent"]))
            if task["phase"] == "Receiving objects" and 0 < (task["percent"] or 0) < 100:
                break
        assert "Receiving objects" in [p for p, _ in seen], seen
        # a half-written clone exists only as a hidden temporary sibling
        assert [p.name.startswith(".sample.ma-clone-") for p in jp_root_dir.iterdir()] == [True]
        status, _ = await api(f"tasks/{task['id']}", method="DELETE")
        assert status == 202
        await ma_app.tasks.join(task["id"], timeout=10)
    finally:
        git_server.throttle = 0.0
    status, task = await api(f"tasks/{task['id']}")
    assert task["state"] == "cancelled"
    assert list(jp_root_dir.iterdir()) == []


async def test_private_repo_asks_for_credentials_and_never_leaks_the_token(
    api, ma_app, jp_root_dir, private_url, caplog
):
    caplog.set_level(logging.DEBUG)
    answers: list[Any] = []

    status, data = await api("git/branches", method="POST", body={"url": private_url})
    answers.append(data)
    assert status == 401 and data["reason"] == "auth_required", data
    assert "username and a personal access token" in data["message"]

    wrong = "ghp_WRONGtoken987"
    status, data = await api(
        "git/branches",
        method="POST",
        body={"url": private_url, "username": GIT_USER, "token": wrong},
    )
    answers.append(data)
    assert status == 401 and data["reason"] == "auth_failed", data
    assert "rejected" in data["message"]

    status, data = await api(
        "git/clone",
        method="POST",
        body={"url": private_url, "username": GIT_USER, "token": wrong},
    )
    task = await ma_app.tasks.join(data["id"], timeout=60)
    status, failed = await api(f"tasks/{task.id}")
    answers.append(failed)
    assert failed["state"] == "failed" and failed["error_reason"] == "auth_failed"

    creds = {"url": private_url, "username": GIT_USER, "token": GIT_TOKEN}
    status, data = await api("git/branches", method="POST", body=creds)
    answers.append(data)
    assert status == 200 and data["default"] == "main"
    status, data = await api("git/preview", method="POST", body={**creds, "branch": "main"})
    answers.append(data)
    assert status == 200 and any(e["path"] == "docs/guide.md" for e in data["entries"])
    done = await clone(api, ma_app, {**creds, "paths": ["docs"]})
    answers.append(done)
    assert done["state"] == "succeeded", done
    assert files_under(jp_root_dir / "sample") == {"docs/guide.md", "docs/api.md"}

    # a credential pasted into the URL works and is redacted everywhere
    embedded = private_url.replace("http://", f"http://{GIT_USER}:{GIT_TOKEN}@")
    done = await clone(api, ma_app, {"url": embedded, "name": "again"})
    answers.append(done)
    assert done["state"] == "succeeded", done
    assert done["meta"]["url"] == private_url
    origin = subprocess.run(
        ["git", "-C", str(jp_root_dir / "again"), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert GIT_TOKEN not in origin
    bad = embedded.replace(GIT_TOKEN, wrong)
    status, data = await api("git/branches", method="POST", body={"url": bad})
    answers.append(data)
    assert status == 401 and data["reason"] == "auth_failed"

    status, events = await api("events")
    answers.append(events)
    assert any(e["type"] == "GitCloneFailed" for e in events["events"])
    config = (jp_root_dir / "sample" / ".git" / "config").read_text()
    everything = json.dumps(answers) + caplog.text + config
    for secret in (GIT_TOKEN, wrong):
        assert secret not in everything


async def test_unreachable_host_explains_and_suggests_a_terminal_command(api, ma_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/nothing.git"
    status, data = await api("git/branches", method="POST", body={"url": url})
    assert status == 502 and data["reason"] == "unreachable", data
    assert f"git clone {url}" in data["message"]
    task = await clone(api, ma_app, {"url": url})
    assert task["state"] == "failed" and task["error_reason"] == "unreachable"
    status, events = await api("events", params={"type": "GitCloneFailed"})
    assert events["events"][0]["severity"] == "Critical"


async def test_missing_repository_and_branch_are_reported(api, ma_app, git_server, public_url):
    status, data = await api(
        "git/branches", method="POST", body={"url": f"{git_server.url}/public/nope.git"}
    )
    assert status == 404 and data["reason"] == "not_found", data
    status, data = await api(
        "git/preview", method="POST", body={"url": public_url, "branch": "no-such"}
    )
    assert status == 404 and data["reason"] == "branch_not_found", data
    task = await clone(api, ma_app, {"url": public_url, "branch": "no-such"})
    assert task["error_reason"] == "branch_not_found", task
    assert "'no-such' was not found" in task["error"]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "'url' must not be empty"),
        ("file:///etc", "file:// URLs are disabled"),
        ("/srv/repo.git", "is not a repository URL"),
        ("ext::sh -c touch% /tmp/pwned", "remove spaces"),
        ("ext::evil", "ext:: are not allowed"),
        ("ftp://host/repo", "ftp:// scheme is not supported"),
        ("--upload-pack=touch", "leading '-'"),
    ],
)
async def test_unsafe_or_invalid_urls_are_refused(api, url, fragment):
    status, data = await api("git/branches", method="POST", body={"url": url})
    assert status == 400, data
    assert fragment in data["message"]


async def test_link_local_metadata_hosts_are_refused(api):
    status, data = await api(
        "git/branches", method="POST", body={"url": "http://169.254.169.254/latest.git"}
    )
    assert status == 403 and data["reason"] == "forbidden_host", data


async def test_overwrite_as_the_string_false_is_400_and_keeps_the_folder(
    api, public_url, jp_root_dir
):
    existing = jp_root_dir / "keep"
    existing.mkdir()
    (existing / "work.txt").write_text("precious")
    body = {"url": public_url, "name": "keep", "overwrite": "false"}
    status, data = await api("git/clone", method="POST", body=body)
    assert status == 400, data
    assert "'overwrite'" in data["message"]
    _, tasks = await api("tasks", params={"kind": "git-clone"})
    assert tasks["tasks"] == []
    assert (existing / "work.txt").read_text() == "precious"


async def test_bad_clone_requests_are_400(api, public_url):
    status, data = await api("git/clone", method="POST", body={"url": public_url, "paths": "x"})
    assert status == 400 and "'paths': Input should be a valid list" in data["message"]
    status, data = await api(
        "git/clone", method="POST", body={"url": public_url, "path": "../outside"}
    )
    assert status == 400 and "must not contain '..'" in data["message"]
    status, data = await api("git/clone", method="POST", body={"url": public_url, "name": "a/b"})
    assert status == 400 and "'name'" in data["message"] and "single name" in data["message"]
    status, data = await api(
        "git/clone", method="POST", body={"url": public_url, "paths": ["../../etc"]}
    )
    assert status == 400 and "not a path inside the repository" in data["message"]
    for branch in ("--upload-pack=touch", "a b", "x..y"):
        status, data = await api(
            "git/clone", method="POST", body={"url": public_url, "branch": branch}
        )
        assert status == 400 and "not a valid branch name" in data["message"], branch


def test_disk_full_and_redaction_are_recognised():
    err = classify_failure(
        "fatal: write error: No space left on device\nfatal: index-pack failed",
        "https://host/r.git",
        None,
        (),
    )
    assert isinstance(err, TaskError) and err.reason == "disk_full" and err.status == 507
    assert redact("https://u:tok@host/x and tok", ("tok",)) == "https://***@host/x and ***"
    remote = parse_remote("https://bob:p%40ss@git.example.com/o/r.git")
    assert remote.url == "https://git.example.com/o/r.git"
    assert remote.credential is not None and remote.credential.password == "p@ss"
    assert "p@ss" not in repr(remote)
    assert parse_remote("git@gitee.com:owner/repo.git").name == "repo"


@pytest.fixture
def small_disk(jp_root_dir) -> Any:
    """A 128 KiB tmpfs mounted at <root>/small (needs root; unmounted afterwards)."""
    if os.getuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the unit test covers the message")
    mount = jp_root_dir / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_is_reported_and_leaves_nothing(api, ma_app, small_disk, public_url):
    task = await clone(api, ma_app, {"url": public_url, "path": "small"})
    assert task["state"] == "failed"
    assert task["error_reason"] == "disk_full", task
    assert "disk is full" in task["error"]
    assert list(small_disk.iterdir()) == []


async def test_missing_git_is_reported(api, ma_app, public_url):
    ma_app.services["git"].git_command = "/nonexistent/git"
    status, data = await api("git/branches", method="POST", body={"url": public_url})
    assert status == 503 and data["reason"] == "git_missing", data
    status, info = await api("info")
    assert info["capabilities"]["git"]["available"] is False


async def test_token_is_in_no_process_arguments_or_files_while_cloning(
    api, ma_app, jp_root_dir, ma_data_dir, private_url, git_server
):
    git_server.throttle = 0.01
    try:
        status, task = await api(
            "git/clone",
            method="POST",
            body={"url": private_url, "username": GIT_USER, "token": GIT_TOKEN},
        )
        assert status == 202
        for _ in range(100):
            status, task = await api(f"tasks/{task['id']}", params={"wait": 5})
            if task["phase"] == "Receiving objects" or task["state"] != "running":
                break
        assert task["phase"] == "Receiving objects", task
        argv = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
        assert any("git" in a and "clone" in a for a in argv)
        assert not [a for a in argv if GIT_TOKEN in a]
        written = [
            p
            for base in (jp_root_dir, ma_data_dir)
            for p in base.rglob("*")
            if p.is_file() and GIT_TOKEN.encode() in p.read_bytes()
        ]
        assert written == []
        await api(f"tasks/{task['id']}", method="DELETE")
        await ma_app.tasks.join(task["id"], timeout=10)
    finally:
        git_server.throttle = 0.0
