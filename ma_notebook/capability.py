"""The base class every capability service derives from, and how the app finds them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from traitlets.config import LoggingConfigurable

if TYPE_CHECKING:
    from .app import MaNotebookApp


class Capability(LoggingConfigurable):
    """A capability's service: configured from the app's config, started and stopped with it.

    A capability package ``ma_notebook.<name>`` exposes its subclass as ``CAPABILITY`` in its
    ``__init__`` and its routes as ``handlers.default_handlers``; the app lists the package in
    ``CAPABILITY_PACKAGES``. Handlers reach the service as ``self.service("<name>")``.
    """

    #: Key under which the service is registered and reported by GET /ma-notebook/api/info.
    name: ClassVar[str] = ""

    def __init__(self, app: MaNotebookApp, **kwargs: Any) -> None:
        super().__init__(parent=app, log=app.log, **kwargs)
        self.app = app

    def info(self) -> dict[str, Any]:
        """What GET /ma-notebook/api/info says about this capability on this machine."""
        return {"available": True}

    async def start(self) -> None:
        """Start background work once the server's event loop runs."""

    async def stop(self) -> None:
        """Stop everything this capability started (processes, timers, mounts)."""
