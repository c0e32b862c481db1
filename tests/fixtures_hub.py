"""JupyterHub on loopback with DockerSpawner running the ma-notebook hub image, two users spawned.

- ``hub_image``: ``deploy/jupyterhub/Dockerfile`` on top of the session's ``notebook_base_image``
  (tag keyed on the base image and the folder's files, kept between runs);
- ``hub_deployment``: JupyterHub with ``deploy/jupyterhub/jupyterhub_config.py`` (dummy
  authenticator, containers on the host network, each server on its own loopback port, npm's
  configurable-http-proxy from node_modules), users ``alice`` and ``bob`` logged in through the
  hub API (a token each) and both servers spawned once. Everything it starts (hub, proxy,
  containers, the users' volumes) is removed at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ma_fixtures import free_port, stop_process, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "jupyterhub"
CHP = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ("alice", "bob")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: Answers redirects as they are (a login redirect must not turn into the login page's 200).
OPENER = urllib.request.build_opener(_NoRedirect)


def hub_image_tag(base: str) -> str:
    """The hub image's tag for ``base`` and the current deploy/jupyterhub files."""
    h = hashlib.sha256(base.encode())
    for name in ("Dockerfile", "start-singleuser.sh"):
        h.update((DEPLOY / name).read_bytes())
    return f"ma-notebook/notebook-hub:test-{h.hexdigest()[:12]}"


@pytest.fixture(scope="session")
def hub_image(docker_daemon: Any, notebook_base_image: str) -> str:
    """The single-user image for JupyterHub, built FROM the session's base image."""
    tag = hub_image_tag(notebook_base_image)
    if docker_daemon.image_exists(tag):
        return tag
    try:
        docker_daemon.build(
            DEPLOY / "Dockerfile", DEPLOY, [tag], {"BASE_IMAGE": notebook_base_image}
        )
    except Exception as e:
        pytest.fail(f"building {DEPLOY / 'Dockerfile'} failed: {e}")
    return tag


@dataclass
class HubDeployment:
    """A running JupyterHub: its public URL, an admin token and each user's token."""

    url: str
    admin_token: str
    tokens: dict[str, str]
    folder: Path
    proc: subprocess.Popen
    prefix: str
    proxy_api_port: int = 0
    ready_seconds: dict[str, float] = field(default_factory=dict)

    def request(
        self,
        path: str,
        *,
        token: str | None = None,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """An HTTP request to the hub's proxy: (status, parsed JSON or bytes)."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, bytes):
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs["Authorization"] = f"token {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with OPENER.open(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def hub_api(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        """A hub REST API call (admin token unless ``token`` is given)."""
        kwargs.setdefault("token", self.admin_token)
        return self.request("/hub/api/" + path, **kwargs)

    def log_text(self) -> str:
        """The hub's log (spawner and proxy messages included)."""
        return (self.folder / "hub.log").read_text(errors="replace")

    def wait_ready(self, user: str, timeout: float = 180) -> None:
        """Wait until the hub reports ``user``'s default server ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, model = self.hub_api(f"users/{user}")
            server = (model or {}).get("servers", {}).get("") if status == 200 else None
            if server and server.get("ready"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server not ready; hub log:\n{self.log_text()[-4000:]}")

    def wait_stopped(self, user: str, timeout: float = 60) -> bool:
        """Wait until the hub reports ``user`` without a running server."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, model = self.hub_api(f"users/{user}")
            if status == 200 and not model.get("servers"):
                return True
            time.sleep(0.5)
        return False


def remove_containers_and_volumes(prefix: str) -> None:
    """Remove every container and volume whose name starts with ``prefix``."""
    for ls, rm in (
        (["docker", "ps", "-a", "--format", "{{.Names}}"], ["docker", "rm", "-f"]),
        (["docker", "volume", "ls", "--format", "{{.Name}}"], ["docker", "volume", "rm", "-f"]),
    ):
        out = subprocess.run(
            [*ls, "--filter", f"name={prefix}"], capture_output=True, text=True, timeout=60
        ).stdout.split()
        names = [n for n in out if n.startswith(prefix)]
        if names:
            subprocess.run([*rm, *names], capture_output=True, timeout=120)


def start_hub(
    folder: Path,
    image: str,
    prefix: str,
    extra_env: dict[str, str] | None = None,
    user_args: dict[str, list[str]] | None = None,
) -> HubDeployment:
    """Start JupyterHub with the deploy config on loopback (caller stops it).

    ``user_args`` adds single-user server arguments for the users it names.
    """
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: `jlpm install` installs configurable-http-proxy")
    folder.mkdir(parents=True, exist_ok=True)
    admin_token = secrets.token_hex(24)
    (folder / "test_config.py").write_text(
        "import os\n"
        "c = get_config()  # noqa\n"
        f"load_subconfig({str(DEPLOY / 'jupyterhub_config.py')!r})\n"
        "# window.jupyterapp for the browser test\n"
        "args = list(c.Spawner.args) if 'args' in c.Spawner else []\n"
        "c.Spawner.args = [*args, '--LabApp.expose_app_in_browser=True']\n"
        "services = list(c.JupyterHub.services) if 'services' in c.JupyterHub else []\n"
        "roles = list(c.JupyterHub.load_roles) if 'load_roles' in c.JupyterHub else []\n"
        "c.JupyterHub.services = services + [\n"
        "    {'name': 'test-admin', 'api_token': os.environ['MA_TEST_ADMIN_TOKEN']}]\n"
        "c.JupyterHub.load_roles = roles + [\n"
        "    {'name': 'test-admin', 'services': ['test-admin'],\n"
        "     'scopes': ['admin:users', 'admin:servers', 'list:users', 'read:users']}]\n"
        "# Extra server arguments for some users (a short lease for one of them).\n"
        "import json\n"
        "user_args = json.loads(os.environ.get('MA_TEST_USER_ARGS', '{}'))\n"
        "def pre_spawn(spawner):\n"
        "    spawner.args = [*spawner.args, *user_args.get(spawner.user.name, [])]\n"
        "c.Spawner.pre_spawn_hook = pre_spawn\n"
    )
    port, proxy_api_port = free_port(), free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "MA_TEST_ADMIN_TOKEN": admin_token,
        "MA_HUB_IMAGE": image,
        "MA_HUB_NETWORK": "host",
        "MA_HUB_BIND_URL": f"http://127.0.0.1:{port}",
        "MA_HUB_PORT": str(free_port()),
        "MA_HUB_PROXY_API_PORT": str(proxy_api_port),
        "MA_HUB_PROXY_COMMAND": str(CHP),
        "MA_HUB_AUTHENTICATOR": "dummy",
        "MA_HUB_VOLUME_PREFIX": prefix,
        "MA_HUB_MEM_LIMIT": "1G",
        "MA_HUB_CPU_LIMIT": "1",
        "MA_HUB_SSH_PUBLIC_HOST": "127.0.0.1",
        "MA_TEST_USER_ARGS": json.dumps(user_args or {}),
        **(extra_env or {}),
    }
    log = open(folder / "hub.log", "wb")  # noqa: SIM115 - lives as long as the hub
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(folder / "test_config.py")],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    hub = HubDeployment(
        f"http://127.0.0.1:{port}", admin_token, {}, folder, proc, prefix, proxy_api_port
    )
    try:
        # The proxy answers first (404) until the hub has added its own route.
        wait_for_http(hub.url + "/hub/api/", timeout=60, proc=proc)
        deadline = time.monotonic() + 60
        while hub.request("/hub/api/", timeout=5)[0] != 200:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise TimeoutError("the hub's API did not answer 200")
            time.sleep(0.2)
    except Exception:
        stop_hub(hub)
        raise RuntimeError(f"JupyterHub did not start:\n{hub.log_text()[-4000:]}") from None
    return hub


def stop_hub(hub: HubDeployment) -> None:
    """Stop the hub (which stops its servers and proxy), then remove what is left."""
    stop_process(hub.proc, timeout=60)
    # A hub killed before it could stop its proxy leaves it running: find it by its API port.
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        ours = str(hub.proxy_api_port).encode() in argv and b"--api-port" in argv
        if ours and any(b"configurable-http-proxy" in a for a in argv):
            with contextlib.suppress(OSError):
                os.kill(int(cmdline.parent.name), signal.SIGKILL)
    remove_containers_and_volumes(hub.prefix)


def login(hub: HubDeployment, user: str) -> str:
    """Log ``user`` in through the hub API (dummy authenticator): a token for that user.

    The hub hands out tokens for a password only to users it knows, so the admin adds the user
    first (as an admin would from the hub's admin page).
    """
    status, body = hub.hub_api(f"users/{user}", method="POST")
    assert status in (201, 409), (status, body)
    status, body = hub.hub_api(
        f"users/{user}/tokens",
        token="",
        method="POST",
        body={"auth": {"username": user, "password": "any"}, "note": "test login"},
    )
    assert status in (200, 201), (status, body)
    return body["token"]


#: carol's server runs with a lease this short (seconds): it ends while the tests watch.
SHORT_LEASE = 60


@pytest.fixture(scope="session")
def hub_registry_image(hub_image: str, docker_registry: str) -> str:
    """The hub image pushed to the loopback registry: the hub pulls it, Save Image reuses it."""
    ref = f"{docker_registry}/ma/notebook-hub:test"
    for args in (["tag", hub_image, ref], ["push", ref]):
        out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"docker {args[0]}: {out.stderr[-2000:]}"
    return ref


@pytest.fixture(scope="session")
def hub_deployment(
    hub_registry_image: str, docker_registry: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubDeployment]:
    """JupyterHub with alice's and bob's ma-notebook servers spawned behind its proxy.

    Its image comes from the loopback registry, where Save Image pushes too; carol (not
    spawned here) gets a lease of ``SHORT_LEASE`` seconds.
    """
    prefix = f"ma-hubtest-{secrets.token_hex(3)}"
    lease = [
        f"--MonitorService.auto_stop_seconds={SHORT_LEASE}",
        f"--MonitorService.warn_before_seconds={SHORT_LEASE}",
    ]
    hub = start_hub(
        tmp_path_factory.mktemp("hub"),
        hub_registry_image,
        prefix,
        extra_env={"MA_HUB_REGISTRY": docker_registry},
        user_args={"carol": lease},
    )
    try:
        for user in USERS:
            hub.tokens[user] = login(hub, user)
        started = {}
        for user in USERS:
            started[user] = time.monotonic()
            status, body = hub.hub_api(
                f"users/{user}/server", token=hub.tokens[user], method="POST"
            )
            assert status in (201, 202), (status, body)
        for user in USERS:
            hub.wait_ready(user)
            hub.ready_seconds[user] = time.monotonic() - started[user]
        yield hub
    finally:
        stop_hub(hub)
