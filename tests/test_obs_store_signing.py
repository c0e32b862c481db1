"""The embedded store's signed URLs: one signature, one request; hostile queries get 4xx."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest
from tornado.httpclient import AsyncHTTPClient


@pytest.fixture
def ma_config(obs_clean_env):
    return {}


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query, keep_blank_values=True).items()}


async def test_a_signature_for_one_key_does_not_open_another_with_shifted_fields(
    ma_app, jp_http_port, jp_fetch
):
    obs = ma_app.services["obs"]
    await obs.create_bucket("share")
    obs.store.put("share", "a\nb", b"shared with you", None)
    obs.store.put("share", "a", b"private", None)
    base = f"http://127.0.0.1:{jp_http_port}"
    client = AsyncHTTPClient()
    url = obs.presign_get("obs://share/a\nb", expires=60)
    resp = await client.fetch(base + url, raise_error=False)
    assert (resp.code, resp.body) == (200, b"shared with you")

    # "a\nb" + "" + "" + "" joined by newlines == "a" + "b" + "" + "\n": same message, same MAC
    forged = dict(_query(url), uploadId="b", filename="\n")
    path = urlparse(url).path.rsplit("/", 1)[0] + "/a"
    resp = await client.fetch(f"{base}{path}?{urlencode(forged)}", raise_error=False)
    assert resp.code == 403 and resp.body != b"private"
    assert not obs.store.verify(forged, "share", "a")


async def test_non_ascii_signature_and_odd_queries_are_refused_not_crashed(
    ma_app, jp_http_port, jp_fetch
):
    obs = ma_app.services["obs"]
    await obs.create_bucket("share")
    obs.store.put("share", "doc.txt", b"0123456789", None)
    base = f"http://127.0.0.1:{jp_http_port}"
    url = obs.presign_get("obs://share/doc.txt", expires=60)
    client = AsyncHTTPClient()
    for change in (
        {"signature": "é" * 64},
        {"signature": "\u0663" * 64},
        {"expires": "\u0661" * 12},
        {"expires": "9" * 5000},
        {"signature": ""},
    ):
        bad = dict(_query(url), **change)
        resp = await client.fetch(f"{base}{urlparse(url).path}?{urlencode(bad)}", raise_error=False)
        assert resp.code == 403, (change, resp.code, resp.body)


async def test_a_file_name_with_newlines_downloads_with_a_safe_header(
    ma_app, jp_http_port, jp_fetch
):
    obs = ma_app.services["obs"]
    await obs.create_bucket("share")
    obs.store.put("share", "doc.txt", b"0123456789", None)
    base = f"http://127.0.0.1:{jp_http_port}"
    name = 'report\r\nSet-Cookie: x=1\n"q".txt'
    url = obs.presign_get("obs://share/doc.txt", expires=60, filename=name)
    resp = await AsyncHTTPClient().fetch(base + url, raise_error=False)
    assert resp.code == 200 and resp.body == b"0123456789"
    disposition = resp.headers["Content-Disposition"]
    assert "\n" not in disposition and "\r" not in disposition
    assert "Set-Cookie" not in resp.headers
    assert f"filename*=UTF-8''{quote(name)}" in disposition
