"""Save Image fixtures: Debian's docker-registry on loopback and a tiny base image pushed to it."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ma_fixtures import DockerRegistry

from ma_notebook.images.fsindex import entry_from_stat, walk, write_index
from ma_notebook.images.registry import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    RegistryClient,
    file_chunks,
)
from ma_notebook.images.snapshot import Changes, write_layer

#: A running registry (``addr``, ``storage``, ``client()``, ``log_text()``), as tests name it.
Registry = DockerRegistry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """Debian's docker-registry (distribution 2.8) on a free loopback port, logging each request."""
    started = DockerRegistry(tmp_path / "registry", accesslog=True)
    try:
        yield started
    finally:
        started.stop()


def top_layer_names(client: RegistryClient, repo: str, reference: str) -> set[str]:
    """The entry names of an image's newest layer."""
    manifest = json.loads(client.get_manifest(repo, reference)[1])
    blob = client.get_blob(repo, manifest["layers"][-1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
        return set(tar.getnames())


def make_tiny_rootfs(root: Path) -> None:
    """A small tree standing for an image's '/': folders, files, a symlink, a hardlink pair."""
    for d in ("etc", "usr/bin", "usr/lib/pkg", "home/ma-user/work", "opt/old/sub", "data"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/hostname").write_text("base\n")
    (root / "etc/os-release").write_text('NAME="tiny"\n')
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n")
    (root / "usr/bin/tool").chmod(0o755)
    (root / "usr/lib/pkg/a.py").write_text("A = 1\n")
    (root / "usr/lib/pkg/b.py").write_text("B = 2\n")
    (root / "opt/old/sub/x.txt").write_text("x")
    (root / "opt/old/y.txt").write_text("y")
    (root / "opt/keep.txt").write_text("keep")
    os.symlink("tool", root / "usr/bin/tool-link")
    for p in root.rglob("*"):
        os.utime(p, (1_600_000_000, 1_600_000_000), follow_symlinks=False)


def push_base_image(registry: Registry, root: Path, repo: str, tag: str, work: Path) -> dict:
    """Push ``root`` as a one-layer Docker image ``repo:tag``; returns manifest and digest."""
    changes = Changes(upserts=list(walk(root)))
    layer = write_layer(str(root), changes, str(work / "base-layer.tar.gz"))
    client = registry.client()
    client.upload_blob(repo, layer.digest, file_chunks(layer.path))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/usr/bin/tool"], "WorkingDir": "/home/ma-user/work"},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "test base"}],
    }
    raw = json.dumps(config).encode()
    import hashlib

    config_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    client.upload_blob(repo, config_digest, iter([raw]))
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(raw), "digest": config_digest},
        "layers": [{"mediaType": DOCKER_LAYER, "size": layer.size, "digest": layer.digest}],
    }
    body = json.dumps(manifest).encode()
    digest = client.put_manifest(repo, tag, body, DOCKER_MANIFEST)
    return {"manifest": manifest, "digest": digest, "layer": layer}


def record_baseline(root: Path, path: Path, base_image: str, base_digest: str, skip=()) -> None:
    """Write the baseline index of ``root`` as the image build would."""
    entries = (entry_from_stat(rel, st, link) for rel, st, link in walk(root, skip))
    write_index(path, {"base_image": base_image, "base_digest": base_digest}, entries)


@pytest.fixture
def tiny_base(registry: Registry, tmp_path: Path) -> Iterator[dict]:
    """A fixture root standing for '/', pushed as base/tiny:1, with its baseline recorded."""
    root = tmp_path / "rootfs"
    root.mkdir()
    make_tiny_rootfs(root)
    work = tmp_path / "work"
    work.mkdir()
    pushed = push_base_image(registry, root, "base/tiny", "1", work)
    baseline = tmp_path / "baseline" / "baseline.jsonl.gz"
    ref = f"{registry.addr}/base/tiny:1"
    record_baseline(root, baseline, ref, pushed["digest"])
    yield {"root": root, "baseline": baseline, "ref": ref, "work": work, **pushed}
    shutil.rmtree(root, ignore_errors=True)
