"""What counts as a user being active: real requests, busy kernels, terminals; not polling.

Every finished request passes through tornado's ``log_function``; this module wraps it to note
requests a person caused (page loads, saves, runs, uploads: anything that is not a read), while
the front end's background polling (kernels, sessions, contents listings, our own monitor and
lease reads) only ever reads and so never counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tornado.log import access_log

#: Page routes a person opens (below the base URL).
PAGE_PREFIXES = ("lab", "tree", "notebooks", "edit", "view", "doc", "files/")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def is_user_request(handler: Any, base_url: str = "/") -> bool:
    """Whether a finished request was made by a person rather than by background polling."""
    if getattr(handler, "ma_background", False):
        return False
    if not getattr(handler, "_jupyter_current_user", None):
        return False
    status = handler.get_status()
    if status >= 400:
        return False
    request = handler.request
    if request.method not in READ_METHODS:
        return True
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return False  # reconnecting kernel/terminal sockets are automatic
    path = request.path[len(base_url) :] if request.path.startswith(base_url) else request.path
    return path.startswith(PAGE_PREFIXES) and "/api/" not in path and not path.startswith("lab/api")


class ActivityTracker:
    """Remembers when a person last did something, from the requests the server logs."""

    def __init__(self, base_url: str = "/") -> None:
        self.base_url = base_url
        self.last_request = time.time()
        self.last_request_path = ""
        self._wrapped: Callable[..., Any] | None = None
        self._settings: dict[str, Any] | None = None

    def install(self, settings: dict[str, Any]) -> None:
        """Wrap the web app's ``log_function``."""
        previous = settings.get("log_function")
        tracker = self

        def log_function(handler: Any) -> None:
            try:
                if is_user_request(handler, tracker.base_url):
                    tracker.last_request = time.time()
                    tracker.last_request_path = f"{handler.request.method} {handler.request.path}"
            finally:
                if previous is not None:
                    previous(handler)
                else:
                    access_log.debug("%d %s", handler.get_status(), handler._request_summary())

        if previous is not None and getattr(previous, "__ma_activity__", False):
            return
        log_function.__ma_activity__ = True  # type: ignore[attr-defined]
        self._wrapped = previous
        self._settings = settings
        settings["log_function"] = log_function

    def uninstall(self) -> None:
        """Put the original ``log_function`` back."""
        if self._settings is not None:
            if self._wrapped is None:
                self._settings.pop("log_function", None)
            else:
                self._settings["log_function"] = self._wrapped
            self._settings = None


def epoch(value: Any) -> float | None:
    """A datetime (Jupyter's ``last_activity``) as seconds since the epoch."""
    if isinstance(value, datetime):
        return value.timestamp()
    return None
