"""Reusable fixtures for ma-notebook tests: an in-process server and real JupyterLab processes."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# ---------------------------------------------------------------- in-process server


@pytest.fixture
def ma_data_dir(tmp_path: Path) -> Path:
    """Where the extension keeps its state in this test."""
    path = tmp_path / "ma-data"
    path.mkdir()
    return path


@pytest.fixture
def ma_config() -> dict[str, Any]:
    """Extra server config ``{section: {trait: value}}``; override it in a test module."""
    return {}


@pytest.fixture
def ma_app(jp_serverapp: Any, jp_asyncio_loop: Any) -> Any:
    """The MaNotebookApp of a started in-process server (capability services started)."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp.extension_manager.extension_apps["ma_notebook"].copy().pop()


@pytest.fixture
def api(jp_fetch: Any, ma_app: Any) -> Callable[..., Any]:
    """Call the ma-notebook API: ``await api("events", params={...})`` -> (status, json)."""

    async def call(
        path: str, method: str = "GET", body: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        resp = await jp_fetch(
            "ma-notebook",
            "api",
            *path.split("/"),
            method=method,
            body=body,
            raise_error=False,
            **kwargs,
        )
        text = resp.body.decode() if resp.body else ""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = text
        return resp.code, data

    return call


# ---------------------------------------------------------------- real processes


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers over HTTP (any status)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError as e:
            last = e
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last}")


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM a process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class DockerRegistry:
    """Debian's ``docker-registry`` (distribution 2.8) on a free loopback port, deletes enabled.

    ``htpasswd`` makes it ask for HTTP basic auth; ``accesslog`` logs every request (tests read
    :meth:`log_text` to see which blobs were mounted or pushed). Stop it with :meth:`stop`.
    """

    def __init__(
        self, folder: Path, *, htpasswd: Path | None = None, accesslog: bool = False
    ) -> None:
        exe = shutil.which("docker-registry")
        if not exe:
            pytest.fail("docker-registry is missing (make system-deps installs it)")
        folder.mkdir(parents=True, exist_ok=True)
        self.storage = folder / "data"
        self.log = folder / "registry.log"
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {htpasswd}\n" if htpasswd else ""
        logs = "  accesslog:\n    disabled: false\n" if accesslog else ""
        config = folder / "registry.yml"
        config.write_text(
            f"version: 0.1\nlog:\n  level: {'info' if accesslog else 'warn'}\n{logs}"
            f"storage:\n  filesystem:\n    rootdirectory: {self.storage}\n"
            "  delete:\n    enabled: true\n"
            f"{auth}http:\n  addr: {self.addr}\n"
        )
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [exe, "serve", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            wait_for_http(f"http://{self.addr}/v2/", timeout=30, proc=self.proc)  # 200 or 401
        except (RuntimeError, TimeoutError) as e:
            self.stop()
            pytest.fail(f"docker-registry did not start ({e}):\n{self.log_text()[-2000:]}")

    def client(self) -> Any:
        """Save Image's registry client for this registry (anonymous)."""
        from ma_notebook.images.registry import RegistryClient

        return RegistryClient(self.addr, insecure=True)

    def log_text(self) -> str:
        """What the registry logged."""
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the registry."""
        stop_process(self.proc, timeout=10)


class LabProcess:
    """A real ``jupyter lab`` (or ``jupyter server``) on a free loopback port."""

    def __init__(
        self,
        home: Path,
        app: str = "lab",
        extra_args: list[str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.home = home
        self.config = config or {}
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.root_dir = home / "work"
        self.data_dir = home / "ma-data"
        self.log_path = home / f"jupyter-{self.port}.log"
        self.app = app
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "JUPYTER_DATA_DIR": str(self.home / "jupyter-data"),
                "JUPYTER_RUNTIME_DIR": str(self.home / "jupyter-runtime"),
                "JUPYTER_CONFIG_DIR": str(self.home / "jupyter-config"),
                "JUPYTERLAB_SETTINGS_DIR": str(self.home / "lab-settings"),
                "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "lab-workspaces"),
                "JUPYTER_PLATFORM_DIRS": "1",
                "JUPYTER_SERVER_ALLOW_UNAUTHENTICATED_ACCESS": "0",
            }
        )
        return env

    def start(self, timeout: float = 90.0) -> LabProcess:
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = {"IdentityProvider": {"token": self.token}, **self.config}
        cfg_path = self.home / "jupyter_server_config.json"
        cfg_path.write_text(json.dumps(config))
        args = [
            sys.executable,
            "-m",
            "jupyterlab" if self.app == "lab" else "jupyter_server",
            f"--port={self.port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--config={cfg_path}",
            f"--MaNotebookApp.data_dir={self.data_dir}",
            "--ServerApp.allow_unauthenticated_access=False",
            "--LabApp.expose_app_in_browser=True",
            *self.extra_args,
        ]
        if os.getuid() == 0:
            args.append("--allow-root")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
        )
        log.close()
        wait_for_http(f"{self.url}/api/status", timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the server (a crash: no shutdown code runs)."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        token: str | None = "default",  # noqa: S107 - a marker, not a secret
    ) -> tuple[int, Any]:
        """Call the server over HTTP; ``token=None`` sends no credentials."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/{path.lstrip('/')}", data=data, method=method)
        if token is not None:
            req.add_header("Authorization", f"token {self.token if token == 'default' else token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


@pytest.fixture
def lab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LabProcess]]:
    """Start real JupyterLab processes; all are stopped after the test."""
    started: list[LabProcess] = []

    def start(home: Path | None = None, **kwargs: Any) -> LabProcess:
        lab = LabProcess(home or tmp_path_factory.mktemp("lab"), **kwargs)
        started.append(lab)
        return lab.start()

    yield start
    for lab in started:
        lab.stop()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabProcess]:
    """One real JupyterLab with the installed extension, shared by the browser tests."""
    server = LabProcess(tmp_path_factory.mktemp("lab-session"))
    server.start()
    yield server
    server.stop()


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class LabPage:
    """A JupyterLab tab in Chromium, with console errors collected."""

    def __init__(self, page: Any, lab: LabProcess) -> None:
        self.page = page
        self.lab = lab
        self.console_errors: list[str] = []
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def open(self, path: str = "lab") -> LabPage:
        self.page.goto(f"{self.lab.url}/{path}?token={self.lab.token}")
        self.page.wait_for_function("window.jupyterapp && window.jupyterapp.started", timeout=60000)
        self.page.evaluate("window.jupyterapp.restored")
        self.page.wait_for_selector("#jp-main-dock-panel", timeout=60000)
        return self

    def execute(self, command: str, args: dict | None = None) -> Any:
        """Run a JupyterLab command; its result comes back when it is plain JSON, else None."""
        return self.page.evaluate(
            """async ([c, a]) => {
                const result = await window.jupyterapp.commands.execute(c, a);
                try {
                    return JSON.parse(JSON.stringify(result ?? null));
                } catch {
                    return null;  // widgets and other objects with cycles
                }
            }""",
            [command, args or {}],
        )

    def plugin_activated(self, plugin_id: str) -> bool:
        return bool(self.page.evaluate("id => window.jupyterapp.isPluginActivated(id)", plugin_id))

    def our_errors(self) -> list[str]:
        """Console errors that mention ma-notebook."""
        return [e for e in self.console_errors if re.search(r"ma-notebook|ma_notebook", e)]


@pytest.fixture
def lab_page(browser: Any, lab: LabProcess) -> Iterator[LabPage]:
    """A fresh browser context with JupyterLab open."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30000)
    yield LabPage(page, lab)
    context.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync loop must not outlive into in-process tests."""
    for item in items:
        if "/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
