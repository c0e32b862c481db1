"""Spawn time behind JupyterHub: the ma-notebook image with its extension vs without, same run.

Two hubs run side by side with ``deploy/jupyterhub/jupyterhub_config.py`` (DockerSpawner, host
network, loopback, npm's configurable-http-proxy from node_modules): one as deployed, one with
``MA_HUB_EXTENSION=0`` (the same image, ma-notebook's server extension disabled). Rounds
alternate between them; each round spawns a fresh user and times the spawn request until the
server answers through the hub's proxy (ours: ``/user/<name>/ma-notebook/api/info``; the peer:
``/user/<name>/api/status``). Prints the medians and the ratio (goal: <= 1.15).

Run: .venv/bin/python benchmarks/hub_spawn.py --image <hub image> [--rounds 3]
(the image: ``deploy/jupyterhub/Dockerfile`` on the base image; ``make test`` builds one tagged
``ma-notebook/notebook-hub:test-*``, the newest of which is the default).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures_hub import HubDeployment, login, start_hub, stop_hub


def newest_test_image() -> str:
    """The most recent ``ma-notebook/notebook-hub:test-*`` image."""
    out = subprocess.run(
        ["docker", "images", "ma-notebook/notebook-hub", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tags = [t for t in out if ":test-" in t]
    if not tags:
        sys.exit("no ma-notebook/notebook-hub:test-* image: run tests/test_hub.py once or --image")
    return tags[0]


def spawn_seconds(hub: HubDeployment, user: str, probe: str) -> float:
    """Seconds from the spawn request until ``probe`` answers 200 through the proxy."""
    token = login(hub, user)
    started = time.perf_counter()
    status, body = hub.hub_api(f"users/{user}/server", token=token, method="POST")
    if status not in (201, 202):
        raise RuntimeError(f"spawn refused: {status} {body}")
    deadline = started + 240
    while time.perf_counter() < deadline:
        status, _ = hub.request(f"/user/{user}/{probe}", token=token, timeout=10)
        if status == 200:
            elapsed = time.perf_counter() - started
            hub.hub_api(f"users/{user}/server", method="DELETE")
            hub.wait_stopped(user)
            return elapsed
        time.sleep(0.1)
    raise TimeoutError(f"{user} not ready; hub log:\n{hub.log_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default="")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    image = args.image or newest_test_image()
    prefix = f"ma-hubbench-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="ma-hub-bench-") as tmp:
        ours = start_hub(Path(tmp) / "ours", image, f"{prefix}-a")
        try:
            peer = start_hub(Path(tmp) / "peer", image, f"{prefix}-b", {"MA_HUB_EXTENSION": "0"})
        except Exception:
            stop_hub(ours)
            raise
        a: list[float] = []
        b: list[float] = []
        try:
            for i in range(args.rounds):
                a.append(spawn_seconds(ours, f"u{i}", "ma-notebook/api/info"))
                b.append(spawn_seconds(peer, f"u{i}", "api/status"))
                print(f"round {i + 1}: with ma-notebook {a[-1]:.2f}s, without {b[-1]:.2f}s")
        finally:
            stop_hub(ours)
            stop_hub(peer)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"image {image}, {args.rounds} rounds")
    print(f"spawn -> ready, with ma-notebook (median):    {ma:.2f}s")
    print(f"spawn -> ready, extension disabled (median):  {mb:.2f}s")
    print(f"ratio: {ma / mb:.2f}x (goal <= 1.15x)")


if __name__ == "__main__":
    main()
