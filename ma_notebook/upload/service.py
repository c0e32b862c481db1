"""The upload service: resumable direct uploads, URL imports and (with OBS) transit and downloads.

Direct upload protocol (REST, under /ma-notebook/api/upload):

- ``POST sessions`` ``{path, name, size, key, overwrite}`` creates (or finds again, by ``key``,
  target and size) an upload session; 409 when the target exists and ``overwrite`` is false,
  before any byte moves. The answer carries ``offset``: the bytes already received.
- ``PUT sessions/<id>?offset=N`` streams raw bytes (no base64) into a hidden temporary file next
  to the target; when the file is complete it is renamed to the target.
- ``GET``/``HEAD sessions/<id>`` report the offset to resume from after a dropped connection.
- ``DELETE sessions/<id>`` cancels: the temporary file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tornado import web
from traitlets import Float, Integer, List, Unicode, validate

from ..api import ApiError, quote
from ..capability import Capability
from ..paths import allow_hidden, resolve_path
from ..tasks import Task, TaskError
from .transit import Transit
from .urlfetch import (
    FetchInfo,
    UrlError,
    UrlFetcher,
    display_url,
    parse_networks,
    remove_quietly,
    safe_name,
)

MB = 1000 * 1000
URL_TASK = "upload.url"
#: Temporary files and folders that partial work leaves next to its target.
TEMP_NAME = re.compile(
    r"^\..+(?:\.ma-upload-(?P<up>[0-9a-f]{12})|\.ma-download(?:\.json)?|"
    r"\.ma-clone-[0-9a-f]{8})$"
)
#: Leftovers younger than this (seconds) are spared: a process may still be writing them.
TEMP_GRACE = 120.0
#: Most directory entries the start-up sweep looks at.
SWEEP_MAX_ENTRIES = 200_000
#: State files of direct upload sessions (``<32 hex>.json``).
SESSION_FILE = re.compile(r"^[0-9a-f]{32}\.json$")
GB = 1000 * MB

FOLDER_ADVICE = (
    "Folders cannot be uploaded. Compress the folder into a package (for example a .zip), "
    "upload the package, then decompress it in Terminal: unzip xxx.zip"
)


@dataclass
class UploadSession:
    """One direct upload: where it goes and where its bytes are kept until complete."""

    id: str
    path: str  # folder, relative to the server root
    name: str
    size: int
    key: str
    overwrite: bool
    created: float
    temp: str  # absolute path of the hidden temporary file
    target: str  # absolute path of the final file
    active: bool = False

    @property
    def offset(self) -> int:
        """Bytes received so far (the size of the temporary file)."""
        try:
            return os.path.getsize(self.temp)
        except OSError:
            return 0

    def to_json(self) -> dict[str, Any]:
        """The session as the REST API returns it."""
        return {
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "size": self.size,
            "offset": self.offset,
            "overwrite": self.overwrite,
            "created": self.created,
            "active": self.active,
        }


class UploadService(Capability):
    """Direct uploads into the workspace, URL imports, and OBS transit when OBS is available."""

    name = "upload"

    direct_max_bytes = Integer(
        100 * MB,
        config=True,
        help=(
            "Largest file uploaded straight to the notebook; bigger files are offered OBS "
            "transit. Default: 100 MB (100000000 bytes)."
        ),
    )
    transit_max_bytes = Integer(
        50 * GB,
        config=True,
        help=(
            "Largest file uploaded through OBS transit; bigger files are refused with the advice "
            "to use `ma-cli obs-copy`. Default: 50 GB."
        ),
    )
    obs_import_max_bytes = Integer(
        10 * GB, config=True, help="Largest OBS file the OBS tab imports. Default: 10 GB."
    )
    url_max_bytes = Integer(
        50 * GB, config=True, help="Largest file a URL import downloads. Default: 50 GB."
    )
    max_active_uploads = Integer(
        10,
        config=True,
        help="How many uploads a browser runs at once; the rest wait. Default: 10.",
    )
    chunk_bytes = Integer(
        64 * 1024 * 1024,
        config=True,
        help=(
            "Most bytes a browser sends in one request of a direct upload (keeps each request "
            "under gateway body limits). Default: 64 MiB."
        ),
    )
    partial_max_age = Float(
        7 * 24 * 3600.0,
        config=True,
        help=(
            "Seconds an unfinished upload can be resumed; older temporary files are deleted at "
            "server start. Default: 604800 (7 days)."
        ),
    )
    url_allowed_networks = List(
        Unicode(),
        config=True,
        help=(
            "Addresses or CIDR networks URL imports may fetch although they are private, "
            "loopback or link-local (for example ['10.0.0.0/8']). Default: none, so only "
            "public addresses are fetched."
        ),
    )
    download_link_seconds = Integer(
        3600,
        config=True,
        help=(
            'Lifetime in seconds of the link "Download via OBS" hands out; the staged copy '
            "is deleted after it. Default: 3600."
        ),
    )
    download_via_obs_min_bytes = Integer(
        100 * MB,
        config=True,
        help='Files above this size get "Download via OBS" in the file browser. Default: 100 MB.',
    )
    url_connect_timeout = Float(
        20.0, config=True, help="Seconds to wait for a URL import to connect. Default: 20."
    )
    url_idle_timeout = Float(
        60.0,
        config=True,
        help="Seconds a URL import may receive nothing before it fails. Default: 60.",
    )

    @validate("url_allowed_networks")
    def _check_networks(self, proposal: dict[str, Any]) -> list[str]:
        parse_networks(proposal["value"])
        return list(proposal["value"])

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.state_dir = Path(app.data_dir) / "uploads"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.sessions: dict[str, UploadSession] = {}
        self._load_sessions()
        self.transit = Transit(self)
        app.tasks.register(URL_TASK, resume=self._resume_url_import, discard=self._discard_pull)

    async def start(self) -> None:
        """Start-up sweep: what nothing can resume any more goes (OBS parts, temp files)."""
        try:
            await self.transit.sweep()
        except Exception:
            self.log.exception("ma-notebook upload: sweeping the OBS transit folder failed")
        try:
            keep = {Path(s.temp).name for s in self.sessions.values()}
            tokens = {t.id[:12] for t in self.app.tasks.interrupted()}
            loop = asyncio.get_running_loop()
            removed = await loop.run_in_executor(
                None, sweep_temp_files, self.root_dir, keep, tokens, self.partial_max_age
            )
            if removed:
                self.log.info("ma-notebook upload: removed %d leftover temporary files", removed)
        except Exception:
            self.log.exception("ma-notebook upload: sweeping temporary files failed")

    # ------------------------------------------------------------------ common

    def info(self) -> dict[str, Any]:
        """Limits the frontend needs."""
        return {
            "available": True,
            "direct_max_bytes": self.direct_max_bytes,
            "transit_max_bytes": self.transit_max_bytes,
            "obs_import_max_bytes": self.obs_import_max_bytes,
            "max_active_uploads": self.max_active_uploads,
            "chunk_bytes": self.chunk_bytes,
            "transit": self.transit.available(),
            "transit_default": self.transit.default_display(),
            "download_via_obs_min_bytes": self.download_via_obs_min_bytes,
        }

    @property
    def root_dir(self) -> Path:
        """The folder file-browser paths are relative to."""
        serverapp = self.app.serverapp
        root = getattr(getattr(serverapp, "contents_manager", None), "root_dir", None)
        root = root or getattr(serverapp, "root_dir", None) or self.app.workspace_dir
        return Path(root).expanduser().resolve()

    def folder(self, path: str) -> Path:
        """The absolute folder for a file-browser path; 400 outside the root, 404 missing."""
        rel = (path or "").strip().strip("/")
        hidden_ok = allow_hidden(self.app.serverapp)
        folder = resolve_path(self.root_dir, rel, hidden_ok=hidden_ok, kind="folder")
        if not folder.is_dir():
            raise ApiError(
                404, f"The folder {quote('/' + rel)} does not exist; pick another folder."
            )
        return folder

    def target(self, path: str, name: str, overwrite: bool) -> Path:
        """Where a new file ``name`` in folder ``path`` goes; 409 when it exists (no overwrite)."""
        clean = safe_name(name)
        if not clean or clean != name:
            raise ApiError(400, f"{quote(name)} is not a valid file name.")
        if clean.startswith(".") and not allow_hidden(self.app.serverapp):
            raise ApiError(
                400,
                f"{quote(name)} is a hidden name (it starts with '.'); hidden files are not "
                "shown on this server (ContentsManager.allow_hidden).",
            )
        target = self.folder(path) / clean
        if target.is_dir():
            raise web.HTTPError(
                409, f"A folder named {clean} exists in /{path.strip('/')}; rename the file."
            )
        if target.exists() and not overwrite:
            raise web.HTTPError(
                409, f"{clean} already exists in /{path.strip('/')}. Overwrite it or cancel."
            )
        return target

    @staticmethod
    def temp_path(target: Path, token: str) -> Path:
        """A hidden temporary name next to ``target``."""
        # Names are capped at 255 bytes; the temp name must fit the same limit.
        stem = target.name.encode("utf-8", "surrogatepass")[:200].decode("utf-8", "ignore")
        return target.with_name(f".{stem}.ma-upload-{token}")

    def relpath(self, path: Path) -> str:
        """``path`` relative to the server root, as the file browser shows it."""
        return path.relative_to(self.root_dir).as_posix()

    # ------------------------------------------------------------------ direct uploads

    def _load_sessions(self) -> None:
        now = time.time()
        for meta in self.state_dir.glob("*.json"):
            if not SESSION_FILE.match(meta.name):
                continue  # transit sessions, staged downloads: the transit module's files
            try:
                session = UploadSession(**json.loads(meta.read_text()))
            except (OSError, ValueError, TypeError):
                meta.unlink(missing_ok=True)
                continue
            session.active = False
            if now - session.created > self.partial_max_age or not os.path.exists(session.temp):
                remove_quietly(session.temp)
                meta.unlink(missing_ok=True)
                continue
            self.sessions[session.id] = session

    def _save(self, session: UploadSession) -> None:
        data = asdict(session)
        data.pop("active")
        (self.state_dir / f"{session.id}.json").write_text(json.dumps(data))

    def _forget(self, session: UploadSession) -> None:
        self.sessions.pop(session.id, None)
        (self.state_dir / f"{session.id}.json").unlink(missing_ok=True)

    def create_session(
        self, path: str, name: str, size: int, key: str, overwrite: bool
    ) -> UploadSession:
        """A new upload session, or the unfinished one for the same file and target."""
        if size > self.transit_max_bytes:
            raise web.HTTPError(413, self.too_big_message(size))
        if size > self.direct_max_bytes:
            raise web.HTTPError(
                413,
                f"The file is over the {self.direct_max_bytes / MB:g} MB limit of direct "
                "uploads; upload it through OBS transit.",
            )
        target = self.target(path, name, overwrite)
        for session in self.sessions.values():
            if session.target == str(target) and session.size == size and session.key == key:
                session.overwrite = overwrite
                self._save(session)
                return session
        sid = uuid.uuid4().hex
        temp = self.temp_path(target, sid[:12])
        try:
            temp.touch()
        except OSError as e:
            raise web.HTTPError(
                403, f"Cannot write in /{path.strip('/')}: {e.strerror}. Pick another folder."
            ) from e
        session = UploadSession(
            id=sid,
            path=path.strip("/"),
            name=name,
            size=size,
            key=key,
            overwrite=overwrite,
            created=time.time(),
            temp=str(temp),
            target=str(target),
        )
        self.sessions[sid] = session
        self._save(session)
        return session

    def get_session(self, sid: str) -> UploadSession:
        """The session with this id, or 404."""
        session = self.sessions.get(sid)
        if session is None:
            raise web.HTTPError(
                404, f"No upload {sid}: it finished, was cancelled or expired. Upload again."
            )
        return session

    def cancel_session(self, sid: str) -> None:
        """Forget a session and delete its temporary file."""
        session = self.get_session(sid)
        remove_quietly(session.temp)
        self._forget(session)

    def finish_session(self, session: UploadSession) -> str:
        """Rename the complete temporary file to its target; returns the file-browser path."""
        target = Path(session.target)
        if target.exists() and not session.overwrite:
            raise web.HTTPError(
                409,
                f"{session.name} appeared while uploading. Overwrite it or cancel.",
                reason="exists",
            )
        os.replace(session.temp, target)
        self._forget(session)
        self.app.events.record(
            "FileUploaded",
            "Major",
            f"Uploaded {session.name} ({session.size} bytes) to /{session.path}.",
            path=self.relpath(target),
            size=session.size,
        )
        return self.relpath(target)

    def too_big_message(self, size: int) -> str:
        """Why a file is too big to upload through the browser and what to do instead."""
        return (
            f"The file is {size / GB:.1f} GB, over the {self.transit_max_bytes / GB:g} GB limit "
            "of uploads through the browser. Upload it to OBS first, then copy it into the "
            "notebook with `ma-cli obs-copy obs://bucket/file ./` in Terminal or with the "
            "Python API."
        )

    # ------------------------------------------------------------------ URL imports

    def fetcher(self) -> UrlFetcher:
        """A URL fetcher applying the configured allow-list and timeouts."""
        return UrlFetcher(
            parse_networks(self.url_allowed_networks),
            connect_timeout=self.url_connect_timeout,
            idle_timeout=self.url_idle_timeout,
        )

    async def probe_url(self, url: str) -> FetchInfo:
        """The file name and size behind a URL, without downloading it."""
        try:
            return await self.fetcher().probe(url)
        except UrlError as e:
            raise web.HTTPError(e.status, e.message) from e

    def start_url_import(self, url: str, path: str, name: str, overwrite: bool) -> Task:
        """Download ``url`` into folder ``path`` as ``name`` in a task."""
        target = self.target(path, name, overwrite)
        shown = display_url(url)
        resume: dict[str, Any] = {"target": str(target), "overwrite": overwrite}
        if shown == url:  # a URL carrying a query (maybe a token) is not written to disk
            resume["url"] = url
        return self.app.tasks.submit(
            URL_TASK,
            f"Import {name} from a URL",
            self._url_work(url, target, overwrite),
            meta={"url": shown, "path": path.strip("/"), "name": name},
            resume=resume,
        )

    def _resume_url_import(self, task: Task) -> Any:
        """An interrupted URL import starts its download again (into the same temp file)."""
        url = task.resume.get("url")
        if not url:
            raise TaskError(
                "This URL carried a query (which may hold a token) and was not kept; "
                "discard the task and import the URL again.",
                status=409,
                reason="not_resumable",
            )
        target = Path(task.resume["target"])
        return self._url_work(str(url), target, bool(task.resume.get("overwrite")))

    async def _discard_pull(self, task: Task) -> None:
        """Remove the temporary file an interrupted URL import left."""
        target = task.resume.get("target")
        if target:
            remove_quietly(str(self.temp_path(Path(target), task.id[:12])))

    def _url_work(self, url: str, target: Path, overwrite: bool) -> Any:
        fetcher = self.fetcher()
        service = self
        shown = display_url(url)

        async def work(task: Task) -> dict[str, Any]:
            temp = self.temp_path(target, task.id[:12])
            fh = None
            done = 0
            try:
                fh = open(temp, "wb")  # noqa: SIM115 - closed in finally

                def on_headers(info: FetchInfo) -> None:
                    task.update(phase="downloading", done=0, total=info.size)

                def on_chunk(chunk: bytes) -> None:
                    nonlocal done
                    assert fh is not None
                    fh.write(chunk)
                    done += len(chunk)
                    task.update(done=done)

                try:
                    info = await fetcher.download(url, on_headers, on_chunk, self.url_max_bytes)
                except UrlError as e:
                    raise TaskError(e.message, status=e.status) from e
                fh.close()
                if info.size is not None and done != info.size:
                    raise TaskError(
                        f"The download stopped after {done} of {info.size} bytes; try again."
                    )
                if target.exists() and not overwrite:
                    raise TaskError(f"{target.name} appeared meanwhile; import again to overwrite.")
                os.replace(temp, target)
                service.app.events.record(
                    "FileImported",
                    "Major",
                    f"Imported {target.name} ({done} bytes) from {shown}.",
                    path=service.relpath(target),
                )
                return {"path": service.relpath(target), "size": done, "name": target.name}
            finally:
                if fh is not None and not fh.closed:
                    fh.close()
                remove_quietly(str(temp))

        return work


def sweep_temp_files(
    root: Path, keep: set[str], tokens: set[str], max_age: float, now: float | None = None
) -> int:
    """Remove ``.ma-upload`` / ``.ma-download`` / ``.ma-clone`` leftovers under ``root``.

    Spared: names in ``keep`` (live upload sessions), files of interrupted tasks (their id
    prefix in ``tokens``), downloads with resume state younger than ``max_age`` (``ma-cli
    obs-copy`` resumes them) and anything modified in the last ``TEMP_GRACE`` seconds.
    Hidden folders are not entered. Returns how many were removed.
    """
    now = time.time() if now is None else now
    removed = seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        seen += len(dirnames) + len(filenames)
        if seen > SWEEP_MAX_ENTRIES:
            break
        for name in [*filenames, *dirnames]:
            m = TEMP_NAME.match(name)
            if m is None or name in keep or (m.group("up") or "") in tokens:
                continue
            path = Path(dirpath, name)
            try:
                st = path.lstat()
            except OSError:
                continue
            if now - st.st_mtime < TEMP_GRACE:
                continue
            if ".ma-upload-" in name and any(t in name for t in tokens):
                continue  # the download of an interrupted pull (..x.ma-upload-<id>.ma-download)
            if name.endswith((".ma-download", ".ma-download.json")):
                state = path if name.endswith(".json") else path.with_name(name + ".json")
                with contextlib.suppress(OSError):
                    if now - state.stat().st_mtime < max_age:
                        continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
    return removed


async def wait_idle(session: UploadSession, timeout: float = 5.0) -> None:
    """Wait until a session's previous request has let go of it."""
    deadline = time.monotonic() + timeout
    while session.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
