"""Tool processes and the visualization proxy keep the user's and the server's secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fixtures_visualization import write_tensorboard_scalars
from tornado import web, websocket
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from ma_notebook.visualization.tools import TOOLS

SECRETS = {
    "HUAWEICLOUD_SDK_SK": "hw-secret-sk",
    "HUAWEICLOUD_SDK_AK": "hw-access-ak",
    "MODELARTS_SK": "ma-secret-sk",
    "MY_SERVICE_TOKEN_FILE": "/run/secret-token",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "JUPYTERHUB_API_TOKEN": "hub-token",
}


async def test_tensorboard_gets_no_credentials_and_its_fonts_load_through_the_prefix(
    api, jp_fetch, tb_summaries, monkeypatch, jp_http_port, jp_auth_header
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    status, inst = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 201, inst
    try:
        environ = Path(f"/proc/{inst['pid']}/environ").read_bytes().split(b"\0")
        names = {line.partition(b"=")[0].decode() for line in environ if line}
        assert "PATH" in names
        assert not names & set(SECRETS), names & set(SECRETS)
        assert not [n for n in names if n.endswith("_SK") or "TOKEN" in n]
        for value in SECRETS.values():
            assert value.encode() not in b"\0".join(environ)

        parts = [p for p in inst["url"].split("/") if p]
        page = (await jp_fetch(*parts, "index.html")).body.decode()
        assert "url(/font-roboto/" not in page
        fonts = re.findall(r"url\(([^)]*/font-roboto/[^)]+\.woff2)\)", page)
        assert fonts and all(f"{inst['url']}font-roboto/" in f for f in fonts), fonts[:2]
        font = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{fonts[0]}", headers=jp_auth_header
        )
        assert font.code == 200 and len(font.body) > 1000
    finally:
        await api(f"visualization/instances/{inst['id']}", "DELETE")


async def test_the_proxied_tool_never_receives_jupyter_credentials(
    ma_app, jp_fetch, jp_http_port, jp_base_url, jp_auth_header, tmp_path
):
    service = ma_app.services["visualization"]
    inst = service._new_instance(TOOLS["tensorboard"], str(tmp_path), "peer")
    seen: list[dict[str, Any]] = []

    class Record(web.RequestHandler):
        def _record(self) -> None:
            seen.append({"uri": self.request.uri, "headers": dict(self.request.headers)})
            self.write("ok")

        get = post = _record  # type: ignore[assignment]

        def check_xsrf_cookie(self) -> None:
            pass

    class Socket(websocket.WebSocketHandler):
        def open(self) -> None:
            seen.append({"uri": self.request.uri, "headers": dict(self.request.headers)})
            self.write_message("hello")

    peer = web.Application([(r".*/ws", Socket), (r".*", Record)]).listen(inst.port, "127.0.0.1")
    inst.state = "running"
    inst.ready.set()
    service.instances[inst.id] = inst
    token = jp_auth_header["Authorization"].split()[-1]
    try:
        base = f"127.0.0.1:{jp_http_port}{jp_base_url}{inst.proxy_base}"
        cookie = "_xsrf=xsrf-cookie-value; username-127-0-0-1=login-cookie-value"
        headers = {**jp_auth_header, "Cookie": cookie, "X-XSRFToken": "xsrf-cookie-value"}
        client = AsyncHTTPClient()
        for method, body in (("GET", None), ("POST", "x=1")):
            resp = await client.fetch(
                HTTPRequest(
                    f"http://{base}/data?run=a&token={token}&_xsrf=xsrf-cookie-value",
                    method=method,
                    body=body,
                    headers={**headers, "Origin": f"http://127.0.0.1:{jp_http_port}"},
                )
            )
            assert resp.code == 200
        conn = await websocket.websocket_connect(
            HTTPRequest(f"ws://{base}/ws?token={token}", headers=headers)
        )
        assert await conn.read_message() == "hello"
        conn.close()
        assert len(seen) == 3, seen
        assert seen[0]["uri"].endswith("/data?run=a")
        everything = repr(seen)
        for secret in (token, "xsrf-cookie-value", "login-cookie-value"):
            assert secret not in everything
    finally:
        peer.stop()
        service.instances.pop(inst.id, None)


async def test_launcher_at_the_workspace_root_finds_summaries_below_it(api, jp_root_dir):
    write_tensorboard_scalars(jp_root_dir / "experiments" / "run1")
    status, data = await api("visualization/suggest", params={"tool": "tensorboard", "cwd": ""})
    assert status == 200 and data["has_summaries"] and data["path"] == "", data
    write_tensorboard_scalars(jp_root_dir / "summary" / "run1")
    _, data = await api("visualization/suggest", params={"tool": "tensorboard", "cwd": ""})
    assert data["path"] == "summary" and data["has_summaries"], data
