"""Save Image: check, snapshot the container against its baseline, push the new image.

The engine is independent of the Jupyter server so that ``ma-cli image save`` runs it too. It
reports progress through :class:`SaveProgress` and events through a callback that takes the
seed's event types (Table 6-15).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fsindex import Entry, entry_from_stat, mount_points, read_index, write_index
from .registry import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    ImageRef,
    RegistryClient,
    RegistryError,
    file_chunks,
    is_loopback_registry,
    parse_ref,
)
from .snapshot import Changes, SnapshotError, d_state_processes, find_changes, write_layer

GB = 1000**3
EventSink = Callable[[str, str, str], None]


class SaveError(Exception):
    """Saving failed; ``reason`` is one of d_state, size, layers, snapshot, push, baseline."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass
class SaveRequest:
    """What to save and where."""

    target: str  # registry/org/name:tag
    description: str = ""
    squash: bool = False


@dataclass
class SaveSettings:
    """How to save: the root standing for '/', limits, registries and credentials."""

    root: str = "/"
    baseline_path: str = "/opt/ma-notebook/baseline.jsonl.gz"
    exclude: list[str] = field(default_factory=list)
    work_dir: str = ""
    max_size_bytes: int = 35 * GB
    max_layers: int = 125
    squash_warning_layers: int = 5
    insecure_registries: list[str] = field(default_factory=list)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    image: str = ""  # the image this container runs, in its registry (else the baseline's)
    #: Where (a path of the container) the saved image keeps its own baseline index.
    image_index: str = "/opt/ma-notebook/baseline.jsonl.gz"
    mountinfo: str = "/proc/self/mountinfo"
    proc: str = "/proc"


@dataclass
class SaveProgress:
    """The state a UI shows: phase, files walked, bytes written, bytes pushed."""

    phase: str = "checking"
    files_walked: int = 0
    bytes_written: int = 0
    bytes_pushed: int = 0
    bytes_total: int = 0
    on_change: Callable[[SaveProgress], None] | None = None

    def set(self, **values: Any) -> None:
        """Update and notify."""
        for k, v in values.items():
            setattr(self, k, v)
        if self.on_change:
            self.on_change(self)


def is_insecure(registry: str, configured: list[str]) -> bool:
    """Plain HTTP for loopback registries and those configured as insecure."""
    return registry in configured or is_loopback_registry(registry)


class ImageSaver:
    """One save: checks, snapshot, push."""

    def __init__(
        self,
        settings: SaveSettings,
        events: EventSink,
        progress: SaveProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.s = settings
        self.events = events
        self.progress = progress or SaveProgress()
        self.cancel = cancel or threading.Event()
        self._clients: dict[str, RegistryClient] = {}

    def client(self, registry: str) -> RegistryClient:
        """The registry client for a host, made once."""
        if registry not in self._clients:
            self._clients[registry] = RegistryClient(
                registry,
                insecure=is_insecure(registry, self.s.insecure_registries),
                credentials=self.s.credentials.get(registry),
            )
        return self._clients[registry]

    def skip_paths(self) -> set[str]:
        """Absolute paths the walk leaves out: mount points under the root and exclusions."""
        root = os.path.abspath(self.s.root)
        skip = set()
        for point in mount_points(self.s.mountinfo):
            if point != root and (root == "/" or point.startswith(root + "/")):
                skip.add(point)
        for ex in self.s.exclude:
            ex = os.path.normpath(ex)
            # An exclusion names a path of the container ('/data') or a real path under the root.
            inside = root == "/" or ex == root or ex.startswith(root + "/")
            skip.add(ex if inside else os.path.join(root, ex.lstrip("/")))
        if self.s.work_dir:
            skip.add(os.path.abspath(self.s.work_dir))
        # An index describes the image, it is no change of the user's: the layer gets the next.
        skip.add(os.path.abspath(self.s.baseline_path))
        skip.add(os.path.join(root, self.s.image_index.lstrip("/")))
        skip.add(os.path.abspath(self.s.baseline_path) + ".tmp")
        return skip

    def _index_in_layer(self) -> str | None:
        """Where in the layer the next index goes (relative to the root), if its folder exists."""
        rel = os.path.normpath(self.s.image_index).lstrip("/")
        folder = os.path.join(os.path.abspath(self.s.root), os.path.dirname(rel))
        return rel if rel and os.path.isdir(folder) else None

    def _next_index(
        self,
        path: str,
        header: dict[str, Any],
        baseline: dict[str, Entry],
        changes: Changes,
        target: ImageRef,
        squash: bool,
    ) -> None:
        """The baseline of the saved image (this one's plus the layer), so that saving again
        from a notebook running it saves only what changed since."""
        gone = set(changes.deleted)
        cleared = gone | set(changes.opaque)  # folders whose former entries all went

        def kept(path: str) -> bool:
            if path in gone:
                return False
            parent = os.path.dirname(path)
            while parent:  # one look per ancestor: deletions can be many, the index ~10^5
                if parent in cleared:
                    return False
                parent = os.path.dirname(parent)
            return True

        entries = {} if squash else {k: v for k, v in baseline.items() if kept(k)}
        for rel, st, link in changes.upserts:
            entries[rel] = entry_from_stat(rel, st, link)
        ordered = sorted(entries.values(), key=lambda e: e.path.split("/"))
        next_header = {
            k: v for k, v in header.items() if k not in ("format", "entries", "base_digest")
        }
        next_header.update(
            base_image=str(target),
            base_digest="",
            from_image=self.s.image or str(header.get("base_image") or ""),
            created=int(time.time()),
        )
        write_index(path, next_header, ordered)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise SaveError("Cancelled.", "cancelled")

    def run(self, req: SaveRequest) -> dict[str, Any]:
        """Save; returns the pushed reference and digests. SaveError on any failure."""
        try:
            return self._run(req)
        except SaveError as e:
            if e.reason != "cancelled":
                self.events("SavedImageFailed", "Critical", f"Saving the image failed: {e.message}")
            raise

    def _run(self, req: SaveRequest) -> dict[str, Any]:
        try:
            target = parse_ref(req.target)
        except ValueError as e:
            raise SaveError(f"The image path is not valid: {e}.", "request") from None
        try:
            header, baseline = read_index(self.s.baseline_path)
        except FileNotFoundError:
            raise SaveError(
                f"No baseline index at {self.s.baseline_path}: this container was not started "
                "from a notebook image that records one.",
                "baseline",
            ) from None
        except (OSError, ValueError) as e:
            raise SaveError(f"The baseline index cannot be read: {e}.", "baseline") from None
        # Checks first: processes in D state block the snapshot (their files may be mid-write).
        stuck = d_state_processes(self.s.proc)
        if stuck:
            listed = ", ".join(f"{pid} ({cmd})" for pid, cmd in stuck[:10])
            raise SaveError(
                f"Processes in D state (uninterruptible I/O) block saving: {listed}. Wait for "
                "them or stop them, then save again.",
                "d_state",
            )
        base = self._base(header)
        base_layers = base["manifest"].get("layers", []) if base else []
        layer_count = 1 if req.squash else len(base_layers) + 1
        self.events(
            "CheckImageLayer",
            "Major",
            f"The image will have {layer_count} layer(s) (limit {self.s.max_layers}).",
        )
        if layer_count > self.s.max_layers:
            raise SaveError(
                f"The image would have {layer_count} layers, more than the limit of "
                f"{self.s.max_layers}: save it squashed into one layer instead.",
                "layers",
            )
        self._check_cancel()
        self.progress.set(phase="snapshotting")
        self.events("ContainerCommitStarted", "Major", f"Snapshotting the container for {target}.")
        if self.s.work_dir:
            os.makedirs(self.s.work_dir, exist_ok=True)
        work = tempfile.mkdtemp(prefix="ma-save-", dir=self.s.work_dir or None)
        try:
            try:
                changes = find_changes(
                    os.path.abspath(self.s.root),
                    baseline,
                    self.skip_paths() | {work},
                    full=req.squash,
                    progress=lambda n, b: self.progress.set(files_walked=n),
                    cancelled=self.cancel.is_set,
                )
                if changes.unreadable:
                    raise SnapshotError(
                        f"{len(changes.unreadable)} changed file(s) cannot be read: "
                        + ", ".join(changes.unreadable[:10]),
                        paths=changes.unreadable,
                    )
                base_size = sum(int(x.get("size", 0)) for x in base_layers)
                total = (0 if req.squash else base_size) + changes.bytes
                self.events(
                    "CheckImageSize",
                    "Major",
                    f"The image will be about {total / GB:.2f} GB "
                    f"(limit {self.s.max_size_bytes / GB:.0f} GB).",
                )
                if total > self.s.max_size_bytes:
                    raise SaveError(
                        f"The image would be {total / GB:.2f} GB, more than the limit of "
                        f"{self.s.max_size_bytes / GB:.0f} GB: remove large files outside "
                        "/home/ma-user/work, then save again.",
                        "size",
                    )
                self.progress.set(bytes_total=changes.bytes)
                extra: dict[str, str] = {}
                index_rel = self._index_in_layer()
                if index_rel:
                    extra[index_rel] = os.path.join(work, "baseline.jsonl.gz")
                    self._next_index(
                        extra[index_rel], header, baseline, changes, target, req.squash
                    )
                layer = write_layer(
                    os.path.abspath(self.s.root),
                    changes,
                    os.path.join(work, "layer.tar.gz"),
                    extra=extra,
                    progress=lambda n, b: self.progress.set(bytes_written=b),
                    cancel=self.cancel,
                )
            except SnapshotError as e:
                if e.reason == "cancelled":
                    raise SaveError("Cancelled.", "cancelled") from None
                self.events("ContainerCommitFailed", "Critical", e.message)
                raise SaveError(e.message, "snapshot") from None
            self.events(
                "ContainerCommitSuccess",
                "Major",
                f"Snapshot taken: {layer.entries} entries, {layer.size} bytes compressed.",
            )
            self._check_cancel()
            self.progress.set(phase="pushing", bytes_total=layer.size)
            self.events("ImagePushStarted", "Major", f"Pushing {target}.")
            try:
                result = self._push(target, base, layer, req)
            except RegistryError as e:
                if self.cancel.is_set():
                    raise SaveError("Cancelled.", "cancelled") from None
                self.events("ImagePushFailed", "Critical", e.message)
                raise SaveError(e.message, "push") from None
            self.events("ImagePushSuccess", "Major", f"Pushed {target} ({result['digest']}).")
            self.events("SaveImage", "Major", f"The image {target} was saved.")
            self.progress.set(phase="done")
            return result
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _base(self, header: dict[str, Any]) -> dict[str, Any] | None:
        """The running image's manifest and config, from the registry it was pushed to."""
        ref_text = self.s.image or header.get("base_image") or ""
        if not ref_text:
            return None
        try:
            ref = parse_ref(ref_text)
        except ValueError:
            raise SaveError(
                f"The baseline names an invalid base image {ref_text[:80]!r}.", "baseline"
            ) from None
        digest = "" if self.s.image else header.get("base_digest") or ""
        client = self.client(ref.registry)
        try:
            media, raw, digest = client.get_manifest(ref.repo, digest or ref.reference)
            manifest = json.loads(raw)
            config = json.loads(client.get_blob(ref.repo, manifest["config"]["digest"]))
        except RegistryError as e:
            raise SaveError(
                f"The image this notebook runs ({ref}) cannot be read from its registry: "
                f"{e.message} Set ImageService.image (or MA_NOTEBOOK_IMAGE) to where it is pushed.",
                "push",
            ) from None
        return {
            "ref": ref,
            "media": media,
            "manifest": manifest,
            "config": config,
            "digest": digest,
        }

    def _push(
        self, target: ImageRef, base: dict[str, Any] | None, layer: Any, req: SaveRequest
    ) -> dict[str, Any]:
        client = self.client(target.registry)
        oci = bool(base and base["media"] == OCI_MANIFEST)
        layer_type = OCI_LAYER if oci else DOCKER_LAYER
        layers: list[dict[str, Any]] = []
        if base and not req.squash:
            base_ref: ImageRef = base["ref"]
            for item in base["manifest"].get("layers", []):
                self._check_cancel_push()
                self._reuse(client, target, base_ref, item)
                layers.append(item)
        pushed = 0

        def bump(n: int) -> None:
            nonlocal pushed
            pushed += n
            self.progress.set(bytes_pushed=pushed)

        if not client.has_blob(target.repo, layer.digest):
            client.upload_blob(
                target.repo,
                layer.digest,
                file_chunks(layer.path),
                progress=bump,
                cancel=self.cancel,
            )
        layers.append({"mediaType": layer_type, "size": layer.size, "digest": layer.digest})
        config: dict[str, Any] = (
            dict(base["config"]) if base else {"architecture": "amd64", "os": "linux", "config": {}}
        )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        diff_ids: list[str] = (
            [] if req.squash else list(config.get("rootfs", {}).get("diff_ids", []))
        )
        diff_ids.append(layer.diff_id)
        rootfs = {"type": "layers", "diff_ids": diff_ids}
        history: list[Any] = [] if req.squash else list(config.get("history") or [])
        history.append(
            {
                "created": now,
                "created_by": "ma-notebook Save Image" + (" (squashed)" if req.squash else ""),
                "comment": req.description[:1000],
            }
        )
        config.update({"rootfs": rootfs, "history": history, "created": now})
        raw_config = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
        config_digest = "sha256:" + hashlib.sha256(raw_config).hexdigest()
        if not client.has_blob(target.repo, config_digest):
            client.upload_blob(target.repo, config_digest, iter([raw_config]))
        self._check_cancel_push()
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "size": len(raw_config),
                "digest": config_digest,
            },
            "layers": layers,
        }
        if req.description and oci:
            manifest["annotations"] = {
                "org.opencontainers.image.description": req.description[:1000]
            }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        digest = client.put_manifest(target.repo, target.tag, body, media_type)
        return {
            "image": str(target),
            "digest": digest,
            "layers": len(layers),
            "layer_digest": layer.digest,
            "layer_size": layer.size,
            "reused": dict(client.counts),
        }

    def _check_cancel_push(self) -> None:
        if self.cancel.is_set():
            raise RegistryError("Cancelled.")

    def _reuse(
        self, client: RegistryClient, target: ImageRef, base_ref: ImageRef, item: dict[str, Any]
    ) -> None:
        """Make a base layer available in the target repository without uploading it again."""
        digest = item["digest"]
        if client.has_blob(target.repo, digest):
            client.counts["existing"] += 1
            return
        if base_ref.registry == target.registry:
            location = client.mount_blob(target.repo, digest, base_ref.repo)
            if location is None:
                return
        else:
            location = None
        # The registry would not mount (or it is another registry): copy the blob through.
        source = self.client(base_ref.registry)
        client.upload_blob(
            target.repo,
            digest,
            source.iter_blob(base_ref.repo, digest),
            location=location,
            cancel=self.cancel,
        )
        client.counts["copied"] += 1
