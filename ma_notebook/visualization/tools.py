"""The visualization tools we launch (TensorBoard, MindInsight) and where their programs live."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Environment variables never handed to a tool's process (the server's own credentials).
SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|SECRET_KEY|PRIVATE_KEY", re.I)
#: Variables that would make a tool in another environment import the server's packages.
FOREIGN_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONSTARTUP")

#: A gunicorn config that loads MindInsight's own and keeps instances from sharing a socket.
MINDINSIGHT_GUNICORN_CONF = """\
# Written by ma-notebook: MindInsight's gunicorn settings, one control socket per instance.
from mindinsight.backend.config.gunicorn_conf import *  # noqa: F403

control_socket_disable = True
"""


@dataclass(frozen=True)
class Tool:
    """One visualization tool: its program, how to run it and how to spot its summary files."""

    name: str
    title: str
    program: str
    package: str
    summary_pattern: re.Pattern[str]
    stop_signal_name: str
    own_environment: bool

    def install_hint(self, python: str) -> str:
        """The command that installs the tool, for error messages."""
        if self.own_environment:
            return (
                f"python3 -m venv ~/{self.name}-env && ~/{self.name}-env/bin/pip install "
                f"'{self.package}' (it pins protobuf<=3.20.1, so give it its own environment), "
                f"then set c.VisualizationService.{self.name}_executable = "
                f"'~/{self.name}-env/bin/{self.program}' or list ~/{self.name}-env in "
                "c.VisualizationService.search_environments"
            )
        return f"{python} -m pip install '{self.package}'"


TOOLS: dict[str, Tool] = {
    "tensorboard": Tool(
        name="tensorboard",
        title="TensorBoard",
        program="tensorboard",
        package="tensorboard",
        summary_pattern=re.compile(r"tfevents"),
        stop_signal_name="SIGTERM",
        own_environment=False,
    ),
    "mindinsight": Tool(
        name="mindinsight",
        title="MindInsight",
        program="mindinsight",
        package="mindinsight==2.3.1",
        summary_pattern=re.compile(r"summary\.\d+"),
        stop_signal_name="SIGINT",
        own_environment=True,
    ),
}


def tool_python(executable: str) -> str:
    """The Python interpreter a console script runs with (its shebang, else its neighbour)."""
    try:
        with open(executable, "rb") as f:
            first = f.readline(4096).decode(errors="replace").strip()
    except OSError:
        first = ""
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and "python" in os.path.basename(parts[0]) and os.path.isfile(parts[0]):
            return parts[0]
    folder = Path(executable).parent
    for name in ("python3", "python"):
        if (folder / name).exists():
            return str(folder / name)
    return sys.executable


def conda_environments() -> list[Path]:
    """Conda environments known on this machine (environments.txt and the usual envs folders)."""
    found: list[Path] = []
    listing = Path.home() / ".conda" / "environments.txt"
    if listing.is_file():
        found.extend(
            Path(line.strip()) for line in listing.read_text().splitlines() if line.strip()
        )
    roots = [os.environ.get("CONDA_ROOT"), os.environ.get("CONDA_PREFIX")]
    roots += [str(Path.home() / d) for d in ("anaconda3", "miniconda3", "miniforge3")]
    roots.append("/opt/conda")
    for root in filter(None, roots):
        found.append(Path(root))
        envs = Path(root) / "envs"
        if envs.is_dir():
            found.extend(sorted(p for p in envs.iterdir() if p.is_dir()))
    return found


def kernel_environments() -> list[Path]:
    """Environments of the installed kernels (the prefix of each kernelspec's interpreter)."""
    from jupyter_client.kernelspec import KernelSpecManager

    found: list[Path] = []
    try:
        specs = KernelSpecManager().find_kernel_specs()
    except Exception:  # a broken kernelspec folder must not hide the others
        return found
    for spec_dir in specs.values():
        try:
            argv = json.loads((Path(spec_dir) / "kernel.json").read_text()).get("argv") or []
        except (OSError, ValueError):
            continue
        if not argv:
            continue
        program = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if program:
            found.append(Path(program).parent.parent)
    return found


def environment_candidates(extra: list[str]) -> list[tuple[Path, str]]:
    """Where to look for a tool: server env, configured envs, conda envs, kernels' envs."""
    seen: set[str] = set()
    out: list[tuple[Path, str]] = []

    def add(prefix: Path, label: str) -> None:
        key = str(prefix)
        if key not in seen:
            seen.add(key)
            out.append((prefix, label))

    add(Path(sys.executable).parent.parent, "the server's environment")
    for folder in extra:
        add(Path(folder).expanduser(), "a configured environment")
    for env in conda_environments():
        add(env, "a conda environment")
    for env in kernel_environments():
        add(env, "a kernel's environment")
    return out


def absolute_asset_rewriter(prefix: str) -> Callable[[Any], None]:
    """A proxy response rewrite sending TensorBoard's absolute ``/font-roboto/`` URLs to ``prefix``.

    TensorBoard's index.html names its fonts from the site root, where Jupyter has nothing.
    """
    target = f"url({prefix.rstrip('/')}/font-roboto/".encode()

    def rewrite(response: Any) -> None:
        if "text/html" not in response.headers.get("Content-Type", ""):
            return
        body = response.body
        gzipped = response.headers.get("Content-Encoding", "") == "gzip"
        if gzipped:
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                return
        if b"url(/font-roboto/" not in body:
            return
        body = body.replace(b"url(/font-roboto/", target)
        response.body = gzip.compress(body, mtime=0) if gzipped else body

    return rewrite
