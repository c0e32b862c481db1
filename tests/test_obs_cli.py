"""ma-cli configure and obs-copy as a user runs them (real processes, moto and embedded)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import yaml
from fixtures_obs import BUCKET, TEST_AK, TEST_SK

from ma_notebook.obs.config import resolve_settings
from ma_notebook.obs.store import open_store


def ma_cli(*args: str, cwd=None, stdin: str = "", env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=env or dict(os.environ),
    )


def keys(prefix: str) -> list[str]:
    store = open_store(resolve_settings())
    return sorted(i.key for i in store.list_objects(BUCKET, prefix, "", None, 1000).entries)


def test_obs_copy_both_ways_with_and_without_drop_last_dir(obs_target, tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("alpha")
    (data / "sub" / "b.txt").write_text("beta")
    (tmp_path / "test.csv").write_text("x,y\n1,2\n")

    r = ma_cli("obs-copy", "./test.csv", f"obs://{BUCKET}/test-copy/", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"[OK] local src path: [{tmp_path}/test.csv]" in r.stdout
    assert f"[OK] obs dst path: [obs://{BUCKET}/test-copy/]" in r.stdout
    r = ma_cli("obs-copy", "data/", f"obs://{BUCKET}/test-copy/", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = ma_cli("obs-copy", "data/", f"obs://{BUCKET}/flat/", "--drop-last-dir", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert keys("test-copy/") == [
        "test-copy/data/a.txt",
        "test-copy/data/sub/b.txt",
        "test-copy/test.csv",
    ]
    assert keys("flat/") == ["flat/a.txt", "flat/sub/b.txt"]
    assert "100%" in r.stderr  # the progress bar reached the end

    r = ma_cli("obs-copy", f"obs://{BUCKET}/test-copy/", "./down/", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down" / "test-copy" / "data" / "sub" / "b.txt").read_text() == "beta"
    r = ma_cli("obs-copy", f"obs://{BUCKET}/test-copy/", "./down2/", "-d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "down2" / "test.csv").read_text() == "x,y\n1,2\n"
    assert (tmp_path / "down2" / "data" / "a.txt").read_text() == "alpha"
    r = ma_cli("obs-copy", f"obs://{BUCKET}/test-copy/test.csv", "./one.csv", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "one.csv").read_text() == "x,y\n1,2\n"

    r = ma_cli("obs-copy", f"obs://{BUCKET}/nothing.zip", "./n.zip", cwd=tmp_path)
    assert r.returncode == 1
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "n.zip").exists()


def test_configure_writes_a_private_profile_and_never_prints_secrets(
    moto_server, obs_clean_env, tmp_path
):
    moto_server.reset()
    profile_file = tmp_path / "ma-cli-profile.yaml"
    r = ma_cli(
        "configure",
        "--auth",
        "AKSK",
        "-P",
        "work",
        "-C",
        str(profile_file),
        "--endpoint",
        moto_server.endpoint,
        "-r",
        "us-east-1",
        stdin=f"{TEST_AK}\n{TEST_SK}\n",
    )
    assert r.returncode == 0, r.stderr
    assert TEST_SK not in r.stdout + r.stderr
    assert stat.S_IMODE(profile_file.stat().st_mode) == 0o600
    saved = yaml.safe_load(profile_file.read_text())["work"]
    assert saved["access_key"] == TEST_AK and saved["secret_key"] == TEST_SK
    assert saved["obs_endpoint"] == moto_server.endpoint

    settings = resolve_settings(profile="work", profile_file=profile_file)
    open_store(settings).create_bucket(BUCKET)
    (tmp_path / "f.txt").write_text("hi")
    r = ma_cli(
        "-C",
        str(profile_file),
        "-P",
        "work",
        "obs-copy",
        str(tmp_path / "f.txt"),
        f"obs://{BUCKET}/f.txt",
    )
    assert r.returncode == 0, r.stderr
    assert open_store(settings).head(BUCKET, "f.txt").size == 2
    assert TEST_SK not in r.stdout + r.stderr

    # an unreachable endpoint: a clear message, even with -D no secret
    r = ma_cli(
        "configure",
        "-P",
        "down",
        "-C",
        str(profile_file),
        "--endpoint",
        "http://127.0.0.1:9",
        stdin=f"{TEST_AK}\n{TEST_SK}\n",
    )
    assert r.returncode == 0
    r = ma_cli("-C", str(profile_file), "-P", "down", "obs-copy", f"obs://{BUCKET}/f.txt", "x")
    assert r.returncode == 1 and "unreachable" in r.stderr and "Traceback" not in r.stderr
    r = ma_cli(
        "-C", str(profile_file), "-P", "down", "-D", "obs-copy", f"obs://{BUCKET}/f.txt", "x"
    )
    assert r.returncode == 1 and "Traceback" in r.stderr
    assert TEST_SK not in r.stdout + r.stderr

    r = ma_cli("-C", str(profile_file), "-P", "nope", "obs-copy", f"obs://{BUCKET}/f.txt", "x")
    assert r.returncode == 1 and "No profile 'nope'" in r.stderr


def test_version_and_help():
    r = ma_cli("-V")
    assert r.returncode == 0 and r.stdout.startswith("ma-cli ")
    r = ma_cli("obs-copy", "-H")
    assert r.returncode == 0 and "--drop-last-dir" in r.stdout
