"""The hub stop action on its own: environment detection, the DELETE it sends, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ma_notebook.hub import HubContext, HubError, hub_context, stop_via_hub

ENV = {
    "JUPYTERHUB_API_TOKEN": "s3cret-token",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api/",
    "JUPYTERHUB_USER": "al ice",
}


@pytest.fixture
def fake_hub() -> Iterator[dict[str, Any]]:
    """A loopback HTTP server standing in for the hub API; records what it was sent."""
    state: dict[str, Any] = {"status": 202, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:
            state["requests"].append((self.path, self.headers.get("Authorization")))
            self.send_response(state["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    yield state
    server.shutdown()
    server.server_close()


def test_hub_context_comes_from_the_spawner_environment() -> None:
    ctx = hub_context(ENV)
    assert ctx is not None
    assert ctx.api_url == "http://127.0.0.1:1/hub/api" and ctx.user == "al ice"
    assert ctx.server_url == "http://127.0.0.1:1/hub/api/users/al%20ice/server"
    assert "s3cret" not in repr(ctx)
    named = hub_context({**ENV, "JUPYTERHUB_SERVER_NAME": "gpu"})
    assert named is not None and named.server_url.endswith("/users/al%20ice/servers/gpu")
    assert hub_context({k: v for k, v in ENV.items() if k != "JUPYTERHUB_API_TOKEN"}) is None


async def test_stop_sends_delete_with_the_servers_token(fake_hub: dict[str, Any]) -> None:
    ctx = HubContext(fake_hub["url"], "s3cret-token", "alice")
    assert await stop_via_hub(ctx) == 202
    assert fake_hub["requests"] == [("/hub/api/users/alice/server", "token s3cret-token")]


async def test_a_token_without_the_scope_gets_a_hint_without_the_token(
    fake_hub: dict[str, Any],
) -> None:
    fake_hub["status"] = 403
    with pytest.raises(HubError) as err:
        await stop_via_hub(HubContext(fake_hub["url"], "s3cret-token", "alice"))
    assert "servers!server" in str(err.value) and "s3cret" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/hub/api", "http://[fe80::1]:8081/hub/api", "file:///etc"]
)
async def test_metadata_link_local_and_non_http_hub_urls_are_refused(url: str) -> None:
    with pytest.raises(HubError, match=r"refusing|http"):
        await stop_via_hub(HubContext(url, "t", "alice"))


async def test_not_under_a_hub_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    with pytest.raises(HubError, match="not running under JupyterHub"):
        await stop_via_hub()


async def test_under_a_hub_the_lease_stops_the_server_through_the_hub(
    fake_hub: dict[str, Any], monkeypatch: pytest.MonkeyPatch, jp_serverapp: Any
) -> None:
    from ma_notebook.hub import StopViaHub
    from ma_notebook.monitor.lease import ShutdownServer
    from ma_notebook.monitor.service import MonitorService

    app = jp_serverapp.extension_manager.extension_apps["ma_notebook"].copy().pop()
    assert MonitorService(app).stop_action_class is ShutdownServer  # not under a hub
    monkeypatch.setenv("JUPYTERHUB_API_URL", fake_hub["url"])
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "s3cret-token")
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    service = MonitorService(app)
    assert service.stop_action_class is StopViaHub
    await service.stop_action_class(parent=service, log=service.log).stop(service, "lease")
    assert fake_hub["requests"] == [("/hub/api/users/alice/server", "token s3cret-token")]
