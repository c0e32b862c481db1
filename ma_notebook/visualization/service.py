"""The visualization launcher: supervised TensorBoard / MindInsight instances, one per folder."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.utils import url_path_join
from tornado import httpclient
from traitlets import Float, Integer, List, Unicode

from ..api import ApiError
from ..api import quote as short
from ..capability import Capability
from ..paths import allow_hidden, resolve_path
from ..procenv import tool_env
from .tools import (
    FOREIGN_ENV,
    MINDINSIGHT_GUNICORN_CONF,
    TOOLS,
    Tool,
    environment_candidates,
    tool_python,
)

#: Where instances are served, below the server's base URL.
PROXY_PREFIX = "ma-notebook/visualization"
LOG_TAIL_LINES = 30
OUTPUT_LINES = 400


class VisualizationError(ApiError):
    """A failure meant for the user, with the HTTP status that describes it."""

    def __init__(self, message: str, status: int = 400, reason: str | None = None) -> None:
        super().__init__(status, message, reason=reason)


@dataclass
class Instance:
    """One running (or exited) tool process serving one folder."""

    id: str
    tool: Tool
    folder: str
    port: int
    prefix: str
    proxy_base: str
    home: Path
    executable: str
    state: str = "starting"
    started: float = field(default_factory=time.time)
    ready_at: float | None = None
    exit_code: int | None = None
    message: str = ""
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    monitor: asyncio.Task[None] | None = None
    stopping: bool = False

    output: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=OUTPUT_LINES)
    )
    reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        """The process id, which is also the process group id."""
        return self.process.pid if self.process else None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        """The last lines the tool printed."""
        return [line for line in self.output if line.strip()][-lines:]

    async def read_output(self, stream: asyncio.StreamReader) -> None:
        """Keep the tool's last output lines (stdout and stderr) in memory, never on disk."""
        partial = b""
        while chunk := await stream.read(65536):
            *complete, partial = (partial + chunk).split(b"\n")
            self.output.extend(line.decode(errors="replace").rstrip() for line in complete)
            partial = partial[-4096:]
        if partial:
            self.output.append(partial.decode(errors="replace").rstrip())

    def to_json(self, root_dir: str) -> dict[str, Any]:
        """The instance as the REST API returns it."""
        data: dict[str, Any] = {
            "id": self.id,
            "tool": self.tool.name,
            "title": self.tool.title,
            "folder": self.folder,
            "path": relative_path(self.folder, root_dir),
            "url": self.proxy_base + "/",
            "state": self.state,
            "started": self.started,
            "uptime": max(0.0, time.time() - self.started),
            "pid": self.pid,
            "exit_code": self.exit_code,
            "message": self.message,
            "executable": self.executable,
        }
        if self.state == "exited":
            data["log_tail"] = self.log_tail()
        return data


def relative_path(folder: str, root_dir: str) -> str | None:
    """``folder`` relative to the file browser's root ('' for the root), None when outside."""
    relative = os.path.relpath(folder, root_dir)
    if relative == ".." or relative.startswith("../"):
        return None
    return "" if relative == "." else relative


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_group(pgid: int, sig: int) -> bool:
    """Signal a whole process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class VisualizationService(Capability):
    """Starts TensorBoard and MindInsight on summary folders and proxies them into JupyterLab."""

    name = "visualization"

    tensorboard_executable = Unicode(
        "",
        config=True,
        help=(
            "Path of the `tensorboard` program. Default: '' (look in the server's environment, "
            "then search_environments, conda environments and the kernels' environments)."
        ),
    )

    mindinsight_executable = Unicode(
        "",
        config=True,
        help=(
            "Path of the `mindinsight` program of the environment MindInsight is installed in "
            "(it is started through that environment's gunicorn). Default: '' (look in the "
            "server's environment, then search_environments, conda environments and the kernels' "
            "environments)."
        ),
    )

    search_environments = List(
        Unicode(),
        config=True,
        help=(
            "Extra Python environment folders (prefixes such as ~/mindinsight-env) searched for "
            "the tools after the server's own environment. Default: []."
        ),
    )

    tensorboard_args = List(
        Unicode(),
        config=True,
        help="Extra command-line arguments for TensorBoard. Default: [].",
    )

    start_timeout = Float(
        90.0,
        config=True,
        help="Seconds to wait for a tool to answer HTTP after it starts. Default: 90.",
    )

    stop_timeout = Float(
        15.0,
        config=True,
        help=(
            "Seconds a tool gets to exit after its stop signal before its process group is "
            "killed. Default: 15."
        ),
    )

    max_instances = Integer(
        8,
        config=True,
        help="Most instances running at once (each is a process using memory). Default: 8.",
    )

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.instances: dict[str, Instance] = {}
        self.home = Path(app.data_dir) / "visualization"
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        """The Jupyter server's base URL (``/`` unless it runs under a prefix)."""
        serverapp = getattr(self.app, "serverapp", None)
        return getattr(serverapp, "base_url", "/") or "/"

    @property
    def root_dir(self) -> str:
        """The Jupyter server's root folder (file browser paths are relative to it)."""
        serverapp = getattr(self.app, "serverapp", None)
        root = getattr(serverapp, "root_dir", None) or self.app.workspace_dir
        return str(Path(root).expanduser().resolve())

    @property
    def default_folder(self) -> str:
        """Where summaries go by default: ``<workspace>/summary``."""
        return os.path.join(self.app.workspace_dir, "summary")

    def tool(self, name: str) -> Tool:
        """The tool called ``name``, or 400 listing the known ones."""
        tool = TOOLS.get(str(name).lower())
        if tool is None:
            raise VisualizationError(
                f"Unknown visualization tool {name!r}: use one of {', '.join(TOOLS)}."
            )
        return tool

    def find_executable(self, tool: Tool) -> tuple[str, str]:
        """The tool's program and a description of the environment it is in.

        Raises VisualizationError (409) naming the install command when it is nowhere.
        """
        configured = getattr(self, f"{tool.name}_executable")
        if configured:
            path = os.path.expanduser(configured)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path, f"the configured environment {Path(path).parent.parent}"
            raise VisualizationError(
                f"{tool.title} is configured as {path} "
                f"(c.VisualizationService.{tool.name}_executable) but that is not an executable "
                f"file. Install it with: {tool.install_hint(sys.executable)}",
                status=409,
                reason="tool-missing",
            )
        candidates = environment_candidates(list(self.search_environments))
        server_prefix, server_label = candidates[0]
        for prefix, label in candidates[:1]:
            program = prefix / "bin" / tool.program
            if program.is_file() and os.access(program, os.X_OK):
                return str(program), f"{label} ({prefix})"
        on_path = shutil.which(tool.program)
        if on_path:
            return on_path, f"the server's PATH ({Path(on_path).parent})"
        for prefix, label in candidates[1:]:
            program = prefix / "bin" / tool.program
            if program.is_file() and os.access(program, os.X_OK):
                return str(program), f"{label} ({prefix})"
        raise VisualizationError(
            f"{tool.title} is not installed: it is neither in {server_label} ({server_prefix}) nor "
            "in any conda environment or kernel environment. Install it with: "
            f"{tool.install_hint(sys.executable)}",
            status=409,
            reason="tool-missing",
        )

    def info(self) -> dict[str, Any]:
        """Which tools this machine can launch, for GET /ma-notebook/api/info."""
        return {
            "available": True,
            "tools": self.tools_info(),
            "default_folder": self.default_folder,
        }

    def tools_info(self) -> dict[str, Any]:
        """Per tool: found or not, where, and how to install it."""
        out: dict[str, Any] = {}
        for tool in TOOLS.values():
            entry: dict[str, Any] = {"title": tool.title}
            try:
                entry["executable"], entry["environment"] = self.find_executable(tool)
                entry["available"] = True
            except VisualizationError as e:
                entry.update(available=False, reason=e.message)
            out[tool.name] = entry
        return out

    # ------------------------------------------------------------------ folders

    def _workspace_path(self, raw: str) -> Path:
        """A folder under the server root (or the workspace) through the one resolver."""
        hidden_ok = allow_hidden(self.app.serverapp)
        expanded = os.path.expanduser(raw) if raw.startswith("~") else raw
        try:
            return resolve_path(Path(self.root_dir), expanded, hidden_ok=hidden_ok, kind="folder")
        except ApiError:
            if not os.path.isabs(expanded):
                raise
            # The default summary folder lives in the workspace, which may lie outside root_dir.
            workspace = Path(self.app.workspace_dir)
            return resolve_path(workspace, expanded, hidden_ok=hidden_ok, kind="folder")

    def resolve_folder(self, folder: str | None, *, create_default: bool = True) -> str:
        """An absolute summary folder from a file-browser path, or 400 saying what is wrong."""
        if folder is None or str(folder).strip() == "":
            path = Path(self.default_folder)
            if create_default:
                path.mkdir(parents=True, exist_ok=True)
            return str(path.resolve())
        if not isinstance(folder, str):
            raise VisualizationError("'folder' must be a string: a folder path.")
        raw = folder.strip()
        path = self._workspace_path(raw)
        if not path.exists() and create_default and path == Path(self.default_folder).resolve():
            path.mkdir(parents=True, exist_ok=True)  # the proposed default, accepted as is
        if not path.exists():
            raise VisualizationError(
                f"The folder {short(raw)} does not exist ({path}). Pick the folder your training "
                f"writes summaries to (by default {self.default_folder})."
            )
        if not path.is_dir():
            raise VisualizationError(
                f"{short(raw)} is a file, not a folder. Pick the folder holding the summary files."
            )
        if not os.access(path, os.R_OK | os.X_OK):
            raise VisualizationError(f"The folder {short(raw)} is not readable by the server.")
        return str(path)

    def has_summaries(self, tool: Tool, folder: str, depth: int = 2) -> bool:
        """Whether ``folder`` or its sub-folders (to ``depth``) hold the tool's summary files."""
        budget = 2000
        stack = [(Path(folder), 0)]
        while stack:
            current, level = stack.pop()
            try:
                entries = list(os.scandir(current))
            except OSError:
                continue
            for entry in entries:
                budget -= 1
                if budget <= 0:
                    return False
                if entry.is_file() and tool.summary_pattern.search(entry.name):
                    return True
                if entry.is_dir() and level < depth and not entry.name.startswith("."):
                    stack.append((Path(entry.path), level + 1))
        return False

    def suggest_folder(self, tool: Tool, cwd: str | None) -> dict[str, Any]:
        """The folder a launcher tile proposes: ``cwd`` when it has summaries, else the default.

        At the workspace root (``cwd`` ''), the default wins when it holds summaries itself.
        """
        default = self.default_folder
        found = os.path.isdir(default) and self.has_summaries(tool, default)
        if cwd is not None:
            at_root = cwd.strip().strip("/") == ""
            try:
                folder = str(Path(self.root_dir).resolve()) if at_root else self.resolve_folder(cwd)
            except VisualizationError:
                folder = ""
            if folder and not (at_root and found) and self.has_summaries(tool, folder):
                return self._folder_json(folder, True)
        return self._folder_json(default, found)

    def _folder_json(self, folder: str, has_summaries: bool) -> dict[str, Any]:
        relative = relative_path(folder, self.root_dir)
        return {
            "folder": folder,
            "path": folder if relative is None else relative,
            "has_summaries": has_summaries,
        }

    # ------------------------------------------------------------------ instances

    def instances_of(self, tool: str | None = None) -> list[Instance]:
        """Instances, oldest first, optionally of one tool."""
        return [i for i in self.instances.values() if tool is None or i.tool.name == tool]

    def get(self, instance_id: str) -> Instance | None:
        """One instance by id."""
        return self.instances.get(instance_id)

    async def launch(self, tool_name: str, folder: str | None) -> tuple[Instance, bool]:
        """Start ``tool`` on ``folder`` or reuse its live instance; returns (instance, created)."""
        tool = self.tool(tool_name)
        path = self.resolve_folder(folder)
        async with self._lock:
            live = [i for i in self.instances.values() if i.state in ("starting", "running")]
            same = [i for i in live if i.tool is tool and i.folder == path]
            existing = same[0] if same else None
            if existing is None:
                executable, environment = self.find_executable(tool)
                if len(live) >= self.max_instances:
                    raise VisualizationError(
                        f"{len(live)} visualization instances are running, the most allowed "
                        f"(c.VisualizationService.max_instances). Shut one down first.",
                        status=409,
                    )
                for old in [i for i in self.instances_of(tool.name) if i.folder == path]:
                    self._forget(old)
                instance = self._new_instance(tool, path, executable)
                self.instances[instance.id] = instance
                self.log.info(
                    "visualization: starting %s %s on %s with %s from %s",
                    tool.title,
                    instance.id,
                    path,
                    executable,
                    environment,
                )
                try:
                    await self._spawn(instance)
                except Exception:
                    self._forget(instance)
                    raise
        if existing is not None:
            await self.wait_ready(existing)
            return existing, False
        await self.wait_ready(instance)
        return instance, True

    def _new_instance(self, tool: Tool, folder: str, executable: str) -> Instance:
        instance_id = uuid.uuid4().hex[:12]
        prefix = url_path_join(self.base_url, PROXY_PREFIX, tool.name, instance_id)
        home = self.home / instance_id
        home.mkdir(parents=True, exist_ok=True)
        return Instance(
            id=instance_id,
            tool=tool,
            folder=folder,
            port=_free_port(),
            prefix="/" + prefix.strip("/"),
            proxy_base=f"{PROXY_PREFIX}/{tool.name}/{instance_id}",
            home=home,
            executable=executable,
        )

    def _command(self, instance: Instance) -> tuple[list[str], dict[str, str]]:
        # An allow-list, not a deny-list: HUAWEICLOUD_SDK_SK, *_SK and anything unforeseen stay out.
        env = tool_env(source={k: v for k, v in os.environ.items() if k not in FOREIGN_ENV})
        bindir = str(Path(instance.executable).parent)
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        if instance.tool.name == "tensorboard":
            cmd = [
                instance.executable,
                "--logdir",
                instance.folder,
                "--host",
                "127.0.0.1",
                "--port",
                str(instance.port),
                "--path_prefix",
                instance.prefix,
                *self.tensorboard_args,
            ]
            return cmd, env
        workspace = instance.home / "workspace"
        workspace.mkdir(exist_ok=True)
        conf = instance.home / "gunicorn_conf.py"
        conf.write_text(MINDINSIGHT_GUNICORN_CONF)
        env.update(
            {
                "MINDINSIGHT_PORT": str(instance.port),
                "MINDINSIGHT_URL_PATH_PREFIX": instance.prefix,
                "MINDINSIGHT_SUMMARY_BASE_DIR": instance.folder,
                "MINDINSIGHT_WORKSPACE": str(workspace),
                "HOME": env.get("HOME", str(instance.home)),
            }
        )
        cmd = [
            tool_python(instance.executable),
            "-m",
            "gunicorn",
            "-c",
            str(conf),
            "-b",
            f"127.0.0.1:{instance.port}",
            "mindinsight.backend.application:APP",
        ]
        return cmd, env

    async def _spawn(self, instance: Instance) -> None:
        cmd, env = self._command(instance)
        program = cmd[0]
        setpriv = shutil.which("setpriv")
        if setpriv:
            # The tool gets its stop signal if the server dies without stopping it (SIGKILL).
            signame = instance.tool.stop_signal_name.removeprefix("SIG")
            cmd = [setpriv, "--pdeathsig", signame, "--", *cmd]
        try:
            instance.process = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                cwd=str(instance.home),
                start_new_session=True,
            )
        except OSError as e:
            if instance.stopping:  # its home went with a shutdown that came first
                return
            raise VisualizationError(
                f"Cannot run {instance.tool.title} ({program}): {e}. "
                f"Reinstall it: {instance.tool.install_hint(sys.executable)}",
                status=409,
                reason="tool-missing",
            ) from e
        assert instance.process.stdout is not None
        if instance.stopping:
            # Shut down while the process was being created: it must not outlive its instance.
            await self._terminate(instance, None)
            return
        instance.reader = asyncio.create_task(instance.read_output(instance.process.stdout))
        instance.monitor = asyncio.create_task(self._supervise(instance))

    async def _supervise(self, instance: Instance) -> None:
        """Wait for readiness, then for the process to end; record what happened."""
        proc = instance.process
        assert proc is not None
        waiter = asyncio.create_task(proc.wait())
        try:
            deadline = time.monotonic() + self.start_timeout
            client = httpclient.AsyncHTTPClient()
            path = quote(instance.prefix + "/", safe="/:@!$&'()*+,;=-._~")
            url = f"http://127.0.0.1:{instance.port}{path}"
            while instance.state == "starting":
                if waiter.done():
                    break
                if time.monotonic() > deadline:
                    await self._terminate(instance, waiter)
                    await self._drain(instance)
                    self._fail(
                        instance,
                        f"{instance.tool.title} did not answer within {self.start_timeout:g} s "
                        "(c.VisualizationService.start_timeout) and was stopped.",
                    )
                    return
                try:
                    await client.fetch(url, request_timeout=3, follow_redirects=False)
                except httpclient.HTTPClientError as e:
                    if e.code != 599:
                        self._mark_running(instance)
                        break
                except OSError:
                    pass
                else:
                    self._mark_running(instance)
                    break
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), 0.25)
            code = await waiter
            instance.exit_code = code
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers of the group
            await self._drain(instance)
            if instance.stopping:
                return
            verb = "exited while starting" if instance.state == "starting" else "exited"
            self._fail(instance, f"{instance.tool.title} {verb} with code {code}.")
        except asyncio.CancelledError:
            await self._terminate(instance, waiter)
            raise

    async def _drain(self, instance: Instance) -> None:
        """Let the output reader take in the tool's last lines (it ends when the pipe closes)."""
        if instance.reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(instance.reader), 2)

    def _mark_running(self, instance: Instance) -> None:
        instance.state = "running"
        instance.ready_at = time.time()
        instance.ready.set()
        self.app.events.record(
            "VisualizationStarted",
            "Major",
            f"{instance.tool.title} started on {instance.folder}.",
            tool=instance.tool.name,
            instance=instance.id,
            folder=instance.folder,
            seconds=round(instance.ready_at - instance.started, 2),
        )

    def _fail(self, instance: Instance, message: str) -> None:
        tail = instance.log_tail(12)
        instance.state = "exited"
        instance.message = message
        instance.ready.set()
        self.log.warning("visualization: %s %s", message, " | ".join(tail[-3:]))
        self.app.events.record(
            "VisualizationFailed",
            "Critical",
            message,
            tool=instance.tool.name,
            instance=instance.id,
            folder=instance.folder,
            exit_code=instance.exit_code,
            output=tail,
        )

    async def wait_ready(self, instance: Instance) -> None:
        """Wait until the instance answers; raise VisualizationError with its output if it died."""
        await instance.ready.wait()
        if instance.state in ("stopping", "stopped"):
            raise VisualizationError(
                f"{instance.tool.title} on {instance.folder} was shut down before it answered.",
                status=409,
                reason="shut-down",
            )
        if instance.state != "running":
            tail = "\n".join(instance.log_tail(15)) or "(no output)"
            timeout = "did not answer" in instance.message
            raise VisualizationError(
                f"{instance.message} Its output:\n{tail}",
                status=504 if timeout else 502,
                reason="start-timeout" if timeout else "start-failed",
            )

    async def _terminate(self, instance: Instance, waiter: asyncio.Future[int] | None) -> None:
        """Stop signal to the process group, then SIGKILL after stop_timeout."""
        proc = instance.process
        if proc is None:
            return
        instance.stopping = True
        if waiter is None:
            waiter = asyncio.ensure_future(proc.wait())
        if proc.returncode is None:
            _kill_group(proc.pid, getattr(signal, instance.tool.stop_signal_name))
            try:
                await asyncio.wait_for(asyncio.shield(waiter), self.stop_timeout)
            except asyncio.TimeoutError:
                self.log.warning(
                    "visualization: %s %s ignored its stop signal; killing it",
                    instance.tool.title,
                    instance.id,
                )
        _kill_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), 5)
        instance.exit_code = proc.returncode
        # Children of the tool (TensorBoard's data server, gunicorn workers) die with the group.
        deadline = time.monotonic() + 5
        while _kill_group(proc.pid, signal.SIGKILL) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def shutdown(self, instance_id: str) -> Instance | None:
        """Stop an instance (kill its process group) and forget it; None when unknown."""
        instance = self.instances.get(instance_id)
        if instance is None:
            return None
        was_running = instance.state in ("starting", "running")
        instance.stopping = True
        instance.state = "stopping" if was_running else instance.state
        await self._terminate(instance, None)
        if instance.monitor is not None and not instance.monitor.done():
            instance.monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await instance.monitor
        if instance.reader is not None and not instance.reader.done():
            instance.reader.cancel()
        instance.state = "stopped"
        instance.ready.set()
        self._forget(instance)
        if was_running:
            self.app.events.record(
                "VisualizationStopped",
                "Major",
                f"{instance.tool.title} on {instance.folder} was shut down.",
                tool=instance.tool.name,
                instance=instance.id,
                folder=instance.folder,
            )
        return instance

    async def shutdown_all(self, tool: str | None = None) -> list[Instance]:
        """Stop every instance (of one tool)."""
        ids = [i.id for i in self.instances_of(tool)]
        stopped = await asyncio.gather(*(self.shutdown(i) for i in ids))
        return [s for s in stopped if s is not None]

    def _forget(self, instance: Instance) -> None:
        self.instances.pop(instance.id, None)
        shutil.rmtree(instance.home, ignore_errors=True)

    async def stop(self) -> None:
        """Stop every instance when the server stops."""
        if self.instances:
            self.log.info("visualization: stopping %d instance(s)", len(self.instances))
        await self.shutdown_all()
