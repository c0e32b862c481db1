"""The OBS service: which object store is in use, and async operations on it for the server.

Public API for other capabilities (all paths are ``obs://bucket/key`` strings or ObsPath; every
coroutine raises :class:`ObsError` with a user-facing message and an HTTP status):

- ``service.settings`` / ``service.store`` / ``service.engine``: resolved settings (no secrets in
  ``settings.public_info()``), the ObjectStore (S3Store or LocalStore), the TransferEngine.
- ``await service.list_buckets()`` -> ``[{"name", "path", "type", ...}]``.
- ``await service.list_folder(path, limit=100, cursor=None, name_filter="")`` ->
  ``{"path", "entries": [...], "next_cursor"}`` (pass ``cursor=next_cursor`` for the next page;
  case-insensitive name filter).
- ``await service.stat(path)`` -> one entry (file or directory) or 404.
- ``await service.create_bucket(name)``; ``await service.delete(path, recursive=False)``.
- Browser uploads through OBS transit (multipart with presigned part URLs):
  ``plan = service.plan_multipart(size)`` -> ``{"part_size", "parts"}`` (<= 10,000 parts);
  ``upload_id = await service.create_multipart(path)``;
  ``service.presign_upload_part(path, upload_id, part_number, expires=None)`` -> URL for an
  HTTP PUT of the part's bytes; the answer's ``ETag`` header is the part's ETag. For the
  embedded store the URL is relative to the notebook server (``/ma-notebook/obs-store/...``)
  and HMAC-signed and expiring; for endpoints it is the endpoint's SigV4 presigned URL (the
  bucket's CORS must allow PUT from the notebook's origin and expose ``ETag``).
  ``await service.complete_multipart(path, upload_id, [(part_number, etag), ...])`` -> info;
  ``await service.abort_multipart(path, upload_id)``.
- ``service.presign_get(path, expires=None, filename=None)`` -> expiring GET URL ("Download
  via OBS"); ``filename`` sets Content-Disposition.
- ``await service.download(path, local_path, on_progress=cb)``: parallel ranged download into a
  temp file, verified, atomically renamed; resumes an interrupted download; cancelling the
  awaiting task (asyncio cancel) stops it and removes the partial file. ``cb(done, total)`` is
  called on the event loop.
- ``await service.upload(local_path, path, on_progress=cb)``: parallel multipart upload.
- ``await service.copy(src, dst, drop_last_dir=False, on_progress=cb)``: files or folders in
  any direction (obs<->local, obs->obs server-side), ma-cli obs-copy semantics.
- ``service.submit_copy(src, dst, drop_last_dir=False)`` -> a Task (kind ``obs-copy``).
- ``await service.default_transit_path()`` -> ObsPath of the default transit folder (created in the
  embedded store; ``c.ObsService.transit_path`` for endpoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from traitlets import Enum, Integer, Unicode

from ..capability import Capability
from ..paths import allow_hidden, contents_root, resolve_path
from ..tasks import TaskError, suspending
from .config import LOCAL_ROOT_ENV, ObsSettings, resolve_settings
from .errors import ObsCancelled, ObsError, ObsNotFound, translate
from .paths import ObsPath
from .store import ObjectInfo, ObjectStore, PresignSigner, open_store
from .transfer import MiB, TransferEngine, TransferResult, choose_part_size, is_obs, location

DEFAULT_TRANSIT_BUCKET = "ma-notebook-transit"
STORE_URL_PATH = "ma-notebook/obs-store"
#: Task kind of copies (ma-cli obs-copy semantics) run by the server.
COPY_TASK = "obs-copy"


class ObsService(Capability):
    """Object storage for the notebook: an S3-compatible endpoint or the embedded local store."""

    name = "obs"

    store_kind = Enum(
        ["auto", "embedded", "endpoint"],
        "auto",
        config=True,
        help="Which store to use: 'endpoint' (S3-compatible: OBS, S3, MinIO), 'embedded' (a "
        "local folder per bucket) or 'auto' (an endpoint when one or credentials are "
        "configured in config, environment or profile, else embedded). Default: auto.",
    )
    endpoint = Unicode(
        "",
        config=True,
        help="Endpoint URL, e.g. https://obs.cn-north-4."
        "myhuaweicloud.com. Default: from the environment or profile file.",
    )
    region = Unicode("", config=True, help="Region name. Default: environment or profile.")
    access_key = Unicode(
        "",
        config=True,
        help="Access key (AK). Default: env "
        "HUAWEICLOUD_SDK_AK/AWS_ACCESS_KEY_ID or the profile file.",
    )
    secret_key = Unicode(
        "",
        config=True,
        help="Secret key (SK); never logged or shown. "
        "Default: env HUAWEICLOUD_SDK_SK/AWS_SECRET_ACCESS_KEY or profile.",
    )
    security_token = Unicode(
        "", config=True, help="Optional security token for temporary credentials. Default: none."
    )
    addressing_style = Enum(
        ["", "auto", "path", "virtual"],
        "",
        config=True,
        help="'virtual' (bucket.host, required by OBS domain endpoints), 'path' (host/bucket) or "
        "'auto' (path for IP/localhost endpoints, else virtual). Default: auto.",
    )
    profile = Unicode("", config=True, help="Profile of the ma-cli profile file. Default: DEFAULT.")
    profile_file = Unicode(
        "", config=True, help="ma-cli profile file. Default: ~/.modelarts/ma-cli-profile.yaml."
    )
    local_root = Unicode(
        "",
        config=True,
        help="Folder of the embedded store (one sub-folder "
        "per bucket). Default: <MaNotebookApp.data_dir>/obs.",
    )
    concurrency = Integer(32, config=True, help="Objects transferred at once. Default: 32.")
    part_concurrency = Integer(
        8, config=True, help="Parts of big objects transferred at once. Default: 8."
    )
    part_size = Integer(
        16 * MiB,
        config=True,
        help="Minimum multipart part size in bytes (grows "
        "to stay within 10,000 parts). Default: 16 MiB.",
    )
    multipart_threshold = Integer(
        32 * MiB, config=True, help="Objects above this size (bytes) go in parts. Default: 32 MiB."
    )
    presign_expires = Integer(
        3600, config=True, help="Lifetime of presigned URLs in seconds. Default: 3600."
    )
    transit_path = Unicode(
        "",
        config=True,
        help="Default OBS transit folder for uploads, e.g. "
        "obs://my-bucket/transit/. Default: obs://ma-notebook-transit/ in the "
        "embedded store; required for endpoints.",
    )

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._settings: ObsSettings | None = None
        self._store: ObjectStore | None = None
        self._engine: TransferEngine | None = None
        self._error: ObsError | None = None
        self._executor = ThreadPoolExecutor(8, thread_name_prefix="obs-call")
        app.tasks.register(COPY_TASK, resume=self._resume_copy, discard=self._discard_copy)
        try:
            self._configure()
        except ObsError as e:
            self._error = e
            self.log.warning("ma-notebook obs: %s", e.message)

    # -- configuration
    def _configure(self) -> None:
        overrides = {
            "endpoint": self.endpoint,
            "region": self.region,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "security_token": self.security_token,
            "addressing_style": self.addressing_style,
        }
        root = self.local_root or os.path.join(self.app.data_dir, "obs")
        if self.store_kind == "embedded":
            settings = ObsSettings(local_root=root)
        else:
            settings = resolve_settings(
                overrides,
                profile=self.profile or None,
                profile_file=self.profile_file or None,
                local_root=root,
            )
            if self.store_kind == "endpoint" and settings.mode != "endpoint":
                raise ObsError(
                    "c.ObsService.store_kind is 'endpoint' but no endpoint or "
                    "credentials are configured.",
                    400,
                    "not_configured",
                )
        signer = PresignSigner(self._presign_secret())
        base_url = getattr(getattr(self.app, "serverapp", None), "base_url", "/") or "/"
        url_prefix = base_url.rstrip("/") + "/" + STORE_URL_PATH
        self._settings = settings
        self._store = open_store(
            settings,
            signer=signer,
            url_prefix=url_prefix,
            max_connections=max(self.concurrency, self.part_concurrency) + 8,
        )
        self._engine = TransferEngine(
            self._store,
            concurrency=self.concurrency,
            part_concurrency=self.part_concurrency,
            part_size=self.part_size,
            multipart_threshold=self.multipart_threshold,
            state_dir=os.path.join(self.app.data_dir, "obs-state"),
        )
        if settings.mode == "embedded":
            # kernels and terminals started by this server see the same embedded store
            os.environ[LOCAL_ROOT_ENV] = settings.local_root
        self.log.info("ma-notebook obs: %s", settings.public_info())

    def _presign_secret(self) -> bytes:
        path = Path(self.app.data_dir) / "obs-presign.key"
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            secret = secrets.token_bytes(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secret.hex())
            return secret

    def _ready(self) -> None:
        if self._error is not None:
            raise self._error

    @property
    def settings(self) -> ObsSettings:
        """The resolved settings (raises the configuration error, if any)."""
        self._ready()
        assert self._settings is not None
        return self._settings

    @property
    def store(self) -> ObjectStore:
        """The object store in use."""
        self._ready()
        assert self._store is not None
        return self._store

    @property
    def engine(self) -> TransferEngine:
        """The transfer engine bound to the store."""
        self._ready()
        assert self._engine is not None
        return self._engine

    def info(self) -> dict[str, Any]:
        """Which store is in use (never secrets)."""
        if self._error is not None:
            return {"available": False, "reason": self._error.message}
        return {"available": True, **self.settings.public_info()}

    async def stop(self) -> None:
        """Stop worker threads."""
        if self._engine is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._engine.close)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- helpers
    async def _call(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args))
        except ObsError:
            raise
        except Exception as e:
            raise translate(e, "", self.settings.secrets) from None

    async def _transfer(self, fn: Any, *args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        """Run an engine call in a thread; asyncio cancellation stops it and waits for cleanup."""
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        progress = None
        if on_progress is not None:

            def progress(done: int, total: int | None) -> None:
                loop.call_soon_threadsafe(on_progress, done, total)

        fut = loop.run_in_executor(
            self._executor,
            functools.partial(fn, *args, cancel=cancel, progress=progress, **kwargs),
        )
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if suspending():
                cancel.keep = True  # type: ignore[attr-defined]  # resumed after a restart
            cancel.set()
            # wait for the thread's cleanup (partial files removed), even if cancelled again
            while not fut.done():
                with contextlib.suppress(BaseException):
                    await asyncio.wait([fut])
            raise
        except ObsCancelled:
            raise asyncio.CancelledError() from None
        except ObsError:
            raise
        except Exception as e:
            raise translate(e, "", self.settings.secrets) from None

    @staticmethod
    def _path(path: str | ObsPath) -> ObsPath:
        return path if isinstance(path, ObsPath) else ObsPath.parse(path)

    # -- browsing
    async def list_buckets(self) -> list[dict[str, Any]]:
        """Every bucket."""
        buckets: list[ObjectInfo] = await self._call(self.store.list_buckets)
        return [{**b.to_json(), "path": f"obs://{b.key}/"} for b in buckets]

    async def list_folder(
        self,
        path: str | ObsPath,
        *,
        limit: int = 100,
        cursor: str | None = None,
        name_filter: str = "",
    ) -> dict[str, Any]:
        """One page of a folder (folders and files), optionally filtered by name."""
        p = self._path(path)
        if p.is_root:
            buckets = await self.list_buckets()
            needle = name_filter.lower()
            return {
                "path": "obs://",
                "entries": [b for b in buckets if needle in b["name"]],
                "next_cursor": None,
            }
        prefix = p.as_folder().key
        token = cursor
        needle = name_filter.lower()
        entries: list[dict[str, Any]] = []
        for _ in range(50):  # bounded scan when a filter hides most names
            page = await self._call(
                self.store.list_objects, p.bucket, prefix, "/", token, limit - len(entries)
            )
            for info in page.entries:
                if needle and needle not in info.name.lower():
                    continue
                entries.append(info.to_json(p.bucket))
            token = page.next_token
            if not token or len(entries) >= limit:
                break
        missing = not entries and prefix and token is None and not needle
        # an empty listing of a folder that does not exist is a 404, not an empty folder
        if missing and not await self._exists(p.bucket, prefix):
            raise ObsNotFound(f"No such folder: {p.as_folder()}")
        return {"path": str(p.as_folder()), "entries": entries[:limit], "next_cursor": token}

    async def _exists(self, bucket: str, key: str) -> bool:
        try:
            await self._call(self.store.head, bucket, key)
            return True
        except ObsNotFound:
            return False

    async def stat(self, path: str | ObsPath) -> dict[str, Any]:
        """A file's or folder's entry, or 404."""
        p = self._path(path)
        if p.is_root:
            return {"name": "", "path": "obs://", "type": "directory", "size": None}
        if not p.key:
            buckets = await self.list_buckets()
            for b in buckets:
                if b["name"] == p.bucket:
                    return b
            raise ObsNotFound(f"The bucket does not exist ({p}).", "no_such_bucket")
        if not p.is_folder:
            try:
                info = await self._call(self.store.head, p.bucket, p.key)
                return info.to_json(p.bucket)
            except ObsNotFound:
                pass
        folder = p.as_folder()
        page = await self._call(self.store.list_objects, p.bucket, folder.key, "/", None, 1)
        if page.entries or await self._exists(p.bucket, folder.key):
            return ObjectInfo(folder.key, is_dir=True).to_json(p.bucket)
        raise ObsNotFound(f"No such file or folder: {p}")

    async def create_bucket(self, name: str) -> None:
        """Create a bucket."""
        await self._call(self.store.create_bucket, self._path(f"obs://{name}").bucket)

    async def delete(self, path: str | ObsPath, recursive: bool = False) -> int:
        """Delete an object, or a folder with ``recursive``; returns how many files went."""
        p = self._path(path)
        if not recursive:
            await self._call(self.store.head, p.bucket, p.key)
            await self._call(self.store.delete, p.bucket, [p.key])
            return 1
        keys = [
            p.as_folder().key + rel
            for rel, _ in await self._call(lambda: list(self.engine.iter_tree(p.as_folder())))
        ]
        count = len([k for k in keys if not k.endswith("/")])
        if await self._exists(p.bucket, p.as_folder().key):
            keys.append(p.as_folder().key)
        if not keys:
            raise ObsNotFound(f"No such folder: {p.as_folder()}")
        await self._call(self.store.delete, p.bucket, keys)
        return count

    # -- multipart and presigned URLs (browser uploads / downloads through OBS)
    def plan_multipart(self, size: int) -> dict[str, int]:
        """Part size and count for a browser upload of ``size`` bytes (<= 10,000 parts)."""
        part = choose_part_size(size, self.part_size)
        return {"part_size": part, "parts": max(1, -(-size // part))}

    async def create_multipart(
        self, path: str | ObsPath, metadata: dict[str, str] | None = None
    ) -> str:
        """Start a multipart upload to ``path``; returns the upload id."""
        p = self._path(path)
        return str(await self._call(self.store.create_multipart, p.bucket, p.key, metadata))

    def presign_upload_part(
        self, path: str | ObsPath, upload_id: str, part_number: int, expires: int | None = None
    ) -> str:
        """An expiring URL for an HTTP PUT of one part."""
        p = self._path(path)
        return self.store.presign_upload_part(
            p.bucket, p.key, upload_id, part_number, expires or self.presign_expires
        )

    async def complete_multipart(
        self, path: str | ObsPath, upload_id: str, parts: list[tuple[int, str]]
    ) -> dict[str, Any]:
        """Assemble the parts; returns the object's entry."""
        p = self._path(path)
        await self._call(self.store.complete_multipart, p.bucket, p.key, upload_id, parts)
        return await self.stat(p)

    async def abort_multipart(self, path: str | ObsPath, upload_id: str) -> None:
        """Drop an unfinished multipart upload."""
        p = self._path(path)
        await self._call(self.store.abort_multipart, p.bucket, p.key, upload_id)

    def presign_get(
        self, path: str | ObsPath, expires: int | None = None, filename: str | None = None
    ) -> str:
        """An expiring GET URL for one object."""
        p = self._path(path)
        return self.store.presign_get(p.bucket, p.key, expires or self.presign_expires, filename)

    async def default_transit_path(self) -> ObsPath:
        """The default OBS transit folder (created in the embedded store)."""
        if self.transit_path:
            return self._path(self.transit_path).as_folder()
        if self.settings.mode != "embedded":
            raise ObsError(
                "No OBS transit path is configured: set c.ObsService.transit_path "
                "to obs://<bucket>/<folder>/.",
                400,
                "no_transit_path",
            )
        with contextlib.suppress(ObsError):
            await self.create_bucket(DEFAULT_TRANSIT_BUCKET)
        return ObsPath(DEFAULT_TRANSIT_BUCKET, "")

    # -- transfers
    async def download(
        self, path: str | ObsPath, local_path: str, on_progress: Any = None
    ) -> dict[str, Any]:
        """Download one object to a local file (verified, atomic, resumable, cancellable)."""
        info = await self._transfer(
            self.engine.download_file, self._path(path), local_path, on_progress=on_progress
        )
        return {"path": local_path, "size": info.size, "etag": info.etag}

    async def upload(
        self, local_path: str, path: str | ObsPath, on_progress: Any = None
    ) -> dict[str, Any]:
        """Upload one local file to ``path`` (parallel multipart for big files)."""
        etag = await self._transfer(
            self.engine.upload_file, local_path, self._path(path), on_progress=on_progress
        )
        return {"path": str(path), "etag": etag}

    async def copy(
        self, src: str, dst: str, *, drop_last_dir: bool = False, on_progress: Any = None
    ) -> dict[str, int]:
        """Copy a file or folder between OBS and local paths (either direction)."""
        result: TransferResult = await self._transfer(
            self.engine.copy,
            self._location(src),
            self._location(dst),
            drop_last_dir=drop_last_dir,
            on_progress=on_progress,
        )
        return result.to_json()

    def _location(self, path: str) -> Any:
        """An ObsPath, or a workspace path through the one resolver (no escapes, no hidden)."""
        if is_obs(path):
            return location(path)
        serverapp = self.app.serverapp
        root = contents_root(serverapp, self.app.workspace_dir)
        real = str(resolve_path(root, path, hidden_ok=allow_hidden(serverapp)))
        return real + "/" if path.endswith("/") and not real.endswith("/") else real

    def submit_copy(self, src: str, dst: str, drop_last_dir: bool = False) -> Any:
        """Run a copy as a task the UI can watch and cancel (resumable after a restart)."""
        self._location(src), self._location(dst)  # validate now: 400 before 202
        return self.app.tasks.submit(
            COPY_TASK,
            f"Copy {src} to {dst}",
            self._copy_work(src, dst, drop_last_dir),
            meta={"src": src, "dst": dst},
            resume={"src": src, "dst": dst, "drop_last_dir": drop_last_dir},
        )

    def _copy_work(self, src: str, dst: str, drop_last_dir: bool) -> Any:
        async def work(task: Any) -> dict[str, int]:
            def on_progress(done: int, total: int | None) -> None:
                with contextlib.suppress(Exception):
                    task.update(phase="copying", done=done, total=total)

            try:
                return await self.copy(
                    src, dst, drop_last_dir=drop_last_dir, on_progress=on_progress
                )
            except ObsError as e:
                raise TaskError(e.message, status=e.status, reason=e.reason) from None

        return work

    def _resume_copy(self, task: Any) -> Any:
        """An interrupted copy goes on where the engine's resume state says it stopped."""
        data = task.resume
        if not data.get("src") or not data.get("dst"):
            raise TaskError("This copy cannot be resumed; start it again.", status=409)
        self._ready()
        return self._copy_work(data["src"], data["dst"], bool(data.get("drop_last_dir")))

    async def _discard_copy(self, task: Any) -> None:
        """Remove an interrupted copy's partial files and unfinished multipart uploads."""
        data = task.resume
        if not data.get("src") or not data.get("dst") or self._error is not None:
            return
        src, dst = self._location(data["src"]), self._location(data["dst"])
        await self._call(
            functools.partial(
                self.engine.discard_copy, src, dst, drop_last_dir=bool(data.get("drop_last_dir"))
            )
        )
