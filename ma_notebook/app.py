"""The ma-notebook Jupyter server extension."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import List, Unicode, default

from . import __version__
from .capability import Capability
from .events import EventLog
from .events import handlers as events_handlers
from .handlers import default_handlers as core_handlers
from .tasks import TaskManager
from .tasks import handlers as tasks_handlers

#: Capability packages; each exposes ``CAPABILITY`` and ``handlers.default_handlers``.
CAPABILITY_PACKAGES: list[str] = [
    "ma_notebook.obs",
    "ma_notebook.git",
    "ma_notebook.visualization",
    "ma_notebook.scheduler",
    "ma_notebook.upload",
    "ma_notebook.ssh",
    "ma_notebook.images",
    "ma_notebook.storage",
    "ma_notebook.monitor",
]

DEFAULT_WORKSPACE = "/home/ma-user/work"


class MaNotebookApp(ExtensionApp):
    """Server side of ma-notebook: REST APIs, the event log, tasks and capability services."""

    name = "ma_notebook"
    description = __doc__ or ""
    load_other_extensions = True

    workspace_dir = Unicode(
        config=True,
        help=(
            "Folder users work in (uploads, clones and summaries land here). Default: "
            f"{DEFAULT_WORKSPACE} when it exists, else the server's root_dir."
        ),
    )

    data_dir = Unicode(
        config=True,
        help=(
            "Folder for ma-notebook's own state (event log, embedded object store, task data). "
            "Default: <jupyter data dir>/ma_notebook, e.g. ~/.local/share/jupyter/ma_notebook."
        ),
    )

    disabled_capabilities = List(
        Unicode(),
        config=True,
        help="Capabilities to leave off, by name (for example ['ssh']). Default: none.",
    )

    @default("workspace_dir")
    def _default_workspace_dir(self) -> str:
        if os.path.isdir(DEFAULT_WORKSPACE):
            return DEFAULT_WORKSPACE
        root = getattr(self.serverapp, "root_dir", None) if self.serverapp else None
        return str(Path(root or os.getcwd()).expanduser().resolve())

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return os.path.join(jupyter_data_dir(), "ma_notebook")

    def initialize_settings(self) -> None:
        """Create the event log, the task manager and every capability service."""
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        self.events = EventLog(Path(self.data_dir) / "events.sqlite3", parent=self, log=self.log)
        self.tasks = TaskManager(Path(self.data_dir) / "tasks.sqlite3", parent=self, log=self.log)
        self.services: dict[str, Capability] = {}
        self._capability_handlers: list[tuple[Any, ...]] = []
        for package in CAPABILITY_PACKAGES:
            module = importlib.import_module(package)
            cls: type[Capability] = module.CAPABILITY
            if cls.name in self.disabled_capabilities:
                continue
            self.services[cls.name] = cls(self)
            handlers = importlib.import_module(f"{package}.handlers")
            self._capability_handlers.extend(handlers.default_handlers)
        self.events.record(
            "NotebookHealthy",
            "Major",
            f"The notebook server is running and healthy (ma-notebook {__version__}).",
        )
        self.log.info(
            "ma-notebook %s: workspace %s, data %s", __version__, self.workspace_dir, self.data_dir
        )

    def initialize_handlers(self) -> None:
        """Register the REST routes of the core and of every enabled capability."""
        self.handlers.extend(core_handlers)
        self.handlers.extend(events_handlers.default_handlers)
        self.handlers.extend(tasks_handlers.default_handlers)
        self.handlers.extend(self._capability_handlers)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        for service in self.services.values():
            try:
                await service.start()
            except Exception:
                self.log.exception("ma-notebook: starting %s failed", service.name)
        try:
            await self.tasks.sweep()
        except Exception:
            self.log.exception("ma-notebook: discarding expired interrupted tasks failed")

    async def stop_extension(self) -> None:
        """Stop tasks and capability services, and record that the notebook stopped."""
        await self.tasks.stop()
        self.tasks.close()
        for service in self.services.values():
            try:
                await service.stop()
            except Exception:
                self.log.exception("ma-notebook: stopping %s failed", service.name)
        if not getattr(self, "stop_recorded", False):  # the auto-stop records its own
            self.events.record("StopNotebook", "Major", "The notebook server has been stopped.")
        self.events.close()

    def api_routes(self) -> list[tuple[Any, ...]]:
        """Every REST route of ma-notebook: its own handlers and routes services installed."""
        routes = list(self.handlers)
        for service in self.services.values():
            routes.extend(getattr(service, "api_routes", []))
        return routes

    def capabilities_info(self) -> dict[str, Any]:
        """What each capability can do on this machine, for GET /ma-notebook/api/info."""
        info: dict[str, Any] = {"events": {"available": True}, "tasks": {"available": True}}
        for name, service in self.services.items():
            try:
                info[name] = service.info()
            except Exception as e:
                info[name] = {"available": False, "reason": str(e)}
        return info
