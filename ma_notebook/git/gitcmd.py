"""Running git safely: hardened options, per-process credentials, progress and error parsing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..api import MAX_URL, quote
from ..procenv import tool_env
from ..tasks import TaskError

#: The credential helper git runs for this one process: it answers ``get`` from two environment
#: variables the process inherits, so the secret is never in argv, on disk or in the URL.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'printf "username=%s\\npassword=%s\\n" "$MA_GIT_USERNAME" "$MA_GIT_PASSWORD"; }; f'
)

#: What git may see of the server's environment beyond the base allow-list: proxies, TLS and
#: ssh-agent settings; never cloud credentials or the server's own tokens.
GIT_ENV_ALLOW = frozenset(
    {
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "XDG_CONFIG_HOME",
        "SSH_AUTH_SOCK",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    }
)
WHITESPACE = re.compile(r"\s")
SCP_LIKE = re.compile(
    r"^(?:(?P<user>[^@/\s]+)@)?(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):(?!//)"
)
PROGRESS = re.compile(
    r"^(?:remote:\s*)?(?P<phase>[A-Za-z][A-Za-z ]+):\s+(?P<pct>\d+)% "
    r"\((?P<done>\d+)/(?P<total>\d+)\)"
)
#: ``scheme://userinfo@``; possessive and anchored at the start of a scheme, so it is linear
#: (the unanchored form backtracked from every position: 11 s for a 100 KB URL).
USERINFO = re.compile(r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*+://)[^/@\s]++@")


@dataclass(frozen=True)
class Credential:
    """A username and personal access token handed to one git process."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class Remote:
    """A validated repository URL, with any embedded credential taken out of it."""

    url: str
    scheme: str
    host: str
    credential: Credential | None
    #: ``http.curloptResolve`` entries pinning git to the addresses that were checked.
    pins: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The folder name ``git clone`` would choose for this repository."""
        path = self.url.rstrip("/")
        path = re.split(r"[/:]", path)[-1] if path else ""
        if path.endswith(".git"):
            path = path[:-4]
        return path or "repository"


def parse_remote(raw: str, *, allow_file: bool = False) -> Remote:
    """Validate a repository URL (https, http, ssh, git, scp-like; file only when allowed)."""
    url = (raw or "").strip()
    if not url:
        raise TaskError("Enter the repository URL, e.g. https://github.com/owner/repo.git.")
    if len(url) > MAX_URL:
        raise TaskError(
            f"The repository URL is {len(url)} characters long; at most {MAX_URL} are accepted "
            f"(it starts {quote(redact(url[:80]))})."
        )
    if WHITESPACE.search(url) or url.startswith("-"):
        raise TaskError(
            f"{quote(redact(url))} is not a repository URL: remove spaces or leading '-'."
        )
    if "::" in url.split("/", 1)[0]:
        raise TaskError("Transport helpers such as ext:: are not allowed; use an https or ssh URL.")
    if "://" not in url:
        m = SCP_LIKE.match(url)
        if m and not url.startswith(("/", ".")):
            return Remote(url=url, scheme="ssh", host=m.group("host").strip("[]"), credential=None)
        if allow_file and (url.startswith("/") or os.path.isdir(url)):
            return Remote(url=url, scheme="file", host="", credential=None)
        raise TaskError(
            f"{quote(redact(url))} is not a repository URL. Use https://host/owner/repo.git, "
            "ssh://git@host/owner/repo.git or git@host:owner/repo.git."
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = {"http", "https", "ssh", "git"} | ({"file"} if allow_file else set())
    if scheme not in allowed:
        hint = " (file:// URLs are disabled on this server)" if scheme == "file" else ""
        raise TaskError(
            f"The {scheme[:20]}:// scheme is not supported{hint}; use https, http, ssh or git URLs."
        )
    credential = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        if scheme in ("http", "https"):
            # ``user:token@`` and ``token@`` (GitHub style) alike: a credential, never in argv
            user, _, password = userinfo.partition(":")
            if user or password:
                credential = Credential(unquote(user), unquote(password))
        else:
            netloc = f"{userinfo.split(':', 1)[0]}@{netloc}"
    host = parts.hostname or ""
    if scheme != "file" and not host:
        raise TaskError(f"{quote(redact(url))} has no host name.")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return Remote(url=clean, scheme=scheme, host=host, credential=credential)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credentials in URLs and the given secrets replaced by ``***``."""
    text = USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def hardened_config(
    *,
    allow_file: bool,
    low_speed_limit: int,
    low_speed_time: int,
    credential: bool,
    pins: tuple[str, ...] = (),
    follow_redirects: bool = False,
) -> list[str]:
    """``-c`` options every git process gets: no ext:: or file://, no hooks, stall timeouts.

    Configured credential helpers are reset; with a credential, ours answers from the environment.
    Redirects are not followed (the service follows and checks them itself) and ``pins`` fix the
    addresses git connects to, so a second DNS answer cannot send git somewhere unchecked.
    """
    pairs = [
        ("protocol.ext.allow", "never"),
        ("protocol.file.allow", "always" if allow_file else "never"),
        ("core.hooksPath", "/dev/null"),
        ("core.fsmonitor", "false"),
        ("http.lowSpeedLimit", str(low_speed_limit)),
        ("http.lowSpeedTime", str(low_speed_time)),
        ("credential.helper", ""),
        ("credential.interactive", "false"),
        ("http.followRedirects", "initial" if follow_redirects else "false"),
    ]
    pairs += [("http.curloptResolve", pin) for pin in pins]
    if credential:
        pairs.append(("credential.helper", CREDENTIAL_HELPER))
    args: list[str] = []
    for key, value in pairs:
        args += ["-c", f"{key}={value}"]
    return args


def git_env(credential: Credential | None, connect_timeout: int) -> dict[str, str]:
    """The environment of one git process: no prompts, the credential only in its environment."""
    env = tool_env(allow=GIT_ENV_ALLOW)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never",
            "GIT_SSH_COMMAND": (
                f"ssh -o BatchMode=yes -o ConnectTimeout={connect_timeout} "
                "-o ServerAliveInterval=15 -o ServerAliveCountMax=4 "
                "-o StrictHostKeyChecking=accept-new"
            ),
            "LC_ALL": "C",
            "LANG": "C",
        }
    )
    if credential is not None:
        env["MA_GIT_USERNAME"] = credential.username
        env["MA_GIT_PASSWORD"] = credential.password
    return env


class GitProcess:
    """One git process in its own process group: progress from stderr, killed on cancel."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: str | None = None,
        on_progress: Callable[[str, int, int, str], None] | None = None,
        stdin: bytes | None = None,
    ) -> None:
        self.args = args
        self.env = env
        self.cwd = cwd
        self.on_progress = on_progress
        self.stdin = stdin
        self.stderr_lines: list[str] = []
        self.stdout = b""
        self.returncode: int | None = None
        self._proc: asyncio.subprocess.Process | None = None

    async def run(self) -> int:
        """Run to completion; on cancellation kill the whole process group and re-raise."""
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.args,
                stdin=asyncio.subprocess.PIPE
                if self.stdin is not None
                else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            raise TaskError(
                f"{self.args[0]} is not installed on the notebook server: install git "
                "(e.g. apt-get install git) or set c.GitService.git_command.",
                status=503,
                reason="git_missing",
            ) from e
        try:
            if self.stdin is not None and self._proc.stdin is not None:
                self._proc.stdin.write(self.stdin)
                await self._proc.stdin.drain()
                self._proc.stdin.close()
            out, _ = await asyncio.gather(self._read_stdout(), self._read_stderr())
            self.stdout = out
            self.returncode = await self._proc.wait()
            return self.returncode
        except BaseException:
            self.kill()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._proc.wait())
            raise

    def kill(self) -> None:
        """SIGKILL the process group (git and its helpers such as git-remote-http)."""
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    async def _read_stdout(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        return await self._proc.stdout.read()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        buf = b""
        while True:
            chunk = await self._proc.stderr.read(8192)
            if not chunk:
                break
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                self._line(raw)
        if buf:
            self._line(buf)

    def _line(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").strip()
        if not line:
            return
        m = PROGRESS.match(line)
        if m:
            if self.on_progress is not None:
                self.on_progress(m["phase"].strip(), int(m["done"]), int(m["total"]), line)
            return
        self.stderr_lines.append(line)
        del self.stderr_lines[:-200]

    @property
    def stderr(self) -> str:
        """Non-progress stderr lines."""
        return "\n".join(self.stderr_lines)


def classify_failure(
    stderr: str, url: str, branch: str | None, secrets: tuple[str, ...]
) -> TaskError:
    """Turn git's stderr into a user-facing error with a status and a reason the UI knows."""
    text = stderr
    low = text.lower()
    shown = redact(url, secrets)

    def detail() -> str:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return redact(" ".join(lines[-3:]), secrets)[:600]

    if "no space left on device" in low or "disk quota exceeded" in low:
        return TaskError(
            "The disk is full: free some space in the workspace (or clone fewer files) and retry.",
            status=507,
            reason="disk_full",
        )
    if (
        "authentication failed" in low
        or "invalid username or password" in low
        or ("http basic: access denied" in low)
    ):
        return TaskError(
            f"The username or access token was rejected by {shown}. Check them (a personal access "
            "token needs read access to the repository) and try again.",
            status=401,
            reason="auth_failed",
        )
    if (
        "could not read username" in low
        or "could not read password" in low
        or "terminal prompts disabled" in low
        or "returned error: 401" in low
    ):
        return TaskError(
            f"Authentication required: {shown} is private. Enter your username and a personal "
            "access token.",
            status=401,
            reason="auth_required",
        )
    if branch and (
        ("remote branch" in low and "not found" in low) or "couldn't find remote ref" in low
    ):
        return TaskError(
            f"Branch {branch!r} was not found in {shown}. Pick one of its branches.",
            status=404,
            reason="branch_not_found",
        )
    if (
        "repository not found" in low
        or "returned error: 404" in low
        or "does not appear to be a git repository" in low
        or ("not found" in low and "repository" in low)
    ):
        return TaskError(
            f"Repository {shown} was not found. Check the URL (and that your account can see it).",
            status=404,
            reason="not_found",
        )
    if (
        "permission denied (publickey" in low
        or "host key verification failed" in low
        or "returned error: 403" in low
    ):
        return TaskError(
            f"Access to {shown} was denied ({detail()}). Check your access rights or use an https "
            "URL with a personal access token.",
            status=403,
            reason="forbidden",
        )
    unreachable = (
        "could not resolve host",
        "failed to connect",
        "connection refused",
        "connection timed out",
        "timed out",
        "network is unreachable",
        "no route to host",
        "could not read from remote repository",
        "operation too slow",
        "couldn't connect",
        "ssl",
        "unable to access",
    )
    if any(s in low for s in unreachable):
        return TaskError(
            f"Cannot reach {shown} ({detail()}). Check the URL and the network; to see git's own "
            f"output, run in a terminal: git clone {shown}",
            status=502,
            reason="unreachable",
        )
    return TaskError(
        f"git failed for {shown}: {detail() or 'no error output'}", status=502, reason="git_failed"
    )


def progress_message(phase: str, done: int, total: int) -> str:
    """A short progress line for the UI."""
    return f"{phase}: {done}/{total}"


def tree_entries(ls_tree_output: bytes, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Parse ``git ls-tree -r -t -z`` output into ``[{path, type}]`` (at most ``limit``)."""
    entries: list[dict[str, Any]] = []
    for record in ls_tree_output.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        parts = meta.split()
        if len(parts) < 3:
            continue
        kind = parts[1].decode()
        entries.append(
            {
                "path": path.decode(errors="replace"),
                "type": "folder" if kind == "tree" else "submodule" if kind == "commit" else "file",
            }
        )
        if len(entries) >= limit:
            return entries, True
    return entries, False
