"""``ma-cli image debug``: run an image locally and check it against the notebook image spec.

The rules (each a row of the pass/fail table):

- ``ma-user-uid``: user ma-user exists with UID 1000
- ``ma-group-gid``: group ma-group has GID 100 and is ma-user's primary group
- ``default-user``: the image starts as ma-user (its USER)
- ``home-ownership``: /home/ma-user belongs to ma-user:ma-group, owner rwx, not world-writable
- ``work-writable``: ma-user can write /home/ma-user/work
- ``conda-layout``: /home/ma-user/anaconda3/envs/<name>/bin/activate for at least one environment
- ``env-ipykernel[<name>]``: the environment imports ipykernel
- ``env-kernel[<name>]``: JupyterLab offers a kernel running that environment's Python
- ``readme``: /home/ma-user/README names every environment
- ``sshd``: the OpenSSH server is installed
- ``jupyterlab-http``: JupyterLab answers on its port with the image's own start command
- ``jupyterlab-user``: the JupyterLab process runs as ma-user (UID 1000)
- ``extension-loaded``: the ma-notebook server extension is enabled and answers its API
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .builder import BuilderError, DockerBuilder

MA_UID = 1000
MA_GID = 100
HOME = "/home/ma-user"
CONDA_DIR = f"{HOME}/anaconda3"


@dataclass
class Check:
    """One rule's result."""

    rule: str
    ok: bool
    detail: str = ""


def _http(url: str, token: str = "", timeout: float = 5) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


class ImageDebugger:
    """Starts one container from the image, runs every rule against it, then removes it."""

    def __init__(
        self,
        docker: DockerBuilder,
        image: str,
        *,
        timeout: float = 120,
        gpu: bool = False,
        output: Callable[[str], None] | None = None,
    ) -> None:
        self.docker = docker
        self.image = image
        self.timeout = timeout
        self.gpu = gpu
        self.output = output or (lambda _line: None)
        self.token = secrets.token_hex(16)
        self.container = f"ma-image-debug-{secrets.token_hex(4)}"
        self.checks: list[Check] = []

    def check(self, rule: str, ok: bool, detail: str = "") -> bool:
        """Record one rule's result."""
        self.checks.append(Check(rule, bool(ok), detail))
        return bool(ok)

    def sh(self, script: str, user: str = "0:0") -> tuple[int, str]:
        """Run a shell snippet in the container; (exit status, output)."""
        try:
            out = self.docker.cli("exec", "-u", user, self.container, "sh", "-c", script)
            return 0, out.strip()
        except BuilderError as e:
            text = str(e)
            code = 1
            if "(exit " in text:
                try:
                    code = int(text.split("(exit ", 1)[1].split(")", 1)[0])
                except ValueError:
                    code = 1
            return code, text.split("\n", 1)[1].strip() if "\n" in text else ""

    def run(self) -> list[Check]:
        """All the rules, in table order."""
        info = self.docker.inspect(self.image)
        if info is None:
            try:
                self.output(f"pulling {self.image}")
                self.docker.cli("pull", self.image)
                info = self.docker.inspect(self.image)
            except BuilderError as e:
                self.check("image-present", False, str(e).splitlines()[-1][:200])
                return self.checks
        if info is None:  # pragma: no cover - pull succeeded but no image
            self.check("image-present", False, f"{self.image} is not in the local store")
            return self.checks
        config = info.get("Config") or {}
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        port = env.get("NOTEBOOK_PORT", "8888")
        base_url = "/" + env.get("NOTEBOOK_BASE_URL", "/").strip("/")
        base_url = base_url.rstrip("/") + "/"
        user = str(config.get("User") or "")
        self.check(
            "default-user",
            user.split(":")[0] in ("ma-user", str(MA_UID)),
            f"USER is {user or 'root (unset)'}"
            + ("" if user.split(":")[0] in ("ma-user", str(MA_UID)) else "; it must be ma-user"),
        )
        argv = ["run", "-d", "--name", self.container, "-e", f"JUPYTER_TOKEN={self.token}"]
        argv += ["-p", f"127.0.0.1::{port}", "--label", "org.ma-notebook.debug=1"]
        if self.gpu:
            argv += ["--gpus", "all"]
        self.output(f"starting {self.image} as {self.container}")
        try:
            self.docker.cli(*argv, self.image)
        except BuilderError as e:
            self.check("jupyterlab-http", False, f"the container did not start: {e}"[:300])
            return self.checks
        try:
            self._static_rules()
            self._server_rules(port, base_url)
        finally:
            with contextlib.suppress(BuilderError):
                self.docker.cli("rm", "-f", self.container)
        return self.checks

    def _static_rules(self) -> None:
        code, out = self.sh("id -u ma-user")
        self.check(
            "ma-user-uid",
            code == 0 and out == str(MA_UID),
            f"ma-user has UID {out}" if code == 0 else "there is no user ma-user",
        )
        code, out = self.sh("getent group ma-group | cut -d: -f3; id -g ma-user")
        lines = out.splitlines() if code == 0 else []
        gid_ok = len(lines) == 2 and lines[0] == str(MA_GID) and lines[1] == str(MA_GID)
        self.check(
            "ma-group-gid",
            gid_ok,
            "ma-group has GID 100, ma-user's primary group"
            if gid_ok
            else f"ma-group GID / ma-user's group: {' / '.join(lines) or 'missing'}",
        )
        code, out = self.sh(f"stat -c '%u:%g %a' {HOME}")
        owner, _, mode = out.partition(" ")
        mode_ok = False
        if code == 0 and mode:
            m = int(mode, 8)
            mode_ok = (m & 0o700) == 0o700 and not (m & 0o002)
        self.check(
            "home-ownership",
            code == 0 and owner == f"{MA_UID}:{MA_GID}" and mode_ok,
            f"{HOME} is {owner or '?'} mode {mode or '?'}"
            + (
                ""
                if owner == f"{MA_UID}:{MA_GID}" and mode_ok
                else " (want 1000:100, owner rwx, not world-writable)"
            )
            if code == 0
            else f"{HOME} is missing",
        )
        code, _ = self.sh(f"test -w {HOME}/work", user=f"{MA_UID}:{MA_GID}")
        self.check(
            "work-writable",
            code == 0,
            f"{HOME}/work " + ("is writable" if code == 0 else "is missing or read-only"),
        )
        code, out = self.sh(
            f'for e in {CONDA_DIR}/envs/*/; do [ -f "$e/bin/activate" ] && basename "$e"; done;'
            " true"
        )
        self.envs = [e for e in out.splitlines() if e and code == 0]
        self.check(
            "conda-layout",
            bool(self.envs),
            f"environments: {', '.join(self.envs)}"
            if self.envs
            else f"no {CONDA_DIR}/envs/<name>/bin/activate",
        )
        for env in self.envs:
            py = shlex.quote(f"{CONDA_DIR}/envs/{env}/bin/python")
            code, out = self.sh(
                f"{py} -c 'import ipykernel; print(ipykernel.__version__)' 2>&1",
                user=f"{MA_UID}:{MA_GID}",
            )
            self.check(
                f"env-ipykernel[{env}]",
                code == 0,
                f"ipykernel {out}" if code == 0 else f"no ipykernel: {out.splitlines()[-1:]}",
            )
        code, out = self.sh(f"cat {HOME}/README 2>/dev/null")
        missing = [e for e in self.envs if e not in out]
        self.check(
            "readme",
            code == 0 and bool(out) and not missing,
            f"{HOME}/README is missing"
            if code != 0 or not out
            else (f"does not name {', '.join(missing)}" if missing else "names every environment"),
        )
        code, out = self.sh("command -v sshd || ls /usr/sbin/sshd")
        self.check("sshd", code == 0, out.splitlines()[0] if code == 0 else "no sshd")

    def _host_port(self, port: str) -> str:
        out = self.docker.cli("port", self.container, f"{port}/tcp").strip().splitlines()
        for line in out:
            if line.startswith("127.0.0.1:"):
                return line.rsplit(":", 1)[1]
        raise BuilderError(f"port {port} is not published: {out}")

    def _server_rules(self, port: str, base_url: str) -> None:
        try:
            host_port = self._host_port(port)
        except BuilderError as e:
            self.check("jupyterlab-http", False, str(e)[:200])
            return
        url = f"http://127.0.0.1:{host_port}{base_url}"
        deadline = time.monotonic() + self.timeout
        status, last = 0, ""
        while time.monotonic() < deadline:
            state = self.docker.inspect_container(self.container)
            if state and not state.get("Running", False):
                last = f"the container exited with {state.get('ExitCode')}"
                break
            try:
                status, _ = _http(url + "api", timeout=3)
                if status == 200:
                    break
            except OSError as e:
                last = str(e)
            time.sleep(0.5)
        if status != 200:
            logs = self._logs()
            self.check("jupyterlab-http", False, f"{last or 'no answer'}; log: {logs}"[:400])
            self.check("jupyterlab-user", False, "JupyterLab is not running")
            self.check("extension-loaded", False, "JupyterLab is not running")
            for env in self.envs:
                self.check(f"env-kernel[{env}]", False, "JupyterLab is not running")
            return
        lab, _ = _http(url + "lab", self.token)
        self.check("jupyterlab-http", lab == 200, f"GET {base_url}lab answered {lab}")
        self._process_user()
        self._kernels(url)
        self._extension(url)

    def _logs(self) -> str:
        try:
            text = self.docker.cli("logs", "--tail", "8", self.container)
        except BuilderError as e:
            text = str(e)
        return " | ".join(line.strip() for line in text.splitlines()[-8:])

    def _process_user(self) -> None:
        script = (
            'for d in /proc/[0-9]*; do c=$(tr "\\0" "\\1" < $d/cmdline 2>/dev/null) || continue; '
            '[ -n "$c" ] && echo "$(awk \'/^Uid:/{print $2}\' $d/status)\t$c"; done'
        )
        code, out = self.sh(script)
        uids = set()
        for line in out.splitlines():
            uid, _, cmdline = line.partition("\t")
            if _is_jupyter_server(cmdline.split("\x01")):
                uids.add(uid)
        self.check(
            "jupyterlab-user",
            code == 0 and uids == {str(MA_UID)},
            f"JupyterLab runs as UID {', '.join(sorted(uids))}"
            if uids
            else "no JupyterLab process",
        )

    def _kernels(self, url: str) -> None:
        status, body = _http(url + "api/kernelspecs", self.token)
        specs: dict[str, Any] = {}
        if status == 200:
            specs = json.loads(body).get("kernelspecs", {})
        for env in self.envs:
            prefix = f"{CONDA_DIR}/envs/{env}/"
            names = [
                name
                for name, spec in specs.items()
                if (spec.get("spec", {}).get("argv") or [""])[0].startswith(prefix)
            ]
            self.check(
                f"env-kernel[{env}]",
                bool(names),
                f"kernel {', '.join(names)}" if names else f"no kernelspec runs {prefix}bin/python",
            )

    def _extension(self, url: str) -> None:
        status, body = _http(url + "ma-notebook/api/info", self.token)
        _, out = self.sh(
            f"PATH={CONDA_DIR}/bin:$PATH jupyter server extension list 2>&1",
            user=f"{MA_UID}:{MA_GID}",
        )
        listed = any("ma_notebook" in line and "enabled" in line for line in out.splitlines())
        version = ""
        if status == 200:
            try:
                version = str(json.loads(body).get("version", ""))
            except ValueError:
                version = ""
        self.check(
            "extension-loaded",
            status == 200 and listed,
            f"ma-notebook {version} enabled and answering"
            if status == 200 and listed
            else f"extension list: {'enabled' if listed else 'not enabled'}; "
            f"/ma-notebook/api/info answered {status}",
        )


def _is_jupyter_server(argv: list[str]) -> bool:
    """Whether a process's argv is a JupyterLab / Jupyter server."""
    names = [a.rsplit("/", 1)[-1] for a in argv[:4]]
    for i, name in enumerate(names):
        if name in ("jupyter-lab", "jupyter-server", "jupyter-notebook"):
            return True
        following = names[i + 1] if i + 1 < len(names) else ""
        if name == "jupyter" and following in ("lab", "server", "notebook"):
            return True
        if name == "-m" and following in ("jupyterlab", "jupyter_server", "notebook"):
            return True
    return False


def format_table(checks: list[Check]) -> str:
    """The pass/fail table ``ma-cli image debug`` prints."""
    width = max([len("RULE")] + [len(c.rule) for c in checks])
    lines = [f"{'RULE'.ljust(width)}  RESULT  DETAIL"]
    for c in checks:
        lines.append(f"{c.rule.ljust(width)}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}")
    return "\n".join(lines)
