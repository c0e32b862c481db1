"""Direct uploads and URL imports through the REST API, against real loopback peers."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fixtures_upload import FILE_BYTES

from ma_notebook.upload.urlfetch import UrlFetcher, UrlRefused, address_refusal


@pytest.fixture
def ma_config() -> dict[str, Any]:
    return {
        "UploadService": {
            "url_allowed_networks": ["127.0.0.0/8"],
            "url_idle_timeout": 1.0,
            "transit_max_bytes": 10_000_000,
            "direct_max_bytes": 5_000_000,
        }
    }


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def start(api: Any, name: str, size: int, **extra: Any) -> tuple[int, Any]:
    body = {"path": "", "name": name, "size": size, "key": f"{name}:{size}", **extra}
    return await api("upload/sessions", method="POST", body=body)


async def put(api: Any, sid: str, data: bytes, offset: int = 0) -> tuple[int, Any]:
    return await api(
        f"upload/sessions/{sid}",
        method="PUT",
        body=data,
        params={"offset": offset},
        headers={"Content-Type": "application/octet-stream"},
    )


async def test_direct_upload_streams_raw_bytes_into_the_folder(api, jp_root_dir):
    data = os.urandom(3 * 1024 * 1024 + 17)
    status, session = await start(api, "data.bin", len(data))
    assert status == 201, session
    assert session["offset"] == 0
    # The bytes land in a hidden temporary file, never under the final name.
    status, part = await put(api, session["id"], data[:1000])
    assert (status, part["complete"], part["offset"]) == (200, False, 1000)
    hidden = [n for n in files_in(jp_root_dir) if n.startswith(".data.bin.ma-upload-")]
    assert len(hidden) == 1 and "data.bin" not in files_in(jp_root_dir)
    status, done = await put(api, session["id"], data[1000:], offset=1000)
    assert status == 200 and done["complete"] is True and done["file"] == "data.bin"
    assert (jp_root_dir / "data.bin").read_bytes() == data
    assert files_in(jp_root_dir) == ["data.bin"]
    status, _ = await api(f"upload/sessions/{session['id']}")
    assert status == 404


async def test_upload_resumes_after_the_connection_is_cut(
    api, jp_root_dir, http_server_port, jp_auth_header, jp_base_url
):
    data = os.urandom(2 * 1024 * 1024)
    status, session = await start(api, "cut.bin", len(data))
    sid = session["id"]
    # A raw client announces the whole file, sends half, and drops the connection.
    _reader, writer = await asyncio.open_connection("127.0.0.1", http_server_port[-1])
    head = (
        f"PUT {jp_base_url}ma-notebook/api/upload/sessions/{sid}?offset=0 HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {jp_auth_header['Authorization']}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data[: len(data) // 2])
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    offset = 0
    for _ in range(100):
        status, info = await api(f"upload/sessions/{sid}")
        offset = info["offset"]
        if not info["active"] and offset:
            break
        await asyncio.sleep(0.05)
    assert 0 < offset <= len(data) // 2
    assert "cut.bin" not in files_in(jp_root_dir)
    # Picking the same file again finds the same session and its offset.
    status, again = await start(api, "cut.bin", len(data))
    assert (again["id"], again["offset"]) == (sid, offset)
    # A gap is refused: the client must resume from what the server has.
    status, err = await put(api, sid, data[offset + 10 :], offset=offset + 10)
    assert status == 409 and f"has {offset} bytes" in err["message"]
    status, done = await put(api, sid, data[offset:], offset=offset)
    assert done["complete"] is True
    assert (jp_root_dir / "cut.bin").read_bytes() == data


async def test_cancelled_upload_leaves_nothing(api, jp_root_dir):
    status, session = await start(api, "gone.bin", 5000)
    await put(api, session["id"], b"x" * 2500)
    status, _ = await api(f"upload/sessions/{session['id']}", method="DELETE")
    assert status == 204
    assert files_in(jp_root_dir) == []
    status, err = await api(f"upload/sessions/{session['id']}")
    assert status == 404 and "Upload again" in err["message"]


async def test_existing_name_gets_409_then_overwrite_replaces_it(api, jp_root_dir):
    (jp_root_dir / "same.txt").write_text("old")
    status, err = await start(api, "same.txt", 3)
    assert status == 409
    assert "same.txt already exists" in err["message"] and "Overwrite" in err["message"]
    assert files_in(jp_root_dir) == ["same.txt"]  # nothing created before the answer
    status, session = await start(api, "same.txt", 3, overwrite=True)
    assert status == 201
    status, done = await put(api, session["id"], b"new")
    assert done["complete"] is True
    assert (jp_root_dir / "same.txt").read_text() == "new"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"path": "", "name": "a/b", "size": 1}, 400, "'name': must be a single name"),
        ({"path": "", "name": "..", "size": 1}, 400, "'name': must be a single name"),
        ({"path": "../..", "name": "x", "size": 1}, 400, "must not contain '..'"),
        ({"path": "nope", "name": "x", "size": 1}, 404, "'/nope' does not exist"),
        ({"path": "", "name": "x", "size": "big"}, 400, "'size': Input should be a valid integer"),
        ({"path": "", "name": "x", "size": 1, "overwrite": "false"}, 400, "'overwrite'"),
        ({"path": "", "name": "é" * 200, "size": 1}, 400, "at most 255 bytes"),
        ({"path": "", "name": "a\x00b", "size": 1}, 400, "control characters"),
        ({"path": "", "name": "dir", "size": 0, "type": "directory"}, 400, "unzip xxx.zip"),
        ({"path": "", "name": "huge", "size": 20_000_000}, 413, "ma-cli obs-copy"),
        ({"path": "", "name": "big", "size": 6_000_000}, 413, "through OBS transit"),
    ],
)
async def test_bad_upload_requests_are_explained(api, jp_root_dir, body, status, fragment):
    got, err = await api("upload/sessions", method="POST", body=body)
    assert got == status, err
    assert fragment in err["message"]
    assert files_in(jp_root_dir) == []


async def test_more_bytes_than_announced_are_refused(api, jp_root_dir):
    status, session = await start(api, "small.bin", 10)
    status, err = await put(api, session["id"], b"y" * 20)
    assert status == 400 and "more than the file size" in err["message"]


# ---------------------------------------------------------------- URL imports


async def wait_task(api: Any, task_id: str) -> dict[str, Any]:
    for _ in range(200):
        _status, task = await api(f"tasks/{task_id}", params={"wait": 5})
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task  # type: ignore[no-any-return]
    raise AssertionError("task did not finish")


async def test_url_import_names_the_file_then_downloads_it(api, jp_root_dir, file_server):
    url = f"{file_server.url}/go"  # redirects to /files/data.bin
    status, probe = await api("upload/url/probe", method="POST", body={"url": url})
    assert status == 200, probe
    assert probe["name"] == "data.bin" and probe["size"] == len(FILE_BYTES)
    status, task = await api(
        "upload/url", method="POST", body={"url": url, "path": "", "name": probe["name"]}
    )
    assert status == 202 and task["kind"] == "upload.url"
    task = await wait_task(api, task["id"])
    assert task["state"] == "succeeded", task
    assert task["result"]["path"] == "data.bin" and task["total"] == len(FILE_BYTES)
    assert (jp_root_dir / "data.bin").read_bytes() == FILE_BYTES
    assert files_in(jp_root_dir) == ["data.bin"]
    # Importing again without overwrite is a conflict before any download.
    status, err = await api("upload/url", method="POST", body={"url": url, "path": ""})
    assert status == 409 and "already exists" in err["message"]


async def test_url_import_takes_the_name_from_content_disposition(api, file_server):
    _status, probe = await api(
        "upload/url/probe", method="POST", body={"url": f"{file_server.url}/export?id=7"}
    )
    assert probe["name"] == "report 2024.csv"


async def test_filename_star_wins_over_filename_as_rfc_6266_says(api, file_server):
    _status, probe = await api(
        "upload/url/probe", method="POST", body={"url": f"{file_server.url}/both-names"}
    )
    assert probe["name"] == "résumé 文件.txt"


async def test_a_put_behind_the_server_offset_is_409_and_keeps_the_bytes(api, jp_root_dir):
    data = b"0123456789"
    status, session = await start(api, "behind.bin", len(data))
    sid = session["id"]
    status, part = await put(api, sid, data[:6])
    assert (status, part["offset"]) == (200, 6)
    status, err = await put(api, sid, b"XXXX", offset=2)
    assert status == 409, err
    assert "has 6 bytes" in err["message"]
    _, info = await api(f"upload/sessions/{sid}")
    assert info["offset"] == 6
    status, done = await put(api, sid, data[6:], offset=6)
    assert done["complete"] is True
    assert (jp_root_dir / "behind.bin").read_bytes() == data


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://10.1.2.3/x",
        "http://[::ffff:169.254.169.254]/",
    ],
)
async def test_url_import_refuses_metadata_and_private_addresses(api, jp_root_dir, url):
    status, err = await api("upload/url/probe", method="POST", body={"url": url})
    assert status == 400, err
    assert "Refused to fetch" in err["message"] and "url_allowed_networks" in err["message"]
    status, err = await api("upload/url", method="POST", body={"url": url, "path": "", "name": "x"})
    task = await wait_task(api, err["id"])
    assert task["state"] == "failed" and "Refused to fetch" in task["error"]
    assert files_in(jp_root_dir) == []


async def test_redirect_to_the_metadata_service_is_refused(api, file_server):
    status, err = await api(
        "upload/url/probe", method="POST", body={"url": f"{file_server.url}/to-metadata"}
    )
    assert status == 400 and "169.254.169.254" in err["message"]


async def test_loopback_is_refused_unless_allowed(file_server):
    with pytest.raises(UrlRefused, match="loopback"):
        await UrlFetcher([]).probe(f"{file_server.url}/files/data.bin")
    allowed = [ipaddress.ip_network("127.0.0.1/32")]
    info = await UrlFetcher(allowed).probe(f"{file_server.url}/files/data.bin")
    assert info.size == len(FILE_BYTES)


def test_every_special_address_is_refused():
    special = ["127.0.0.1", "::1", "169.254.1.1", "192.168.0.1", "172.16.0.1", "fe80::1", "::"]
    for ip in special:
        assert address_refusal(ipaddress.ip_address(ip), []) is not None, ip
    assert address_refusal(ipaddress.ip_address("93.184.216.34"), []) is None


async def test_stalled_url_import_times_out_and_cleans_up(api, jp_root_dir, file_server):
    _status, task = await api(
        "upload/url",
        method="POST",
        body={"url": f"{file_server.url}/stall", "path": "", "name": "slow.bin"},
    )
    task = await wait_task(api, task["id"])
    assert task["state"] == "failed" and "no data for 1 s" in task["error"]
    assert files_in(jp_root_dir) == []


async def test_bad_urls_are_explained(api, file_server):
    for url, fragment in [
        ("ftp://example.com/x", "http:// or https://"),
        ("not a url", "http:// or https://"),
        (f"{file_server.url}/missing", "HTTP 404"),
    ]:
        status, err = await api("upload/url/probe", method="POST", body={"url": url})
        assert status == 400 and fragment in err["message"], (url, err)
    status, err = await api("upload/url/probe", method="POST", body=json.dumps([1]))
    assert status == 400


async def test_cancelled_url_import_leaves_nothing(api, jp_root_dir, file_server):
    status, task = await api(
        "upload/url",
        method="POST",
        body={"url": f"{file_server.url}/stall", "path": "", "name": "stop.bin"},
    )
    for _ in range(50):  # wait until the first bytes are in
        _, seen = await api(f"tasks/{task['id']}")
        if seen["done"]:
            break
        await asyncio.sleep(0.02)
    assert any(n.startswith(".stop.bin.ma-upload-") for n in files_in(jp_root_dir))
    status, _ = await api(f"tasks/{task['id']}", method="DELETE")
    assert status == 202
    task = await wait_task(api, task["id"])
    assert task["state"] == "cancelled"
    assert files_in(jp_root_dir) == []


async def test_name_appearing_during_upload_asks_again_then_overwrite_completes(api, jp_root_dir):
    status, session = await start(api, "late.txt", 4)
    (jp_root_dir / "late.txt").write_text("mine")
    status, err = await put(api, session["id"], b"data")
    assert status == 409 and err["reason"] == "exists" and "appeared" in err["message"]
    assert (jp_root_dir / "late.txt").read_text() == "mine"
    # Overwrite: the same session is found again and an empty PUT at the end completes it.
    status, again = await start(api, "late.txt", 4, overwrite=True)
    assert (again["id"], again["offset"]) == (session["id"], 4)
    status, done = await put(api, session["id"], b"", offset=4)
    assert status == 200 and done["complete"] is True
    assert (jp_root_dir / "late.txt").read_text() == "data"
