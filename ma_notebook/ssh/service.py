"""Remote SSH: Debian's OpenSSH sshd run as the notebook's user, its keys and whitelist."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Integer, List, Unicode

from ..api import ApiError, quote
from ..capability import Capability
from ..procenv import tool_env
from .clientconfig import DEFAULT_ALIAS, ClientSettings, client_config
from .keys import generate_key_pair, parse_public_key, to_ppk, write_host_key
from .models import MAX_WHITELIST, KeyRequest

SSHD_INSTALL_HINT = "apt-get install openssh-server"
HOST_KEY_TYPES = ("ed25519", "rsa")
LOG_LINES = 200
#: Variables login sessions get from the notebook server (besides LC_*); never secrets.
SESSION_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_EXE",
    "CONDA_PYTHON_EXE",
    "CONDA_SHLVL",
    "VIRTUAL_ENV",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "LD_LIBRARY_PATH",
    "PYTHONPATH",
    "JAVA_HOME",
)
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|_KEY$|^AWS_|^OBS_|^HW_|^MA_CLI_", re.I)
PROFILE_MARK = "# ma-notebook: notebook environment for SSH logins"


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(entry, strict=True)


def check_whitelist(entries: list[str]) -> list[str]:
    """The whitelist normalised, or ApiError(400) naming the first bad entry."""
    if len(entries) > MAX_WHITELIST:
        raise ApiError(
            400,
            f"The whitelist holds at most {MAX_WHITELIST} entries; {len(entries)} were given "
            f"(the 6th is {quote(entries[MAX_WHITELIST])}). Remove some or use a CIDR range.",
        )
    out: list[str] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            raise ApiError(400, "A whitelist entry is empty: remove it or type an address.")
        try:
            net = _network(entry)
        except ValueError:
            try:
                loose = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ApiError(
                    400,
                    f"Whitelist entry {quote(entry)} is not an IPv4 / IPv6 address or CIDR range "
                    "(e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/32).",
                ) from None
            raise ApiError(
                400,
                f"Whitelist entry {quote(entry)} has host bits set: write {loose} for the range.",
            ) from None
        text = str(net.network_address) if net.num_addresses == 1 else str(net)
        if text in out:
            raise ApiError(400, f"Whitelist entry {quote(entry)} is listed twice.")
        out.append(text)
    return out


def _atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _config_value(value: str) -> str | None:
    """A value quoted for sshd_config, or None when it cannot be written safely."""
    if any(ch in value for ch in '"\\\n\r\t') or not value.isprintable():
        return None
    return f'"{value}"'


class SSHService(Capability):
    """Runs OpenSSH's sshd for local IDEs: key-only login as the notebook user, SFTP, forwarding."""

    name = "ssh"

    sshd_executable = Unicode(
        "",
        config=True,
        help="Path of OpenSSH's sshd. Default: '' (sshd on PATH, then /usr/sbin/sshd).",
    )
    port = Integer(
        22022,
        config=True,
        help="TCP port of sshd (a high port: sshd runs as the notebook user). Default: 22022.",
    )
    listen_addresses = List(
        Unicode(),
        ["0.0.0.0", "::"],  # noqa: S104 - remote SSH is for other machines
        config=True,
        help="Addresses sshd listens on. Default: ['0.0.0.0', '::'] (all IPv4 and IPv6).",
    )
    enabled = Bool(
        False,
        config=True,
        help=(
            "Start sshd when the server starts, even if it was never switched on from the panel "
            "(the panel's choice is remembered in the data dir). Default: False."
        ),
    )
    public_host = Unicode(
        "",
        config=True,
        help=(
            "Host name clients use to reach sshd (the NAT or load balancer address). Default: "
            "'' ($MA_SSH_PUBLIC_HOST, else the host the browser or ma-cli used for JupyterLab)."
        ),
    )
    public_port = Integer(
        0,
        config=True,
        help="Port clients use to reach sshd. Default: 0 ($MA_SSH_PUBLIC_PORT, else `port`).",
    )
    tunnel_source_address = Unicode(
        "127.0.0.1",
        config=True,
        help=(
            "Loopback address the websocket tunnel connects to sshd from; sshd always lets it in "
            "and the tunnel applies the whitelist to its own client instead. Default: 127.0.0.1."
        ),
    )
    session_env = List(
        Unicode(),
        config=True,
        help=(
            "Further environment variables of the server that SSH sessions get (besides PATH, "
            "LANG, LC_*, conda, venv and CUDA variables; names that look secret are never "
            "passed). Default: []."
        ),
    )
    login_profile = Bool(
        True,
        config=True,
        help=(
            "Add one line to ~/.profile (or ~/.bash_profile) sourcing the notebook environment, "
            "so interactive login shells get it after /etc/profile resets PATH. Default: True."
        ),
    )
    start_timeout = Float(15.0, config=True, help="Seconds sshd gets to listen. Default: 15.")

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.dir = Path(app.data_dir) / "ssh"
        self.state = "stopped"
        self.message = ""
        self.process: asyncio.subprocess.Process | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self._lock = asyncio.Lock()
        self._monitor: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._stopping = False

    # ------------------------------------------------------------------ facts

    @property
    def user(self) -> str:
        """The login user: whoever the notebook server runs as."""
        return pwd.getpwuid(os.getuid()).pw_name

    @property
    def is_root(self) -> bool:
        """Whether the server (and so the SSH login) is root."""
        return os.getuid() == 0

    def executable(self) -> str | None:
        """OpenSSH's sshd, or None when it is not installed."""
        if self.sshd_executable:
            path = os.path.expanduser(self.sshd_executable)
            return path if os.access(path, os.X_OK) else None
        found = shutil.which("sshd")
        if found:
            return found
        return "/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None

    @property
    def config_path(self) -> Path:
        """sshd's own configuration file."""
        return self.dir / "sshd_config"

    @property
    def authorized_keys_path(self) -> Path:
        """The authorized_keys file sshd reads on every connection."""
        return self.dir / "authorized_keys"

    @property
    def profile_path(self) -> Path:
        """The login profile giving sessions the notebook's environment."""
        return self.dir / "profile.sh"

    def connect_host(self) -> str:
        """Where local clients (the tunnel) reach sshd."""
        for address in self.listen_addresses:
            if address in ("0.0.0.0", "::", ""):  # noqa: S104
                continue
            return address
        return "127.0.0.1" if "0.0.0.0" in self.listen_addresses else "::1"  # noqa: S104

    def info(self) -> dict[str, Any]:
        """Availability for GET /ma-notebook/api/info; the install hint when sshd is missing."""
        if self.executable() is None:
            return {
                "available": False,
                "reason": f"OpenSSH's sshd is not installed. Install it with: {SSHD_INSTALL_HINT}",
                "install_hint": SSHD_INSTALL_HINT,
            }
        return {"available": True, "state": self.state, "user": self.user, "is_root": self.is_root}

    # ------------------------------------------------------------------ persistent state

    def _read_json(self, name: str, default: Any) -> Any:
        try:
            return json.loads((self.dir / name).read_text())
        except (OSError, ValueError):
            return default

    def _write_json(self, name: str, data: Any) -> None:
        self._ensure_dir()
        _atomic_write(self.dir / name, json.dumps(data, indent=1))

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)

    def keys(self) -> list[dict[str, Any]]:
        """The registered public keys (never a private key)."""
        return list(self._read_json("keys.json", []))

    def whitelist(self) -> list[str]:
        """The whitelist in effect (empty: any address)."""
        return list(self._read_json("whitelist.json", []))

    @property
    def remembered_enabled(self) -> bool:
        """Whether SSH was last switched on (from the panel or the API)."""
        return bool(self._read_json("state.json", {}).get("enabled", False))

    def _remember_enabled(self, enabled: bool) -> None:
        self._write_json("state.json", {"enabled": enabled})

    # ------------------------------------------------------------------ keys

    async def add_key(self, req: KeyRequest) -> dict[str, Any]:
        """Register ``req.public_key``, or create a key pair whose private half is returned once."""
        self._check_new_name(req.name)
        private: str | None = None
        if req.public_key is not None:
            public = parse_public_key(req.public_key)
            origin = "registered"
        else:
            if req.bits is not None and req.type != "rsa":
                raise ApiError(400, "'bits' applies to RSA keys only: leave it out for ed25519.")
            private, public = await asyncio.to_thread(
                generate_key_pair, req.type, req.bits, req.name
            )
            origin = "created"
        keys = self.keys()
        self._check_new_name(req.name, keys)
        for key in keys:
            if key["public_key"] == public.line:
                raise ApiError(400, f"This public key is already registered as '{key['name']}'.")
        entry = {
            "name": req.name,
            "type": public.type,
            "bits": public.bits,
            "fingerprint": public.fingerprint,
            "public_key": public.line,
            "created": time.time(),
            "origin": origin,
        }
        keys.append(entry)
        self._write_json("keys.json", keys)
        self.write_authorized_keys()
        verb = "created" if private else "registered"
        self.app.events.record(
            "UpdateKeyPair",
            "Major",
            f"SSH key '{req.name}' ({public.type}, {public.fingerprint}) was {verb}.",
            name=req.name,
            fingerprint=public.fingerprint,
            action=verb,
        )
        self.log.info("ssh: key %s %s (%s)", req.name, verb, public.fingerprint)
        answer: dict[str, Any] = {"key": entry}
        if private is not None:
            answer["private_key"] = private
            try:
                answer["private_key_ppk"] = await asyncio.to_thread(to_ppk, private, req.name)
            except ApiError as e:
                answer["ppk_error"] = e.message
        return answer

    def _check_new_name(self, name: str, keys: list[dict[str, Any]] | None = None) -> None:
        if any(k["name"] == name for k in (self.keys() if keys is None else keys)):
            raise ApiError(400, f"A key named '{name}' exists already: pick another name.")

    def remove_key(self, name: str) -> dict[str, Any]:
        """Forget a key: new connections with it are refused, open sessions stay."""
        keys = self.keys()
        found = [k for k in keys if k["name"] == name]
        if not found:
            raise ApiError(404, f"No SSH key named {quote(name)}.")
        self._write_json("keys.json", [k for k in keys if k["name"] != name])
        self.write_authorized_keys()
        self.app.events.record(
            "UpdateKeyPair",
            "Major",
            f"SSH key '{name}' ({found[0]['fingerprint']}) was removed.",
            name=name,
            fingerprint=found[0]["fingerprint"],
            action="removed",
        )
        return found[0]

    def set_whitelist(self, entries: list[str]) -> list[str]:
        """Replace the whitelist (validated first: a bad entry changes nothing)."""
        clean = check_whitelist(entries)
        old = self.whitelist()
        self._write_json("whitelist.json", clean)
        self.write_authorized_keys()
        if clean != old:
            shown = ", ".join(clean) or "any address"
            self.app.events.record(
                "UpdateWhitelist",
                "Major",
                f"The SSH whitelist is now: {shown}.",
                entries=clean,
            )
        return clean

    def allows(self, address: str) -> bool:
        """Whether the whitelist lets ``address`` in (the tunnel checks its client with this)."""
        entries = self.whitelist()
        if not entries:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in ipaddress.ip_network(e) for e in entries)

    def write_authorized_keys(self) -> None:
        """authorized_keys from the registered keys and the whitelist; sshd reads it per login."""
        self._ensure_dir()
        entries = self.whitelist()
        prefix = ""
        if entries:
            allowed = [*entries]
            if self.tunnel_source_address and self.tunnel_source_address not in allowed:
                allowed.append(self.tunnel_source_address)
            prefix = f'from="{",".join(allowed)}" '
        lines = [f"{prefix}{k['public_key']} {k['name']}" for k in self.keys()]
        _atomic_write(self.authorized_keys_path, "".join(line + "\n" for line in lines))

    # ------------------------------------------------------------------ sshd

    def _host_keys(self) -> list[Path]:
        paths = []
        for kind in HOST_KEY_TYPES:
            path = self.dir / f"ssh_host_{kind}_key"
            if not path.exists():
                write_host_key(str(path), kind)
            os.chmod(path, 0o600)
            paths.append(path)
        return paths

    def host_key_fingerprints(self) -> list[dict[str, str]]:
        """The host keys' fingerprints, for users to check on first connection."""
        out = []
        for kind in HOST_KEY_TYPES:
            pub = self.dir / f"ssh_host_{kind}_key.pub"
            try:
                key = parse_public_key(pub.read_text().strip())
            except (OSError, ApiError):
                continue
            out.append({"type": key.algorithm, "fingerprint": key.fingerprint})
        return out

    def _strict_modes(self) -> bool:
        """StrictModes works only when no folder above ours is writable by others."""
        uid = os.getuid()
        for folder in [self.dir.resolve(), *self.dir.resolve().parents]:
            st = folder.stat()
            if st.st_uid not in (0, uid) or st.st_mode & 0o022:
                return False
        return True

    def session_environment(self) -> dict[str, str]:
        """The server's variables SSH sessions get: PATH (its own env first), conda, CUDA."""
        names = set(SESSION_ENV) | set(self.session_env)
        env = {
            k: v
            for k, v in os.environ.items()
            if (k in names or k.startswith("LC_")) and not SECRET_NAME.search(k)
        }
        path = env.get("PATH", os.defpath).split(os.pathsep)
        own = os.path.dirname(sys.executable)
        if own not in path:
            path.insert(0, own)
        env["PATH"] = os.pathsep.join(p for p in path if p)
        env["MA_NOTEBOOK_WORKSPACE"] = self.app.workspace_dir
        return env

    def write_profile(self) -> None:
        """The login profile: the notebook environment; interactive shells open the workspace."""
        lines = [f"{PROFILE_MARK} (generated by ma-notebook; do not edit)"]
        for key, value in sorted(self.session_environment().items()):
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                lines.append(f"export {key}={_sh_quote(value)}")
        lines.append('case "$-" in *i*) cd "$MA_NOTEBOOK_WORKSPACE" 2>/dev/null || true ;; esac')
        _atomic_write(self.profile_path, "\n".join(lines) + "\n", 0o644)
        if self.login_profile:
            self._install_profile_hook()

    def _install_profile_hook(self) -> None:
        home = Path(pwd.getpwuid(os.getuid()).pw_dir)
        target = home / ".bash_profile"
        if not target.exists():
            target = home / ".profile"
        line = (
            f"[ -r {_sh_quote(str(self.profile_path))} ] && . {_sh_quote(str(self.profile_path))}"
        )
        try:
            text = target.read_text() if target.exists() else ""
            if line in text:
                return
            with target.open("a") as f:
                f.write(f"\n{PROFILE_MARK}\n{line}\n")
        except OSError as e:
            self.log.warning("ssh: could not add the login profile to %s: %s", target, e)

    def write_config(self) -> None:
        """sshd_config: key-only login as the notebook user, SFTP, TCP forwarding."""
        self._ensure_dir()
        host_keys = self._host_keys()
        user = self.user
        lines = [
            "# Generated by ma-notebook (SSHService); rewritten at every start.",
            f"Port {int(self.port)}",
            *[f"ListenAddress {a}" for a in self.listen_addresses],
            *[f"HostKey {p}" for p in host_keys],
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys_path}",
            "AuthorizedPrincipalsFile none",
            "AuthenticationMethods publickey",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "PermitEmptyPasswords no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "GSSAPIAuthentication no",
            "UsePAM no",
            f"AllowUsers {user}",
            f"PermitRootLogin {'prohibit-password' if user == 'root' else 'no'}",
            f"StrictModes {'yes' if self._strict_modes() else 'no'}",
            "PermitUserEnvironment no",
            "AllowTcpForwarding yes",
            "AllowStreamLocalForwarding no",
            "GatewayPorts no",
            "X11Forwarding no",
            "PermitTunnel no",
            "PrintMotd no",
            "PrintLastLog no",
            "ClientAliveInterval 60",
            "ClientAliveCountMax 3",
            "MaxStartups 20:50:100",
            "LogLevel INFO",
            "Subsystem sftp internal-sftp",
        ]
        setenv = []
        for key, value in sorted(self.session_environment().items()):
            quoted = _config_value(value)
            if quoted is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                self.log.warning("ssh: %s is not passed to SSH sessions (unsafe characters)", key)
                continue
            setenv.append(f"{key}={quoted}")
        if setenv:
            lines.append("SetEnv " + " ".join(setenv))
        _atomic_write(self.config_path, "\n".join(lines) + "\n")
        self.write_authorized_keys()
        self.write_profile()

    async def start(self) -> None:
        """At server start: run sshd when it is enabled (by config or last switched on)."""
        if (self.enabled or self.remembered_enabled) and self.executable():
            try:
                await self.start_sshd()
            except ApiError as e:
                self.log.warning("ssh: %s", e.message)

    async def stop(self) -> None:
        """With the server: stop sshd (open sessions end when their clients disconnect)."""
        await self.stop_sshd(remember=False)

    async def start_sshd(self, remember: bool = True) -> None:
        """Start sshd (no-op when running); ApiError when it is missing or fails to listen."""
        async with self._lock:
            program = self.executable()
            if program is None:
                raise ApiError(
                    409,
                    f"OpenSSH's sshd is not installed. Install it with: {SSHD_INSTALL_HINT}",
                    reason="sshd-missing",
                )
            if remember:
                self._remember_enabled(True)
            if self.process is not None and self.process.returncode is None:
                return
            self.state, self.message = "starting", ""
            await asyncio.to_thread(self.write_config)
            if self.is_root:
                with contextlib.suppress(OSError):
                    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
            cmd = [program, "-D", "-e", "-f", str(self.config_path)]
            setpriv = shutil.which("setpriv")
            if setpriv:
                cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
            self.output.clear()
            self._listening = asyncio.Event()
            self._stopping = False
            self.process = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=tool_env(),
                cwd=str(self.dir),
                start_new_session=True,
            )
            assert self.process.stderr is not None
            self._reader = asyncio.ensure_future(self._read(self.process.stderr))
            self._monitor = asyncio.ensure_future(self._watch(self.process))
            waiter = asyncio.ensure_future(self._listening.wait())
            done, _ = await asyncio.wait(
                {waiter, self._monitor}, timeout=self.start_timeout, return_when="FIRST_COMPLETED"
            )
            waiter.cancel()
            if self._listening.is_set():
                self.state, self.message = "running", ""
                self.log.info("ssh: sshd listening on port %s as %s", self.port, self.user)
                return
            if self._monitor not in done:
                await self._kill()
                self._fail(f"sshd did not listen within {self.start_timeout:.0f} s.")
            raise ApiError(409, f"sshd could not start: {self.message}", reason="sshd-failed")

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self.output.append(text)
            if text.startswith("Server listening on"):
                self._listening.set()

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 2)
        if self._stopping or process is not self.process:
            return
        self._fail(f"sshd exited with status {code}.")

    def _fail(self, what: str) -> None:
        lines = [line for line in self.output if "fatal" in line.lower() or "error" in line.lower()]
        detail = lines[-1] if lines else (self.output[-1] if self.output else "")
        self.state = "failed"
        self.message = f"{what} {detail}".strip()
        self.log.error("ssh: %s", self.message)
        self.app.events.record(
            "SSHServiceFailed", "Critical", f"The SSH service failed: {self.message}"
        )

    async def _kill(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        self._stopping = True
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def stop_sshd(self, remember: bool = True) -> None:
        """Stop sshd's listener; sessions already open stay until they end."""
        async with self._lock:
            if remember:
                self._remember_enabled(False)
            await self._kill()
            if self._monitor is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._monitor
            self.process = None
            if self.state != "failed" or remember:
                self.state, self.message = "stopped", ""

    async def restart_sshd(self) -> None:
        """Stop and start sshd with a fresh configuration (host keys are kept)."""
        await self.stop_sshd(remember=False)
        await self.start_sshd()

    # ------------------------------------------------------------------ answers

    def public_host_for(self, request_host: str) -> str:
        """The host clients use: configured, from the platform's variable, else the request's."""
        return self.public_host or os.environ.get("MA_SSH_PUBLIC_HOST", "") or request_host

    def public_port_value(self) -> int:
        """The port clients use: configured, from the platform's variable, else sshd's port."""
        if self.public_port:
            return int(self.public_port)
        raw = os.environ.get("MA_SSH_PUBLIC_PORT", "")
        return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else int(self.port)

    def status(self, request_host: str, base_url: str = "/") -> dict[str, Any]:
        """What the panel shows: state, address, keys, whitelist, host keys."""
        available = self.executable() is not None
        host = self.public_host_for(request_host)
        port = self.public_port_value()
        message = self.message
        if not available:
            message = f"OpenSSH's sshd is not installed. Install it with: {SSHD_INSTALL_HINT}"
        return {
            "available": available,
            "state": self.state if available else "unavailable",
            "message": message,
            "enabled": self.remembered_enabled or self.enabled,
            "user": self.user,
            "is_root": self.is_root,
            "host": host,
            "port": port,
            "address": f"ssh://{self.user}@{_url_host(host)}:{port}",
            "listen_port": int(self.port),
            "host_keys": self.host_key_fingerprints(),
            "keys": self.keys(),
            "whitelist": self.whitelist(),
            "tunnel_path": base_url.rstrip("/") + "/ma-notebook/api/ssh/tunnel",
            "log_tail": list(self.output)[-20:] if self.state == "failed" else [],
        }

    def interpreters(self) -> list[dict[str, str]]:
        """The Python of each kernel's environment, for PyCharm's remote interpreter."""
        out: list[dict[str, str]] = []
        manager = getattr(getattr(self.app, "serverapp", None), "kernel_spec_manager", None)
        try:
            specs = manager.get_all_specs() if manager is not None else {}
        except Exception:  # a broken kernelspec must not break the panel
            specs = {}
        for name, entry in sorted(specs.items()):
            spec = entry.get("spec", {})
            argv = spec.get("argv") or []
            if not argv:
                continue
            program = argv[0]
            if program in ("python", "python3", "{python}") or not os.path.isabs(program):
                program = sys.executable if "python" in program else shutil.which(program) or ""
            if program:
                out.append(
                    {
                        "kernel": name,
                        "display_name": spec.get("display_name", name),
                        "python": program,
                    }
                )
        return out

    def client_config(
        self,
        *,
        request_host: str,
        notebook_url: str,
        tunnel: bool,
        alias: str = "",
        key: str = "",
    ) -> dict[str, Any]:
        """Ready-made OpenSSH / VS Code, PyCharm and PuTTY configuration."""
        if not key:
            keys = self.keys()
            key = keys[-1]["name"] if keys else DEFAULT_ALIAS
        settings = ClientSettings(
            alias=alias or DEFAULT_ALIAS,
            user=self.user,
            host=self.public_host_for(request_host),
            port=self.public_port_value(),
            key_name=key,
            workspace=self.app.workspace_dir,
            tunnel=tunnel,
            notebook_url=notebook_url,
            interpreters=self.interpreters(),
        )
        return client_config(settings)

    async def tunnel_target(self) -> tuple[str, int, str]:
        """(host, port, source address) the websocket bridge connects to; 503 when not running."""
        if self.state != "running" or self.process is None:
            raise ApiError(
                503,
                "SSH is not running on the notebook: switch it on in the Remote SSH panel.",
                reason="ssh-stopped",
            )
        return self.connect_host(), int(self.port), self.tunnel_source_address


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
