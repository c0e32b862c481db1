"""Notebook images for real: the base image on dockerd, ``ma-cli image debug``, build, push, cache.

The base image is built once per content from ``images/base/`` (``notebook_base_image``);
the failing variants are thin layers FROM it. Every container started here is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_images import build_variant

from ma_notebook.images.builder import DockerBuilder

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ma_notebook.cli"]
#: The first test builds the base image (minutes on a cold cache).
pytestmark = pytest.mark.timeout(1500)


def ma_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run the real ``ma-cli`` and return the finished process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )


@pytest.fixture
def catalog_env(tmp_path: Path) -> dict[str, str]:
    return {
        "MA_IMAGE_CATALOG": str(tmp_path / "images.sqlite3"),
        "MA_CLI_PROFILE_FILE": str(tmp_path / "profile.yaml"),
    }


@pytest.fixture
def container(docker_daemon: DockerBuilder) -> Iterator[list[str]]:
    """Names of containers a test starts; all are removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run([docker_daemon.executable, "rm", "-f", name], capture_output=True)


def _get(url: str, token: str = "") -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_base_image_serves_jupyterlab_with_the_extension(
    docker_daemon: DockerBuilder, notebook_base_image: str, container: list[str]
):
    docker = docker_daemon.executable
    name = f"ma-test-base-{secrets.token_hex(4)}"
    container.append(name)
    token = secrets.token_hex(16)
    subprocess.run(
        [
            docker,
            "run",
            "-d",
            "--name",
            name,
            "-e",
            f"JUPYTER_TOKEN={token}",
            "-p",
            "127.0.0.1::8888",
            notebook_base_image,
        ],
        check=True,
        capture_output=True,
    )
    port = docker_daemon.cli("port", name, "8888/tcp").split(":")[-1].strip()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    status = 0
    while time.monotonic() < deadline:
        try:
            status, _ = _get(url + "/api")
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    assert status == 200, docker_daemon.cli("logs", name)
    assert _get(url + "/lab", token)[0] == 200
    assert _get(url + "/ma-notebook/api/info")[0] == 403  # no token, no API
    status, body = _get(url + "/ma-notebook/api/info", token)
    assert status == 200 and json.loads(body)["version"]
    status, body = _get(url + "/lab/api/extensions", token)
    assert status == 200 and "ma-notebook" in body.decode()

    listed = docker_daemon.cli("exec", name, "jupyter", "server", "extension", "list")
    assert any("ma_notebook" in line and "enabled" in line for line in listed.splitlines())
    assert "ma-user" in docker_daemon.cli("exec", name, "id", "-un")
    # the wheel carries the templates: ma-cli in the image lists them
    assert "migrate_3rd_party_image_to_modelarts" in docker_daemon.cli(
        "exec", name, "ma-cli", "image", "get-template"
    )
    assert docker_daemon.cli("exec", name, "id", "-u").strip() == "1000"
    # the baseline index Save Image compares against: root-owned, outside ma-user's reach
    header = json.loads(
        docker_daemon.cli("exec", name, "python", "-m", "ma_notebook.images.baseline", "show")
    )
    assert header["base_image"] == notebook_base_image  # what Save Image stacks on
    assert header["from_image"].startswith("ma-notebook/debian-minbase:")
    assert header["entries"] > 10_000
    assert "/proc" in header["skipped"]
    stat = docker_daemon.cli(
        "exec", name, "stat", "-c", "%U %a", "/opt/ma-notebook/baseline.jsonl.gz"
    )
    assert stat.split() == ["root", "644"]
    rm = subprocess.run(
        [docker, "exec", name, "rm", "-f", "/opt/ma-notebook/baseline.jsonl.gz"],
        capture_output=True,
    )
    assert rm.returncode != 0
    info = docker_daemon.inspect(notebook_base_image) or {}
    assert info["Config"]["Healthcheck"]["Test"][-1] == "/usr/local/bin/healthcheck.py"
    assert info["Config"]["Entrypoint"][0] == "tini"
    assert docker_daemon.cli("exec", name, "python", "/usr/local/bin/healthcheck.py") == ""


def test_debug_passes_on_the_base_image(notebook_base_image: str):
    proc = ma_cli("image", "debug", "--image", notebook_base_image)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split()[:2] for line in proc.stdout.splitlines()[1:] if line.strip()]
    results = {rule: result for rule, result in rows if result in ("PASS", "FAIL")}
    for rule in (
        "ma-user-uid",
        "ma-group-gid",
        "home-ownership",
        "conda-layout",
        "sshd",
        "jupyterlab-http",
        "jupyterlab-user",
        "extension-loaded",
        "readme",
    ):
        assert results.get(rule) == "PASS", proc.stdout
    assert any(r.startswith("env-ipykernel[python-") for r in results)
    assert any(r.startswith("env-kernel[python-") for r in results)
    assert set(results.values()) == {"PASS"}
    assert "meets the notebook image spec" in proc.stdout


def test_debug_fails_naming_the_rule_for_uid_1001_and_for_no_ipykernel(
    docker_daemon: DockerBuilder, notebook_base_image: str, tmp_path: Path
):
    uid_1001 = build_variant(
        docker_daemon,
        notebook_base_image,
        "uid1001",
        "USER root\nRUN sed -i 's/^ma-user:x:1000:/ma-user:x:1001:/' /etc/passwd\nUSER ma-user",
        tmp_path / "uid",
    )
    proc = ma_cli("image", "debug", "--image", uid_1001)
    assert proc.returncode == 1
    row = next(line for line in proc.stdout.splitlines() if line.startswith("ma-user-uid"))
    assert "FAIL" in row and "1001" in row
    assert "ma-user-uid" in proc.stderr

    no_kernel = build_variant(
        docker_daemon,
        notebook_base_image,
        "noipykernel",
        "RUN for e in /home/ma-user/anaconda3/envs/*/; do $e/bin/python -m pip uninstall -q -y "
        "ipykernel; done",
        tmp_path / "nok",
    )
    proc = ma_cli("image", "debug", "--image", no_kernel)
    assert proc.returncode == 1
    rows = [line for line in proc.stdout.splitlines() if line.startswith("env-ipykernel[")]
    assert rows and all("FAIL" in r for r in rows), proc.stdout
    assert "env-ipykernel[" in proc.stderr
    assert "ma-user-uid" not in proc.stderr


def test_template_build_pushes_and_the_catalogue_registers_lists_and_unregisters(
    docker_daemon: DockerBuilder,
    debian_minbase_image: str,
    docker_registry: str,
    tmp_path: Path,
    catalog_env: dict[str, str],
):
    # The "current image" is a small one with ma-user (pushing the full base image costs minutes).
    current = build_variant(
        docker_daemon,
        debian_minbase_image,
        "with-ma-user",
        "RUN groupdel users && groupadd -g 100 ma-group && "
        "useradd -m -d /home/ma-user -u 1000 -g 100 ma-user\nUSER ma-user",
        tmp_path / "current",
    )
    env = {**catalog_env, "MA_SWR_ENDPOINT": docker_registry}
    name = "upgrade_current_notebook_apt_packages"
    proc = ma_cli("image", "add-template", name, "--dst", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr
    dockerfile = tmp_path / ".ma" / name / "Dockerfile"
    swr = f"test-org/apt-image:{secrets.token_hex(3)}"
    proc = ma_cli(
        "image",
        "build",
        str(dockerfile),
        "-swr",
        swr,
        "-arg",
        f"BASE_IMAGE={current}",
        "-arg",
        "APT_PACKAGES=jq",
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pushed to {docker_registry}" in proc.stdout
    ref = f"{docker_registry}/{swr}"
    repo, tag = swr.split(":")
    with urllib.request.urlopen(f"http://{docker_registry}/v2/{repo}/tags/list") as resp:
        assert tag in json.loads(resp.read())["tags"]
    assert docker_daemon.cli("run", "--rm", "--entrypoint", "jq", ref, "--version").startswith(
        "jq-"
    )
    # the same path again needs --force
    again = ma_cli("image", "build", str(dockerfile), "-swr", swr, env=env)
    assert again.returncode == 1 and "--force" in again.stderr

    proc = ma_cli("image", "register", "--swr-path", swr, "-rs", "CPU", "-d", "jq added", env=env)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.split("\n", 1)[1])
    assert record["swr_path"] == ref and record["type"] == "DEDICATED"
    assert record["size"] > 0 and record["digest"].startswith("sha256:")
    assert record["resource_categories"] == ["CPU"]

    listed = ma_cli("image", "get-image", "--type", "DEDICATED", env=env)
    assert record["id"] in listed.stdout and ref in listed.stdout
    assert record["id"] not in ma_cli("image", "get-image", "-t", "BUILD_IN", env=env).stdout
    detail = json.loads(ma_cli("image", "get-image", "-i", record["id"], env=env).stdout)
    assert detail["description"] == "jq added"

    proc = ma_cli("image", "unregister", "-i", record["id"], "--delete", env=env)
    assert proc.returncode == 0, proc.stderr
    assert record["id"] not in ma_cli("image", "get-image", env=env).stdout
    req = urllib.request.Request(
        f"http://{docker_registry}/v2/{repo}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 404
    docker_daemon.remove_image(ref)


def baseline_header(docker_daemon: DockerBuilder, image: str) -> dict:
    """The Save Image baseline header an image ships (``baseline show``)."""
    out = docker_daemon.cli(
        "run", "--rm", "--entrypoint", "/home/ma-user/anaconda3/bin/python", image,
        "-m", "ma_notebook.images.baseline", "show",
    )  # fmt: skip
    return json.loads(out)


def test_the_apt_template_on_a_notebook_image_re_records_the_save_image_baseline(
    docker_daemon: DockerBuilder, notebook_base_image: str, tmp_path: Path
):
    """Else Save Image would take the template's packages for the user's changes."""
    folder = ROOT / "images" / "templates" / "upgrade_current_notebook_apt_packages"
    ref = "127.0.0.1:5000/test-org/apt-on-base:1"  # what it would be pushed as; never pushed
    tag = f"ma-notebook/test-apt-on-base:{secrets.token_hex(3)}"
    args = {"BASE_IMAGE": notebook_base_image, "APT_PACKAGES": "jq", "IMAGE_REF": ref}
    docker_daemon.build(folder / "Dockerfile", folder, [tag], args)
    try:
        base, derived = (baseline_header(docker_daemon, i) for i in (notebook_base_image, tag))
        assert derived["base_image"] == ref and derived["from_image"] == notebook_base_image
        assert derived["entries"] > base["entries"]  # jq and its library are in the index
        user = docker_daemon.cli("run", "--rm", "--entrypoint", "id", tag, "-un")
        assert user.strip() == "ma-user"
    finally:
        docker_daemon.remove_image(tag)


def test_register_refuses_an_image_nobody_has(docker_registry: str, catalog_env: dict[str, str]):
    env = {**catalog_env, "MA_SWR_ENDPOINT": docker_registry}
    proc = ma_cli("image", "register", "-swr", "test-org/never-pushed:1", env=env)
    assert proc.returncode == 1 and "not in the registry" in proc.stderr
    proc = ma_cli("image", "register", "-swr", "test-org/never-built:1", env=catalog_env)
    assert proc.returncode == 1 and "neither" in proc.stderr


def test_df_reports_and_prune_frees_the_build_cache(
    docker_daemon: DockerBuilder, debian_minbase_image: str, tmp_path: Path
):
    marker = secrets.token_hex(6)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {debian_minbase_image}\nRUN head -c 3000000 /dev/urandom > /blob-{marker}\n"
    )
    proc = ma_cli(
        "image", "build", str(tmp_path / "Dockerfile"), "--target", str(tmp_path / "i.tar")
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "i.tar").stat().st_size > 3_000_000

    df = ma_cli("image", "df")
    assert df.returncode == 0, df.stderr
    assert df.stdout.splitlines()[0].split()[:3] == ["ID", "RECLAIMABLE", "SIZE"]
    total_before = next(line for line in df.stdout.splitlines() if line.startswith("Total:"))
    verbose = ma_cli("image", "df", "-v").stdout
    assert f"blob-{marker}" in verbose  # the RUN step's cache entry, with its description
    assert docker_daemon.df()

    proc = ma_cli("image", "prune", "-kd", "0s")
    assert proc.returncode == 0, proc.stderr
    reclaimed = proc.stdout.strip().splitlines()[-1]
    assert reclaimed.startswith("Total:") and reclaimed != "Total: 0B", proc.stdout
    after = ma_cli("image", "df", "-v").stdout
    assert f"blob-{marker}" not in after
    assert total_before != next(line for line in after.splitlines() if line.startswith("Total:"))
