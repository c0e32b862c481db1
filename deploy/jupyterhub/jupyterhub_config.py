# JupyterHub with DockerSpawner running the ma-notebook image (deploy/jupyterhub/Dockerfile).
#
# Every setting a deployment changes comes from the environment (defaults in brackets):
#   MA_HUB_IMAGE          the single-user image [ma-notebook/notebook-hub:latest]
#   MA_HUB_NETWORK        docker network of the containers [ma-notebook-hub]; "host" runs them on
#                         the host's network, each on its own loopback port (one machine, tests)
#   MA_HUB_BIND_URL       where the proxy listens for users [http://:8000]
#   MA_HUB_IP / MA_HUB_PORT / MA_HUB_CONNECT_IP   the hub's API address and the address the
#                         containers reach it at [0.0.0.0 / 8081 / the hub container's name]
#   MA_HUB_PROXY_API_PORT the proxy's REST API port [8001]
#   MA_HUB_PROXY_COMMAND  configurable-http-proxy's path [configurable-http-proxy on PATH]
#   MA_HUB_AUTHENTICATOR  authenticator (entry point name or class) [JupyterHub's default, PAM]
#   MA_HUB_ADMINS         comma-separated admin users []
#   MA_HUB_VOLUME_PREFIX  prefix of the per-user docker volumes [ma-notebook]
#   MA_HUB_MEM_LIMIT / MA_HUB_CPU_LIMIT   per-user limits [4G / 2]
#   MA_HUB_SSH_PUBLIC_HOST  host users' SSH clients connect to; when set each container's sshd
#                         port (22022) is published on a free host port, passed in as
#                         MA_SSH_PUBLIC_HOST/PORT [unset: SSH only through the hub URL tunnel]
#   MA_HUB_REGISTRY       registry host[:port] where Save Image pushes users' images; the image
#                         the container runs (MA_HUB_IMAGE) should be pulled from there so the
#                         saved image reuses its layers [unset: users name a registry themselves]
#   MA_HUB_IDLE_CULL_SECONDS  jupyterhub-idle-culler's --timeout; keep it longer than the
#                         notebook's own lease / idle stop so the lease decides [0 = no culler]
#   MA_HUB_EXTENSION      "0" starts JupyterLab without ma-notebook's extension (benchmarks) [1]
import os
import shlex
import socket
import sys

from dockerspawner import DockerSpawner

c = get_config()  # noqa: F821


def env(name, default=""):
    """A setting from the environment."""
    return os.environ.get(name, default)


network = env("MA_HUB_NETWORK", "ma-notebook-hub")
host_network = network == "host"


class MaDockerSpawner(DockerSpawner):
    """DockerSpawner for the ma-notebook image: host-network ports, the public SSH port."""

    def _free_port(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1" if host_network else "", 0))
            return s.getsockname()[1]

    ssh_port = 0

    def get_env(self):
        environment = super().get_env()
        # Save Image stacks its layer on the image this container runs, in its registry.
        environment["MA_NOTEBOOK_IMAGE"] = self.image
        if env("MA_HUB_REGISTRY"):
            environment["MA_NOTEBOOK_REGISTRY"] = env("MA_HUB_REGISTRY")
        if self.ssh_port:
            environment["MA_SSH_PUBLIC_HOST"] = env("MA_HUB_SSH_PUBLIC_HOST")
            environment["MA_SSH_PUBLIC_PORT"] = str(self.ssh_port)
        return environment

    async def start(self):
        if host_network:
            # One network for every container: each server gets its own port on loopback.
            self.port = self._free_port()
        ssh_host = env("MA_HUB_SSH_PUBLIC_HOST")
        if ssh_host:
            port = self.ssh_port = self._free_port()
            if host_network:
                # sshd listens on the host's network itself: one port per server.
                args = [a for a in self.args if not a.startswith("--SSHService.port=")]
                self.args = [*args, f"--SSHService.port={port}"]
            else:
                self.extra_host_config = {
                    **self.extra_host_config,
                    "port_bindings": {22022: ("0.0.0.0", port)},  # noqa: S104 - for SSH clients
                }
        return await super().start()

    async def get_ip_and_port(self):
        if host_network:
            return "127.0.0.1", self.port
        return await super().get_ip_and_port()


c.JupyterHub.spawner_class = MaDockerSpawner
c.DockerSpawner.image = env("MA_HUB_IMAGE", "ma-notebook/notebook-hub:latest")
c.DockerSpawner.cmd = ["start-singleuser.sh"]
c.DockerSpawner.remove = True  # the volumes keep the user's files; containers are disposable
c.DockerSpawner.name_template = env("MA_HUB_VOLUME_PREFIX", "ma-notebook") + "-{username}"
c.DockerSpawner.network_name = network
if host_network:
    c.DockerSpawner.ip = "127.0.0.1"
c.DockerSpawner.use_internal_ip = True

# Per user: the workspace and ma-notebook's data dir (event log, embedded object store, SSH keys
# and host keys, lease) on named volumes, so a stop/start (or a new image) keeps both.
prefix = env("MA_HUB_VOLUME_PREFIX", "ma-notebook")
c.DockerSpawner.volumes = {
    f"{prefix}-{{username}}-work": "/home/ma-user/work",
    f"{prefix}-{{username}}-data": "/home/ma-user/.local/share/jupyter/ma_notebook",
}
c.DockerSpawner.mem_limit = env("MA_HUB_MEM_LIMIT", "4G")
c.DockerSpawner.cpu_limit = float(env("MA_HUB_CPU_LIMIT", "2"))
c.DockerSpawner.environment = {"NOTEBOOK_ROOT_DIR": "/home/ma-user/work"}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# The server's own token may also stop its server: the auto-stop lease asks the hub
# (DELETE /hub/api/users/<name>/server) instead of exiting under it (ma_notebook.hub).
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", "servers!server"]
if env("MA_HUB_EXTENSION", "1") == "0":
    c.Spawner.args = ["--ServerApp.jpserver_extensions=ma_notebook=False"]

# The hub and its proxy.
c.JupyterHub.bind_url = env("MA_HUB_BIND_URL", "http://:8000")
c.JupyterHub.hub_ip = env("MA_HUB_IP", "127.0.0.1" if host_network else "0.0.0.0")  # noqa: S104
c.JupyterHub.hub_port = int(env("MA_HUB_PORT", "8081"))
if env("MA_HUB_CONNECT_IP") or host_network:
    c.JupyterHub.hub_connect_ip = env("MA_HUB_CONNECT_IP", "127.0.0.1")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('MA_HUB_PROXY_API_PORT', '8001')}"
if env("MA_HUB_PROXY_COMMAND"):
    c.ConfigurableHTTPProxy.command = shlex.split(env("MA_HUB_PROXY_COMMAND"))
c.JupyterHub.cleanup_servers = True

if env("MA_HUB_AUTHENTICATOR"):
    c.JupyterHub.authenticator_class = env("MA_HUB_AUTHENTICATOR")
admins = {a for a in env("MA_HUB_ADMINS").split(",") if a}
if admins:
    c.Authenticator.admin_users = admins
c.Authenticator.allow_all = True

cull = int(env("MA_HUB_IDLE_CULL_SECONDS", "0"))
if cull:
    # The culler only stops servers idle longer than the notebook's own idle stop would, so
    # the two never fight; the notebook reports its activity to the hub (users:activity).
    c.JupyterHub.services = [
        {
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={cull}"],
        }
    ]
    c.JupyterHub.load_roles = [
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    ]
