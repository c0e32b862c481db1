"""Test configuration: the shared fixtures live in ma_fixtures.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest_plugins = [
    "ma_fixtures",
    "fixtures_obs",
    "fixtures_git",
    "fixtures_visualization",
    "fixtures_scheduler",
    "fixtures_upload",
    "fixtures_ssh",
    "fixtures_images",
    "fixtures_save_image",
    "fixtures_storage",
    "fixtures_tasks",
    "fixtures_monitor",
    "fixtures_hub",
]


# Overrides pytest-jupyter's fixture of the same name (conftest fixtures win over plugins).
@pytest.fixture
def jp_server_config(
    ma_data_dir: Path, jp_root_dir: Path, ma_config: dict[str, Any]
) -> dict[str, Any]:
    """Server config: our extension enabled, unauthenticated access forbidden, plus ma_config.

    ``ma_config`` maps config section names (``MaNotebookApp``, a service class name, ...) to
    traits; a test module overrides that fixture to configure capabilities.
    """
    config: dict[str, Any] = {
        "ServerApp": {
            # terminals and jupyterlab-git are not ours and register undecorated handlers
            "jpserver_extensions": {
                "ma_notebook": True,
                "jupyter_server_terminals": False,
                "jupyterlab_git": False,
            },
            "allow_unauthenticated_access": False,
        },
        "MaNotebookApp": {"data_dir": str(ma_data_dir), "workspace_dir": str(jp_root_dir)},
    }
    for section, traits in ma_config.items():
        config.setdefault(section, {}).update(traits)
    return config
