"""The catalogue of registered notebook images (SQLite in the data dir) and the image registry.

``ma-cli image register`` adds an image, ``get-image`` lists them, ``unregister`` removes one;
Save Image adds the images it saves (origin ``SAVED``). When a registry is configured
(``MA_SWR_ENDPOINT`` or ``swr_endpoint`` in the ma-cli profile), image paths are resolved
against it: registering checks the image is there and records its digest and size, and
``unregister --delete`` deletes it from the registry too.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir

from . import registry
from .registry import is_loopback_registry

CATALOG_ENV = "MA_IMAGE_CATALOG"
DATA_DIR_ENV = "MA_NOTEBOOK_DATA_DIR"
REGISTRY_ENV = "MA_SWR_ENDPOINT"

IMAGE_TYPES = ("BUILD_IN", "DEDICATED")
ARCHES = ("X86_64", "AARCH64")
SERVICES = ("NOTEBOOK", "MODELBOX")
RESOURCE_CATEGORIES = ("CPU", "GPU", "ASCEND")
VISIBILITIES = ("PRIVATE", "PUBLIC")
ORIGINS = ("CUSTOMIZE", "SAVED", "BUILD_IN")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_SWR_PATH = re.compile(
    rf"^(?P<namespace>{_COMPONENT})/(?P<name>{_COMPONENT}(?:/{_COMPONENT})*)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
_REGISTRY_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-fA-F:]+\](?::\d{1,5})?$")
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


class CatalogError(Exception):
    """A catalogue or registry request the user can fix; the message says how."""


@dataclass(frozen=True)
class SwrPath:
    """``organization/image:tag``, optionally behind a registry host."""

    namespace: str
    name: str
    tag: str

    @property
    def path(self) -> str:
        """``organization/image:tag``."""
        return f"{self.namespace}/{self.name}:{self.tag}"

    @property
    def repository(self) -> str:
        """``organization/image``."""
        return f"{self.namespace}/{self.name}"


def parse_swr_path(text: str, registry: str = "") -> SwrPath:
    """``org/image:tag`` (or ``<registry>/org/image:tag`` for the configured registry)."""
    value = text.strip()
    if registry and value.startswith(registry.rstrip("/") + "/"):
        value = value[len(registry.rstrip("/")) + 1 :]
    match = _SWR_PATH.match(value)
    if not match:
        raise CatalogError(
            f"{text[:60]!r} is not an image path: use organization/image:tag "
            "(lower-case names, e.g. my-org/pytorch:1.0)"
        )
    return SwrPath(match["namespace"], match["name"], match["tag"])


@dataclass
class ImageRecord:
    """One registered image, with the seed's field names."""

    id: str
    name: str
    namespace: str
    tag: str
    swr_path: str
    arch: str = "X86_64"
    type: str = "DEDICATED"
    origin: str = "CUSTOMIZE"
    dev_services: list[str] = field(default_factory=lambda: ["NOTEBOOK", "SSH"])
    resource_categories: list[str] = field(default_factory=lambda: ["CPU", "GPU"])
    visibility: str = "PRIVATE"
    description: str = ""
    size: int = 0
    digest: str = ""
    status: str = "ACTIVE"
    workspace_id: str = "0"
    service_type: str = "UNKNOWN"
    create_at: int = 0
    update_at: int = 0
    tags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The record as the CLI prints it."""
        return asdict(self)


_LIST_FIELDS = ("dev_services", "resource_categories", "tags")
_COLUMNS = [f for f in ImageRecord.__dataclass_fields__]


def default_catalog_path() -> Path:
    """``$MA_IMAGE_CATALOG``, else ``<data dir>/images.sqlite3``.

    The data dir is ``$MA_NOTEBOOK_DATA_DIR`` or ``<jupyter data dir>/ma_notebook``, the
    server's default ``MaNotebookApp.data_dir``.
    """
    env = os.environ.get(CATALOG_ENV)
    if env:
        return Path(env).expanduser()
    data = os.environ.get(DATA_DIR_ENV) or os.path.join(jupyter_data_dir(), "ma_notebook")
    return Path(data).expanduser() / "images.sqlite3"


class Catalog:
    """Registered images in one SQLite file (safe for several processes)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_catalog_path()
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, swr_path TEXT NOT NULL,"
                " workspace_id TEXT NOT NULL, record TEXT NOT NULL, create_at INTEGER NOT NULL,"
                " UNIQUE (swr_path, workspace_id))"
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    @staticmethod
    def _load(text: str) -> ImageRecord:
        data = json.loads(text)
        return ImageRecord(**{k: v for k, v in data.items() if k in _COLUMNS})

    def add(
        self,
        swr_path: SwrPath,
        *,
        registry: str = "",
        overwrite: bool = False,
        **fields: Any,
    ) -> ImageRecord:
        """Register an image; a second registration of the same path is refused unless asked."""
        now = int(time.time() * 1000)
        full = f"{registry.rstrip('/')}/{swr_path.path}" if registry else swr_path.path
        record = ImageRecord(
            id=uuid.uuid4().hex,
            name=swr_path.name,
            namespace=swr_path.namespace,
            tag=swr_path.tag,
            swr_path=full,
            create_at=now,
            update_at=now,
            **fields,
        )
        with self._db() as db:
            row = db.execute(
                "SELECT id FROM images WHERE swr_path = ? AND workspace_id = ?",
                (record.swr_path, record.workspace_id),
            ).fetchone()
            if row and not overwrite:
                raise CatalogError(
                    f"{record.swr_path} is already registered (image id {row[0]}); "
                    "unregister it first"
                )
            if row:
                record.id = row[0]
                db.execute("DELETE FROM images WHERE id = ?", (row[0],))
            db.execute(
                "INSERT INTO images (id, swr_path, workspace_id, record, create_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.id, record.swr_path, record.workspace_id, json.dumps(asdict(record)), now),
            )
        return record

    def get(self, image_id: str) -> ImageRecord:
        """The image with this id (or a unique id prefix of at least 6 characters)."""
        value = image_id.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{6,32}", value):
            raise CatalogError(f"{image_id[:40]!r} is not an image id (32 hexadecimal digits)")
        with self._db() as db:
            rows = db.execute(
                "SELECT record FROM images WHERE id LIKE ? ORDER BY create_at", (value + "%",)
            ).fetchall()
        if not rows:
            raise CatalogError(f"no image with id {image_id[:40]}; list them with get-image")
        if len(rows) > 1:
            raise CatalogError(f"image id prefix {image_id[:40]} is ambiguous; give more digits")
        return self._load(rows[0][0])

    def list(
        self,
        *,
        image_type: str = "ALL",
        name_filter: str = "",
        name: str = "",
        workspace_id: str | None = None,
    ) -> list[ImageRecord]:
        """Images, oldest first, by type (BUILD_IN, DEDICATED or ALL) and name."""
        with self._db() as db:
            rows = db.execute("SELECT record FROM images ORDER BY create_at, id").fetchall()
        out = []
        for (text,) in rows:
            record = self._load(text)
            if image_type != "ALL" and record.type != image_type:
                continue
            if name_filter and name_filter.lower() not in record.name.lower():
                continue
            if name and record.name != name:
                continue
            if workspace_id is not None and record.workspace_id != workspace_id:
                continue
            out.append(record)
        return out

    def remove(self, image_id: str) -> ImageRecord:
        """Unregister an image; returns what was removed."""
        record = self.get(image_id)
        with self._db() as db:
            db.execute("DELETE FROM images WHERE id = ?", (record.id,))
        return record


# ---------------------------------------------------------------- the registry


def configured_registry(profile: dict[str, Any] | None = None) -> str:
    """The registry host to push to and resolve images in (``host[:port]``), or ``""``."""
    value = os.environ.get(REGISTRY_ENV) or str((profile or {}).get("swr_endpoint") or "")
    value = value.strip()
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.rstrip("/")
    if value and not _REGISTRY_HOST.match(value):
        raise CatalogError(f"registry {value[:60]!r} is not host[:port]")
    return value


class RegistryClient:
    """What the catalogue asks a registry (a tag's manifest; deleting it), on Save Image's client.

    Logins come from ``docker login`` (``~/.docker/config.json``) and bearer-token challenges
    are answered, as for Save Image; loopback registries are spoken to over plain HTTP.
    """

    def __init__(self, host: str, timeout: float = 30) -> None:
        self.host = host
        self.client = registry.RegistryClient(
            host,
            insecure=is_loopback_registry(host),
            credentials=registry.docker_config_auth(host),
            timeout=timeout,
        )

    def _head(self, swr: SwrPath) -> Any:
        """The tag's manifest response (HEAD, with push rights), or None when there is no tag."""
        try:
            resp = self.client.request(
                "HEAD",
                f"/v2/{swr.repository}/manifests/{swr.tag}",
                scope=self.client.scope(swr.repository, True),
                ok=(200, 404),
                headers={"Accept": MANIFEST_TYPES},
            )
        except registry.RegistryError as e:
            raise self._error(e) from None
        return None if resp.status_code == 404 else resp

    def _error(self, e: registry.RegistryError) -> CatalogError:
        if e.status == 401:
            return CatalogError(
                f"registry {self.host} wants authentication: log in with `docker login "
                f"{self.host}` (the catalogue uses the same logins as docker)"
            )
        return CatalogError(f"registry {self.host}: {e}")

    def manifest(self, swr: SwrPath) -> dict[str, Any] | None:
        """The image's manifest digest and size (config + layers), or None when absent."""
        try:
            media, raw, digest = self.client.get_manifest(swr.repository, swr.tag)
        except registry.RegistryError as e:
            if e.status == 404:
                return None
            raise self._error(e) from None
        body = json.loads(raw or b"{}")
        size = int(body.get("config", {}).get("size", 0))
        size += sum(int(layer.get("size", 0)) for layer in body.get("layers", []))
        return {"digest": digest, "size": size, "media_type": media}

    def delete(self, swr: SwrPath) -> bool:
        """Delete the tag's manifest (the registry must allow deletes); False when absent."""
        resp = self._head(swr)
        if resp is None:
            return False
        digest = resp.headers.get("Docker-Content-Digest", "")
        if not digest:
            raise CatalogError(f"registry {self.host} did not say the digest of {swr.path}")
        try:
            self.client.request(
                "DELETE",
                f"/v2/{swr.repository}/manifests/{digest}",
                scope=self.client.scope(swr.repository, True),
                ok=(200, 202, 404),
            )
        except registry.RegistryError as e:
            raise self._error(e) from None
        return True


def list_choices(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    """Upper-cased, de-duplicated values, each checked against ``allowed``."""
    out: list[str] = []
    for value in values:
        v = value.upper()
        if v not in allowed:
            raise CatalogError(f"{what} {value[:20]!r} is not one of {', '.join(allowed)}")
        if v not in out:
            out.append(v)
    return out
