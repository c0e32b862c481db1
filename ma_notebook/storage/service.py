"""The storage service: dynamic OBS mounts under /data and online growth of the workspace disk.

Mounts follow the platform's state machine: MOUNTING -> MOUNTED | MOUNT_FAILED, and
UNMOUNTING -> UNMOUNTED | UNMOUNT_FAILED. They are kept in ``<data_dir>/storage/mounts.json``
(no secrets), restored when the server starts and unmounted when it stops. A health check finds
mounts whose helper died (ENOTCONN), marks them MOUNT_FAILED and unmounts them lazily so that
one remount brings them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Float, Integer, Type, Unicode

from ..api import ApiError, quote
from ..capability import Capability
from ..obs.errors import ObsError
from ..obs.paths import ObsPath
from ..tasks import Task, TaskError
from . import rules, system
from .backends import BindBackend, MountBackend, MountError, MountSource, RcloneBackend, S3fsBackend
from .volumes import GiB, LocalVolumeProvider, VolumeError, VolumeProvider, statvfs_size

MOUNTING, MOUNTED, MOUNT_FAILED = "MOUNTING", "MOUNTED", "MOUNT_FAILED"
UNMOUNTING, UNMOUNTED, UNMOUNT_FAILED = "UNMOUNTING", "UNMOUNTED", "UNMOUNT_FAILED"
STORAGE_TYPE = "OBS"
BACKENDS: dict[str, type[MountBackend]] = {
    "rclone": RcloneBackend,
    "s3fs": S3fsBackend,
    "bind": BindBackend,
}


@dataclass
class Mount:
    """One dynamic mount (what is persisted; never a secret)."""

    id: str
    uri: str
    bucket: str
    prefix: str
    mount_path: str
    real_path: str
    read_only: bool
    backend: str
    status: str = MOUNTING
    message: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    made_folder: bool = False
    type: str = STORAGE_TYPE

    def set(self, status: str, message: str = "") -> None:
        """Move to ``status``."""
        self.status, self.message, self.updated = status, message, time.time()

    @property
    def active(self) -> bool:
        """Whether it takes a slot (anything but UNMOUNTED)."""
        return self.status != UNMOUNTED

    def to_json(self) -> dict[str, Any]:
        """The mount as the API returns it."""
        return {
            "id": self.id,
            "type": self.type,
            "backend": self.backend,
            "uri": self.uri,
            "mount_path": self.mount_path,
            "read_only": self.read_only,
            "status": self.status,
            "message": self.message,
            "created": self.created,
            "updated": self.updated,
        }


class StorageService(Capability):
    """Dynamic OBS mounts at /data/<name>/ and the growable workspace disk."""

    name = "storage"

    data_root = Unicode(
        rules.DATA_ROOT,
        config=True,
        help="The folder that users see as /data (mounts go into its subfolders). Tests point "
        "it at a temporary folder. Default: /data.",
    )
    backend_class = Type(
        RcloneBackend,
        klass=MountBackend,
        config=True,
        help="How OBS folders are mounted: ma_notebook.storage.backends.RcloneBackend (one "
        "`rclone rcd` for all mounts), S3fsBackend (s3fs/obsfs) or BindBackend (embedded "
        "store only). Default: RcloneBackend.",
    )
    volume_provider_class = Type(
        LocalVolumeProvider,
        klass=VolumeProvider,
        config=True,
        help="What the workspace disk is: ma_notebook.storage.volumes.LocalVolumeProvider (a "
        "loop-mounted XFS image) or KubernetesVolumeProvider (the workspace PVC). Default: "
        "LocalVolumeProvider.",
    )
    max_mounts_per_type = Integer(
        rules.MAX_PER_TYPE, config=True, help="Mounts allowed per storage type. Default: 5."
    )
    health_interval = Float(
        15.0, config=True, help="Seconds between health checks of the mounts. Default: 15."
    )
    health_timeout = Float(
        5.0, config=True, help="Seconds a mount may take to answer a health check. Default: 5."
    )

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.state_dir = Path(app.data_dir) / "storage"
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._backends: dict[str, MountBackend] = {}
        self.volume: VolumeProvider = self.volume_provider_class(
            Path(app.workspace_dir), self.state_dir, parent=self
        )
        self._mounts: dict[str, Mount] = {}
        self._jobs: set[asyncio.Task[Any]] = set()
        self._health_task: asyncio.Task[None] | None = None
        self._volume_status, self._volume_message = "ready", ""
        self._load()

    # -- backends and persistence
    @property
    def default_backend(self) -> str:
        """Name of the configured backend."""
        return str(self.backend_class.name)

    def backend(self, name: str | None = None) -> MountBackend:
        """The backend instance called ``name`` (the configured one by default)."""
        name = name or self.default_backend
        if name not in self._backends:
            cls = self.backend_class if name == self.default_backend else BACKENDS.get(name)
            if cls is None:
                raise MountError(f"Unknown mount backend {name!r}.")
            self._backends[name] = cls(self.state_dir, parent=self)
        return self._backends[name]

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "mounts.json"

    def _load(self) -> None:
        try:
            records = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return
        for record in records if isinstance(records, list) else []:
            with contextlib.suppress(TypeError):
                m = Mount(**record)
                self._mounts[m.id] = m

    def _save(self) -> None:
        records = [asdict(m) for m in self._mounts.values() if m.active]
        tmp = self._state_file.with_name("mounts.json.tmp")
        tmp.write_text(json.dumps(records, indent=1))
        os.replace(tmp, self._state_file)

    def _spawn(self, coro: Any) -> None:
        job = asyncio.ensure_future(coro)
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    def _event(self, type_: str, severity: str, message: str, m: Mount) -> None:
        self.app.events.record(
            type_, severity, message, mount_id=m.id, uri=m.uri, mount_path=m.mount_path
        )

    def _source(self, m: Mount) -> MountSource:
        obs: Any = self.app.services.get("obs")
        if obs is None:
            raise MountError("The obs capability is disabled, so OBS folders cannot be mounted.")
        try:
            settings = obs.settings
        except ObsError as e:
            raise MountError(e.message) from None
        return MountSource(m.bucket, m.prefix, settings)

    # -- info and lifecycle
    def info(self) -> dict[str, Any]:
        """Whether mounts work here, and why not."""
        reason = None
        try:
            reason = self.backend().unavailable()
        except MountError as e:
            reason = str(e)
        if reason is None and not (os.path.isdir(self.data_root) or os.geteuid() == 0):
            reason = f"{self.data_root} does not exist and cannot be created by this user."
        volume = self.volume.name
        out: dict[str, Any] = {
            "available": reason is None,
            "backend": self.default_backend,
            "data_root": rules.DATA_ROOT,
            "volume_provider": volume,
        }
        if reason:
            out["reason"] = reason
        return out

    async def start(self) -> None:
        """Reattach the workspace volume, restore the mounts, start the health checks."""
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.volume.start)
        for m in list(self._mounts.values()):
            if m.status in (MOUNTED, MOUNTING, MOUNT_FAILED):
                self._spawn(self._restore(m))
            elif m.status in (UNMOUNTING, UNMOUNT_FAILED):
                self._spawn(self._do_unmount(m, lazy=True))
        self._health_task = asyncio.ensure_future(self._health_loop())

    async def _restore(self, m: Mount) -> None:
        real = Path(m.real_path)
        if system.mount_at(real) is not None:
            problem = await self._probe(real)
            if problem is None and m.backend == "bind":
                m.set(MOUNTED, "")
                self._save()
                return
            await asyncio.to_thread(system.unmount, real, True)
        m.set(MOUNTING, "Restoring after a server restart.")
        self._save()
        await self._do_mount(m)

    async def stop(self) -> None:
        """Unmount everything (kept for restore at the next start) and stop the helpers."""
        if self._health_task is not None:
            self._health_task.cancel()
        for job in list(self._jobs):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(job, 30)
        for m in self._mounts.values():
            if m.status == MOUNTED or system.mount_at(m.real_path) is not None:
                try:
                    backend = self.backend(m.backend)
                    if system.holders(m.real_path, backend.helper_pids()):
                        await backend.unmount(m.id, Path(m.real_path), lazy=True)
                    else:
                        await backend.unmount(m.id, Path(m.real_path))
                except MountError as e:
                    self.log.warning("ma-notebook storage: unmount of %s failed: %s", m.id, e)
                    await asyncio.to_thread(system.unmount, m.real_path, True)
        self._save()
        for backend in self._backends.values():
            try:
                await backend.stop()
            except Exception:
                self.log.exception("ma-notebook storage: stopping %s failed", backend.name)

    # -- health
    async def _probe(self, real: Path) -> str | None:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(system.health, real), self.health_timeout
            )
        except asyncio.TimeoutError:
            return f"The mount did not answer within {self.health_timeout:g} s."

    async def check_health(self) -> None:
        """Mark MOUNTED mounts whose helper died as MOUNT_FAILED and unmount them lazily."""
        for m in list(self._mounts.values()):
            if m.status != MOUNTED:
                continue
            real = Path(m.real_path)
            if system.mount_at(real) is None:
                problem: str | None = "The mount disappeared (unmounted outside ma-notebook)."
            else:
                problem = await self._probe(real)
            if problem is None:
                continue
            self.log.warning("ma-notebook storage: %s failed: %s", m.mount_path, problem)
            m.set(MOUNT_FAILED, problem + " Remount it to bring it back.")
            self._save()
            self._event(
                "DynamicMountStorageFailed",
                "Critical",
                f"The storage mounted at {m.mount_path} failed: {problem}",
                m,
            )
            with contextlib.suppress(MountError):
                await self.backend(m.backend).unmount(m.id, real, lazy=True)
            if system.mount_at(real) is not None:
                await asyncio.to_thread(system.unmount, real, True)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                await self.check_health()
            except Exception:
                self.log.exception("ma-notebook storage: health check failed")

    # -- mounts
    def list(self) -> list[Mount]:
        """Mounts that are not unmounted, oldest first."""
        return sorted((m for m in self._mounts.values() if m.active), key=lambda m: m.created)

    def get(self, mount_id: str) -> Mount:
        """One mount, or 404."""
        m = self._mounts.get(mount_id)
        if m is None:
            raise ApiError(
                404, f"No mount {quote(mount_id)}: it was unmounted.", reason="not_found"
            )
        return m

    async def submit_mount(self, uri: str, mount_path: str, read_only: bool = False) -> Mount:
        """Check the request against the rules, create the folder and start mounting."""
        shown, real = rules.check_mount_path(mount_path, Path(self.data_root))
        try:
            uri.encode("utf-8")
            path = ObsPath.parse(uri.strip())
        except UnicodeEncodeError:
            raise ApiError(400, "The OBS path is not valid UTF-8.", reason="bad_path") from None
        except ObsError as e:
            raise ApiError(400, e.message, reason=e.reason) from None
        if path.is_root:
            raise ApiError(400, "Name a bucket to mount: obs://bucket/dir/.", reason="no_bucket")
        prefix = path.key.strip("/")
        backend = self.backend()
        reason = backend.unavailable()
        if reason:
            raise ApiError(409, f"Mounting is not available here: {reason}", reason="unavailable")
        active = [m for m in self._mounts.values() if m.active and m.type == STORAGE_TYPE]
        if len(active) >= self.max_mounts_per_type:
            raise ApiError(
                409,
                f"At most {self.max_mounts_per_type} {STORAGE_TYPE} mounts are allowed; "
                "unmount one first.",
                reason="limit",
            )
        for m in active:
            a, b = m.mount_path, shown
            if a.startswith(b) or b.startswith(a):
                raise ApiError(
                    409,
                    f"{shown} overlaps the mount at {m.mount_path}: choose another folder.",
                    reason="in_use",
                )
        if real.exists() and (not real.is_dir() or any(real.iterdir())):
            raise ApiError(
                409,
                f"{shown} exists and is not an empty folder: choose a new /data/<name>/.",
                reason="not_empty",
            )
        if system.mount_at(real) is not None:
            raise ApiError(409, f"{shown} is already a mount point.", reason="in_use")
        obs: Any = self.app.services.get("obs")
        if obs is not None:
            try:
                await obs.stat(ObsPath(path.bucket, ""))
            except ObsError as e:
                raise ApiError(e.status, e.message, reason=e.reason) from None
        made = not real.exists()
        try:
            real.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ApiError(409, f"Cannot create {shown}: {e.strerror}.", reason="mkdir") from None
        canonical = f"obs://{path.bucket}/" + (f"{prefix}/" if prefix else "")
        m = Mount(
            id=uuid.uuid4().hex,
            uri=canonical,
            bucket=path.bucket,
            prefix=prefix,
            mount_path=shown,
            real_path=str(real),
            read_only=read_only,
            backend=self.default_backend,
            made_folder=made,
        )
        self._mounts[m.id] = m
        self._save()
        self._spawn(self._do_mount(m))
        return m

    async def _do_mount(self, m: Mount) -> None:
        real = Path(m.real_path)
        try:
            real.mkdir(parents=True, exist_ok=True)
            await self.backend(m.backend).mount(m.id, self._source(m), real, m.read_only)
            problem = await self._probe(real)
            if problem:
                raise MountError(problem)
        except (MountError, OSError) as e:
            message = str(e) if isinstance(e, MountError) else f"{e.strerror or e}"
            self.log.warning("ma-notebook storage: mounting %s failed: %s", m.mount_path, message)
            if system.mount_at(real) is not None:
                await asyncio.to_thread(system.unmount, real, True)
            m.set(MOUNT_FAILED, message)
            self._save()
            self._event(
                "DynamicMountStorageFailed",
                "Critical",
                f"Mounting {m.uri} at {m.mount_path} failed: {message}",
                m,
            )
            return
        m.set(MOUNTED, "")
        self._save()
        self._event("DynamicMountStorage", "Major", f"Mounted {m.uri} at {m.mount_path}.", m)

    async def remount(self, mount_id: str) -> Mount:
        """Mount a failed mount again."""
        m = self.get(mount_id)
        if m.status not in (MOUNT_FAILED,):
            raise ApiError(
                409,
                f"The mount is {m.status}; only failed mounts can be remounted.",
                reason="state",
            )
        real = Path(m.real_path)
        if system.mount_at(real) is not None:
            await asyncio.to_thread(system.unmount, real, True)
        m.set(MOUNTING, "")
        self._save()
        self._spawn(self._do_mount(m))
        return m

    async def submit_unmount(self, mount_id: str, force: bool = False) -> Mount:
        """Start unmounting; 409 naming the processes that hold the folder unless ``force``."""
        m = self.get(mount_id)
        if m.status in (MOUNTING, UNMOUNTING):
            raise ApiError(409, f"The mount is {m.status}: wait for it to finish.", reason="state")
        if m.status == UNMOUNTED:
            return m
        real = Path(m.real_path)
        if not force and system.mount_at(real) is not None:
            exclude = self.backend(m.backend).helper_pids()
            busy = await asyncio.to_thread(system.holders, real, exclude)
            if busy:
                names = ", ".join(str(h) for h in busy[:10])
                raise ApiError(
                    409,
                    f"{m.mount_path} is in use by {names}. Close them, or confirm to force a "
                    "lazy unmount (it detaches now and finishes when they let go).",
                    reason="busy",
                )
        m.set(UNMOUNTING, "")
        self._save()
        self._spawn(self._do_unmount(m, lazy=force))
        return m

    async def _do_unmount(self, m: Mount, lazy: bool) -> None:
        real = Path(m.real_path)
        try:
            if system.mount_at(real) is not None:
                await self.backend(m.backend).unmount(m.id, real, lazy=lazy)
            elif m.backend in self._backends:
                with contextlib.suppress(MountError):
                    await self.backend(m.backend).unmount(m.id, real, lazy=True)
        except MountError as e:
            m.set(UNMOUNT_FAILED, str(e))
            self._save()
            self._event(
                "DynamicUnmountStorageFailed",
                "Critical",
                f"Unmounting {m.mount_path} failed: {e}",
                m,
            )
            return
        if m.made_folder and system.mount_at(real) is None:
            with contextlib.suppress(OSError):
                real.rmdir()
        m.set(UNMOUNTED, "")
        self._save()
        self._event("DynamicUnmountStorage", "Major", f"Unmounted {m.mount_path} ({m.uri}).", m)

    # -- the workspace disk
    def volume_info(self) -> dict[str, Any]:
        """The workspace disk: type, size, whether it can grow, the limits."""
        state = self.volume.state()
        workspace = Path(self.app.workspace_dir)
        total, used = statvfs_size(workspace)
        return {
            "type": self.volume.name,
            "mount_path": str(workspace),
            "total_bytes": total,
            "used_bytes": used,
            "capacity_gb": state.capacity_gb,
            "expandable": state.expandable,
            "reason": state.reason,
            "status": self._volume_status,
            "message": self._volume_message,
            "max_step_gb": rules.MAX_STEP_GB,
            "max_total_gb": rules.MAX_TOTAL_GB,
        }

    async def submit_expand(self, increase_gb: int) -> Task:
        """Check the growth against the rules and grow the disk in a task."""
        if self._volume_status == "Expanding":
            raise ApiError(409, "The disk is being expanded already: wait for it.", reason="busy")
        state = await asyncio.to_thread(self.volume.state)
        current = state.capacity_gb
        if current is None:
            current = statvfs_size(self.app.workspace_dir)[0] / GiB
        new_total = rules.check_increase(increase_gb, current)
        if not state.expandable:
            raise ApiError(409, state.reason, reason="not_expandable")
        loop = asyncio.get_running_loop()
        self._volume_status, self._volume_message = "Expanding", f"Growing to {new_total:g} GB."

        async def work(task: Task) -> Any:
            def progress(phase: str, message: str) -> None:
                loop.call_soon_threadsafe(lambda: task.update(phase=phase, message=message))

            try:
                await asyncio.to_thread(self.volume.expand, new_total, progress)
            except (VolumeError, OSError) as e:
                message = str(e)
                self._volume_status, self._volume_message = "failed", message
                self.app.events.record(
                    "UpdateStorageSizeFailed",
                    "Critical",
                    f"Expanding the workspace disk to {new_total:g} GB failed: {message}",
                    increase_gb=increase_gb,
                )
                raise TaskError(message, reason="expand_failed") from None
            except BaseException:
                self._volume_status, self._volume_message = "failed", "Cancelled."
                raise
            self._volume_status, self._volume_message = "ready", ""
            self.app.events.record(
                "UpdateStorageSize",
                "Major",
                f"The workspace disk grew by {increase_gb} GB to {new_total:g} GB.",
                increase_gb=increase_gb,
                total_gb=new_total,
            )
            return self.volume_info()

        return self.app.tasks.submit(
            "storage-expand",
            f"Expand the workspace disk by {increase_gb} GB",
            work,
            meta={"increase_gb": increase_gb, "total_gb": new_total},
        )
