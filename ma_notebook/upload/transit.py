"""OBS transit: big browser uploads go to OBS in presigned parts, then the server pulls them in.

Also the OBS tab's imports (an OBS file -> a workspace folder) and "Download via OBS" (a
workspace file -> the transit folder -> an expiring presigned link). Every server-side
transfer runs as a task; the object layer is ``app.services["obs"]`` (ma_notebook.obs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado import web

from ..api import ApiError, quote
from ..obs.errors import ObsError, ObsNotFound
from ..obs.paths import ObsPath
from ..obs.service import DEFAULT_TRANSIT_BUCKET
from ..paths import allow_hidden, resolve_path
from ..tasks import Task, TaskError, suspending
from .urlfetch import remove_quietly

if TYPE_CHECKING:
    from ..obs.service import ObsService
    from .service import UploadService

GB = 1000 * 1000 * 1000

TRANSIT_TASK = "upload.transit"
IMPORT_TASK = "upload.obs"
DOWNLOAD_TASK = "upload.download"
#: Names this module gives objects in a transit folder (uploads, staged downloads).
OUR_TRANSIT_OBJECT = re.compile(r"^(?:[0-9a-f]{12}-[^/]+|download-[0-9a-f]{12}/[^/]+)$")


def parent_folder(p: ObsPath) -> ObsPath:
    """The folder holding an object."""
    return ObsPath(p.bucket, p.key.rsplit("/", 1)[0] + "/" if "/" in p.key else "")


#: Characters the seed refuses in names imported from OBS.
BAD_NAME_CHARS = "<>'\";\\`=#$%^&"


def obs_http_error(e: ObsError) -> web.HTTPError:
    """The HTTP error answering an object-layer error (its message shown as is)."""
    return web.HTTPError(e.status, e.message.replace("%", "%%"), reason=e.reason)


def human_size(n: float) -> str:
    """A decimal size for messages: 10 GB, 2 MB, 512 KB."""
    for unit, scale in (("GB", GB), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


def bad_chars(name: str) -> str:
    """The refused characters that ``name`` contains, in the seed's order."""
    return "".join(ch for ch in BAD_NAME_CHARS if ch in name)


@dataclass
class TransitSession:
    """One upload through OBS transit: the multipart upload and where the file goes."""

    id: str
    path: str
    name: str
    size: int
    key: str
    overwrite: bool
    created: float
    target: str
    object: str  # obs://bucket/key of the transit object
    upload_id: str
    part_size: int
    parts: int
    completed: bool = False
    task_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The session as the REST API returns it."""
        return {
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "size": self.size,
            "object": self.object,
            "part_size": self.part_size,
            "parts": self.parts,
            "completed": self.completed,
            "task_id": self.task_id,
        }


class Transit:
    """Transit uploads, OBS imports and downloads via OBS for the upload service."""

    def __init__(self, service: UploadService) -> None:
        self.service = service
        self.app = service.app
        self.sessions: dict[str, TransitSession] = {}
        self.state_dir = service.state_dir
        self._expired: list[TransitSession] = []
        self._load()
        self._register_tasks()

    # ------------------------------------------------------------------ helpers

    @property
    def obs(self) -> ObsService:
        """The OBS service, or 404 when OBS is off."""
        obs = self.app.services.get("obs")
        if obs is None:
            raise web.HTTPError(404, "OBS is not enabled on this server, so transit is off.")
        return obs  # type: ignore[return-value]

    def available(self) -> bool:
        """Whether the object store is usable."""
        obs = self.app.services.get("obs")
        return bool(obs is not None and obs.info().get("available"))

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except ObsError as e:
            raise obs_http_error(e) from e

    def default_display(self) -> str:
        """The default transit folder as the UI shows it ('' when there is none)."""
        if not self.available():
            return ""
        obs = self.obs
        with contextlib.suppress(ObsError):
            if obs.transit_path:
                return str(ObsPath.parse(obs.transit_path).as_folder())
            if obs.settings.mode == "embedded":
                return f"obs://{DEFAULT_TRANSIT_BUCKET}/"
        return ""

    async def transit_folder(self, transit_path: str) -> ObsPath:
        """The transit folder: the given obs:// path or the service's default."""
        try:
            chosen = transit_path.strip()
            if chosen and chosen != self.default_display():
                folder = ObsPath.parse(chosen)
                if folder.is_root:
                    raise ObsError("Enter a transit path with a bucket: obs://bucket/folder/.")
                return folder.as_folder()
            # The default (created on first use in the embedded store).
            return await self.obs.default_transit_path()
        except ObsError as e:
            raise obs_http_error(e) from e

    def _save(self, session: TransitSession) -> None:
        (self.state_dir / f"transit-{session.id}.json").write_text(json.dumps(asdict(session)))

    def _forget(self, session: TransitSession) -> None:
        self.sessions.pop(session.id, None)
        (self.state_dir / f"transit-{session.id}.json").unlink(missing_ok=True)

    def _load(self) -> None:
        now = time.time()
        for meta in self.state_dir.glob("transit-*.json"):
            try:
                session = TransitSession(**json.loads(meta.read_text()))
            except (OSError, ValueError, TypeError):
                meta.unlink(missing_ok=True)
                continue
            if now - session.created > self.service.partial_max_age:
                meta.unlink(missing_ok=True)
                self._expired.append(session)  # its parts are dropped in start()
                continue
            session.task_id = None
            self.sessions[session.id] = session

    async def drop_expired(self) -> None:
        """Abort the OBS multipart uploads of transit sessions too old to resume."""
        expired, self._expired = self._expired, []
        if not expired or not self.available():
            return
        for session in expired:
            with contextlib.suppress(ObsError):
                if session.completed:
                    await self.obs.delete(session.object)
                else:
                    await self.obs.abort_multipart(session.object, session.upload_id)

    def get(self, sid: str) -> TransitSession:
        """The transit session with this id, or 404."""
        session = self.sessions.get(sid)
        if session is None:
            raise web.HTTPError(404, f"No transit upload {sid}: it finished or was cancelled.")
        return session

    # ------------------------------------------------------------------ transit uploads

    async def create(
        self, path: str, name: str, size: int, key: str, overwrite: bool, transit_path: str
    ) -> TransitSession:
        """Start (or find again) a transit upload of ``size`` bytes to folder/name."""
        svc = self.service
        if size > svc.transit_max_bytes:
            raise web.HTTPError(413, svc.too_big_message(size))
        target = svc.target(path, name, overwrite)
        folder = await self.transit_folder(transit_path)
        for s in self.sessions.values():
            same_folder = s.object.startswith(str(folder))
            if s.target == str(target) and s.size == size and s.key == key and same_folder:
                s.overwrite = overwrite
                self._save(s)
                return s
        obs = self.obs
        plan = obs.plan_multipart(size)
        sid = uuid.uuid4().hex
        obj = folder.child(f"{sid[:12]}-{target.name}")
        try:
            upload_id = await obs.create_multipart(obj)
        except ObsError as e:
            raise obs_http_error(e) from e
        session = TransitSession(
            id=sid,
            path=path.strip("/"),
            name=name,
            size=size,
            key=key,
            overwrite=overwrite,
            created=time.time(),
            target=str(target),
            object=str(obj),
            upload_id=upload_id,
            part_size=plan["part_size"],
            parts=plan["parts"],
        )
        self.sessions[sid] = session
        self._save(session)
        return session

    def part_range(self, session: TransitSession, number: int) -> tuple[int, int]:
        """Byte range [start, end) of part ``number`` (1-based); 400 when out of range."""
        if not 1 <= number <= session.parts:
            raise web.HTTPError(400, f"Part numbers go from 1 to {session.parts}, not {number}.")
        start = (number - 1) * session.part_size
        return start, min(session.size, start + session.part_size)

    async def parts_done(self, session: TransitSession) -> dict[int, int]:
        """Parts OBS already holds with the right size: number -> size."""
        if session.completed:
            return {
                n: self.part_range(session, n)[1] - self.part_range(session, n)[0]
                for n in range(1, session.parts + 1)
            }
        p = ObsPath.parse(session.object)
        listed = await self._run(self.obs.store.list_parts, p.bucket, p.key, session.upload_id)
        done = {}
        for number, (_etag, size) in listed.items():
            if 1 <= number <= session.parts:
                start, end = self.part_range(session, number)
                if size == end - start:
                    done[number] = size
        return done

    def presign(self, session: TransitSession, numbers: list[int]) -> dict[int, str]:
        """Expiring URLs for HTTP PUTs of these parts."""
        urls = {}
        for n in numbers:
            self.part_range(session, n)
            try:
                urls[n] = self.obs.presign_upload_part(session.object, session.upload_id, n)
            except ObsError as e:
                raise obs_http_error(e) from e
        return urls

    async def relay_part(self, session: TransitSession, number: int, data: bytes) -> str:
        """Upload one part's bytes (received by the server) to OBS; returns its ETag."""
        start, end = self.part_range(session, number)
        if len(data) != end - start:
            raise web.HTTPError(
                400, f"Part {number} must be {end - start} bytes, got {len(data)}; send it again."
            )
        p = ObsPath.parse(session.object)
        return str(
            await self._run(
                self.obs.store.upload_part, p.bucket, p.key, session.upload_id, number, data
            )
        )

    async def complete(self, session: TransitSession) -> Task:
        """Assemble the parts, then pull the object into the folder in a task."""
        if session.task_id:
            task = self.app.tasks.get(session.task_id)
            if task is not None and not task.is_finished:
                return task
        obs = self.obs
        if not session.completed:
            done = await self.parts_done(session)
            missing = [n for n in range(1, session.parts + 1) if n not in done]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
                raise web.HTTPError(
                    409, f"Parts {shown} have not reached OBS yet; upload them, then complete."
                )
            p = ObsPath.parse(session.object)
            listed = await self._run(obs.store.list_parts, p.bucket, p.key, session.upload_id)
            parts = [(n, listed[n][0]) for n in range(1, session.parts + 1)]
            try:
                await obs.complete_multipart(session.object, session.upload_id, parts)
            except ObsError as e:
                raise obs_http_error(e) from e
            session.completed = True
            self._save(session)
        target = Path(session.target)
        if target.exists() and not session.overwrite:
            raise web.HTTPError(409, f"{session.name} appeared meanwhile. Overwrite it or cancel.")
        task = self.app.tasks.submit(
            TRANSIT_TASK,
            f"Upload {session.name} through OBS",
            self._transit_work(session),
            meta={"name": session.name, "path": session.path, "session": session.id},
            resume={"session": session.id, "target": session.target},
        )
        session.task_id = task.id
        self._save(session)
        return task

    def _transit_work(self, session: TransitSession) -> Any:
        """The pull of a complete transit object into its folder (also when resumed)."""
        target = Path(session.target)
        obs = self.obs

        async def work(task: Task) -> dict[str, Any]:
            task.update(phase="copying from OBS", done=0, total=session.size)
            cancelled = False
            try:
                await self._pull(task, session.object, target, session.overwrite)
            except asyncio.CancelledError:
                cancelled = not suspending()
                raise
            finally:
                if cancelled:
                    await self._discard(session)
            with contextlib.suppress(ObsError):
                await obs.delete(session.object)
            self._forget(session)
            self.app.events.record(
                "FileUploaded",
                "Major",
                f"Uploaded {session.name} ({session.size} bytes) to /{session.path} "
                "through OBS transit.",
                path=self.service.relpath(target),
                size=session.size,
            )
            return {"path": self.service.relpath(target), "size": session.size}

        return work

    # ------------------------------------------------------------------ after a restart

    def _register_tasks(self) -> None:
        tasks = self.app.tasks
        tasks.register(TRANSIT_TASK, resume=self._resume_transit, discard=self._discard_transit)
        tasks.register(IMPORT_TASK, resume=self._resume_import, discard=self._discard_pull)
        tasks.register(DOWNLOAD_TASK, resume=self._resume_download, discard=self._discard_download)

    def _resume_transit(self, task: Task) -> Any:
        session = self.sessions.get(str(task.resume.get("session")))
        if session is None or not session.completed:
            raise TaskError(
                "The transit upload behind this task is gone (expired or cancelled); "
                "upload the file again.",
                status=409,
                reason="gone",
            )
        session.task_id = task.id
        return self._transit_work(session)

    def pull_temp(self, target: str | Path, task_id: str) -> Path:
        """The hidden file a pull for ``task_id`` downloads into (next to its target)."""
        return self.service.temp_path(Path(target), task_id[:12])

    def _remove_pull_leftovers(self, task: Task) -> None:
        target = task.resume.get("target")
        if not target:
            return
        temp = self.pull_temp(target, task.id)
        remove_quietly(str(temp))
        obs = self.app.services.get("obs")
        if obs is not None and self.available():
            self.obs.engine.discard_download(temp)
        else:
            for suffix in (".ma-download", ".ma-download.json"):
                remove_quietly(str(temp.with_name(f".{temp.name}{suffix}")))

    async def _discard_transit(self, task: Task) -> None:
        self._remove_pull_leftovers(task)
        session = self.sessions.get(str(task.resume.get("session")))
        if session is not None and self.available():
            await self._discard(session)
        elif session is not None:
            self._forget(session)

    async def _discard_pull(self, task: Task) -> None:
        self._remove_pull_leftovers(task)

    def _resume_import(self, task: Task) -> Any:
        data = task.resume
        if not self.available():
            raise TaskError("OBS is not available, so the import cannot resume.", status=409)
        source, target = ObsPath.parse(data["source"]), Path(data["target"])
        return self._import_work(source, target, bool(data["overwrite"]), int(data["size"]))

    def _resume_download(self, task: Task) -> Any:
        data = task.resume
        if not self.available():
            raise TaskError("OBS is not available, so the download cannot resume.", status=409)
        local = Path(data["local"])
        if not local.is_file():
            raise TaskError(f"{local.name} is gone; nothing to download.", status=409)
        return self._download_work(local, ObsPath.parse(data["object"]), int(data["expires"]))

    async def _discard_download(self, task: Task) -> None:
        data = task.resume
        if not data.get("local") or not self.available():
            return
        engine = self.obs.engine
        await self._run(engine.discard_upload, data["local"], ObsPath.parse(data["object"]))

    async def _pull(self, task: Task, obj: str, target: Path, overwrite: bool) -> None:
        """Parallel ranged download of ``obj`` to a hidden temporary name, then rename."""
        temp = self.pull_temp(target, task.id)

        def on_progress(done: int, total: int | None) -> None:
            with contextlib.suppress(Exception):
                task.update(done=done, total=total)

        try:
            try:
                await self.obs.download(obj, str(temp), on_progress=on_progress)
            except ObsError as e:
                raise TaskError(e.message, status=e.status, reason=e.reason) from e
            if target.exists() and not overwrite:
                raise TaskError(f"{target.name} appeared meanwhile; upload again to overwrite.")
            os.replace(temp, target)
        finally:
            remove_quietly(str(temp))

    async def _discard(self, session: TransitSession) -> None:
        with contextlib.suppress(ObsError):
            if session.completed:
                await self.obs.delete(session.object)
            else:
                await self.obs.abort_multipart(session.object, session.upload_id)
        self._forget(session)

    async def cancel(self, sid: str) -> None:
        """Stop a transit upload: its pull task, its parts or object in OBS, its state."""
        session = self.get(sid)
        if session.task_id:
            self.app.tasks.cancel(session.task_id)
        await self._discard(session)

    # ------------------------------------------------------------------ OBS tab imports

    async def start_import(self, obs_path: str, path: str, overwrite: bool) -> Task:
        """Copy one OBS file (<= the import limit) into folder ``path`` as a task."""
        try:
            p = ObsPath.parse(obs_path.strip())
        except ObsError as e:
            raise obs_http_error(e) from e
        if p.is_root or not p.key or p.is_folder:
            raise web.HTTPError(400, f"{obs_path} is a folder: enter a file path, not a folder.")
        chars = bad_chars(p.name)
        if chars:
            raise web.HTTPError(
                400,
                f"{p.name} contains the following invalid characters {' '.join(chars)}; "
                "rename the file in OBS first.",
            )
        try:
            entry = await self.obs.stat(p)
        except ObsNotFound as e:
            raise obs_http_error(e) from e
        except ObsError as e:
            raise obs_http_error(e) from e
        if entry.get("type") == "directory":
            raise web.HTTPError(400, f"{obs_path} is a folder: enter a file path, not a folder.")
        size = int(entry.get("size") or 0)
        limit = self.service.obs_import_max_bytes
        if size > limit:
            raise web.HTTPError(
                413,
                f"The file size exceeds {human_size(limit)} ({p.name} is {human_size(size)}). "
                "Copy it with `ma-cli obs-copy` in Terminal instead.",
            )
        target = self.service.target(path, p.name, overwrite)
        return self.app.tasks.submit(
            IMPORT_TASK,
            f"Import {p.name} from OBS",
            self._import_work(p, target, overwrite, size),
            meta={"name": p.name, "path": path.strip("/"), "source": str(p), "size": size},
            resume={"source": str(p), "target": str(target), "overwrite": overwrite, "size": size},
        )

    def _import_work(self, p: ObsPath, target: Path, overwrite: bool, size: int) -> Any:
        async def work(task: Task) -> dict[str, Any]:
            task.update(phase="copying from OBS", done=0, total=size)
            await self._pull(task, str(p), target, overwrite)
            self.app.events.record(
                "FileImported",
                "Major",
                f"Imported {p.name} ({size} bytes) from {p}.",
                path=self.service.relpath(target),
            )
            return {"path": self.service.relpath(target), "size": size, "name": p.name}

        return work

    # ------------------------------------------------------------------ downloads via OBS

    async def start_download(self, path: str, transit_path: str) -> Task:
        """Stage a workspace file in the transit folder, then hand out an expiring link."""
        rel = (path or "").strip().strip("/")
        hidden_ok = allow_hidden(self.service.app.serverapp)
        local = resolve_path(self.service.root_dir, rel, hidden_ok=hidden_ok, kind="file")
        if local == self.service.root_dir or local.is_dir():
            raise ApiError(
                400,
                f"{quote('/' + rel)} is a folder; compress it (zip -r x.zip folder) and download "
                "that.",
            )
        if not local.is_file():
            raise ApiError(404, f"{quote('/' + rel)} does not exist.")
        folder = await self.transit_folder(transit_path)
        expires = self.service.download_link_seconds
        task_id = uuid.uuid4().hex
        obj = folder.child(f"download-{task_id[:12]}/{local.name}")
        return self.app.tasks.submit(
            DOWNLOAD_TASK,
            f"Download {local.name} via OBS",
            self._download_work(local, obj, expires),
            meta={"name": local.name, "path": rel, "size": local.stat().st_size},
            resume={"local": str(local), "object": str(obj), "expires": expires},
        )

    def _download_work(self, local: Path, obj: ObsPath, expires: int) -> Any:
        obs = self.obs

        async def work(task: Task) -> dict[str, Any]:
            size = local.stat().st_size
            task.update(phase="copying to OBS", done=0, total=size)

            def on_progress(done: int, total: int | None) -> None:
                with contextlib.suppress(Exception):
                    task.update(done=done)

            try:
                await obs.upload(str(local), obj, on_progress=on_progress)
                url = obs.presign_get(obj, expires=expires, filename=local.name)
            except ObsError as e:
                raise TaskError(e.message, status=e.status, reason=e.reason) from e
            self._stage(obj, time.time() + expires + 60)
            return {
                "url": url,
                "expires": time.time() + expires,
                "name": local.name,
                "size": size,
                "object": str(obj),
            }

        return work

    # ------------------------------------------------------------------ staged download copies

    @property
    def _staged_file(self) -> Path:
        return self.state_dir / "staged-downloads.json"

    def _staged(self) -> dict[str, float]:
        try:
            data = json.loads(self._staged_file.read_text())
            return {str(k): float(v) for k, v in data.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _write_staged(self, staged: dict[str, float]) -> None:
        tmp = self._staged_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(staged))
        os.replace(tmp, self._staged_file)

    def _stage(self, obj: ObsPath, delete_at: float) -> None:
        """Remember a staged copy (on disk, so a restart still deletes it) and time its end."""
        staged = self._staged()
        staged[str(obj)] = delete_at
        self._write_staged(staged)
        self._schedule_unstage(str(obj), delete_at)

    def _schedule_unstage(self, obj: str, delete_at: float) -> None:
        delay = max(0.0, delete_at - time.time())
        asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(self._unstage(obj))
        )

    async def _unstage(self, obj: str) -> None:
        with contextlib.suppress(Exception):
            await self.obs.delete(obj)
        staged = self._staged()
        if staged.pop(obj, None) is not None:
            self._write_staged(staged)

    async def sweep(self) -> None:
        """Start-up: drop staged copies past their link's expiry (time the others), and transit
        objects and multipart uploads that no session can resume any more."""
        await self.drop_expired()
        if not self.available():
            return
        now = time.time()
        for obj, delete_at in self._staged().items():
            if delete_at <= now:
                await self._unstage(obj)
            else:
                self._schedule_unstage(obj, delete_at)
        await self._sweep_transit_folder(now)

    async def _sweep_transit_folder(self, now: float) -> None:
        folders = {str(parent_folder(ObsPath.parse(s.object))) for s in self.sessions.values()}
        obs = self.obs
        with contextlib.suppress(ObsError):  # the default folder, not created here
            if obs.transit_path:
                folders.add(str(ObsPath.parse(obs.transit_path).as_folder()))
            elif obs.settings.mode == "embedded":
                folders.add(str(ObsPath(DEFAULT_TRANSIT_BUCKET, "")))
        for f in sorted(folders):
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, self._sweep_folder, ObsPath.parse(f), now
                )
            except ObsError as e:  # a folder (bucket) that does not exist
                self.service.log.debug("ma-notebook upload: not sweeping %s: %s", f, e.message)

    def _sweep_folder(self, p: ObsPath, now: float) -> None:
        """Abort multipart uploads and delete objects of ours in ``p`` older than the window."""
        live_uploads = {s.upload_id for s in self.sessions.values()}
        live_objects = {s.object for s in self.sessions.values()}
        staged = set(self._staged())
        window = self.service.partial_max_age
        store = self.obs.store
        for key, upload_id, initiated in store.list_multipart_uploads(p.bucket, p.key):
            if upload_id not in live_uploads and now - initiated > window:
                with contextlib.suppress(ObsError):
                    store.abort_multipart(p.bucket, key, upload_id)
        old = []
        for rel, _size in self.obs.engine.iter_tree(p):
            obj = str(p.child(rel))
            if not OUR_TRANSIT_OBJECT.match(rel) or obj in live_objects or obj in staged:
                continue
            with contextlib.suppress(ObsError):
                info = store.head(p.bucket, p.key + rel)
                if info.last_modified and now - info.last_modified > window:
                    old.append(p.key + rel)
        if old:
            store.delete(p.bucket, old)
