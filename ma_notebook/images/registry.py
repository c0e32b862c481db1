"""A small client of the Docker / OCI Distribution API: what Save Image needs to push an image.

Manifests and configs are read and written; blobs are checked (HEAD), mounted across
repositories (falling back to a copy when the registry answers 202) and uploaded in chunks.
Authentication: HTTP basic, or bearer tokens from the realm a ``WWW-Authenticate: Bearer``
challenge names. Credentials never appear in messages or logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join([DOCKER_MANIFEST, OCI_MANIFEST, DOCKER_LIST, OCI_INDEX])
CHUNK = 16 << 20

_REF = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?"
    r"(?P<repo>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


class RegistryError(Exception):
    """A registry refused or failed a request; the message is for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into registry, repository and tag or digest."""

    registry: str
    repo: str
    tag: str = "latest"
    digest: str = ""

    @property
    def reference(self) -> str:
        """The tag or digest to ask the registry for."""
        return self.digest or self.tag

    def __str__(self) -> str:
        return f"{self.registry}/{self.repo}" + (
            f"@{self.digest}" if self.digest else f":{self.tag}"
        )


def is_loopback_registry(host: str) -> bool:
    """Whether a registry ``host[:port]`` (``[v6]:port`` too) is on this machine's loopback."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0][1:]
    return name in ("localhost", "::1") or name.startswith("127.")


def parse_ref(text: str, default_registry: str = "docker.io") -> ImageRef:
    """``registry/org/name:tag`` (registry optional) as an ImageRef; ValueError when malformed."""
    m = _REF.match(text.strip())
    if not m:
        raise ValueError(
            "an image reference looks like [registry/]organization/name[:tag], in lower case"
        )
    registry = m.group("registry")
    repo = m.group("repo")
    if registry and "." not in registry and ":" not in registry and registry != "localhost":
        repo, registry = f"{registry}/{repo}", None  # 'org/name': the first part is no host
    registry = registry or default_registry
    if registry == "docker.io" and "/" not in repo:
        repo = "library/" + repo
    return ImageRef(registry, repo, m.group("tag") or "latest", m.group("digest") or "")


def docker_config_auth(registry: str, path: str | None = None) -> tuple[str, str] | None:
    """(username, password) for ``registry`` from a Docker ``config.json``, if it holds one."""
    cfg = Path(path or os.path.join(os.environ.get("DOCKER_CONFIG", "~/.docker"), "config.json"))
    try:
        data = json.loads(cfg.expanduser().read_text())
    except (OSError, ValueError):
        return None
    for key, value in (data.get("auths") or {}).items():
        host = re.sub(r"^https?://", "", key).split("/")[0]
        if host == registry and isinstance(value, dict) and value.get("auth"):
            user, _, password = base64.b64decode(value["auth"]).decode().partition(":")
            return user, password
    return None


class RegistryClient:
    """Talks to one registry; thread-safe for the requests Save Image makes."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.registry = registry
        scheme = "http" if insecure else "https"
        self.base = f"{scheme}://{registry}"
        self._credentials = credentials
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc from the environment
        self.timeout = timeout
        self.counts: dict[str, int] = {"mounted": 0, "uploaded": 0, "copied": 0, "existing": 0}

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    # -- plumbing -----------------------------------------------------------------------------

    def _auth_header(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._credentials and self._tokens.get("__basic__"):
            user, password = self._credentials
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def _login(self, challenge: str, scope: str) -> None:
        kind, _, params = challenge.partition(" ")
        if kind.lower() == "basic":
            if not self._credentials:
                raise RegistryError(
                    f"The registry {self.registry} needs a login: configure "
                    "SaveImageService.registry_username/password or `docker login`.",
                    401,
                )
            self._tokens["__basic__"] = "1"
            return
        if kind.lower() != "bearer":
            raise RegistryError(f"The registry {self.registry} asks for an unknown login.", 401)
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        realm = fields.get("realm")
        if not realm:
            raise RegistryError(f"The registry {self.registry} sent no token realm.", 401)
        query: dict[str, str] = {"scope": fields.get("scope") or scope}
        if fields.get("service"):
            query["service"] = fields["service"]
        auth = self._credentials if self._credentials else None
        try:
            resp = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as e:
            raise RegistryError(
                f"Cannot reach the registry's token service: {type(e).__name__}."
            ) from None
        if resp.status_code != 200:
            raise RegistryError(
                f"The registry {self.registry} refused the login ({resp.status_code}): check the "
                "user name and password.",
                401,
            )
        data = resp.json()
        self._tokens[scope] = data.get("token") or data.get("access_token") or ""

    def request(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        ok: tuple[int, ...] = (200,),
        **kwargs: Any,
    ) -> requests.Response:
        """One request with login on a 401 challenge; RegistryError unless its status is ``ok``."""
        if not url.startswith("http"):
            url = urljoin(self.base, url)
        headers = dict(kwargs.pop("headers", {}) or {})
        for attempt in range(2):
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers={**headers, **self._auth_header(scope)},
                    timeout=self.timeout,
                    allow_redirects=method in ("GET", "HEAD"),
                    **kwargs,
                )
            except requests.RequestException as e:
                raise RegistryError(
                    f"Cannot reach the registry {self.registry}: {type(e).__name__}."
                ) from None
            if resp.status_code == 401 and attempt == 0:
                with self._lock:
                    self._login(resp.headers.get("WWW-Authenticate", ""), scope)
                if hasattr(kwargs.get("data"), "seek"):
                    kwargs["data"].seek(0)
                continue
            break
        if resp.status_code not in ok:
            raise RegistryError(self._describe(resp, method), resp.status_code)
        return resp

    def _describe(self, resp: requests.Response, method: str) -> str:
        detail = ""
        try:
            errors = resp.json().get("errors") or []
            if errors:
                detail = ": " + "; ".join(str(e.get("message", e.get("code"))) for e in errors[:3])
        except ValueError:
            pass
        what = resp.request.path_url.split("?")[0] if resp.request else ""
        return f"The registry answered {resp.status_code} to {method} {what}{detail[:300]}."

    @staticmethod
    def scope(repo: str, push: bool = False) -> str:
        """The token scope for pulling (and pushing) ``repo``."""
        return f"repository:{repo}:{'pull,push' if push else 'pull'}"

    # -- manifests and blobs --------------------------------------------------------------------

    def get_manifest(
        self, repo: str, reference: str, platform: str = "linux/amd64"
    ) -> tuple[str, bytes, str]:
        """(media type, raw bytes, digest) of a manifest; an index resolves to one platform."""
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scope=self.scope(repo),
            headers={"Accept": ACCEPT},
        )
        media = resp.headers.get("Content-Type", "").split(";")[0]
        media = media or json.loads(resp.content).get("mediaType", DOCKER_MANIFEST)
        if media in (DOCKER_LIST, OCI_INDEX):
            index = json.loads(resp.content)
            os_name, _, arch = platform.partition("/")
            for m in index.get("manifests", []):
                p = m.get("platform") or {}
                if p.get("os") == os_name and p.get("architecture") == arch:
                    return self.get_manifest(repo, m["digest"], platform)
            raise RegistryError(f"The image has no {platform} variant.")
        digest = resp.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(resp.content).hexdigest()
        )
        return media, resp.content, digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        """A (small) blob's bytes, checked against its digest."""
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", scope=self.scope(repo))
        if "sha256:" + hashlib.sha256(resp.content).hexdigest() != digest:
            raise RegistryError(f"The blob {digest[:19]} does not match its digest.")
        return resp.content

    def iter_blob(self, repo: str, digest: str) -> Iterator[bytes]:
        """A blob's bytes in chunks."""
        resp = self.request(
            "GET", f"/v2/{repo}/blobs/{digest}", scope=self.scope(repo), stream=True
        )
        yield from resp.iter_content(CHUNK)

    def has_blob(self, repo: str, digest: str) -> bool:
        """Whether the repository already holds the blob."""
        resp = self.request(
            "HEAD", f"/v2/{repo}/blobs/{digest}", scope=self.scope(repo, True), ok=(200, 404)
        )
        return resp.status_code == 200

    def mount_blob(self, repo: str, digest: str, source_repo: str) -> str | None:
        """Mount a blob from another repository: None when mounted, else the upload URL to use."""
        resp = self.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/",
            params={"mount": digest, "from": source_repo},
            scope=f"{self.scope(repo, True)} {self.scope(source_repo)}",
            ok=(201, 202),
        )
        if resp.status_code == 201:
            self.counts["mounted"] += 1
            return None
        return urljoin(self.base, resp.headers["Location"])

    def upload_blob(
        self,
        repo: str,
        digest: str,
        chunks: Iterator[bytes],
        *,
        location: str | None = None,
        progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Upload a blob in chunks (POST, PATCH..., PUT ?digest=)."""
        scope = self.scope(repo, True)
        if location is None:
            resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, ok=(202,))
            location = urljoin(self.base, resp.headers["Location"])
        offset = 0
        for chunk in chunks:
            if cancel is not None and cancel.is_set():
                self.request("DELETE", location, scope=scope, ok=(204, 404, 400, 405))
                raise RegistryError("Cancelled.")
            resp = self.request(
                "PATCH",
                location,
                scope=scope,
                ok=(202,),
                data=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                    "Content-Length": str(len(chunk)),
                },
            )
            offset += len(chunk)
            location = urljoin(self.base, resp.headers.get("Location", location))
            if progress:
                progress(len(chunk))
        sep = "&" if "?" in location else "?"
        self.request(
            "PUT",
            f"{location}{sep}digest={digest}",
            scope=scope,
            ok=(201,),
            headers={"Content-Length": "0", "Content-Type": "application/octet-stream"},
        )
        self.counts["uploaded"] += 1

    def put_manifest(self, repo: str, tag: str, body: bytes, media_type: str) -> str:
        """Store a manifest under a tag; returns its digest."""
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            scope=self.scope(repo, True),
            ok=(201, 200),
            data=body,
            headers={"Content-Type": media_type},
        )
        return resp.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(body).hexdigest()
        )


def file_chunks(path: str, size: int = CHUNK) -> Iterator[bytes]:
    """A file's bytes in chunks."""
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk
