"""With nothing configured the embedded store is used; its URLs need a signature or a login."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from tornado.httpclient import AsyncHTTPClient


@pytest.fixture
def ma_config(obs_clean_env):
    return {}


async def test_nothing_configured_uses_the_embedded_store_under_the_data_dir(api, ma_data_dir):
    status, info = await api("info")
    assert info["capabilities"]["obs"] == {
        "available": True,
        "store": "embedded",
        "root": str(ma_data_dir / "obs"),
    }
    status, _ = await api("obs/buckets", method="POST", body={"name": "my-data"})
    assert status == 201
    assert (ma_data_dir / "obs" / "my-data").is_dir()
    status, err = await api("obs/buckets", method="POST", body={"name": "my-data"})
    assert status == 409
    status, err = await api("obs/buckets", method="POST", body={"name": "No"})
    assert status == 400 and "Invalid bucket name" in err["message"]
    status, data = await api("obs/list", params={"path": "obs://"})
    assert [e["name"] for e in data["entries"]] == ["my-data"]


async def test_store_urls_need_a_valid_unexpired_signature_or_a_login(
    api, ma_app, jp_http_port, jp_fetch
):
    obs = ma_app.services["obs"]
    await obs.create_bucket("share")
    obs.store.put("share", "doc.txt", b"0123456789", None)
    base = f"http://127.0.0.1:{jp_http_port}"
    client = AsyncHTTPClient()

    url = obs.presign_get("obs://share/doc.txt", expires=60)
    resp = await client.fetch(base + url, raise_error=False)
    assert (resp.code, resp.body) == (200, b"0123456789")

    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    tampered = dict(query, signature="0" * 64)
    resp = await client.fetch(f"{base}{parsed.path}?{urlencode(tampered)}", raise_error=False)
    assert resp.code == 403
    other_key = url.replace("doc.txt", "other.txt")
    resp = await client.fetch(base + other_key, raise_error=False)
    assert resp.code == 403
    resp = await client.fetch(base + parsed.path, raise_error=False)  # no signature, no login
    assert resp.code == 403

    expired = obs.presign_get("obs://share/doc.txt", expires=-5)
    resp = await client.fetch(base + expired, raise_error=False)
    assert resp.code == 403 and b"expired" in resp.body

    # a logged-in user needs no signature
    resp = await jp_fetch(
        "ma-notebook",
        "obs-store",
        "share",
        "doc.txt",
        headers={"Range": "bytes=-3"},
        raise_error=False,
    )
    assert (resp.code, resp.body) == (206, b"789")
    assert resp.headers["Content-Range"] == "bytes 7-9/10"

    # a signed GET URL cannot be used to upload, and a part URL only for its own upload
    upload_id = await obs.create_multipart("obs://share/big.bin")
    put_with_get_sig = base + url + f"&uploadId={upload_id}&partNumber=1"
    resp = await client.fetch(put_with_get_sig, method="PUT", body=b"x", raise_error=False)
    assert resp.code == 403
    part_url = obs.presign_upload_part("obs://share/big.bin", upload_id, 1, expires=60)
    resp = await client.fetch(
        base + part_url.replace("partNumber=1", "partNumber=2"),
        method="PUT",
        body=b"x",
        raise_error=False,
    )
    assert resp.code == 403
    resp = await client.fetch(base + part_url, method="PUT", body=b"part-one", raise_error=False)
    assert resp.code == 200 and resp.headers["ETag"].strip('"')
    assert time.time() < int(query["expires"]) <= time.time() + 61
