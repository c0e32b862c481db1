"""Storage in a real server driven by ma-cli: restore after restart, clean stop, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fixtures_obs import BUCKET, TEST_AK, TEST_SK
from fixtures_storage import wait_for

from ma_notebook.storage import system


def ma_cli(lab, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "MA_NOTEBOOK_URL": lab.url, "MA_NOTEBOOK_TOKEN": lab.token}
    result = subprocess.run(
        [sys.executable, "-m", "ma_notebook.cli", "storage", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_mounts_are_restored_after_a_restart_and_unmounted_on_stop(
    lab_factory, moto_server, data_root, tmp_path, monkeypatch
):
    moto_server.reset()
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint,
        aws_access_key_id=TEST_AK,
        aws_secret_access_key=TEST_SK,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="ds/hello.txt", Body=b"hello")
    # credentials reach the server as they would in a notebook: through its environment
    monkeypatch.setenv("MA_OBS_ENDPOINT", moto_server.endpoint)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", TEST_AK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", TEST_SK)
    monkeypatch.setenv("MA_OBS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem")  # breaks rclone if passed on
    home = tmp_path / "home"
    args = [
        f"--StorageService.data_root={data_root}",
        "--RcloneBackend.dir_cache_seconds=1",
        "--StorageService.health_interval=1",
    ]
    lab = lab_factory(home, app="server", extra_args=args)

    out = ma_cli(lab, "mount", f"obs://{BUCKET}/ds/", "/data/ds/").stdout
    assert out.startswith("MOUNTED: obs://test-bucket/ds/ at /data/ds/"), out
    folder = data_root / "ds"
    assert (folder / "hello.txt").read_text() == "hello"
    (folder / "result.txt").write_text("from the mount")
    wait_for(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="ds/result.txt").get("KeyCount"))

    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            assert TEST_SK.encode() not in cmdline and lab.token.encode() not in cmdline

    listing = ma_cli(lab, "list").stdout
    assert "MOUNTED" in listing and "/data/ds/" in listing and "obs://test-bucket/ds/" in listing

    lab.stop()
    assert system.mount_at(folder) is None, "the mount outlived the server"
    direct = json.loads(
        ma_cli(lab, "list", "--direct", "--json", "--data-dir", str(lab.data_dir)).stdout
    )
    assert [m["mount_path"] for m in direct] == ["/data/ds/"]

    lab.start()
    wait_for(lambda: system.mount_at(folder) is not None, timeout=30)
    mounts = json.loads(ma_cli(lab, "list", "--json").stdout)
    assert [(m["status"], m["mount_path"]) for m in mounts] == [("MOUNTED", "/data/ds/")]
    assert (folder / "result.txt").read_text() == "from the mount"

    # the helper dies: the health check marks it failed within its interval
    rclone = [
        int(e.name)
        for e in os.scandir("/proc")
        if e.name.isdigit()
        and Path(e.path, "comm").exists()
        and Path(e.path, "comm").read_text().strip() == "rclone"
        and str(lab.data_dir).encode() in Path(e.path, "cmdline").read_bytes()
    ]
    assert len(rclone) == 1
    os.kill(rclone[0], 9)
    wait_for(
        lambda: json.loads(ma_cli(lab, "list", "--json").stdout)[0]["status"] == "MOUNT_FAILED"
    )

    failed = ma_cli(lab, "expand", "1", check=False)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1, failed.stderr
    assert "init-local-volume" in failed.stderr

    assert ma_cli(lab, "unmount", "/data/ds/").stdout.strip() == "UNMOUNTED: /data/ds/"
    assert json.loads(ma_cli(lab, "list", "--json").stdout) == []
    lab.stop()
    logs = lab.log_text() + "".join(
        p.read_text(errors="replace") for p in (lab.data_dir / "storage").rglob("*.log")
    )
    assert TEST_SK not in logs
