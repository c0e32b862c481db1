"""Cache-directory usage and sampler cost, each against a peer measured in the same run.

1. Size of a folder of 200k files: ma-notebook's bounded scan vs ``du -sb`` (goal <= 1.0x).
2. ``statvfs`` on a mount (a tmpfs when run as root, else ``/``): microseconds per measurement.
3. The per-second sampler's CPU seconds per minute vs a jupyter-resource-usage style psutil loop
   (``Process.children(recursive=True)``, ``memory_info`` and ``cpu_percent`` of each process).

Run: .venv/bin/python benchmarks/cache_usage.py [--files 200000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from ma_notebook.monitor.cache import CacheMonitor, scan_size
from ma_notebook.monitor.sampler import Sampler, cgroup_for


def make_tree(root: Path, files: int) -> None:
    """``files`` small files in 200 folders of 20 parents (kept between runs)."""
    marker = root / f".complete-{files}"
    if marker.exists():
        return
    per_dir = max(1, files // 200)
    for d in range(200):
        folder = root / f"d{d // 20}" / f"s{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(per_dir):
            (folder / f"f{f}").write_bytes(b"x" * (f % 512))
    marker.touch()


def time_du(root: Path) -> tuple[float, int]:
    t = time.perf_counter()
    out = subprocess.run(["du", "-sb", str(root)], capture_output=True, text=True, check=True)
    return time.perf_counter() - t, int(out.stdout.split()[0])


def time_scan(root: Path) -> tuple[float, int]:
    t = time.perf_counter()
    size, _, truncated = scan_size(str(root), max_entries=10_000_000)
    assert not truncated
    return time.perf_counter() - t, size


def bench_scan(root: Path, rounds: int) -> None:
    time_du(root)  # warm the dentry/inode caches for both
    ours, peer = [], []
    for _ in range(rounds):  # interleaved, so machine load hits both alike
        t, size_ours = time_scan(root)
        ours.append(t)
        t, size_du = time_du(root)
        peer.append(t)
    assert size_ours == size_du, (size_ours, size_du)
    mo, mp = statistics.median(ours), statistics.median(peer)
    print(f"folder scan, {sum(1 for _ in root.rglob('f*')):,} files, {size_du:,} bytes:")
    print(f"  ma-notebook scan  median {mo:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in ours)})")
    print(f"  du -sb            median {mp:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in peer)})")
    print(f"  ratio ours / du -sb: {mo / mp:.2f}x  (goal <= 1.0x)")


def bench_statvfs(mount: str, n: int = 20000) -> None:
    monitor = CacheMonitor(mount)
    usage = monitor.refresh()
    assert usage.method == "statvfs", usage
    t = time.perf_counter()
    for _ in range(n):
        monitor.refresh()
    per = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        os.statvfs(mount)
    raw = (time.perf_counter() - t) / n * 1e6
    print(
        f"statvfs on the mount {mount}: {per:.1f} us per measurement (raw os.statvfs {raw:.1f} us)"
    )


def peer_loop_tick(proc: psutil.Process) -> None:
    """What jupyter-resource-usage does per request: the whole tree through psutil."""
    procs = [proc, *proc.children(recursive=True)]
    rss = 0
    cpu = 0.0
    for p in procs:
        try:
            rss += p.memory_info().rss
            cpu += p.cpu_percent(interval=0)
        except psutil.Error:
            pass
    psutil.virtual_memory()


def bench_sampler(seconds: int) -> None:
    # a few children, like a server with kernels
    kids = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(4)
    ]
    try:
        sampler = Sampler(cgroup_for(""), "auto", gpu=None)
        cache = CacheMonitor("/")
        t0 = time.thread_time()
        for _ in range(seconds):
            sampler.sample()
            cache.refresh()
            time.sleep(1)
        ours = time.thread_time() - t0
        me = psutil.Process()
        t0 = time.thread_time()
        for _ in range(seconds):
            peer_loop_tick(me)
            time.sleep(1)
        peer = time.thread_time() - t0
    finally:
        for k in kids:
            k.kill()
            k.wait()
    per_min = ours * 60 / seconds
    peer_min = peer * 60 / seconds
    print(
        f"sampler, 1 Hz for {seconds} s ({sampler.cpu_source} CPU, {sampler.memory_source} memory):"
    )
    print(
        f"  ma-notebook sampler    {per_min:.3f} CPU s/min = {per_min / 60 * 100:.3f} % of a core"
    )
    print(
        f"  psutil tree (peer)     {peer_min:.3f} CPU s/min = {peer_min / 60 * 100:.3f} % of a core"
    )
    print(f"  ratio ours / peer: {per_min / peer_min:.2f}x  (goal: well under 1 % of a core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "ma-bench-cache"))
    args = parser.parse_args()

    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    make_tree(root / "tree", args.files)
    bench_scan(root / "tree", args.rounds)

    mount = "/"
    mounted = False
    if os.geteuid() == 0:
        mount = str(root / "mnt")
        os.makedirs(mount, exist_ok=True)
        mounted = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mount]).returncode
            == 0
        )
        if not mounted:
            mount = "/"
    try:
        bench_statvfs(mount)
    finally:
        if mounted:
            subprocess.run(["umount", mount], check=False)
    bench_sampler(args.seconds)


if __name__ == "__main__":
    main()
