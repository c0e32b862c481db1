"""The registry client logs in: basic auth (docker-registry's htpasswd) and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bcrypt
import pytest
from ma_fixtures import DockerRegistry

from ma_notebook.images.registry import RegistryClient, RegistryError, docker_config_auth

USER, PASSWORD = "admin", "s3cret-pass"


@pytest.fixture
def htpasswd_registry(tmp_path):
    """docker-registry that asks for HTTP basic auth (htpasswd, bcrypt)."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"{USER}:{hashed}\n")
    registry = DockerRegistry(tmp_path / "registry", htpasswd=tmp_path / "htpasswd")
    yield registry.addr
    registry.stop()


def push_blob(client: RegistryClient) -> str:
    data = b"hello layer"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    client.upload_blob("team/x", digest, iter([data]))
    return digest


def test_basic_auth_with_the_right_password_and_a_clear_refusal_without(htpasswd_registry):
    client = RegistryClient(htpasswd_registry, insecure=True, credentials=(USER, PASSWORD))
    digest = push_blob(client)
    assert client.has_blob("team/x", digest)
    with pytest.raises(RegistryError) as e:
        RegistryClient(htpasswd_registry, insecure=True).has_blob("team/x", digest)
    assert "needs a login" in e.value.message
    with pytest.raises(RegistryError) as e:
        RegistryClient(htpasswd_registry, insecure=True, credentials=(USER, "wrong")).has_blob(
            "team/x", digest
        )
    assert PASSWORD not in e.value.message and "wrong" not in e.value.message


class BearerProxy(BaseHTTPRequestHandler):
    """A token service plus a proxy that wants ``Bearer <token>`` in front of a registry."""

    upstream = ""
    token = secrets.token_hex(8)
    scopes: list[str] = []

    def log_message(self, *args):
        pass

    def _send(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _any(self):
        host = f"127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/token"):
            auth = self.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if auth != expected:
                return self._send(401)
            self.scopes.append(self.path)
            body = json.dumps({"token": self.token}).encode()
            return self._send(200, {"Content-Type": "application/json"}, body)
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            challenge = (
                f'Bearer realm="http://{host}/token",service="test",'
                f'scope="repository:team/x:pull,push"'
            )
            return self._send(401, {"WWW-Authenticate": challenge})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")
        }
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hop = ("content-length", "transfer-encoding", "connection")
        out = {
            k: v.replace(self.upstream, host) for k, v in resp.getheaders() if k.lower() not in hop
        }
        self._send(resp.status, out, data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any


def test_bearer_tokens_from_the_challenges_realm(registry):
    BearerProxy.upstream = registry.addr
    server = ThreadingHTTPServer(("127.0.0.1", 0), BearerProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    addr = f"127.0.0.1:{server.server_address[1]}"
    try:
        client = RegistryClient(addr, insecure=True, credentials=(USER, PASSWORD))
        digest = push_blob(client)
        assert client.has_blob("team/x", digest)
        assert BearerProxy.scopes and "service=test" in BearerProxy.scopes[0]
        with pytest.raises(RegistryError) as e:
            RegistryClient(addr, insecure=True, credentials=(USER, "nope")).has_blob(
                "team/x", digest
            )
        assert "refused the login" in e.value.message and "nope" not in e.value.message
    finally:
        server.shutdown()


def test_logins_come_from_a_docker_config_json(tmp_path):
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {"https://reg.example:5000": {"auth": auth}}}))
    assert docker_config_auth("reg.example:5000", str(cfg)) == (USER, PASSWORD)
    assert docker_config_auth("other:5000", str(cfg)) is None


def test_the_image_catalogue_uses_docker_logins_and_says_how_to_log_in_without(
    htpasswd_registry, tmp_path, monkeypatch
):
    from ma_notebook.images.catalog import CatalogError, parse_swr_path
    from ma_notebook.images.catalog import RegistryClient as CatalogRegistry
    from ma_notebook.images.registry import DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST

    pusher = RegistryClient(htpasswd_registry, insecure=True, credentials=(USER, PASSWORD))
    layer = push_blob(pusher)
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    pusher.upload_blob("team/x", config_digest, iter([config]))
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": DOCKER_LAYER, "size": 11, "digest": layer}],
    }
    digest = pusher.put_manifest("team/x", "1", json.dumps(manifest).encode(), DOCKER_MANIFEST)
    swr = parse_swr_path("team/x:1", htpasswd_registry)

    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nobody"))
    with pytest.raises(CatalogError) as e:
        CatalogRegistry(htpasswd_registry).manifest(swr)
    assert f"docker login {htpasswd_registry}" in str(e.value)

    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker_dir / "config.json").write_text(
        json.dumps({"auths": {htpasswd_registry: {"auth": auth}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_dir))
    catalog = CatalogRegistry(htpasswd_registry)
    found = catalog.manifest(swr)
    assert found == {"digest": digest, "size": len(config) + 11, "media_type": DOCKER_MANIFEST}
    assert catalog.manifest(parse_swr_path("team/x:absent", htpasswd_registry)) is None
    assert catalog.delete(swr) is True
    assert catalog.manifest(swr) is None
    assert catalog.delete(swr) is False
