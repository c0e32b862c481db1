"""Runtime environments for notebook jobs: every conda environment and every Jupyter kernelspec."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_scheduler.environments import EnvironmentManager
from jupyter_scheduler.models import RuntimeEnvironment

OUTPUT_FORMATS = {"ipynb": "Notebook", "html": "HTML"}
CONDA_PREFIX = "conda:"


def conda_environments(timeout: float = 20.0) -> list[dict[str, str]]:
    """Conda environments from ``conda env list --json`` (empty when conda is missing)."""
    conda = os.environ.get("CONDA_EXE") or shutil.which("conda")
    if not conda:
        return []
    try:
        out = subprocess.run(
            [conda, "env", "list", "--json"],
            capture_output=True,
            check=True,
            timeout=timeout,
            text=True,
        ).stdout
        prefixes = json.loads(out).get("envs", [])
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    envs = []
    root = os.path.dirname(os.path.dirname(os.path.realpath(conda)))
    for prefix in prefixes:
        name = "base" if os.path.realpath(prefix) == root else os.path.basename(prefix)
        python = os.path.join(prefix, "bin", "python")
        if os.path.exists(python):
            envs.append({"name": name, "prefix": prefix, "python": python})
    return envs


def _python_version(python: str) -> str:
    """``3.11.2`` for a Python executable, or '' when it cannot be asked."""
    try:
        out = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            check=True,
            timeout=10,
            text=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip()


class MaEnvironmentManager(EnvironmentManager):
    """Lists kernelspecs (labelled with their display names) and conda environments.

    A kernelspec's environment name is the kernelspec name (e.g. ``python3``); a conda
    environment's is ``conda:<name>`` and its label is the environment name as users know it
    (``PyTorch-1.8``), or ``python-<version>`` for the base environment.
    """

    def list_environments(self) -> list[RuntimeEnvironment]:
        """Every kernelspec, then every conda environment not already offered as a kernel."""
        envs: list[RuntimeEnvironment] = []
        specs: dict[str, Any] = KernelSpecManager().get_all_specs()
        for name, info in sorted(specs.items()):
            spec = info.get("spec", {})
            label = spec.get("display_name") or name
            envs.append(
                RuntimeEnvironment(
                    name=name,
                    label=label,
                    description=f"Jupyter kernel {label} ({name})",
                    file_extensions=["ipynb"],
                    output_formats=list(OUTPUT_FORMATS),
                    metadata={"kind": "kernelspec", "kernel_name": name},
                    compute_types=None,
                    default_compute_type=None,
                    utc_only=None,
                )
            )
        for env in conda_environments():
            label = env["name"]
            if label == "base":
                version = _python_version(env["python"])
                label = f"python-{version}" if version else "base"
            envs.append(
                RuntimeEnvironment(
                    name=CONDA_PREFIX + env["name"],
                    label=label,
                    description=f"Conda environment {env['name']} ({env['prefix']})",
                    file_extensions=["ipynb"],
                    output_formats=list(OUTPUT_FORMATS),
                    metadata={"kind": "conda", "prefix": env["prefix"], "python": env["python"]},
                    compute_types=None,
                    default_compute_type=None,
                    utc_only=None,
                )
            )
        return envs

    def manage_environments_command(self) -> str:
        """No command: environments are managed with conda or `jupyter kernelspec`."""
        return ""

    def output_formats_mapping(self) -> dict[str, str]:
        """Output formats every environment supports."""
        return dict(OUTPUT_FORMATS)
