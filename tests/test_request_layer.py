"""The request layer: typed models, one error shape, the path resolver and the OpenAPI document."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel

from ma_notebook.api import (
    ApiError,
    Name,
    RequestModel,
    Url,
    endpoint_specs,
    openapi_document,
    openapi_path,
    parse_model,
    quote,
)
from ma_notebook.paths import resolve_path
from ma_notebook.tasks.handlers import TaskHandler


class Clone(RequestModel):
    url: Url
    name: Name | None = None
    overwrite: bool = False


def test_a_string_is_not_a_boolean():
    with pytest.raises(ApiError) as e:
        parse_model(Clone, {"url": "http://x", "overwrite": "false"})
    assert e.value.status == 400
    assert "'overwrite'" in e.value.message
    assert "false" not in e.value.message.replace("'overwrite'", "")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"url": "h" * 9000}, "'url'"),
        ({"url": "http://x", "name": "é" * 200}, "at most 255 bytes"),
        ({"url": "http://x", "name": "a\x00b"}, "control characters"),
        ({"url": "http://x\n"}, "control characters"),
        ({"url": "http://x", "name": "a/b"}, "single name"),
        ({"url": "http://x", "extra": 1}, "'extra'"),
    ],
)
def test_bad_fields_are_named_and_never_echoed(data, fragment):
    with pytest.raises(ApiError) as e:
        parse_model(Clone, data)
    assert fragment in e.value.message
    assert len(e.value.message) < 400


def test_quote_keeps_a_short_printable_prefix():
    assert quote("x" * 1000) == "'" + "x" * 40 + "…'"
    assert "\n" not in quote("a\nb")


def test_resolver_refuses_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    os.symlink("/etc", root / "link")
    assert resolve_path(root, "sub") == root / "sub"
    assert resolve_path(root, "") == root
    assert resolve_path(root, str(root / "sub")) == root / "sub"
    for bad, fragment in [
        ("/etc/hostname", "outside"),
        ("../x", "'..'"),
        ("sub/../../x", "'..'"),
        ("link/hostname", "through a link"),
        (".hidden/x", "hidden"),
        ("a\x00", "control"),
    ]:
        with pytest.raises(ApiError) as e:
            resolve_path(root, bad)
        assert e.value.status == 400
        assert fragment in e.value.message, (bad, e.value.message)
    assert resolve_path(root, ".hidden", hidden_ok=True) == root / ".hidden"
    with pytest.raises(ApiError) as e:
        resolve_path(root, "missing", must_exist=True)
    assert e.value.status == 404


def test_openapi_path_templates_named_groups():
    path, params = openapi_path(r"/ma-notebook/api/tasks/(?P<task_id>[0-9a-f]{32})")
    assert path == "/ma-notebook/api/tasks/{task_id}"
    assert params[0]["schema"]["pattern"] == "^[0-9a-f]{32}$"


def test_openapi_document_describes_models():
    class Out(BaseModel):
        ok: bool

    doc = openapi_document(
        [("/ma-notebook/api/tasks/(?P<task_id>[0-9a-f]{32})", TaskHandler)], version="1"
    )
    op = doc["paths"]["/ma-notebook/api/tasks/{task_id}"]
    assert set(op) == {"get", "delete"}
    assert {p["name"] for p in op["get"]["parameters"]} == {"task_id", "wait"}
    assert "TaskModel" in doc["components"]["schemas"]
    assert set(endpoint_specs(TaskHandler)) == {"get", "delete"}


async def test_openapi_json_is_served_and_authenticated(api, jp_fetch):
    status, doc = await api("openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    assert "/ma-notebook/api/info" in doc["paths"]
    assert "/ma-notebook/api/tasks" in doc["paths"]


async def test_bad_query_is_a_400_with_one_error_shape(api):
    status, data = await api("tasks/" + "0" * 32, params={"wait": "soon"})
    assert status == 400
    assert set(data) == {"message", "reason"}
    assert "'wait'" in data["message"]
    status, data = await api("tasks", params={"bogus": "x" * 3000})
    assert status == 400
    assert len(data["message"]) < 400


async def test_jupyterlabs_cache_busting_argument_is_not_an_unknown_field(api):
    # ServerConnection.makeRequest appends ?<timestamp> to every GET.
    status, data = await api("tasks", params={"kind": "git-clone", "1796138140411": ""})
    assert status == 200, data
    status, data = await api("events", params={"type": "x", "1796138140411": ""})
    assert status == 200, data


async def test_a_huge_json_body_is_refused_before_it_is_parsed(api):
    body = '{"url": "http://127.0.0.1:1/r.git", "paths": [' + ",".join(['"a"'] * 1_500_000) + "]}"
    status, data = await api("git/clone", method="POST", body=body)
    assert status == 400 and "limited to 4 MB" in data["message"], data
