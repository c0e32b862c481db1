"""Test configuration: the shared fixtures live in ma_fixtures.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["ma_fixtures"]


# Overrides pytest-jupyter's fixture of the same name (conftest fixtures win over plugins).
@pytest.fixture
def jp_server_config(ma_data_dir: Path, jp_root_dir: Path, ma_config: dict[str, Any]) -> dict:
    """Server config: our extension enabled and unauthenticated access forbidden."""
    return {
        "ServerApp": {
            # terminals are not ours and register an undecorated websocket handler
            "jpserver_extensions": {"ma_notebook": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "MaNotebookApp": {
            "data_dir": str(ma_data_dir),
            "workspace_dir": str(jp_root_dir),
            **ma_config,
        },
    }
