"""Full clone through the ma-notebook API vs plain ``git clone`` from the same loopback server.

Serves a generated repository (many small files plus some binary data) with ``git http-backend``,
starts a real ``jupyter server`` with ma-notebook, and times both ways several times.
Prints the medians and the ratio (goal: <= 1.10). Run: .venv/bin/python benchmarks/git_clone.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures_git import GitHTTPServer, _git
from ma_fixtures import LabProcess


def make_repo(base: Path, files: int, data_mb: int) -> Path:
    """A repository with ``files`` small text files and ``data_mb`` MiB of random binaries."""
    work = base / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", str(work))
    for i in range(files):
        folder = work / f"pkg{i % 50}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{i}.py").write_text(f"# module {i}\n" + "x = 1\n" * (i % 40 + 1))
    (work / "data").mkdir()
    for i in range(max(1, data_mb // 4)):
        (work / "data" / f"blob{i}.bin").write_bytes(os.urandom(min(4, data_mb) * 1024 * 1024))
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "bench", cwd=work)
    bare = base / "repos" / "public" / "bench.git"
    _git("clone", "-q", "--bare", str(work), str(bare))
    _git("-C", str(bare), "config", "uploadpack.allowFilter", "true")
    return base / "repos"


def plain_clone(url: str, dest: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True)
    return time.perf_counter() - start


def api_clone(lab: LabProcess, url: str, name: str) -> float:
    start = time.perf_counter()
    status, task = lab.request("ma-notebook/api/git/clone", "POST", {"url": url, "name": name})
    assert status == 202, task
    while task["state"] not in ("succeeded", "failed", "cancelled"):
        status, task = lab.request(f"ma-notebook/api/tasks/{task['id']}?wait=30")
    elapsed = time.perf_counter() - start
    assert task["state"] == "succeeded", task
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--data-mb", type=int, default=32)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="ma-git-bench-"))
    server = None
    lab = None
    try:
        root = make_repo(base, args.files, args.data_mb)
        server = GitHTTPServer(root)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"{server.url}/public/bench.git"
        lab = LabProcess(base / "lab", app="server")
        lab.home.mkdir()
        lab.start()
        plain_dir = base / "plain"
        plain_dir.mkdir()

        plain_clone(url, plain_dir / "warmup")  # warm the page cache and the server
        api_clone(lab, url, "warmup")
        plain: list[float] = []
        api: list[float] = []
        for i in range(args.runs):
            # alternate the order so neither side always runs on a warmer machine
            if i % 2:
                api.append(api_clone(lab, url, f"api{i}"))
                plain.append(plain_clone(url, plain_dir / f"plain{i}"))
            else:
                plain.append(plain_clone(url, plain_dir / f"plain{i}"))
                api.append(api_clone(lab, url, f"api{i}"))
            shutil.rmtree(plain_dir / f"plain{i}")
            shutil.rmtree(lab.root_dir / f"api{i}")
        p, a = statistics.median(plain), statistics.median(api)
        print(f"repository: {args.files} files + {args.data_mb} MiB binary, {args.runs} runs")
        print(f"plain git clone : median {p:.3f} s  {[round(x, 3) for x in plain]}")
        print(f"ma-notebook API : median {a:.3f} s  {[round(x, 3) for x in api]}")
        print(f"ratio (API / git clone): {a / p:.3f}  (goal <= 1.10)")
    finally:
        if lab is not None:
            lab.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
