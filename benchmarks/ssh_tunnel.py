"""SFTP through the notebook URL (websocket tunnel + ``ma-cli ssh-proxy``) vs straight to sshd.

Starts a real ``jupyter server`` with ma-notebook, switches SSH on through the API (sshd on a
loopback port), creates a key, then uploads and downloads a 256 MiB file with OpenSSH's ``sftp``
both ways, in the same run. Prints MB/s and the ratio tunnel/direct (goal: >= 0.5).
Run: .venv/bin/python benchmarks/ssh_tunnel.py [--mib 256] [--rounds 2]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures_ssh import ssh_cli_args
from ma_fixtures import LabProcess, free_port

MA_CLI = str(Path(sys.executable).with_name("ma-cli"))


def sftp(args: list[str], batch: str) -> float:
    start = time.perf_counter()
    subprocess.run(["sftp", "-q", "-b", "-", *args], input=batch.encode(), check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ssh-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        lab = LabProcess(tmp, app="server", extra_args=ssh_cli_args(port))
        lab.start()
        try:
            status, data = lab.request("ma-notebook/api/ssh/start", "POST", {})
            assert status == 200 and data["state"] == "running", data
            status, created = lab.request("ma-notebook/api/ssh/keys", "POST", {"name": "bench"})
            assert status == 201, created
            user = data["user"]
            key = tmp / "bench.pem"
            key.write_text(created["private_key"])
            key.chmod(0o600)
            server_file = tmp / "server.yaml"
            server_file.write_text(f"url: {lab.url}/\ntoken: {lab.token}\n")
            server_file.chmod(0o600)
            source = tmp / "payload.bin"
            with source.open("wb") as f:
                for _ in range(opts.mib):
                    f.write(os.urandom(1024 * 1024))
            remote = lab.root_dir / "payload-remote.bin"
            common = [
                "-F",
                "/dev/null",
                "-i",
                str(key),
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                f"UserKnownHostsFile={tmp / 'known_hosts'}",
                "-o",
                "HostKeyAlias=ma-notebook",
            ]
            direct = [*common, "-P", str(port), f"{user}@127.0.0.1"]
            tunnel = [
                *common,
                "-o",
                f"ProxyCommand={MA_CLI} ssh-proxy --server-file {server_file}",
                f"{user}@ma-notebook",
            ]
            results: dict[str, dict[str, list[float]]] = {
                "direct": {"up": [], "down": []},
                "tunnel": {"up": [], "down": []},
            }
            for _ in range(opts.rounds):
                for name, args in (("direct", direct), ("tunnel", tunnel)):
                    results[name]["up"].append(sftp(args, f"put {source} {remote}\n"))
                    down = tmp / f"down-{name}.bin"
                    results[name]["down"].append(sftp(args, f"get {remote} {down}\n"))
                    assert down.stat().st_size == source.stat().st_size
                    down.unlink()
        finally:
            lab.stop()
    size_mb = opts.mib * 1024 * 1024 / 1e6
    print(f"SFTP {opts.mib} MiB on loopback, median of {opts.rounds} rounds (MB/s):")
    for way in ("up", "down"):
        d = size_mb / statistics.median(results["direct"][way])
        t = size_mb / statistics.median(results["tunnel"][way])
        label = "upload  " if way == "up" else "download"
        print(f"  {label}  direct {d:7.1f}   tunnel {t:7.1f}   ratio {t / d:.2f}x (goal >= 0.5x)")


if __name__ == "__main__":
    main()
