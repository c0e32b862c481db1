"""Fixtures for the visualization tests: real summaries and MindInsight in its own venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: MindInsight pins protobuf<=3.20.1, so it lives in its own venv, kept between runs.
MINDINSIGHT_VENV = Path(os.environ.get("MA_MINDINSIGHT_VENV", ROOT / ".venv-mindinsight"))
MINDINSIGHT_SPEC = "mindinsight==2.3.1"

#: Writes one MindSpore-format summary file (what mindspore.SummaryRecord writes) with
#: MindInsight's own protobuf classes: 8-byte length, CRC-32C of it, event, CRC-32C of it.
MINDINSIGHT_WRITER = r"""
import struct, sys, time
from mindinsight.datavisual.proto_files import mindinsight_summary_pb2 as pb

def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

def record(event):
    body = event.SerializeToString()
    header = struct.pack("Q", len(body))
    return (header + struct.pack("I", crc32c(header)) + body + struct.pack("I", crc32c(body)))

folder, tag = sys.argv[1], sys.argv[2]
now = time.time()
with open(f"{folder}/train.summary.{int(now)}", "wb") as f:
    f.write(record(pb.Event(wall_time=now, version="MindSpore.Event:1")))
    for step in range(1, 6):
        event = pb.Event(wall_time=now + step, step=step)
        event.summary.value.add(tag=tag, scalar_value=1.0 / step)
        f.write(record(event))
"""


def write_tensorboard_scalars(folder: Path, tag: str = "loss", steps: int = 5) -> Path:
    """Write a scalar series with TensorBoard's own (TensorFlow-free) summary writer."""
    from tensorboard.summary import Writer

    folder.mkdir(parents=True, exist_ok=True)
    writer = Writer(str(folder))
    for step in range(steps):
        writer.add_scalar(tag, 1.0 / (step + 1), step)
    writer.flush()
    writer.close()
    return folder


@pytest.fixture
def tb_summaries(jp_root_dir: Path) -> Path:
    """``<workspace>/summary`` with one run (``run1``) holding a ``loss`` scalar series."""
    base = jp_root_dir / "summary"
    write_tensorboard_scalars(base / "run1")
    return base


def _mindinsight_ready(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "mindinsight").exists() or not python.exists():
        return False
    check = subprocess.run(
        [str(python), "-c", "import mindinsight.backend.application, gunicorn"],
        capture_output=True,
    )
    return check.returncode == 0


@pytest.fixture(scope="session")
def mindinsight_env() -> Path:
    """A venv with MindInsight 2.3.x from PyPI (made once, reused by later runs)."""
    venv = MINDINSIGHT_VENV
    if not _mindinsight_ready(venv):
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base_python, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", MINDINSIGHT_SPEC],
            check=True,
        )
        if not _mindinsight_ready(venv):
            pytest.fail(f"{MINDINSIGHT_SPEC} did not install into {venv}")
    return venv


def write_mindinsight_scalars(venv: Path, folder: Path, tag: str = "loss") -> Path:
    """Write a MindSpore-format scalar summary into ``folder`` using MindInsight's protobufs."""
    folder.mkdir(parents=True, exist_ok=True)
    # The test process's PYTHONPATH (pytest-jupyter sets one) would import our protobuf.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", MINDINSIGHT_WRITER, str(folder), tag],
        check=True,
        env=env,
    )
    return folder
