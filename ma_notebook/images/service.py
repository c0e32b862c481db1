"""The images capability: Save Image as a task (snapshot backend or Docker), and its checks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_runtime_dir
from traitlets import Bool, Float, Integer, List, Type, Unicode, default

from ..api import ApiError
from ..capability import Capability
from ..tasks import Task, TaskError
from .catalog import Catalog, SwrPath
from .registry import docker_config_auth
from .saver import GB, ImageSaver, SaveError, SaveProgress, SaveRequest, SaveSettings
from .snapshot import d_state_processes

#: Folders that belong to the runtime or the user's data, never to the image.
DEFAULT_EXCLUDE = [
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/tmp",  # noqa: S108 - a folder excluded from images, not a temp file
    "/var/tmp",  # noqa: S108
    "/home/ma-user/work",
    "/data",
    "/cache",
]


class SaveBackend:
    """How an image is made from the running notebook; ``save`` runs in a worker thread."""

    name = "base"

    def __init__(self, service: ImageService) -> None:
        self.service = service

    def available(self) -> tuple[bool, str]:
        """Whether this backend can save here, and why not."""
        return True, ""

    def save(
        self,
        req: SaveRequest,
        events: Any,
        progress: SaveProgress,
        cancel: threading.Event,
    ) -> dict[str, Any]:
        """Make and push the image; SaveError on failure."""
        raise NotImplementedError


class SnapshotBackend(SaveBackend):
    """From inside the container: walk '/', diff against the baseline, push one new layer."""

    name = "snapshot"

    def available(self) -> tuple[bool, str]:
        """Available when the baseline index exists (or can be recorded at start)."""
        path = self.service.baseline_file()
        if path.exists():
            return True, ""
        return False, f"no baseline index at {path}: start from a notebook image that records one"

    def save(
        self, req: SaveRequest, events: Any, progress: SaveProgress, cancel: threading.Event
    ) -> dict[str, Any]:
        """Run the snapshotter and push."""
        saver = ImageSaver(self.service.settings(), events, progress, cancel)
        return saver.run(req)


class ImageService(Capability):
    """Save Image: the running environment as a new image in the registry."""

    name = "images"

    root = Unicode(
        "/", config=True, help="The folder that stands for the container's '/'. Default: '/'."
    )
    baseline_path = Unicode(
        "/opt/ma-notebook/baseline.jsonl.gz",
        config=True,
        help="Where the image's baseline index lives (written when the image is built). Default: "
        "/opt/ma-notebook/baseline.jsonl.gz; when missing and not writable, <data_dir>/baseline.",
    )
    record_baseline_at_start = Bool(
        config=True,
        help="Record a baseline index at first start when the image has none (a walk of the "
        "whole root). Default: True inside a notebook container (MA_NOTEBOOK_IMAGE is set).",
    )
    image = Unicode(
        config=True,
        help="The image this container runs, as pushed to its registry (registry/org/name:tag): "
        "Save Image reuses its layers. Default: $MA_NOTEBOOK_IMAGE, else the baseline's "
        "'base_image'.",
    )
    exclude = List(
        Unicode(),
        config=True,
        help="Folders never saved into the image (besides every mount point). Default: "
        + ", ".join(DEFAULT_EXCLUDE)
        + ", the workspace and ma-notebook's data folder.",
    )
    registry = Unicode(
        config=True,
        help="Registry host[:port] images are saved to (registry/organization/name:tag). "
        "Default: $MA_NOTEBOOK_REGISTRY.",
    )
    insecure_registries = List(
        Unicode(),
        config=True,
        help="Registries reached over plain HTTP (loopback registries always are). Default: [].",
    )
    registry_username = Unicode(
        config=True, help="User name for the registry. Default: from the Docker config.json."
    )
    registry_password = Unicode(
        config=True, help="Password or token for the registry (never logged). Default: ''."
    )
    docker_config = Unicode(
        config=True,
        help="A Docker config.json with registry logins. Default: ~/.docker/config.json.",
    )
    max_size_gb = Float(35.0, config=True, help="Largest image that may be saved, GB. Default: 35.")
    max_layers = Integer(125, config=True, help="Most layers a saved image may have. Default: 125.")
    backend_class = Type(
        SnapshotBackend,
        klass=SaveBackend,
        config=True,
        help="How images are made: SnapshotBackend (from inside the container, default) or "
        "ma_notebook.images.docker_backend.DockerBackend (docker commit + push through a socket).",
    )

    @default("record_baseline_at_start")
    def _default_record(self) -> bool:
        return bool(os.environ.get("MA_NOTEBOOK_IMAGE"))

    @default("image")
    def _default_image(self) -> str:
        return os.environ.get("MA_NOTEBOOK_IMAGE", "")

    @default("registry")
    def _default_registry(self) -> str:
        return os.environ.get("MA_NOTEBOOK_REGISTRY", "")

    @default("exclude")
    def _default_exclude(self) -> list[str]:
        return list(DEFAULT_EXCLUDE)

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.backend = self.backend_class(self)
        self._baseline_task: asyncio.Future[Any] | None = None

    # -- configuration ----------------------------------------------------------------------

    def baseline_file(self) -> Path:
        """The baseline index in use: the image's own, else the data-dir one."""
        path = Path(self.baseline_path)
        if self.root != "/" and not path.exists():
            path = Path(self.root, self.baseline_path.lstrip("/"))  # the path inside the root
        if path.exists() or os.access(path.parent if path.parent.exists() else "/", os.W_OK):
            return path
        return Path(self.app.data_dir) / "baseline" / path.name

    def settings(self) -> SaveSettings:
        """The saver's settings from the traits."""
        credentials: dict[str, tuple[str, str]] = {}
        if self.registry and self.registry_username:
            credentials[self.registry] = (self.registry_username, self.registry_password)
        elif self.registry:
            found = docker_config_auth(self.registry, self.docker_config or None)
            if found:
                credentials[self.registry] = found
        # The runtime dir holds the server's token and cookie secret: never in an image.
        exclude = [*self.exclude, self.app.workspace_dir, self.app.data_dir, jupyter_runtime_dir()]
        return SaveSettings(
            root=self.root,
            baseline_path=str(self.baseline_file()),
            exclude=exclude,
            work_dir=str(Path(self.app.data_dir) / "save-image"),
            max_size_bytes=int(self.max_size_gb * GB),
            max_layers=self.max_layers,
            insecure_registries=list(self.insecure_registries),
            credentials=credentials,
            image=self.image,
            image_index=self.baseline_path,
        )

    def info(self) -> dict[str, Any]:
        """Whether Save Image can work here, and the registry it saves to."""
        ok, reason = self.backend.available()
        info: dict[str, Any] = {
            "available": ok and bool(self.registry),
            "backend": self.backend.name,
            "registry": self.registry,
        }
        if not ok:
            info["reason"] = reason
        elif not self.registry:
            info["reason"] = "no registry configured: set ImageService.registry"
        return info

    async def start(self) -> None:
        """Record a baseline at first start when the image brought none."""
        if self.record_baseline_at_start and isinstance(self.backend, SnapshotBackend):
            path = self.baseline_file()
            if not path.exists():
                self._baseline_task = asyncio.ensure_future(asyncio.to_thread(self._record, path))

    def _record(self, path: Path) -> None:
        # Imported here: `python -m ma_notebook.images.baseline` must not find it imported.
        from . import baseline

        settings = self.settings()
        saver = ImageSaver(settings, lambda *a: None)
        header = baseline.record(
            str(path), root=settings.root, base_image=self.image, skip=saver.skip_paths()
        )
        count = header["entries"]
        self.log.info("ma-notebook: recorded a baseline index of %d entries at %s", count, path)

    async def stop(self) -> None:
        """Nothing runs outside tasks; the task manager cancels saves."""
        if self._baseline_task is not None:
            self._baseline_task.cancel()

    # -- checks and saving --------------------------------------------------------------------

    def check(self) -> dict[str, Any]:
        """What the Save Image dialog shows before saving: blockers and warnings."""
        kernels = 0
        km = getattr(self.app.serverapp, "kernel_manager", None)
        if km is not None:
            kernels = len(km.list_kernel_ids())
        stuck = d_state_processes()
        ok, reason = self.backend.available()
        return {
            "available": ok and bool(self.registry),
            "reason": reason or ("" if self.registry else "no registry configured"),
            "registry": self.registry,
            "backend": self.backend.name,
            "running_kernels": kernels,
            "d_state": [{"pid": pid, "command": cmd} for pid, cmd in stuck],
            "max_size_gb": self.max_size_gb,
            "max_layers": self.max_layers,
        }

    def catalogue(
        self, organization: str, name: str, tag: str, description: str, result: dict[str, Any]
    ) -> None:
        """List a saved image in the image catalogue (``ma-cli image get-image``)."""
        try:
            Catalog(Path(self.app.data_dir) / "images.sqlite3").add(
                SwrPath(organization, name, tag),
                registry=self.registry,
                overwrite=True,
                origin="SAVED",
                description=description,
                digest=str(result.get("digest", "")),
                size=int(result.get("layer_size", 0)),
            )
        except Exception:  # the image is saved; the listing is a convenience
            self.log.exception("ma-notebook: could not list the saved image in the catalogue")

    def target(self, organization: str, name: str, tag: str) -> str:
        """The full image reference for the dialog's fields."""
        if not self.registry:
            raise ApiError(
                409, "No registry is configured for Save Image: set ImageService.registry."
            )
        return f"{self.registry}/{organization}/{name}:{tag}"

    def submit_save(
        self, organization: str, name: str, tag: str, description: str, squash: bool
    ) -> Task:
        """Start saving as a task; its phases are snapshotting, pushing, done."""
        target = self.target(organization, name, tag)
        ok, reason = self.backend.available()
        if not ok:
            raise ApiError(409, f"Save Image cannot work here: {reason}.")
        req = SaveRequest(target=target, description=description, squash=squash)
        loop = asyncio.get_running_loop()
        events = self.app.events

        def record(kind: str, severity: str, message: str) -> None:
            loop.call_soon_threadsafe(events.record, kind, severity, message)

        async def work(task: Task) -> dict[str, Any]:
            cancel = threading.Event()

            def changed(p: SaveProgress) -> None:
                def apply() -> None:
                    done = p.bytes_written if p.phase == "snapshotting" else p.bytes_pushed
                    task.meta.update(
                        files_walked=p.files_walked,
                        bytes_written=p.bytes_written,
                        bytes_pushed=p.bytes_pushed,
                    )
                    try:
                        task.update(phase=p.phase, done=done, total=p.bytes_total or None)
                    except Exception:  # the task is being cancelled
                        cancel.set()

                loop.call_soon_threadsafe(apply)

            progress = SaveProgress(on_change=changed)
            future = loop.run_in_executor(None, self.backend.save, req, record, progress, cancel)
            try:
                result = await asyncio.shield(future)
                self.catalogue(organization, name, tag, description, result)
                return result
            except asyncio.CancelledError:
                cancel.set()
                with contextlib.suppress(SaveError):
                    await future
                raise
            except SaveError as e:
                raise TaskError(e.message, status=409, reason=e.reason) from None

        return self.app.tasks.submit(
            "images.save", f"Save image {target}", work, meta={"image": target}
        )
