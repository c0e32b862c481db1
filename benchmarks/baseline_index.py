"""Recording the baseline index vs GNU ``find -printf | gzip`` over the same tree.

The base image's last build step indexes the whole file system; this times ours
(``ma_notebook.images.baseline.record``) against the obvious shell peer that prints the same
fields (path, type, mode, uid, gid, size, mtime, link) and gzips them, a few times each on
the same folder (default /usr). Prints the medians, entries and file sizes, and the ratio
(goal: <= 1.5). Run: .venv/bin/python benchmarks/baseline_index.py [--root /usr]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ma_notebook.images.baseline import record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="/usr")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ours, peer = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ours.jsonl.gz"
        peer_out = Path(tmp) / "find.txt.gz"
        for _ in range(args.runs):
            start = time.perf_counter()
            header = record(str(out), root=args.root)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            with open(peer_out, "wb") as f:
                find = subprocess.Popen(
                    [
                        "find",
                        args.root,
                        "-mindepth",
                        "1",
                        "-printf",
                        "%p\t%y\t%m\t%U\t%G\t%s\t%T@\t%l\n",
                    ],
                    stdout=subprocess.PIPE,
                )
                subprocess.run(["gzip", "-6"], stdin=find.stdout, stdout=f, check=True)
                find.wait()
            peer.append(time.perf_counter() - start)
        a, b = statistics.median(ours), statistics.median(peer)
        print(f"root {args.root}: {header['entries']} entries")
        print(f"ours (python -m ma_notebook.images.baseline): {a:.2f}s, {os.path.getsize(out)} B")
        print(
            f"peer (find -printf | gzip -6):                {b:.2f}s, {os.path.getsize(peer_out)} B"
        )
        print(f"ratio ours/peer: {a / b:.2f}")


if __name__ == "__main__":
    main()
