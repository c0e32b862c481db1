"""s3fs-fuse mounts, one helper process per mount (Huawei's obsfs takes the same flags)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from traitlets import Float, Integer, Unicode

from ...procenv import tool_env
from .. import system
from .base import MountBackend, MountError, MountSource, write_private
from .bind import BindBackend


class S3fsBackend(MountBackend):
    """FUSE mounts by s3fs (or obsfs); the embedded store is bind-mounted instead."""

    name = "s3fs"

    executable = Unicode("s3fs", config=True, help="The s3fs (or obsfs) executable. Default: s3fs.")
    parallel_count = Integer(8, config=True, help="Parts transferred at once. Default: 8.")
    multipart_size_mib = Integer(16, config=True, help="Part size in MiB. Default: 16.")
    start_timeout = Float(20.0, config=True, help="Seconds to wait for the mount. Default: 20.")

    def __init__(self, state_dir: Path, **kwargs: Any) -> None:
        super().__init__(state_dir, **kwargs)
        self.dir = state_dir / "s3fs"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._bind = BindBackend(state_dir, parent=self)
        self._bound: set[str] = set()

    def unavailable(self) -> str | None:
        """Missing FUSE or s3fs."""
        if shutil.which(self.executable) is None:
            return f"The {self.executable} executable is not installed (Debian: s3fs)."
        return system.fuse_missing()

    def helper_pids(self) -> set[int]:
        """The running helpers."""
        return {p.pid for p in self._procs.values() if p.poll() is None}

    def _mount(self, mount_id: str, source: MountSource, target: Path, read_only: bool) -> None:
        s = source.settings
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        passwd = write_private(self.dir / f"{mount_id}.passwd", f"{s.access_key}:{s.secret_key}\n")
        what = source.bucket + (f":/{source.prefix}" if source.prefix else "")
        opts = [
            f"passwd_file={passwd}",
            f"url={s.effective_endpoint() or 'https://s3.amazonaws.com'}",
            f"endpoint={s.region or 'us-east-1'}",
            f"parallel_count={self.parallel_count}",
            f"multipart_size={self.multipart_size_mib}",
            "dbglevel=warn",
        ]
        if s.effective_addressing_style() == "path":
            opts.append("use_path_request_style")
        if read_only:
            opts.append("ro")
        cmd = [self.executable, what, str(target), "-f", "-o", ",".join(opts)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        extra = {"AWSSESSIONTOKEN": s.security_token} if s.security_token else {}
        log_path = self.dir / f"{mount_id}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                env=tool_env(extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._procs[mount_id] = proc
        deadline = time.monotonic() + self.start_timeout
        while system.mount_at(target) is None:
            if proc.poll() is not None:
                self._procs.pop(mount_id, None)
                tail = log_path.read_text(errors="replace")[-400:].strip()
                for secret in s.secrets:
                    tail = tail.replace(secret, "***")
                raise MountError(f"s3fs exited with status {proc.returncode}: {tail}")
            if time.monotonic() > deadline:
                self._terminate(mount_id)
                raise MountError("s3fs did not mount in time.")
            time.sleep(0.1)
        if system.health(target) is not None:
            time.sleep(0.3)

    async def mount(
        self, mount_id: str, source: MountSource, target: Path, read_only: bool
    ) -> None:
        """Start one s3fs in the foreground (our child) and wait for its mount."""
        if source.embedded:
            await self._bind.mount(mount_id, source, target, read_only)
            self._bound.add(mount_id)
            return
        await asyncio.to_thread(self._mount, mount_id, source, target, read_only)

    def _terminate(self, mount_id: str) -> None:
        proc = self._procs.pop(mount_id, None)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{mount_id}.passwd").unlink()
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

    def _unmount(self, mount_id: str, target: Path, lazy: bool) -> None:
        if system.mount_at(target) is not None:
            error = system.unmount(target, lazy=lazy)
            if error:
                raise MountError(f"umount failed: {error[:300]}")
        proc = self._procs.get(mount_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)  # s3fs exits by itself once unmounted
        self._terminate(mount_id)

    async def unmount(self, mount_id: str, target: Path, lazy: bool = False) -> None:
        """Unmount, then let the helper exit."""
        if mount_id in self._bound:
            await self._bind.unmount(mount_id, target, lazy)
            self._bound.discard(mount_id)
            return
        await asyncio.to_thread(self._unmount, mount_id, target, lazy)

    async def stop(self) -> None:
        """Stop helpers that are left."""
        for mount_id in list(self._procs):
            await asyncio.to_thread(self._terminate, mount_id)
