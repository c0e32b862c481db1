"""``ma-cli image`` without containers: templates, catalogue, argument errors, builder detection."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ma_notebook.cli.main import main
from ma_notebook.images import baseline
from ma_notebook.images.builder import (
    BuilderError,
    detect_builder,
    list_templates,
    parse_duration,
    parse_size,
)
from ma_notebook.images.catalog import Catalog, CatalogError, parse_swr_path


@pytest.fixture(autouse=True)
def catalog_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "images.sqlite3"
    monkeypatch.setenv("MA_IMAGE_CATALOG", str(path))
    monkeypatch.setenv("MA_CLI_PROFILE_FILE", str(tmp_path / "profile.yaml"))
    monkeypatch.delenv("MA_SWR_ENDPOINT", raising=False)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_get_template_lists_the_four_templates_and_filters(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(capsys, "image", "get-template")
    assert code == 0
    assert out.splitlines()[0].split() == ["Template", "Name", "Description"]
    for name in (
        "customize_from_ubuntu_to_modelarts",
        "upgrade_current_notebook_apt_packages",
        "migrate_3rd_party_image_to_modelarts",
        "forward_compat_cuda_11_image_to_modelarts",
    ):
        assert name in out
    code, out, _ = run(capsys, "image", "gt", "--filter", "cuda")
    assert code == 0
    assert "forward_compat_cuda_11" in out and "upgrade_current" not in out
    for t in list_templates():
        assert t.description, t.name
        assert "FROM ${BASE_IMAGE}" in (t.path / "Dockerfile").read_text()


def test_add_template_copies_into_dot_ma_and_needs_force_to_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    name = "upgrade_current_notebook_apt_packages"
    code, out, _ = run(capsys, "image", "add-template", name, "--dst", str(tmp_path))
    assert code == 0, out
    target = tmp_path / ".ma" / name
    assert (target / "Dockerfile").is_file() and (target / "README.md").is_file()
    assert f"[OK] Successfully add configuration template [{name}]" in out
    (target / "Dockerfile").write_text("changed")
    code, _, err = run(capsys, "image", "add-template", name, "--dst", str(tmp_path))
    assert code == 1 and "--force" in err
    assert (target / "Dockerfile").read_text() == "changed"
    code, _, _ = run(capsys, "image", "add-template", name, "--dst", str(tmp_path), "-f")
    assert code == 0 and "USER ma-user" in (target / "Dockerfile").read_text()


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["image", "add-template", "no_such_template"], 1, "no template"),
        (["image", "build", "missing/Dockerfile", "-swr", "org/img:1"], 1, "does not exist"),
        (["image", "register"], 2, "--swr-path"),
        (["image", "register", "-swr", "Not A Path"], 1, "organization/image:tag"),
        (["image", "register", "-swr", "org/img:1", "--arch", "MIPS"], 2, "MIPS"),
        (["image", "get-image", "--type", "OTHER"], 2, "OTHER"),
        (["image", "get-image", "-pn", "0"], 2, "0"),
        (["image", "unregister"], 2, "--image-id"),
        (["image", "unregister", "-i", "zz"], 1, "not an image id"),
        (["image", "unregister", "-i", "0123456789abcdef"], 1, "no image with id"),
        (["image", "prune", "-kd", "5 fortnights"], 1, "not a duration"),
        (["image", "prune", "-ks", "-3"], 2, "-3"),
        (["image", "debug"], 1, "--image"),
        (["image", "debug", "--image", "a", "-swr", "b/c:1"], 1, "either"),
        (["image", "nonsense"], 2, "nonsense"),
    ],
)
def test_argument_errors_say_what_is_wrong_and_exit_non_zero(
    capsys: pytest.CaptureFixture[str], argv: list[str], status: int, message: str
):
    code, out, err = run(capsys, *argv)
    assert code == status, (out, err)
    assert message in err
    assert "Traceback" not in err


def test_build_argument_errors_before_any_builder_is_needed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    code, _, err = run(capsys, "image", "build", str(dockerfile))
    assert code == 1 and "--swr-path" in err and "--target" in err
    code, _, err = run(
        capsys, "image", "build", str(dockerfile), "-swr", "org/i:1", "--build-arg", "NOEQUALS"
    )
    assert code == 1 and "KEY=VALUE" in err


def test_no_builder_on_the_machine_names_docker_buildah_and_buildctl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuilderError) as e:
        detect_builder()
    for name in ("docker", "buildah", "buildctl"):
        assert name in str(e.value)
    code, _, err = run(capsys, "image", "df")
    assert code == 1 and "No image builder found" in err


def test_catalogue_register_list_filter_unregister(tmp_path: Path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    a = catalog.add(parse_swr_path("team/torch:1.0"), registry="127.0.0.1:5000", size=10)
    b = catalog.add(parse_swr_path("team/base:2"), type="BUILD_IN", origin="BUILD_IN")
    assert a.swr_path == "127.0.0.1:5000/team/torch:1.0" and b.swr_path == "team/base:2"
    with pytest.raises(CatalogError, match="already registered"):
        catalog.add(parse_swr_path("team/torch:1.0"), registry="127.0.0.1:5000")
    assert [r.name for r in catalog.list()] == ["torch", "base"]
    assert [r.name for r in catalog.list(image_type="BUILD_IN")] == ["base"]
    assert [r.name for r in catalog.list(name_filter="TOR")] == ["torch"]
    assert catalog.get(a.id[:8]).id == a.id
    assert Catalog(tmp_path / "c.sqlite3").remove(a.id).name == "torch"
    assert [r.name for r in catalog.list()] == ["base"]
    assert parse_swr_path("127.0.0.1:5000/team/x:1", "127.0.0.1:5000").path == "team/x:1"


def test_durations_and_sizes():
    assert parse_duration("0s") == 0
    assert parse_duration("90") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2m") == 120
    with pytest.raises(ValueError):
        parse_duration("1d")
    assert parse_size("98.5MB") == 98_500_000
    assert parse_size("4.10kB") == 4100


def test_baseline_index_records_entries_and_skips_mount_points(tmp_path: Path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "conf").write_text("x" * 10)
    (root / "mnt" / "data").mkdir(parents=True)
    (root / "mnt" / "data" / "big").write_text("y")
    (root / "link").symlink_to("etc/conf")
    out = tmp_path / "opt" / "baseline.jsonl.gz"
    header = baseline.record(
        str(out), root=str(root), base_image="debian:bookworm", skip={str(root / "mnt" / "data")}
    )
    assert header["entries"] == 4
    entries = baseline.load(str(out))
    assert list(entries) == ["etc", "link", "mnt", "etc/conf"]  # a folder, then below it
    assert entries["etc/conf"].size == 10 and entries["etc/conf"].type == "f"
    assert entries["link"].type == "l" and entries["link"].link == "etc/conf"
    assert entries["etc"].uid == os.getuid()
    assert baseline.read_header(str(out))["base_image"] == "debian:bookworm"
    with gzip.open(out, "rt") as f:
        assert json.loads(f.readline())["fields"][0] == "path"
    # the module's own command line, as the base Dockerfile's last step runs it
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ma_notebook.images.baseline",
            "record",
            "--root",
            str(root),
            "--output",
            str(tmp_path / "b2.gz"),
            "--base-image",
            "x",
        ],
        check=True,
    )
    assert len(baseline.load(str(tmp_path / "b2.gz"))) == 6  # mnt/data is not a mount here


def test_mountinfo_mount_points_are_parsed(tmp_path: Path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw - overlay overlay rw\n"
        "23 22 0:22 / /proc rw - proc proc rw\n"
        "24 22 0:23 / /home/ma-user/work\\040data rw - ext4 /dev/vda rw\n"
    )
    assert baseline.mount_points(str(info)) == {"/proc", "/home/ma-user/work data"}


def test_shell_completion_offers_the_image_subcommands():
    env = {
        **os.environ,
        "_MA_CLI_COMPLETE": "bash_complete",
        "COMP_WORDS": "ma-cli image ",
        "COMP_CWORD": "2",
    }
    out = subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli"], env=env, capture_output=True, text=True
    ).stdout
    for name in ("get-template", "add-template", "build", "df", "prune", "register", "debug"):
        assert f"plain,{name}" in out
    code = main(["auto-completion", "zsh"])
    assert code == 0
