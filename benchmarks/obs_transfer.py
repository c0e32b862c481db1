"""OBS transfer engine vs boto3's TransferManager on the same moto S3 endpoint, same run.

Measures a 256 MiB object and 1,000 small objects (a folder: both sides list it before
downloading), upload and download, and prints
``ratio = boto3 time / our time`` (goal: >= 1.0x on the big object, >= 2x on the small ones).
moto runs in its own process on 127.0.0.1 so neither client shares its interpreter.

    python benchmarks/obs_transfer.py [--big-mib 256] [--small-count 1000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig, TransferManager
from botocore.config import Config

from ma_notebook.obs.config import ObsSettings
from ma_notebook.obs.paths import ObsPath
from ma_notebook.obs.store import S3Store
from ma_notebook.obs.transfer import TransferEngine

BUCKET = "bench-bucket"
AK, SK = "bench-ak", "bench-sk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen:
    code = (
        "import time, logging\n"
        "logging.getLogger('werkzeug').setLevel(logging.ERROR)\n"
        "from moto.server import ThreadedMotoServer\n"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False)\n"
        "s.start()\n"
        "time.sleep(10**6)\n"
    )
    env = dict(os.environ, MOTO_DISABLE_GLOBAL_CORS="true")
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto did not start")


def timed(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=1000)
    parser.add_argument("--small-bytes", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--part-concurrency", type=int, default=8)
    parser.add_argument("--only-big", action="store_true")
    args = parser.parse_args()

    port = free_port()
    moto = start_moto(port)
    endpoint = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="obs-bench-"))
    try:
        boto = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        boto.create_bucket(Bucket=BUCKET)
        settings = ObsSettings(endpoint=endpoint, access_key=AK, secret_key=SK, region="us-east-1")
        # the notebook server's defaults (ObsService: 32 objects / 8 parts in flight, 16 MiB)
        engine = TransferEngine(S3Store(settings), part_concurrency=args.part_concurrency)

        big = work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(1 << 20))
        small_dir = work / "small"
        small_dir.mkdir()
        for i in range(args.small_count):
            (small_dir / f"f{i:05d}.bin").write_bytes(os.urandom(args.small_bytes))
        names = sorted(p.name for p in small_dir.iterdir())

        def tm_upload_big() -> None:
            with TransferManager(boto, TransferConfig()) as tm:
                tm.upload(str(big), BUCKET, "boto/big.bin").result()

        def tm_download_big() -> None:
            with TransferManager(boto, TransferConfig()) as tm:
                tm.download(BUCKET, "boto/big.bin", str(work / "boto-big.bin")).result()

        def tm_upload_small() -> None:
            with TransferManager(boto, TransferConfig()) as tm:
                futures = [tm.upload(str(small_dir / n), BUCKET, f"boto/small/{n}") for n in names]
                for fut in futures:
                    fut.result()

        def tm_download_small() -> None:
            # a folder download: list the prefix, then download every key (as ours does)
            out = work / "boto-small"
            out.mkdir(exist_ok=True)
            keys = [
                o["Key"]
                for page in boto.get_paginator("list_objects_v2").paginate(
                    Bucket=BUCKET, Prefix="boto/small/"
                )
                for o in page.get("Contents", [])
            ]
            with TransferManager(boto, TransferConfig()) as tm:
                futures = [tm.download(BUCKET, k, str(out / k.rsplit("/", 1)[1])) for k in keys]
                for fut in futures:
                    fut.result()

        def our_upload_big() -> None:
            engine.upload_file(big, ObsPath(BUCKET, "ours/big.bin"))

        def our_download_big() -> None:
            engine.download_file(ObsPath(BUCKET, "ours/big.bin"), work / "ours-big.bin")

        def our_upload_small() -> None:
            engine.copy_tree(str(small_dir), ObsPath(BUCKET, "ours/small/"))

        def our_download_small() -> None:
            engine.copy_tree(ObsPath(BUCKET, "ours/small/"), str(work / "ours-small"))

        rows = []
        cases = [
            (f"upload {args.big_mib} MiB", tm_upload_big, our_upload_big, big.stat().st_size),
            (f"download {args.big_mib} MiB", tm_download_big, our_download_big, big.stat().st_size),
            (
                f"upload {args.small_count} small",
                tm_upload_small,
                our_upload_small,
                args.small_count * args.small_bytes,
            ),
            (
                f"download {args.small_count} small",
                tm_download_small,
                our_download_small,
                args.small_count * args.small_bytes,
            ),
        ]
        for label, peer, ours, nbytes in cases[:2] if args.only_big else cases:
            # alternate so both see the same machine state; best of `repeat` each
            t_peer = t_ours = float("inf")
            for _ in range(args.repeat):
                t_peer = min(t_peer, timed(peer, 1))
                t_ours = min(t_ours, timed(ours, 1))
            rows.append((label, t_peer, t_ours, nbytes))

        assert (work / "ours-big.bin").read_bytes() == big.read_bytes()
        print(f"{'transfer':<24}{'boto3 TM (s)':>14}{'ours (s)':>10}{'ours MB/s':>11}{'ratio':>8}")
        for label, t_peer, t_ours, nbytes in rows:
            print(
                f"{label:<24}{t_peer:>14.2f}{t_ours:>10.2f}{nbytes / t_ours / 1e6:>11.1f}"
                f"{t_peer / t_ours:>7.2f}x"
            )
        engine.close()
    finally:
        moto.kill()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
