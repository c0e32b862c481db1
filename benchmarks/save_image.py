"""Save Image vs `docker commit` + `docker push`: 1 GB of changes, one container, one registry.

A container runs a local image; 1 GB of changes (many small files, a few big ones, part of it
compressible) is written into it; then, timed:
  - ours: the snapshotter over the container's root (its merged overlay folder, which is what
    '/' is inside the container) against the baseline recorded before the changes, and the push;
  - docker: ``docker commit`` of the container and ``docker push`` of the result.
Both push to the same repository of one Debian ``docker-registry`` on loopback, so the base
layer is already there for both. Prints the times and ratio (goal: ours <= 1.0x docker).

    sudo .venv/bin/python benchmarks/save_image.py [--image IMAGE] [--mib 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from ma_fixtures import DockerRegistry

from ma_notebook.images import baseline as baseline_index
from ma_notebook.images.saver import ImageSaver, SaveRequest, SaveSettings
from ma_notebook.images.snapshot import COMPRESSOR


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def default_image() -> str:
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}", "ma-notebook/debian-minbase")
    tags = [t for t in out.split() if t]
    if not tags:
        sys.exit("No local image: pass --image (e.g. one built by make test's image fixtures)")
    return tags[0]


def write_changes(root: Path, mib: int) -> tuple[int, int]:
    """About ``mib`` MiB of new files: 40% small files (4-16 KiB), 60% in three big files."""
    rng = random.Random(7)
    folder = root / "opt" / "bench"
    folder.mkdir(parents=True)
    small_budget = int(mib * 0.4) << 20
    files = written = 0
    text = b"import numpy as np\nvalue = np.arange(10)\n" * 400
    while written < small_budget:
        size = rng.randint(4096, 16384)
        sub = folder / f"pkg{files // 500}"
        sub.mkdir(exist_ok=True)
        data = os.urandom(size) if files % 2 else text[:size]
        (sub / f"m{files}.py").write_bytes(data)
        files += 1
        written += size
    big = ((mib << 20) - written) // 3
    for i in range(3):
        with open(folder / f"weights{i}.bin", "wb") as f:
            left = big
            while left > 0:
                chunk = min(left, 8 << 20)
                f.write(os.urandom(chunk) if i == 0 else (text * 200)[:chunk])
                left -= chunk
        files += 1
        written += big
    return files, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="", help="local image to run (default: a minbase)")
    parser.add_argument("--mib", type=int, default=1024, help="size of the changes (MiB)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("Run as root (the container's merged folder is root's).")
    image = args.image or default_image()
    tmp = Path(tempfile.mkdtemp(prefix="ma-bench-save-", dir="/var/tmp"))
    registry = DockerRegistry(tmp / "registry")
    addr = registry.addr
    name = f"ma-bench-save-{os.getpid()}"
    base_ref = f"{addr}/bench/base:0"
    try:
        docker("tag", image, base_ref)
        docker("push", base_ref)
        docker("run", "-d", "--name", name, base_ref, "sleep", "infinity")
        info = json.loads(docker("inspect", name))[0]
        merged = Path(info["GraphDriver"]["Data"]["MergedDir"])
        baseline = tmp / "baseline.jsonl.gz"
        baseline_index.record(str(baseline), root=str(merged), base_image=base_ref)
        files, size = write_changes(merged, args.mib)
        subprocess.run(["sync"], check=True)
        print(f"changes: {files} files, {size / 1e6:.0f} MB; image {image}; gzip via {COMPRESSOR}")

        settings = SaveSettings(
            root=str(merged),
            baseline_path=str(baseline),
            exclude=["/proc", "/sys", "/dev"],
            work_dir=str(tmp / "work"),
            image=base_ref,
        )
        t0 = time.perf_counter()
        result = ImageSaver(settings, lambda *e: None).run(
            SaveRequest(target=f"{addr}/bench/base:ours")
        )
        ours = time.perf_counter() - t0
        print(f"ours:   {ours:6.2f} s (layer {result['layer_size'] / 1e6:.0f} MB compressed)")

        t0 = time.perf_counter()
        docker("commit", name, f"{addr}/bench/base:docker")
        commit = time.perf_counter() - t0
        docker("push", f"{addr}/bench/base:docker")
        theirs = time.perf_counter() - t0
        print(f"docker: {theirs:6.2f} s (commit {commit:.2f} s + push {theirs - commit:.2f} s)")
        print(f"ratio ours/docker: {ours / theirs:.2f}x (goal <= 1.0x)")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(
            ["docker", "rmi", base_ref, f"{addr}/bench/base:docker"],
            capture_output=True,
            check=False,
        )
        registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
