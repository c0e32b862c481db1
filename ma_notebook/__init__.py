"""ma-notebook: cloud AI notebook conveniences for any JupyterLab 4."""

from __future__ import annotations

try:
    from ._version import __version__
except ImportError:  # pragma: no cover - only in a source tree that was never built
    import warnings

    warnings.warn("Importing 'ma_notebook' outside a proper installation.", stacklevel=2)
    __version__ = "dev"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "ma-notebook"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import MaNotebookApp

    return [{"module": "ma_notebook", "app": MaNotebookApp}]
