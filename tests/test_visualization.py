"""TensorBoard and MindInsight launched through the API, read through the authenticated proxy."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures_visualization import write_mindinsight_scalars, write_tensorboard_scalars
from tornado import web, websocket
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ma_notebook.visualization.tools import TOOLS


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_until(check: Any, timeout: float = 30.0, interval: float = 0.25) -> Any:
    """Poll an async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s; last result {result!r}")
        await asyncio.sleep(interval)


@pytest.fixture
def proxy(jp_fetch: Any) -> Any:
    """GET through the visualization proxy: ``await proxy(url, "data/...")`` -> (status, body)."""

    async def get(url: str, path: str = "", **kwargs: Any) -> tuple[int, Any]:
        parts = [p for p in (url.strip("/") + "/" + path).split("/") if p]
        resp = await jp_fetch(*parts, raise_error=False, **kwargs)
        body = resp.body.decode(errors="replace")
        try:
            return resp.code, json.loads(body)
        except ValueError:
            return resp.code, body

    return get


async def test_tensorboard_shows_scalars_through_the_proxy_and_stops(
    api, proxy, tb_summaries, ma_app, jp_http_port, jp_base_url
):
    status, tools = await api("visualization/tools")
    assert status == 200
    assert tools["tools"]["tensorboard"]["available"] is True

    # No folder: the default <workspace>/summary, where the writer put its run.
    status, inst = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 201, inst
    assert inst["state"] == "running"
    assert inst["folder"] == str(tb_summaries)
    assert inst["path"] == "summary"
    pgid = inst["pid"]
    assert group_alive(pgid)

    async def tags() -> Any:
        code, data = await proxy(inst["url"], "data/plugin/scalars/tags")
        assert code == 200, data
        return data.get("run1")

    assert "loss" in await wait_until(tags)
    code, page = await proxy(inst["url"], "index.html")
    assert code == 200 and "<tb-webapp>" in page

    # The proxy refuses anyone without Jupyter credentials, and never forwards them.
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}{inst['url']}data/plugin/scalars/tags"
    resp = await AsyncHTTPClient().fetch(url, raise_error=False, follow_redirects=False)
    assert resp.code == 403, resp.code
    assert b"loss" not in (resp.body or b"")

    status, listed = await api("visualization/instances", params={"tool": "tensorboard"})
    assert [i["id"] for i in listed["instances"]] == [inst["id"]]

    status, stopped = await api(f"visualization/instances/{inst['id']}", "DELETE")
    assert status == 200 and stopped["state"] == "stopped"
    assert not group_alive(pgid)
    code, _ = await proxy(inst["url"], "data/plugin/scalars/tags")
    assert code == 404
    status, _ = await api(f"visualization/instances/{inst['id']}", "DELETE")
    assert status == 404

    status, events = await api("events")
    types = [e["type"] for e in events["events"]]
    assert "VisualizationStarted" in types and "VisualizationStopped" in types


async def test_same_folder_reuses_and_two_folders_run_side_by_side(
    api, proxy, tb_summaries, jp_root_dir
):
    other = write_tensorboard_scalars(jp_root_dir / "exp2" / "runB", tag="accuracy").parent
    first, second = await asyncio.gather(
        api("visualization/instances", "POST", {"tool": "tensorboard", "folder": "summary"}),
        api("visualization/instances", "POST", {"tool": "tensorboard", "folder": "exp2"}),
    )
    assert first[0] == 201 and second[0] == 201, (first, second)
    a, b = first[1], second[1]
    assert a["id"] != b["id"] and a["folder"] != b["folder"]
    assert b["folder"] == str(other)

    status, again = await api(
        "visualization/instances", "POST", {"tool": "tensorboard", "folder": str(tb_summaries)}
    )
    assert status == 200 and again["id"] == a["id"]

    async def tags_of(inst: dict[str, Any], run: str) -> Any:
        code, data = await proxy(inst["url"], "data/plugin/scalars/tags")
        return code == 200 and data.get(run)

    assert "accuracy" in await wait_until(lambda: tags_of(b, "runB"))
    assert "loss" in await wait_until(lambda: tags_of(a, "run1"))

    # A crash shows as exited with the tool's last lines, and is reported as an event.
    os.killpg(b["pid"], signal.SIGKILL)

    async def exited() -> Any:
        _, data = await api(f"visualization/instances/{b['id']}")
        return data if data["state"] == "exited" else None

    crashed = await wait_until(exited, timeout=10)
    assert crashed["exit_code"] == -signal.SIGKILL
    assert any("TensorBoard" in line for line in crashed["log_tail"]), crashed["log_tail"]
    _, events = await api("events", params={"type": "VisualizationFailed"})
    assert any(e["details"].get("instance") == b["id"] for e in events["events"])

    status, data = await api("visualization/instances", "DELETE", params={"tool": "tensorboard"})
    assert status == 200 and sorted(data["stopped"]) == sorted([a["id"], b["id"]])
    assert not group_alive(a["pid"])
    _, listed = await api("visualization/instances")
    assert listed["instances"] == []


async def test_proxy_carries_websockets_and_streams_only_for_logged_in_users(
    ma_app, jp_fetch, jp_http_port, jp_base_url, jp_auth_header, tmp_path
):
    # A loopback peer with a websocket and a server-sent-events endpoint stands in for a
    # tool's live channels (TensorBoard and MindInsight poll over plain HTTP).
    service = ma_app.services["visualization"]
    inst = service._new_instance(TOOLS["tensorboard"], str(tmp_path), "peer")
    first_event_seen = asyncio.Event()

    class Echo(websocket.WebSocketHandler):
        def on_message(self, message: Any) -> None:
            self.write_message(f"echo:{message}")

    class Stream(web.RequestHandler):
        async def get(self) -> None:
            self.set_header("Content-Type", "text/event-stream")
            self.write("data: first\n\n")
            await self.flush()
            try:  # only a streaming proxy lets the client see "first" before we finish
                await asyncio.wait_for(first_event_seen.wait(), 10)
                self.write("data: second\n\n")
            except asyncio.TimeoutError:
                self.write("data: buffered\n\n")

    peer = web.Application([(r".*/ws", Echo), (r".*/events", Stream)]).listen(
        inst.port, "127.0.0.1"
    )
    inst.state = "running"
    inst.ready.set()
    service.instances[inst.id] = inst
    try:
        base = f"127.0.0.1:{jp_http_port}{jp_base_url}{inst.proxy_base}"
        conn = await websocket.websocket_connect(
            HTTPRequest(f"ws://{base}/ws", headers=jp_auth_header)
        )
        await conn.write_message("hello")
        assert await conn.read_message() == "echo:hello"
        conn.close()
        with pytest.raises(HTTPClientError) as refused:
            await websocket.websocket_connect(f"ws://{base}/ws")
        assert refused.value.code == 403

        chunks: list[bytes] = []

        def on_chunk(chunk: bytes) -> None:
            chunks.append(chunk)
            if b"first" in b"".join(chunks):
                first_event_seen.set()

        headers = {**jp_auth_header, "Accept": "text/event-stream"}
        request = HTTPRequest(
            f"http://{base}/events",
            headers=headers,
            streaming_callback=on_chunk,
            request_timeout=30,
        )
        await AsyncHTTPClient().fetch(request)
        assert b"".join(chunks) == b"data: first\n\ndata: second\n\n"

        # Tools do not check Jupyter's XSRF token: cross-site writes with the browser's login
        # cookie stop at the proxy, same-origin ones pass.
        token = jp_auth_header["Authorization"].split()[-1]
        login = await AsyncHTTPClient().fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}api/status?token={token}"
        )
        cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
        assert cookie
        same_origin = f"http://127.0.0.1:{jp_http_port}"
        # 405 comes from the peer (its stream has no POST): the request went through.
        for origin, expected in (("http://evil.example", 403), (same_origin, 405)):
            forged = HTTPRequest(
                f"http://{base}/events",
                method="POST",
                body=b"x=1",
                headers={"Cookie": cookie, "Origin": origin},
            )
            response = await AsyncHTTPClient().fetch(forged, raise_error=False)
            assert response.code == expected, (origin, response.code)
    finally:
        peer.stop()
        service.instances.pop(inst.id, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"tool": "tensorboard", "folder": "no/such/folder"}, "does not exist"),
        ({"tool": "tensorboard", "folder": "notes.txt"}, "is a file"),
        ({"tool": "paint", "folder": ""}, "Unknown visualization tool"),
        ({"folder": "summary"}, "'tool' is required"),
        ({"tool": "tensorboard", "logdir": "x"}, "Unknown field"),
    ],
)
async def test_bad_launch_requests_get_400_with_what_to_do(api, jp_root_dir, body, expected):
    (jp_root_dir / "notes.txt").write_text("not a folder")
    status, data = await api("visualization/instances", "POST", body)
    assert status == 400, data
    assert expected in data["message"]
    _, listed = await api("visualization/instances")
    assert listed["instances"] == []


async def test_missing_tool_names_the_install_command(api, ma_app, tmp_path):
    service = ma_app.services["visualization"]
    service.tensorboard_executable = str(tmp_path / "nowhere" / "tensorboard")
    status, data = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 409
    assert "pip install 'tensorboard'" in data["message"]
    assert data["reason"] == "tool-missing"
    _, tools = await api("visualization/tools")
    assert tools["tools"]["tensorboard"]["available"] is False


async def test_start_failures_report_the_tools_output(api, ma_app, tb_summaries):
    service = ma_app.services["visualization"]
    service.tensorboard_args = ["--no_such_flag"]
    status, data = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 502, data
    assert "exited while starting" in data["message"]
    assert "no_such_flag" in data["message"]  # TensorBoard's own usage error

    service.tensorboard_args = []
    service.start_timeout = 0.2
    status, data = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 504, data
    assert "did not answer within 0.2 s" in data["message"]
    _, listed = await api("visualization/instances")
    assert [i["state"] for i in listed["instances"]] == ["exited"]
    assert not group_alive(listed["instances"][0]["pid"])


async def test_shutting_down_a_starting_instance_and_the_instance_limit(api, ma_app, tb_summaries):
    service = ma_app.services["visualization"]
    starting = asyncio.ensure_future(
        api("visualization/instances", "POST", {"tool": "tensorboard"})
    )

    async def listed() -> Any:
        _, data = await api("visualization/instances")
        return data["instances"]

    async def spawned() -> Any:
        instances = await listed()
        return instances if instances and instances[0]["pid"] else None

    (inst,) = await wait_until(spawned, timeout=10, interval=0.05)
    await api(f"visualization/instances/{inst['id']}", "DELETE")
    status, data = await starting
    assert status == 409 and "shut down before it answered" in data["message"]
    assert not group_alive(inst["pid"])

    service.max_instances = 0
    status, data = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 409 and "Shut one down first" in data["message"]


async def test_a_shutdown_that_wins_the_race_with_the_spawn_leaves_no_process(
    api, ma_app, tb_summaries, monkeypatch
):
    """DELETE lands while the process is being created: the late process is killed at once."""
    service = ma_app.services["visualization"]
    real_exec = asyncio.create_subprocess_exec
    spawned: list[int] = []

    async def shutdown_first(*args: Any, **kwargs: Any) -> Any:
        (inst,) = service.instances.values()
        await service.shutdown(inst.id)
        kwargs["cwd"] = str(tb_summaries)  # the shutdown removed the instance's home
        proc = await real_exec(*args, **kwargs)
        spawned.append(proc.pid)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", shutdown_first)
    status, data = await api("visualization/instances", "POST", {"tool": "tensorboard"})
    assert status == 409 and "shut down before it answered" in data["message"], data
    assert spawned and not group_alive(spawned[0])
    _, listed = await api("visualization/instances")
    assert listed["instances"] == []


async def test_launcher_suggests_the_current_folder_only_when_it_holds_summaries(
    api, tb_summaries, jp_root_dir
):
    (jp_root_dir / "empty").mkdir()
    status, data = await api(
        "visualization/suggest", params={"tool": "tensorboard", "cwd": "summary/run1"}
    )
    assert status == 200 and data["path"] == "summary/run1" and data["has_summaries"]
    _, data = await api("visualization/suggest", params={"tool": "tensorboard", "cwd": "empty"})
    assert data["path"] == "summary" and data["has_summaries"]
    _, data = await api("visualization/suggest", params={"tool": "mindinsight", "cwd": "empty"})
    assert data["path"] == "summary" and not data["has_summaries"]


async def test_the_proposed_default_folder_is_made_when_missing(api, ma_app, jp_root_dir):
    ma_app.services["visualization"].tensorboard_executable = "/nonexistent/tensorboard"
    _, data = await api("visualization/suggest", params={"tool": "tensorboard", "cwd": ""})
    assert data["path"] == "summary" and not (jp_root_dir / "summary").exists()
    status, _ = await api("visualization/instances", "POST", {"tool": "tensorboard", "folder": "x"})
    assert status == 400
    status, _ = await api(
        "visualization/instances", "POST", {"tool": "tensorboard", "folder": "summary"}
    )
    assert status == 409  # past the folder check: the folder now exists, the tool does not
    assert (jp_root_dir / "summary").is_dir()


async def test_mindinsight_is_found_in_a_kernels_or_conda_environment(
    api, mindinsight_env, jp_data_dir, jp_home_dir
):
    async def mindinsight() -> dict[str, Any]:
        status, tools = await api("visualization/tools")
        assert status == 200
        return tools["tools"]["mindinsight"]  # type: ignore[no-any-return]

    missing = await mindinsight()
    assert missing["available"] is False
    assert "pip install 'mindinsight==2.3.1'" in missing["reason"]
    assert "own environment" in missing["reason"]

    spec = jp_data_dir / "kernels" / "mindspore"
    spec.mkdir(parents=True)
    argv = [str(mindinsight_env / "bin" / "python"), "-m", "ipykernel", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "MindSpore"}))
    found = await mindinsight()
    assert found["executable"] == str(mindinsight_env / "bin" / "mindinsight")
    assert found["environment"].startswith("a kernel's environment")

    (spec / "kernel.json").unlink()
    (jp_home_dir / ".conda").mkdir()
    (jp_home_dir / ".conda" / "environments.txt").write_text(f"{mindinsight_env}\n")
    found = await mindinsight()
    assert found["environment"].startswith("a conda environment")


async def test_mindinsight_in_its_own_venv_lists_the_summary_folder(
    api, proxy, ma_app, mindinsight_env, jp_root_dir
):
    service = ma_app.services["visualization"]
    service.search_environments = [str(mindinsight_env)]
    write_mindinsight_scalars(mindinsight_env, jp_root_dir / "ms_summary" / "lenet")

    status, tools = await api("visualization/tools")
    assert tools["tools"]["mindinsight"]["environment"].startswith("a configured environment")
    status, inst = await api(
        "visualization/instances", "POST", {"tool": "mindinsight", "folder": "ms_summary"}
    )
    assert status == 201, inst
    api_root = "v1/mindinsight/datavisual"

    async def jobs() -> Any:
        code, data = await proxy(inst["url"], f"{api_root}/train-jobs")
        assert code == 200, data
        return data["train_jobs"]

    listed = await wait_until(jobs)
    assert [j["train_id"] for j in listed] == ["./lenet"]

    async def scalar_tags() -> Any:
        code, data = await proxy(inst["url"], f"{api_root}/plugins?train_id=./lenet")
        return code == 200 and data["plugins"]["scalar"]

    assert await wait_until(scalar_tags) == ["loss/scalar"]  # MindInsight adds the plugin

    pgid = inst["pid"]
    status, _ = await api(f"visualization/instances/{inst['id']}", "DELETE")
    assert status == 200
    assert not group_alive(pgid)


def test_instances_stop_with_the_server(lab_factory, tmp_path: Path):
    lab = lab_factory(home=tmp_path, app="server")
    write_tensorboard_scalars(lab.root_dir / "summary" / "run1")
    status, inst = lab.request(
        "ma-notebook/api/visualization/instances", "POST", {"tool": "tensorboard"}
    )
    assert status == 201, inst
    assert group_alive(inst["pid"])
    lab.stop()
    assert not group_alive(inst["pid"])
    assert "stopping 1 instance" in lab.log_text()


def test_instances_die_with_a_killed_server(lab_factory, tmp_path: Path):
    lab = lab_factory(home=tmp_path, app="server")
    write_tensorboard_scalars(lab.root_dir / "summary" / "run1")
    status, inst = lab.request(
        "ma-notebook/api/visualization/instances", "POST", {"tool": "tensorboard"}
    )
    assert status == 201, inst
    assert lab.proc is not None
    lab.proc.kill()  # no chance to stop anything
    lab.proc.wait(10)
    deadline = time.monotonic() + 15
    while group_alive(inst["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(inst["pid"])
