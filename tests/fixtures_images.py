"""Session fixtures for notebook images: dockerd, a minbase Debian, the base image, a registry.

Reusable by every test that needs containers (images, Save Image, JupyterHub):

- ``docker_daemon``: a running dockerd (started here as root when none runs; stopped at the end
  if started here), as a :class:`DockerBuilder`;
- ``debian_minbase_image``: ``debootstrap --variant=minbase`` of the Debian release apt uses,
  from apt's own mirror, ``docker import``ed once and kept between runs (tag keyed on the inputs);
- ``notebook_base_image``: ``images/base/`` built with the internet-free build args from this
  checkout's wheel, once per content (tag keyed on the build context), reused across tests;
- ``docker_registry``: Debian's ``docker-registry`` on a loopback port (deletes allowed).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ma_fixtures import DockerRegistry, stop_process

from ma_notebook.images.builder import DockerBuilder, detect_builder, prepare_base_context

ROOT = Path(__file__).resolve().parents[1]
SUITE = os.environ.get("MA_DEBIAN_SUITE", "bookworm")
#: Bump when the way the minbase image is made changes.
MINBASE_RECIPE = "1"
BASE_ARGS = {"PYTHON_INSTALLER": "venv"}
LOG_DIR = Path(os.environ.get("MA_IMAGES_LOG_DIR", tempfile.gettempdir())) / "ma-notebook-images"


def apt_mirror() -> str:
    """The Debian mirror apt already uses (``MA_DEBIAN_MIRROR`` overrides it)."""
    if os.environ.get("MA_DEBIAN_MIRROR"):
        return os.environ["MA_DEBIAN_MIRROR"]
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites and SUITE in suites.group(1).split():
                    return uris.group(1)
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb":
                    url = next(p for p in parts[1:] if not p.startswith("["))
                    if SUITE in parts:
                        return url
    return "http://deb.debian.org/debian"


def _daemon_up() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            check=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[DockerBuilder]:
    """A running dockerd: the one already running, or one started here (as root) for the session."""
    proc: subprocess.Popen | None = None
    if not _daemon_up():
        if os.geteuid() != 0 or not shutil.which("dockerd"):
            pytest.fail(
                "dockerd is not running and cannot be started here (needs root and the docker.io "
                "package: make system-deps)"
            )
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / "dockerd.log", "ab")  # noqa: SIM115 - lives as long as dockerd
        proc = subprocess.Popen(
            ["dockerd", "--log-level=warn"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not _daemon_up():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                pytest.fail(f"dockerd did not start; see {LOG_DIR / 'dockerd.log'}")
            time.sleep(0.5)
    builder = detect_builder("docker")
    assert isinstance(builder, DockerBuilder)
    yield builder
    if proc is not None:
        stop_process(proc, timeout=30)


@pytest.fixture(scope="session")
def debian_minbase_image(docker_daemon: DockerBuilder) -> str:
    """``debootstrap --variant=minbase`` of Debian as a local image, made once and kept."""
    mirror = apt_mirror()
    key = hashlib.sha256(f"{SUITE}|{mirror}|minbase|{MINBASE_RECIPE}".encode()).hexdigest()[:12]
    tag = f"ma-notebook/debian-minbase:{SUITE}-{key}"
    if docker_daemon.image_exists(tag):
        return tag
    if not shutil.which("debootstrap"):
        pytest.fail("debootstrap is missing (make system-deps installs it)")
    with tempfile.TemporaryDirectory(prefix="ma-minbase-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (rootfs / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [docker_daemon.executable, "import", "-", tag],
            stdin=tar.stdout,
            check=True,
            capture_output=True,
            timeout=600,
        )
        tar.wait()
    return tag


def _context_key(context: Path, base_image_id: str, args: dict[str, str]) -> str:
    """A digest of what the base image is built from (the wheel by its entries' CRCs)."""
    h = hashlib.sha256(f"{base_image_id}|{sorted(args.items())}".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(context)).encode())
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                for info in sorted(zf.infolist(), key=lambda i: i.filename):
                    h.update(f"{info.filename}:{info.CRC}".encode())
        else:
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


@pytest.fixture(scope="session")
def notebook_base_image(
    docker_daemon: DockerBuilder,
    debian_minbase_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The ma-notebook base image from ``images/base/`` (venv installer), built once per content."""
    context = prepare_base_context(tmp_path_factory.mktemp("base-image") / "context", ROOT)
    info = docker_daemon.inspect(debian_minbase_image) or {}
    args = {"BASE_IMAGE": debian_minbase_image, **BASE_ARGS}
    tag = f"ma-notebook/notebook-base:test-{_context_key(context, str(info.get('Id')), args)}"
    if docker_daemon.image_exists(tag):
        return tag
    args["IMAGE_REF"] = tag
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"notebook-base-{tag.rsplit('-', 1)[-1]}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        try:
            docker_daemon.build(
                context / "Dockerfile",
                context,
                [tag],
                args,
                output=lambda line: print(line, file=log, flush=True),
            )
        except Exception as e:
            pytest.fail(f"building the base image failed ({log_path}): {e}")
        print(f"built {tag} in {time.monotonic() - started:.0f}s", file=log)
    return tag


def build_variant(docker: DockerBuilder, base: str, name: str, steps: str, folder: Path) -> str:
    """A thin image FROM ``base`` with extra Dockerfile ``steps``, tagged by their content."""
    text = f"FROM {base}\n{steps.strip()}\n"
    tag = f"ma-notebook/variant-{name}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if docker.image_exists(tag):
        return tag
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(text)
    docker.build(folder / "Dockerfile", folder, [tag])
    return tag


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1, deletes enabled: ``host:port``."""
    registry = DockerRegistry(tmp_path_factory.mktemp("registry"))
    yield registry.addr
    registry.stop()
