"""Image builders found on the machine (docker, buildah, buildctl) and their build cache."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from ..procenv import tool_env
from .registry import is_loopback_registry

#: The builders ``detect_builder`` looks for, in order.
BUILDERS = ("docker", "buildah", "buildctl")
BUILDER_ENV = "MA_IMAGE_BUILDER"
#: The Docker-related variables a builder process may see (never registry credentials).
BUILDER_ALLOW = (
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "DOCKER_API_VERSION",
    "BUILDKIT_HOST",
    "BUILDAH_ISOLATION",
    "STORAGE_DRIVER",
    "XDG_RUNTIME_DIR",
    "REGISTRY_AUTH_FILE",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)

Output = Callable[[str], None]


class BuilderError(Exception):
    """A build tool is missing or failed; the message says what to do."""


@dataclass
class CacheRecord:
    """One build-cache entry, as ``df`` and ``prune`` report it."""

    id: str
    size: int
    reclaimable: bool = True
    shared: bool = False
    in_use: bool = False
    type: str = "regular"
    description: str = ""
    parents: list[str] = field(default_factory=list)
    created_at: str = ""
    last_used_at: str = ""
    usage_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON."""
        return asdict(self)


@dataclass
class PruneResult:
    """What a prune removed."""

    deleted: list[CacheRecord]
    reclaimed: int


def parse_duration(text: str) -> int:
    """Seconds in ``"90s"``, ``"30m"``, ``"1h"``, ``"1h30m"`` or plain ``"120"``."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+", value):
        return int(value)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not value or not parts or not any(parts.groups()):
        raise ValueError(
            f"{text[:20]!r} is not a duration: use seconds (s), minutes (m) or hours (h), "
            "e.g. 1h30m"
        )
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}


def parse_size(text: str) -> int:
    """Bytes in a size as docker prints it (``"98.5MB"``, ``"4.1kB"``, ``"0B"``)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?i?b)\s*", text.lower())
    if not match:
        return 0
    unit = match.group(2).replace("i", "")
    return int(float(match.group(1)) * _UNITS.get(unit, 1))


def human_size(size: int) -> str:
    """``98.50MB`` style (decimal units, as docker and the seed print them)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1000
    return f"{size}B"  # pragma: no cover


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    output: Output | None = None,
    timeout: float | None = None,
    cwd: str | None = None,
) -> str:
    """Run a tool; stream its lines to ``output`` (or capture them); raise on failure."""
    full_env = tool_env(env, allow=BUILDER_ALLOW)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            text=True,
            errors="replace",
        )
    except OSError as e:
        raise BuilderError(f"cannot run {argv[0]}: {e.strerror or e}") from e
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line)
        if output is not None:
            output(line.rstrip("\n"))
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            break
    code = proc.wait()
    text = "".join(lines)
    if code != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise BuilderError(
            f"{Path(argv[0]).name} {argv[1] if len(argv) > 1 else ''} failed (exit {code}):\n{tail}"
        )
    return text


class Builder:
    """A way to build, push and inspect images and to report or prune their build cache."""

    name = ""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def describe(self) -> str:
        """One line naming the builder."""
        return f"{self.name} ({self.executable})"

    def build(
        self,
        dockerfile: Path,
        context: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        output: Output | None = None,
    ) -> None:
        """Build ``dockerfile`` with ``context`` and tag the result."""
        raise NotImplementedError

    def push(self, ref: str, *, output: Output | None = None) -> None:
        """Push a built image to its registry."""
        raise NotImplementedError

    def save(self, ref: str, path: Path) -> None:
        """Write a built image as a tar archive (``docker save`` format)."""
        raise NotImplementedError

    def image_exists(self, ref: str) -> bool:
        """Whether the image is in the builder's local store."""
        raise NotImplementedError

    def image_size(self, ref: str) -> int:
        """Size in bytes of a local image (0 when unknown)."""
        return 0

    def remove_image(self, ref: str) -> None:
        """Remove a local image (no error when it is not there)."""
        raise NotImplementedError

    def df(self) -> list[CacheRecord]:
        """The build cache entries."""
        raise NotImplementedError

    def prune(self, keep_storage: int = 0, keep_duration: int = 0) -> PruneResult:
        """Remove build cache beyond ``keep_storage`` bytes and older than ``keep_duration`` s."""
        raise NotImplementedError


# ---------------------------------------------------------------- docker


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class DockerBuilder(Builder):
    """dockerd through the docker CLI (builds) and its Engine API socket (cache)."""

    name = "docker"

    def __init__(self, executable: str, buildkit: bool = True) -> None:
        super().__init__(executable)
        self.buildkit = buildkit

    def describe(self) -> str:
        """One line naming the builder and whether BuildKit builds."""
        kind = "BuildKit" if self.buildkit else "classic builder"
        return f"docker ({self.executable}, {kind})"

    def _env(self) -> dict[str, str]:
        return {"DOCKER_BUILDKIT": "1" if self.buildkit else "0"}

    def cli(self, *args: str, output: Output | None = None, timeout: float | None = None) -> str:
        """Run ``docker <args>`` and return its output."""
        return _run([self.executable, *args], env=self._env(), output=output, timeout=timeout)

    def socket_path(self) -> str:
        """The Engine API's unix socket (``DOCKER_HOST`` or /var/run/docker.sock)."""
        host = os.environ.get("DOCKER_HOST", "")
        if not host:
            return "/var/run/docker.sock"
        parsed = urlparse(host)
        if parsed.scheme != "unix":
            raise BuilderError(
                f"DOCKER_HOST {host[:40]!r} is not a unix socket; df/prune need the local daemon"
            )
        return parsed.path

    def engine(self, method: str, path: str, timeout: float = 600) -> Any:
        """Call the Engine API on the local socket and decode its JSON answer."""
        conn = _UnixHTTPConnection(self.socket_path(), timeout)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as e:
            raise BuilderError(
                f"cannot reach dockerd at {self.socket_path()}: {e}; start it (dockerd) first"
            ) from e
        finally:
            conn.close()
        if resp.status >= 300:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body[:200].decode(errors="replace")
            raise BuilderError(f"dockerd answered {resp.status} to {path.split('?')[0]}: {message}")
        return json.loads(body) if body else None

    def build(
        self,
        dockerfile: Path,
        context: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        output: Output | None = None,
    ) -> None:
        """``docker build -f FILE -t TAG --build-arg K=V CONTEXT``."""
        argv = ["build", "-f", str(dockerfile)]
        if self.buildkit:
            argv.append("--progress=plain")
        for tag in tags:
            argv += ["-t", tag]
        for key, value in (build_args or {}).items():
            argv += ["--build-arg", f"{key}={value}"]
        argv.append(str(context))
        self.cli(*argv, output=output)

    def push(self, ref: str, *, output: Output | None = None) -> None:
        """``docker push REF``."""
        self.cli("push", ref, output=output)

    def save(self, ref: str, path: Path) -> None:
        """``docker save -o PATH REF``."""
        self.cli("save", "-o", str(path), ref)

    def inspect(self, ref: str) -> dict[str, Any] | None:
        """``docker image inspect`` of a local image, or None."""
        try:
            return dict(self.engine("GET", f"/images/{quote(ref, safe='')}/json"))
        except BuilderError as e:
            if "404" in str(e):
                return None
            raise

    def inspect_container(self, name: str) -> dict[str, Any] | None:
        """A container's State (Running, ExitCode, Health ...), or None when it is gone."""
        try:
            data = self.engine("GET", f"/containers/{quote(name, safe='')}/json")
        except BuilderError as e:
            if "404" in str(e):
                return None
            raise
        return dict(data.get("State") or {})

    def image_exists(self, ref: str) -> bool:
        """Whether dockerd has the image."""
        return self.inspect(ref) is not None

    def image_size(self, ref: str) -> int:
        """The image's size as dockerd reports it."""
        info = self.inspect(ref)
        return int(info.get("Size", 0)) if info else 0

    def remove_image(self, ref: str) -> None:
        """``docker rmi`` (ignores a missing image)."""
        if self.image_exists(ref):
            self.engine("DELETE", f"/images/{quote(ref, safe='')}?force=1")

    @staticmethod
    def _record(raw: Mapping[str, Any]) -> CacheRecord:
        parents = raw.get("Parents") or ([raw["Parent"]] if raw.get("Parent") else [])
        return CacheRecord(
            id=str(raw.get("ID", "")),
            size=int(raw.get("Size", 0)),
            reclaimable=not raw.get("InUse", False),
            shared=bool(raw.get("Shared", False)),
            in_use=bool(raw.get("InUse", False)),
            type=str(raw.get("Type", "regular")),
            description=str(raw.get("Description", "")),
            parents=[str(p) for p in parents],
            created_at=str(raw.get("CreatedAt", "")),
            last_used_at=str(raw.get("LastUsedAt") or ""),
            usage_count=int(raw.get("UsageCount", 0)),
        )

    def df(self) -> list[CacheRecord]:
        """The daemon's build cache (``GET /system/df``), largest first."""
        data = self.engine("GET", "/system/df")
        records = [self._record(r) for r in data.get("BuildCache") or []]
        return sorted(records, key=lambda r: -r.size)

    def prune(self, keep_storage: int = 0, keep_duration: int = 0) -> PruneResult:
        """``POST /build/prune`` with keep-storage and an ``until`` filter."""
        before = {r.id: r for r in self.df()}
        query = f"all=1&keep-storage={int(keep_storage)}"
        if keep_duration > 0:
            query += "&filters=" + quote(json.dumps({"until": [f"{keep_duration}s"]}))
        data = self.engine("POST", f"/build/prune?{query}") or {}
        deleted = [
            before.get(i) or CacheRecord(id=i, size=0) for i in data.get("CachesDeleted") or []
        ]
        return PruneResult(deleted, int(data.get("SpaceReclaimed", 0)))


# ---------------------------------------------------------------- buildah


class BuildahBuilder(Builder):
    """Daemonless builds with buildah (its intermediate images are the cache)."""

    name = "buildah"

    def build(
        self,
        dockerfile: Path,
        context: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        output: Output | None = None,
    ) -> None:
        """``buildah bud --layers -f FILE -t TAG CONTEXT``."""
        argv = [self.executable, "bud", "--layers", "-f", str(dockerfile)]
        for tag in tags:
            argv += ["-t", tag]
        for key, value in (build_args or {}).items():
            argv += ["--build-arg", f"{key}={value}"]
        _run([*argv, str(context)], output=output)

    def push(self, ref: str, *, output: Output | None = None) -> None:
        """``buildah push REF`` (http allowed for loopback registries)."""
        tls = "false" if is_loopback_registry(ref.split("/", 1)[0]) else "true"
        _run([self.executable, "push", f"--tls-verify={tls}", ref], output=output)

    def save(self, ref: str, path: Path) -> None:
        """``buildah push REF docker-archive:PATH``."""
        _run([self.executable, "push", ref, f"docker-archive:{path}:{ref}"])

    def image_exists(self, ref: str) -> bool:
        """``buildah inspect --type image``."""
        try:
            _run([self.executable, "inspect", "--type", "image", ref])
        except BuilderError:
            return False
        return True

    def remove_image(self, ref: str) -> None:
        """``buildah rmi``."""
        if self.image_exists(ref):
            _run([self.executable, "rmi", "-f", ref])

    def _images(self) -> list[dict[str, Any]]:
        text = _run([self.executable, "images", "--all", "--json"])
        return list(json.loads(text or "[]"))

    def df(self) -> list[CacheRecord]:
        """Untagged intermediate images."""
        records = []
        for image in self._images():
            if image.get("names"):
                continue
            records.append(
                CacheRecord(
                    id=str(image.get("id", ""))[:25],
                    size=parse_size(str(image.get("size", "0B"))),
                    created_at=str(image.get("createdat", "")),
                    last_used_at=str(image.get("createdat", "")),
                    type="intermediate",
                )
            )
        return records

    def prune(self, keep_storage: int = 0, keep_duration: int = 0) -> PruneResult:
        """``buildah rmi --prune`` (keep-storage and keep-duration are not supported)."""
        before = self.df()
        _run([self.executable, "rmi", "--prune"])
        after = {r.id for r in self.df()}
        deleted = [r for r in before if r.id not in after]
        return PruneResult(deleted, sum(r.size for r in deleted))


# ---------------------------------------------------------------- buildctl


class BuildctlBuilder(Builder):
    """BuildKit's client against a running buildkitd (``BUILDKIT_HOST``)."""

    name = "buildctl"

    def build(
        self,
        dockerfile: Path,
        context: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        output: Output | None = None,
        push: bool = False,
    ) -> None:
        """``buildctl build --frontend dockerfile.v0`` exporting an image."""
        argv = [
            self.executable,
            "build",
            "--progress=plain",
            "--frontend",
            "dockerfile.v0",
            "--local",
            f"context={context}",
            "--local",
            f"dockerfile={dockerfile.parent}",
            "--opt",
            f"filename={dockerfile.name}",
        ]
        for key, value in (build_args or {}).items():
            argv += ["--opt", f"build-arg:{key}={value}"]
        if tags:
            names = ",".join(tags)
            argv += ["--output", f'type=image,"name={names}",push={"true" if push else "false"}']
        _run(argv, output=output)

    def push(self, ref: str, *, output: Output | None = None) -> None:
        """buildctl pushes while building; ``ma-cli image build`` asks it to."""
        raise BuilderError("buildctl pushes while building; run the build again with --swr-path")

    def save(self, ref: str, path: Path) -> None:
        """Not kept locally by buildkitd."""
        raise BuilderError("buildctl keeps no local images to save; use docker or buildah")

    def image_exists(self, ref: str) -> bool:
        """buildkitd has no image store."""
        return False

    def remove_image(self, ref: str) -> None:
        """Nothing to remove locally."""

    def df(self) -> list[CacheRecord]:
        """``buildctl du -v --format '{{json .}}'``."""
        text = _run([self.executable, "du", "-v", "--format", "{{json .}}"])
        records = []
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith(("{", "[")):
                continue
            data = json.loads(line)
            for raw in data if isinstance(data, list) else [data]:
                records.append(DockerBuilder._record(raw))
        return records

    def prune(self, keep_storage: int = 0, keep_duration: int = 0) -> PruneResult:
        """``buildctl prune --keep-storage MB --keep-duration Ns``."""
        before = {r.id: r for r in self.df()}
        argv = [self.executable, "prune", "--all"]
        if keep_storage:
            argv += ["--keep-storage", str(max(1, keep_storage // 1_000_000))]
        if keep_duration:
            argv += ["--keep-duration", f"{keep_duration}s"]
        _run(argv)
        after = {r.id for r in self.df()}
        deleted = [r for i, r in before.items() if i not in after]
        return PruneResult(deleted, sum(r.size for r in deleted))


# ---------------------------------------------------------------- detection


def _docker_client_buildkit(executable: str) -> bool:
    """Whether this docker CLI builds with BuildKit: a buildx plugin, or a client before 23."""
    env = tool_env(allow=BUILDER_ALLOW)
    try:
        subprocess.run(
            [executable, "buildx", "version"], capture_output=True, check=True, env=env, timeout=20
        )
        return True
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        out = subprocess.run(
            [executable, "version", "--format", "{{.Client.Version}}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    match = re.match(r"(\d+)\.", out.strip())
    return bool(match) and int(match.group(1)) < 23  # type: ignore[union-attr]


def _docker_daemon_up(executable: str) -> bool:
    try:
        subprocess.run(
            [executable, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            check=True,
            env=tool_env(allow=BUILDER_ALLOW),
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _all_on_path(name: str) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            if real not in seen:
                seen.add(real)
                found.append(candidate)
    return found


def detect_builder(prefer: str | None = None) -> Builder:
    """The first usable builder: docker (daemon up), buildah, buildctl; ``prefer`` picks one."""
    wanted = prefer or os.environ.get(BUILDER_ENV) or ""
    if wanted and wanted not in BUILDERS:
        raise BuilderError(f"unknown builder {wanted[:20]!r}: choose one of {', '.join(BUILDERS)}")
    order = [wanted] if wanted else list(BUILDERS)
    reasons: list[str] = []
    for name in order:
        if name == "docker":
            clients = _all_on_path("docker")
            if not clients:
                reasons.append("docker: not installed")
                continue
            if not _docker_daemon_up(clients[0]):
                reasons.append("docker: the daemon is not running (start dockerd)")
                continue
            # Prefer a client that builds with BuildKit (its cache is what df/prune manage).
            for client in clients:
                if _docker_client_buildkit(client):
                    return DockerBuilder(client, buildkit=True)
            return DockerBuilder(clients[0], buildkit=False)
        exe = shutil.which(name)
        if not exe:
            reasons.append(f"{name}: not installed")
            continue
        no_daemon = not os.path.exists("/run/buildkit/buildkitd.sock")
        if name == "buildctl" and not os.environ.get("BUILDKIT_HOST") and no_daemon:
            reasons.append("buildctl: no buildkitd (set BUILDKIT_HOST)")
            continue
        return BuildahBuilder(exe) if name == "buildah" else BuildctlBuilder(exe)
    raise BuilderError(
        "No image builder found: install docker (with dockerd running), buildah or buildctl "
        f"(BuildKit). Looked for: {'; '.join(reasons)}."
    )


# ---------------------------------------------------------------- the base image's context


def repo_root() -> Path | None:
    """The source checkout this package runs from (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "images" / "base" / "Dockerfile").is_file() else None


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's own requirements (no extras), for the image's dependency layer."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(name).decode()
    reqs = []
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1].strip()
            if "extra ==" not in req:
                reqs.append(req)
    return reqs


def build_wheel(source: Path, out_dir: Path, python: str | None = None) -> Path:
    """Build this repository's wheel (the prebuilt frontend goes in it) into ``out_dir``."""
    import sys

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("ma_notebook-*.whl"):
        old.unlink()
    _run(
        [
            python or sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out_dir),
            ".",
        ],
        cwd=str(source),
        env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    wheels = sorted(out_dir.glob("ma_notebook-*.whl"))
    if not wheels:
        raise BuilderError(f"building the wheel in {source} produced nothing")
    return wheels[-1]


def host_extra_cas() -> list[Path]:
    """Certificate authorities this machine added to its trust store (proxies, private CAs)."""
    found: list[Path] = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    certs = Path("/etc/ssl/certs")
    if certs.is_dir():
        # stand-alone PEM files (not links into the distribution's bundle)
        found += [p for p in sorted(certs.glob("*.pem")) if p.is_file() and not p.is_symlink()]
    return found


def prepare_base_context(
    out_dir: Path, source: Path | None = None, *, host_ca: bool = True
) -> Path:
    """A build context for images/base: its files plus dist/ (the wheel, requirements.txt).

    With ``host_ca`` the CAs this machine added to its trust store go to dist/ca-certificates/
    so that builds behind an intercepting proxy reach the package registries.
    """
    src = source or repo_root()
    if src is None:
        raise BuilderError(
            "the base image builds from a source checkout of ma-notebook (images/base/); "
            "clone the repository and run this from it"
        )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(src / "images" / "base", out_dir)
    dist = out_dir / "dist"
    with tempfile.TemporaryDirectory(prefix="ma-wheel-") as tmp:
        wheel = build_wheel(src, Path(tmp))
        dist.mkdir()
        shutil.copy2(wheel, dist / wheel.name)
    (dist / "requirements.txt").write_text("\n".join(wheel_requirements(dist / wheel.name)) + "\n")
    cas = dist / "ca-certificates"
    cas.mkdir()
    for i, ca in enumerate(host_extra_cas() if host_ca else []):
        shutil.copyfile(ca, cas / f"host-{i:02d}-{ca.stem}.crt")
    return out_dir


# ---------------------------------------------------------------- Dockerfile templates


@dataclass
class Template:
    """A Dockerfile template: a folder with a Dockerfile and a README."""

    name: str
    description: str
    path: Path


def templates_dir() -> Path:
    """The templates' folder: in the installed package, or images/templates/ of a checkout."""
    packaged = Path(__file__).resolve().parent / "templates"
    if packaged.is_dir():
        return packaged
    root = repo_root()
    if root is not None:
        return root / "images" / "templates"
    return packaged


def _description(readme: Path) -> str:
    lines = readme.read_text(encoding="utf-8").splitlines() if readme.is_file() else []
    paragraph: list[str] = []
    for line in lines:
        if line.startswith("#"):
            if paragraph:
                break
            continue
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)


def list_templates(name_filter: str = "") -> list[Template]:
    """The templates, by name, whose name or description contains ``name_filter``."""
    folder = templates_dir()
    out = []
    for sub in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not (sub / "Dockerfile").is_file():
            continue
        template = Template(sub.name, _description(sub / "README.md"), sub)
        text = f"{template.name} {template.description}".lower()
        if name_filter.lower() in text:
            out.append(template)
    return out


def add_template(name: str, dst: Path, force: bool = False) -> Path:
    """Copy a template into ``<dst>/.ma/<name>/``; an existing copy needs ``force``."""
    found = {t.name: t for t in list_templates()}
    if name not in found:
        raise BuilderError(f"no template {name[:60]!r}; list them with `ma-cli image get-template`")
    target = dst / ".ma" / name
    if target.exists():
        if not force:
            raise BuilderError(f"{target} exists; pass --force to overwrite it")
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(found[name].path, target)
    return target
