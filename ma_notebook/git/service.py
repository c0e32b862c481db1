"""The git clone service: branches, blobless file previews and (sparse) clones as tasks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Integer, Unicode

from ..api import MAX_NAME_BYTES, quote
from ..capability import Capability
from ..paths import allow_hidden, resolve_path
from ..tasks import Task, TaskError
from . import labgit
from .gitcmd import (
    Credential,
    GitProcess,
    Remote,
    classify_failure,
    git_env,
    hardened_config,
    parse_remote,
    progress_message,
    redact,
    tree_entries,
)
from .route import route

TASK_KIND = "git-clone"
FOLDER_NAME = re.compile(r"^[^/\\\0]+$")
BRANCH_NAME = re.compile(r"^(?!-)(?!.*\.\.)[^\s~^:?*\[\\\x00-\x1f\x7f]+$")


class GitService(Capability):
    """Clones repositories into the workspace with branch choice, previews and progress."""

    name = "git"

    git_command = Unicode("git", config=True, help="The git executable. Default: git.")
    allow_file_urls = Bool(
        False,
        config=True,
        help="Allow file:// URLs and local paths as clone sources. Default: False.",
    )
    allow_link_local = Bool(
        False,
        config=True,
        help="Allow hosts resolving to link-local/metadata addresses. Default: False.",
    )
    low_speed_limit = Integer(
        1000,
        config=True,
        help="Abort HTTP transfers below this many bytes/s for low_speed_time. Default: 1000.",
    )
    low_speed_time = Integer(
        60,
        config=True,
        help="Seconds below low_speed_limit before a transfer counts as stalled. Default: 60.",
    )
    remote_timeout = Float(
        120.0,
        config=True,
        help="Seconds a branch listing or file preview may take before giving up. Default: 120.",
    )
    preview_cache_seconds = Float(
        120.0,
        config=True,
        help="Seconds a preview is reused for the same URL, branch and credential. Default: 120.",
    )
    preview_max_entries = Integer(
        20000, config=True, help="Most files and folders a preview lists. Default: 20000."
    )

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._previews: dict[str, tuple[float, dict[str, Any]]] = {}
        app.tasks.on_finished(self._record_event)
        labgit.install()  # the git sidebar must not fetch every blob of a sparse clone

    def info(self) -> dict[str, Any]:
        """Whether git is installed, and its version."""
        path = shutil.which(self.git_command)
        if not path:
            return {"available": False, "reason": f"{self.git_command} is not installed."}
        return {"available": True, "file_urls": self.allow_file_urls}

    # ------------------------------------------------------------------ helpers

    def remote(self, url: str, username: str | None, token: str | None) -> Remote:
        """Validate ``url``; an explicit username/token wins over one embedded in the URL."""
        remote = parse_remote(url, allow_file=self.allow_file_urls)
        if token:
            cred = Credential(username or "git", token)
            remote = Remote(remote.url, remote.scheme, remote.host, cred)
        elif username and not token:
            raise TaskError("Enter the personal access token for this username.")
        return remote

    def _secrets(self, remote: Remote) -> tuple[str, ...]:
        cred = remote.credential
        if cred is None:
            return ()
        # a token pasted as the URL's username (``https://<token>@host``) is the secret itself
        return (cred.password,) if cred.password else (cred.username,)

    def _git(self, remote: Remote, *args: str) -> list[str]:
        return [
            self.git_command,
            *hardened_config(
                allow_file=self.allow_file_urls,
                low_speed_limit=self.low_speed_limit,
                low_speed_time=self.low_speed_time,
                credential=remote.credential is not None,
                pins=remote.pins,
                follow_redirects=self.allow_link_local,
            ),
            *args,
        ]

    def _env(self, remote: Remote) -> dict[str, str]:
        return git_env(remote.credential, connect_timeout=min(30, self.low_speed_time))

    async def _run(
        self, remote: Remote, args: list[str], *, cwd: str | None = None, timeout: float | None
    ) -> GitProcess:
        proc = GitProcess(self._git(remote, *args), self._env(remote), cwd=cwd)
        try:
            await asyncio.wait_for(proc.run(), timeout)
        except asyncio.TimeoutError as e:
            raise TaskError(
                f"{redact(remote.url)} did not answer within {timeout:.0f} s. To see git's own "
                f"output, run in a terminal: git clone {redact(remote.url)}",
                status=504,
                reason="unreachable",
            ) from e
        return proc

    def root(self) -> Path:
        """The server's root folder, which file browser paths are relative to."""
        serverapp = self.app.serverapp
        root = serverapp.root_dir if serverapp is not None else self.app.workspace_dir
        return Path(root).expanduser().resolve()

    def destination(self, path: str, name: str) -> Path:
        """The clone's folder under the server root, or 400 when it would leave it."""
        if not FOLDER_NAME.match(name or "") or name in (".", ".."):
            raise TaskError(f"{quote(name)} is not a valid folder name: use one without slashes.")
        if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise TaskError(
                f"The folder name {quote(name)} is too long: "
                f"at most {MAX_NAME_BYTES} bytes in UTF-8."
            )
        hidden_ok = allow_hidden(self.app.serverapp)
        parent = resolve_path(self.root(), path or "", hidden_ok=hidden_ok, kind="folder")
        if not parent.is_dir():
            raise TaskError(f"Folder {quote(path)} does not exist.", status=404, reason="no_folder")
        return parent / name

    # ------------------------------------------------------------------ branches

    async def branches(self, remote: Remote) -> dict[str, Any]:
        """The remote's branches (``git ls-remote --symref``) and its default branch."""
        asked = remote
        remote = await route(remote, allow_link_local=self.allow_link_local)
        proc = await self._run(
            remote,
            ["ls-remote", "--symref", "--", remote.url, "HEAD", "refs/heads/*"],
            timeout=self.remote_timeout,
        )
        if proc.returncode != 0:
            raise classify_failure(proc.stderr, remote.url, None, self._secrets(remote))
        default = None
        branches: list[dict[str, str]] = []
        for line in proc.stdout.decode(errors="replace").splitlines():
            if line.startswith("ref: ") and line.endswith("\tHEAD"):
                ref = line[5:].split("\t", 1)[0]
                default = ref.removeprefix("refs/heads/")
                continue
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                branches.append({"name": ref.removeprefix("refs/heads/"), "commit": sha})
        branches.sort(key=lambda b: (b["name"] != default, b["name"].lower()))
        if default is None and branches:
            default = branches[0]["name"]
        return {
            "url": redact(asked.url),
            "name": asked.name,
            "default": default,
            "branches": branches,
        }

    # ------------------------------------------------------------------ preview

    async def preview(self, remote: Remote, branch: str) -> dict[str, Any]:
        """The file tree of ``branch`` from a shallow, blobless, no-checkout fetch."""
        if not branch:
            raise TaskError("Pick a branch to preview.")
        check_branch(branch)
        key_src = "\0".join(
            [
                remote.url,
                branch,
                remote.credential.username if remote.credential else "",
                remote.credential.password if remote.credential else "",
            ]
        )
        key = hashlib.sha256(key_src.encode()).hexdigest()
        now = time.monotonic()
        self._previews = {
            k: v for k, v in self._previews.items() if now - v[0] < self.preview_cache_seconds
        }
        if key in self._previews:
            return self._previews[key][1]
        remote = await route(remote, allow_link_local=self.allow_link_local)
        scratch = Path(self.app.data_dir) / "git-preview"
        scratch.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="preview-", dir=scratch)
        try:
            init = await self._run(remote, ["init", "-q", "--bare", tmp], timeout=30)
            if init.returncode != 0:
                raise TaskError(f"git init failed: {init.stderr}", status=500)
            ref = f"refs/heads/{branch}"
            fetch = await self._run(
                remote,
                [
                    "-C",
                    tmp,
                    "fetch",
                    "-q",
                    "--no-tags",
                    "--depth=1",
                    "--filter=blob:none",
                    "--",
                    remote.url,
                    f"+{ref}:{ref}",
                ],
                timeout=self.remote_timeout,
            )
            if fetch.returncode != 0:
                raise classify_failure(fetch.stderr, remote.url, branch, self._secrets(remote))
            tree = await self._run(
                remote, ["-C", tmp, "ls-tree", "-r", "-t", "-z", "--full-tree", ref], timeout=60
            )
            if tree.returncode != 0:
                raise TaskError(f"git ls-tree failed: {redact(tree.stderr)}", status=502)
            rev = await self._run(remote, ["-C", tmp, "rev-parse", ref], timeout=30)
        finally:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: shutil.rmtree(tmp, ignore_errors=True)
            )
        entries, truncated = tree_entries(tree.stdout, self.preview_max_entries)
        result = {
            "url": redact(remote.url),
            "branch": branch,
            "commit": rev.stdout.decode().strip(),
            "entries": entries,
            "truncated": truncated,
        }
        self._previews[key] = (now, result)
        return result

    # ------------------------------------------------------------------ clone

    def submit_clone(
        self,
        remote: Remote,
        *,
        branch: str | None,
        path: str,
        name: str | None,
        paths: list[str] | None,
        overwrite: bool,
    ) -> Task:
        """Start a clone task, or raise 409 when the destination exists and overwrite is off."""
        name = (name or "").strip() or remote.name
        if branch:
            check_branch(branch)
        dest = self.destination(path, name)
        if (dest.exists() or dest.is_symlink()) and not overwrite:
            raise TaskError(
                f"A file or folder named {name!r} already exists in /{path.strip('/')}. "
                "Overwrite it, or choose another folder name.",
                status=409,
                reason="exists",
            )
        selected = [p.strip("/") for p in (paths or []) if p and p.strip("/")]
        for p in selected:
            if "\0" in p or any(part in ("..", ".git") for part in p.split("/")):
                raise TaskError(f"{p!r} is not a path inside the repository.")
        root = self.root()
        rel_dest = str(dest.relative_to(root))
        meta = {
            "url": redact(remote.url),
            "branch": branch,
            "path": rel_dest,
            "paths": selected,
            "sparse": bool(selected),
        }
        title = f"Clone {redact(remote.url)} into /{rel_dest}"

        async def work(task: Task) -> dict[str, Any]:
            return await self._clone(task, remote, branch, dest, selected, overwrite)

        return self.app.tasks.submit(TASK_KIND, title, work, meta=meta)

    async def _clone(
        self,
        task: Task,
        remote: Remote,
        branch: str | None,
        dest: Path,
        selected: list[str],
        overwrite: bool,
    ) -> dict[str, Any]:
        remote = await route(remote, allow_link_local=self.allow_link_local)
        secrets = self._secrets(remote)
        # A short hidden name: the folder's full name (up to 255 bytes) plus a suffix would be
        # too long for the file system, and the temp name must never reach the user.
        tmp = dest.parent / f".{dest.name[:32]}.ma-clone-{uuid.uuid4().hex[:8]}"

        def scrub(text: str) -> str:
            return text.replace(str(tmp), str(dest)).replace(tmp.name, dest.name)

        trash: Path | None = None
        loop = asyncio.get_running_loop()

        def progress(phase: str, done: int, total: int, line: str) -> None:
            task.update(
                phase=phase, done=done, total=total, message=progress_message(phase, done, total)
            )

        async def git(args: list[str], cwd: str | None = None, stdin: bytes | None = None) -> None:
            proc = GitProcess(
                self._git(remote, *args),
                self._env(remote),
                cwd=cwd,
                on_progress=progress,
                stdin=stdin,
            )
            await proc.run()
            if proc.returncode != 0:
                raise classify_failure(scrub(proc.stderr), remote.url, branch, secrets)

        try:
            task.update(phase="Connecting", message=f"Connecting to {redact(remote.url)}")
            args = ["clone", "--progress"]
            if branch:
                args += ["--branch", branch]
            if selected:
                args += ["--filter=blob:none", "--no-checkout"]
            await git([*args, "--", remote.url, str(tmp)])
            if selected:
                patterns = "".join(f"/{_escape_pattern(p)}\n" for p in selected)
                task.update(phase="Selecting files", message=f"Selecting {len(selected)} path(s)")
                await git(
                    ["-C", str(tmp), "sparse-checkout", "set", "--no-cone", "--stdin"],
                    stdin=patterns.encode(),
                )
                await git(["-C", str(tmp), "checkout", "--progress", branch or "HEAD"])
            task.update(phase="Finishing", message="Moving the clone into place")
            if dest.exists() or dest.is_symlink():
                if not overwrite:
                    raise TaskError(
                        f"{dest.name!r} appeared while cloning; nothing was overwritten.",
                        status=409,
                        reason="exists",
                    )
                trash = dest.parent / f".{dest.name}.ma-old-{uuid.uuid4().hex[:8]}"
                os.rename(dest, trash)
            os.rename(tmp, dest)
            files = await loop.run_in_executor(None, _count_files, dest)
            head = await self._run(
                remote, ["-C", str(dest), "rev-parse", "--abbrev-ref", "HEAD"], timeout=30
            )
            return {
                "path": task.meta["path"],
                "branch": head.stdout.decode().strip() or branch,
                "files": files,
                "sparse": bool(selected),
            }
        except OSError as e:
            if getattr(e, "errno", None) == 28:
                raise TaskError(
                    "The disk is full: free some space in the workspace and retry.",
                    status=507,
                    reason="disk_full",
                ) from e
            raise TaskError(scrub(redact(str(e), secrets)), status=500) from e
        finally:
            await loop.run_in_executor(None, lambda: shutil.rmtree(tmp, ignore_errors=True))
            if trash is not None:
                await loop.run_in_executor(None, lambda: shutil.rmtree(trash, ignore_errors=True))

    def _record_event(self, task: Task) -> None:
        if task.kind != TASK_KIND:
            return
        url, path = task.meta.get("url"), task.meta.get("path")
        if task.state == "succeeded":
            self.app.events.record(
                "GitCloneSucceeded",
                "Major",
                f"Cloned {url} into /{path}.",
                task=task.id,
                url=url,
                path=path,
                branch=task.meta.get("branch"),
            )
        elif task.state == "failed":
            self.app.events.record(
                "GitCloneFailed",
                "Critical",
                f"Cloning {url} into /{path} failed: {task.error}",
                task=task.id,
                url=url,
                path=path,
                reason=task.error_reason,
            )


def check_branch(branch: str) -> None:
    """400 unless ``branch`` is a plausible branch name (never an option such as ``-x``)."""
    if not BRANCH_NAME.match(branch):
        raise TaskError(f"{branch!r} is not a valid branch name.")


def _escape_pattern(path: str) -> str:
    """Escape gitignore-style special characters so a path matches only itself."""
    return re.sub(r"([\\*?\[\]!#])", r"\\\1", path)


def _count_files(path: Path) -> int:
    count = 0
    for _root, dirs, files in os.walk(path):
        if ".git" in dirs:
            dirs.remove(".git")
        count += len(files)
    return count
