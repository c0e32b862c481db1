"""rclone mounts driven through one ``rclone rcd`` remote-control daemon for all mounts.

The daemon listens on a loopback port with a per-start user and password given to it in its
environment (never its command line); the OBS credentials reach it through the rc API and live
in its config file (mode 0600, in the data dir, removed when the daemon stops). Its VFS write
cache sits in the data dir, so writes acknowledged by the mount survive a crash of the daemon
and are uploaded when it starts again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from traitlets import Dict, Float, Integer, Unicode

from ...procenv import tool_env
from .. import system
from .base import MountBackend, MountError, MountSource, write_private

REMOTE = "ma-obs"
NS = 1_000_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RcloneBackend(MountBackend):
    """FUSE mounts by rclone (S3 backend for endpoints, local backend for the embedded store)."""

    name = "rclone"

    rclone = Unicode("rclone", config=True, help="The rclone executable. Default: rclone.")
    dir_cache_seconds = Float(
        10.0,
        config=True,
        help="How long a mounted folder's listing is cached before OBS is asked again (rclone "
        "--dir-cache-time). Default: 10 s.",
    )
    write_back_seconds = Float(
        0.0,
        config=True,
        help="Delay before a closed file is uploaded (rclone --vfs-write-back). Default: 0 s.",
    )
    upload_concurrency = Integer(
        16, config=True, help="Parts of one file uploaded at once (S3 backend). Default: 16."
    )
    chunk_size_mib = Integer(32, config=True, help="Multipart part size in MiB. Default: 32.")
    s3_options = Dict(
        {},
        config=True,
        help="More rclone S3 backend options, e.g. {'disable_checksum': 'true'}. Default: none.",
    )
    start_timeout = Float(20.0, config=True, help="Seconds to wait for rcd to answer. Default: 20.")

    def __init__(self, state_dir: Path, **kwargs: Any) -> None:
        super().__init__(state_dir, **kwargs)
        self.dir = state_dir / "rclone"
        self._proc: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._auth = ""
        self._remote_settings: tuple[str, ...] | None = None
        self._lock = asyncio.Lock()

    @property
    def config_file(self) -> Path:
        """rclone's config file (holds the OBS credentials, mode 0600)."""
        return self.dir / "rclone.conf"

    @property
    def cache_dir(self) -> Path:
        """The VFS write cache."""
        return self.dir / "cache"

    @property
    def log_file(self) -> Path:
        """The daemon's log."""
        return self.dir / "rclone.log"

    def unavailable(self) -> str | None:
        """Missing FUSE or rclone."""
        if shutil.which(self.rclone) is None:
            return f"The rclone executable ({self.rclone}) is not installed (Debian: rclone)."
        return system.fuse_missing()

    def helper_pids(self) -> set[int]:
        """The daemon's pid."""
        return {self._proc.pid} if self._proc is not None and self._proc.poll() is None else set()

    def daemon_pid(self) -> int | None:
        """The running daemon's pid, if any."""
        pids = self.helper_pids()
        return next(iter(pids)) if pids else None

    # -- the daemon
    def _call(self, path: str, params: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self._port}/{path}",
            data=json.dumps(params or {}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": self._auth},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read()).get("error", "")
            except ValueError:
                detail = ""
            raise MountError(f"rclone {path}: {detail or e.reason}"[:500]) from None
        except OSError as e:
            raise MountError(f"rclone daemon did not answer {path}: {e}") from None

    def _start_daemon(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if not self.config_file.exists():
            write_private(self.config_file, "")
        user, password = "ma", secrets.token_urlsafe(24)
        self._port = _free_port()
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        env = tool_env(
            {
                "RCLONE_RC_USER": user,
                "RCLONE_RC_PASS": password,
                "RCLONE_CONFIG": str(self.config_file),
            }
        )
        cmd = [
            self.rclone,
            "rcd",
            "--rc-addr",
            f"127.0.0.1:{self._port}",
            "--cache-dir",
            str(self.cache_dir),
            "--log-file",
            str(self.log_file),
            "--log-level",
            "INFO",
        ]
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._remote_settings = None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise MountError(
                    f"rclone rcd exited with status {self._proc.returncode}; see {self.log_file}."
                )
            try:
                self._call("core/pid", timeout=2)
                break
            except MountError:
                if time.monotonic() > deadline:
                    self._kill()
                    raise MountError("rclone rcd did not start in time.") from None
                time.sleep(0.1)
        self.log.info(
            "ma-notebook storage: rclone rcd pid %s on port %s", self._proc.pid, self._port
        )

    def _ensure_daemon(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start_daemon()

    def _ensure_remote(self, source: MountSource) -> None:
        s = source.settings
        key = (
            s.effective_endpoint() or "",
            s.region,
            s.access_key,
            s.secret_key,
            s.security_token,
            s.effective_addressing_style(),
        )
        if self._remote_settings == key:
            return
        params = {
            "provider": "Other",
            "env_auth": "false",
            "access_key_id": s.access_key,
            "secret_access_key": s.secret_key,
            "session_token": s.security_token,
            "endpoint": s.effective_endpoint() or "",
            "region": s.region or "us-east-1",
            "force_path_style": "true" if s.effective_addressing_style() == "path" else "false",
            "no_check_bucket": "true",
            "upload_concurrency": str(self.upload_concurrency),
            "chunk_size": f"{self.chunk_size_mib}M",
        }
        params.update({str(k): str(v) for k, v in self.s3_options.items()})
        params = {k: v for k, v in params.items() if v != ""}
        with contextlib.suppress(MountError):
            self._call("config/delete", {"name": REMOTE})
        self._call(
            "config/create",
            {
                "name": REMOTE,
                "type": "s3",
                "parameters": params,
                "opt": {"nonInteractive": True, "obscure": False},
            },
        )
        os.chmod(self.config_file, 0o600)
        self._remote_settings = key

    def _mount(self, source: MountSource, target: Path, read_only: bool) -> None:
        self._ensure_daemon()
        if source.embedded:
            folder = source.local_path
            folder.mkdir(parents=True, exist_ok=True)
            fs = str(folder)
        else:
            self._ensure_remote(source)
            fs = f"{REMOTE}:{source.bucket}/{source.prefix}".rstrip("/")
        vfs = {
            "CacheMode": "writes",
            "DirCacheTime": int(self.dir_cache_seconds * NS),
            "WriteBack": int(self.write_back_seconds * NS),
            "ReadOnly": read_only,
        }
        self._call("mount/mount", {"fs": fs, "mountPoint": str(target), "vfsOpt": vfs})

    async def mount(
        self, mount_id: str, source: MountSource, target: Path, read_only: bool
    ) -> None:
        """Start the daemon if needed, then ``mount/mount`` through it."""
        async with self._lock:
            await asyncio.to_thread(self._mount, source, target, read_only)

    def _unmount(self, target: Path, lazy: bool) -> None:
        if lazy:
            error = system.unmount(target, lazy=True)
            if error:
                raise MountError(f"umount -l failed: {error[:300]}")
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._call("mount/unmount", {"mountPoint": str(target)})
            except MountError:
                if system.mount_at(target) is not None:
                    raise
        elif system.mount_at(target) is not None:
            error = system.unmount(target, lazy=True)
            if error:
                raise MountError(f"umount failed: {error[:300]}")

    async def unmount(self, mount_id: str, target: Path, lazy: bool = False) -> None:
        """``mount/unmount`` through the daemon (after a lazy umount when forced)."""
        async with self._lock:
            await asyncio.to_thread(self._unmount, target, lazy)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(MountError):
                self._call("mount/unmountall", timeout=30)
            with contextlib.suppress(MountError):
                self._call("core/quit", timeout=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(10)
        self._kill()
        # the config holds the credentials: it lives only as long as the daemon
        with contextlib.suppress(FileNotFoundError):
            self.config_file.unlink()

    async def stop(self) -> None:
        """Unmount what is left, quit the daemon, remove its config."""
        async with self._lock:
            await asyncio.to_thread(self._stop)
