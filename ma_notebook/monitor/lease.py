"""Auto-stop as a lease: a deadline the user renews, kept on disk, and what runs when it ends.

The stop action is pluggable (``MonitorService.stop_action_class``): the default shuts this
Jupyter server down cleanly; a deployment points it at its platform (e.g. ask JupyterHub to stop
this single-user server) by subclassing :class:`StopAction`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import LoggingConfigurable

if TYPE_CHECKING:
    from .service import MonitorService

#: Renewals accepted through the API, in hours.
MIN_HOURS = 1
MAX_HOURS = 72


@dataclass
class LeaseState:
    """The auto-stop lease: whether it is on and when it ends."""

    enabled: bool
    deadline: float
    duration_seconds: float
    renewed_at: float
    warned: bool = False

    def remaining(self, now: float | None = None) -> float:
        """Seconds left until the deadline (negative when past)."""
        return self.deadline - (time.time() if now is None else now)


class LeaseStore:
    """Keeps the lease in a JSON file so it survives a server restart."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> LeaseState | None:
        """The stored lease, or None when there is none (or it is unreadable)."""
        try:
            data = json.loads(self.path.read_text())
            return LeaseState(
                enabled=bool(data["enabled"]),
                deadline=float(data["deadline"]),
                duration_seconds=float(data["duration_seconds"]),
                renewed_at=float(data.get("renewed_at", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, state: LeaseState) -> None:
        """Write the lease atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = asdict(state)
        data.pop("warned", None)
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)


class StopAction(LoggingConfigurable):
    """What happens when the lease ends or the notebook is idle: subclass to plug a platform in.

    ``reason`` is ``"lease"`` or ``"idle"``. The event (``StopNotebook`` or
    ``StopNotebookResourceIdle``) is recorded before :meth:`stop` is called.
    """

    #: Short description shown by GET /ma-notebook/api/lease.
    description = "stop"

    async def stop(self, service: MonitorService, reason: str) -> None:
        """Stop the notebook."""
        raise NotImplementedError


class ShutdownServer(StopAction):
    """Shut this Jupyter server down cleanly (kernels and terminals first), as Ctrl+C would."""

    description = "shut down the Jupyter server"

    async def stop(self, service: MonitorService, reason: str) -> None:
        """Ask the server app to stop on its event loop."""
        service.log.warning("ma-notebook: stopping the Jupyter server (%s)", reason)
        serverapp = service.app.serverapp
        if serverapp is not None:
            serverapp.stop()


class RecordOnly(StopAction):
    """Only record the event (for deployments whose platform stops the container itself)."""

    description = "record the event only"

    async def stop(self, service: MonitorService, reason: str) -> None:
        """Do nothing but log."""
        service.log.warning(
            "ma-notebook: auto-stop reached (%s); stop action is record-only", reason
        )


def stop_action_description(action: Any) -> str:
    """A human description of a stop action object or callable."""
    return str(getattr(action, "description", None) or getattr(action, "__name__", "custom"))
