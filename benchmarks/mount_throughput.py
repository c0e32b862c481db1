"""Sequential write and read of a 256 MiB file through each mount backend vs ``ma-cli obs-copy``.

Same run, same moto S3 endpoint (its own process on 127.0.0.1). A write is timed from opening
the file in the mount until the object is in the bucket at its full size (so write-back caches
are not counted as done early); a read from opening an object written with boto3 until its last
byte. Prints ``ratio = obs-copy time / mount time`` per direction (goal for the default backend,
rclone: >= 0.7x both ways).

    python benchmarks/mount_throughput.py [--mib 256] [--repeat 2] [--backends rclone,s3fs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from obs_transfer import AK, SK, free_port, start_moto

from ma_notebook.obs.config import ObsSettings
from ma_notebook.storage import system
from ma_notebook.storage.backends import MountSource, RcloneBackend, S3fsBackend

BUCKET = "bench-bucket"
CHUNK = 1024 * 1024


def write_file(path: Path, mib: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def read_file(path: Path) -> int:
    n = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            n += len(chunk)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backends", default="rclone,s3fs")
    args = parser.parse_args()
    size = args.mib * CHUNK

    port = free_port()
    moto = start_moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="mount-bench-"))
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=BUCKET)
    # moto answers a multipart completion on an unversioned bucket with "x-amz-version-id: null"
    # and then refuses rclone's HEAD ?versionId=null with 400 (real S3 and OBS do neither), so
    # rclone would report every big upload as failed and retry it: versioning avoids the quirk.
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    src = work / "src.bin"
    write_file(src, args.mib)
    env = dict(
        os.environ,
        MA_OBS_ENDPOINT=endpoint,
        HUAWEICLOUD_SDK_AK=AK,
        HUAWEICLOUD_SDK_SK=SK,
        MA_OBS_REGION="us-east-1",
        MA_CLI_PROFILE_FILE=str(work / "none.yaml"),
    )
    cli = [sys.executable, "-m", "ma_notebook.cli", "obs-copy"]

    def obs_copy(a: str, b: str) -> float:
        t = time.perf_counter()
        subprocess.run([*cli, a, b], env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t

    results: dict[str, tuple[float, float]] = {}
    up = min(obs_copy(str(src), f"obs://{BUCKET}/copy/src.bin") for _ in range(args.repeat))
    down = min(
        obs_copy(f"obs://{BUCKET}/copy/src.bin", str(work / f"dl{i}.bin"))
        for i in range(args.repeat)
    )
    results["obs-copy"] = (up, down)

    settings = ObsSettings(
        endpoint=endpoint, region="us-east-1", access_key=AK, secret_key=SK, local_root=""
    )
    settings.sources["access_key"] = "config"
    loop = asyncio.new_event_loop()
    try:
        for name in args.backends.split(","):
            cls = {"rclone": RcloneBackend, "s3fs": S3fsBackend}[name]
            backend = cls(work / f"state-{name}")
            target = work / f"mnt-{name}"
            target.mkdir()
            source = MountSource(BUCKET, name, settings)
            loop.run_until_complete(backend.mount("bench", source, target, False))
            try:
                writes, reads = [], []
                for i in range(args.repeat):
                    key = f"{name}/w{i}.bin"
                    t = time.perf_counter()
                    write_file(target / f"w{i}.bin", args.mib)
                    while True:
                        try:
                            if s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == size:
                                break
                        except s3.exceptions.ClientError:
                            pass
                        time.sleep(0.05)
                    writes.append(time.perf_counter() - t)
                    s3.copy_object(
                        Bucket=BUCKET,
                        Key=f"{name}/r{i}.bin",
                        CopySource={"Bucket": BUCKET, "Key": "copy/src.bin"},
                    )
                    deadline = time.monotonic() + 30
                    while not (target / f"r{i}.bin").exists() and time.monotonic() < deadline:
                        time.sleep(0.2)
                    t = time.perf_counter()
                    assert read_file(target / f"r{i}.bin") == size
                    reads.append(time.perf_counter() - t)
                results[name] = (min(writes), min(reads))
            finally:
                loop.run_until_complete(backend.unmount("bench", target, lazy=False))
                loop.run_until_complete(backend.stop())
                if system.mount_at(target) is not None:
                    system.unmount(target, lazy=True)
    finally:
        loop.close()
        moto.kill()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    print(f"{args.mib} MiB, best of {args.repeat}, moto on 127.0.0.1")
    print(
        f"{'peer':10} {'write MB/s':>11} {'read MB/s':>10} {'write ratio':>12} {'read ratio':>11}"
    )
    for name, (w, r) in results.items():
        print(f"{name:10} {mb / w:11.1f} {mb / r:10.1f} {up / w:11.2f}x {down / r:10.2f}x")


if __name__ == "__main__":
    main()
