"""REST API of uploads: direct resumable uploads and URL imports."""

from __future__ import annotations

import copy
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..api import ApiError, endpoint
from ..base import MaAPIHandler, api_path, require_authorized
from ..tasks.handlers import TaskModel
from .models import (
    DownloadRequest,
    ObsImportRequest,
    OffsetQuery,
    PartResponse,
    PresignRequest,
    PresignResponse,
    SessionList,
    SessionModel,
    SessionRequest,
    TransitModel,
    TransitRequest,
    UrlImportRequest,
    UrlInfoModel,
    UrlRequest,
)
from .service import FOLDER_ADVICE, UploadService, UploadSession

SID = r"(?P<sid>[0-9a-f]{32})"
ERRORS = (400, 404, 409, 413)


class UploadHandlerBase(MaAPIHandler):
    """Reaches the upload service."""

    @property
    def uploads(self) -> UploadService:
        """The upload service."""
        return self.service("upload")  # type: ignore[no-any-return]


class SessionsHandler(UploadHandlerBase):
    """GET lists unfinished uploads; POST starts (or finds again) one."""

    @web.authenticated
    @authorized
    @endpoint(response=SessionList, summary="List unfinished direct uploads")
    async def get(self) -> None:
        self.write_json({"sessions": [s.to_json() for s in self.uploads.sessions.values()]})

    @web.authenticated
    @authorized
    @endpoint(body=SessionRequest, response=SessionModel, status=201, errors=ERRORS)
    async def post(self, body: SessionRequest) -> None:
        if body.type == "directory":
            raise ApiError(400, FOLDER_ADVICE)
        session = self.uploads.create_session(
            path=body.path, name=body.name, size=body.size, key=body.key, overwrite=body.overwrite
        )
        if body.size == 0:
            path = self.uploads.finish_session(session)
            self.write_json({**session.to_json(), "complete": True, "file": path}, status=201)
            return
        self.write_json(session.to_json(), status=201)


#: Bytes a streamed upload body is read from the socket and handed over in (tornado: 64 KiB).
BODY_CHUNK = 1 << 20


def bigger_reads(connection: Any) -> None:
    """Read this connection's body in ``BODY_CHUNK`` pieces: fewer reads, calls and writes."""
    params = getattr(connection, "params", None)
    stream = getattr(connection, "stream", None)
    if params is None or stream is None:
        return
    params = copy.copy(params)  # the server's parameters are shared by every connection
    params.chunk_size = BODY_CHUNK
    connection.params = params
    stream.read_chunk_size = max(stream.read_chunk_size, BODY_CHUNK)


@web.stream_request_body
class SessionHandler(UploadHandlerBase):
    """GET/HEAD: the offset to resume from. PUT ?offset=N: raw bytes. DELETE: cancel."""

    _fh: Any = None
    _session: UploadSession | None = None
    _overflow = False
    _received = 0

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "PUT":
            return
        # The body streams in before put() runs: check identity and permission now.
        await require_authorized(self, "write", "Not allowed to upload.")
        session = self.uploads.get_session(self.path_kwargs["sid"])
        if session.active:
            raise web.HTTPError(
                409, f"{session.name} is already being uploaded from another request; wait."
            )
        offset = self.parse_query(OffsetQuery).offset
        current = session.offset
        if offset != current:
            # Behind would overwrite bytes already received, ahead would leave a gap.
            raise ApiError(
                409,
                f"The server has {current} bytes of {session.name}; resume from there.",
                reason="offset",
            )
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and offset + int(length) > session.size:
            raise web.HTTPError(
                400, f"{offset} + {length} bytes is more than the file size {session.size}."
            )
        connection: Any = self.request.connection
        connection.set_max_body_size(max(0, session.size - offset))
        bigger_reads(connection)
        # unbuffered: each (up to 1 MiB) chunk goes to the file as is, no copy into a buffer
        fh = open(session.temp, "r+b", buffering=0)  # noqa: SIM115 - closed in _release
        fh.seek(offset)
        self._fh = fh
        self._session = session
        self._offset = offset
        session.active = True

    def data_received(self, chunk: bytes) -> None:
        """Append the chunk to the temporary file."""
        if self._fh is None or self._session is None or self._overflow:
            return
        if self._offset + self._received + len(chunk) > self._session.size:
            self._overflow = True
            return
        self._fh.write(chunk)
        self._received += len(chunk)

    def _release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._session is not None:
            self._session.active = False

    def on_connection_close(self) -> None:
        """A dropped connection keeps what arrived; the client resumes from the offset."""
        self._release()
        super().on_connection_close()

    def on_finish(self) -> None:
        """Let go of the session however the request ended."""
        self._release()

    @web.authenticated
    @authorized
    @endpoint(response=SessionModel, errors=(404,), summary="A direct upload and its offset")
    async def get(self, sid: str) -> None:
        session = self.uploads.get_session(sid)
        self.set_header("Upload-Offset", str(session.offset))
        self.write_json(session.to_json())

    @web.authenticated
    @authorized
    @endpoint(errors=(404,), summary="A direct upload's offset (Upload-Offset header)")
    async def head(self, sid: str) -> None:
        session = self.uploads.get_session(sid)
        self.set_header("Upload-Offset", str(session.offset))
        self.set_header("Upload-Length", str(session.size))
        self.finish()

    @web.authenticated
    @authorized
    @endpoint(
        query=OffsetQuery,
        parse=False,  # read in prepare(), before the body streams in
        raw_body="application/octet-stream",
        response=SessionModel,
        errors=(400, 404, 409),
        summary="Send bytes of a direct upload from ?offset=",
    )
    async def put(self, sid: str) -> None:
        session = self._session
        assert session is not None
        self._release()
        if self._overflow:
            raise web.HTTPError(400, f"More bytes were sent than the file size {session.size}.")
        data = session.to_json()
        if data["offset"] >= session.size:
            path = self.uploads.finish_session(session)
            self.write_json({**data, "complete": True, "file": path})
            return
        self.write_json({**data, "complete": False})

    @web.authenticated
    @authorized
    @endpoint(status=204, errors=(404,), summary="Cancel a direct upload")
    async def delete(self, sid: str) -> None:
        self.uploads.cancel_session(sid)
        self.set_status(204)
        self.finish()


class UrlProbeHandler(UploadHandlerBase):
    """POST {url}: the file name and size the URL would give, before downloading."""

    @web.authenticated
    @authorized
    @endpoint(body=UrlRequest, response=UrlInfoModel, errors=(400, 403, 404, 502, 504))
    async def post(self, body: UrlRequest) -> None:
        info = await self.uploads.probe_url(body.url)
        self.write_json(info.to_json())


class UrlImportHandler(UploadHandlerBase):
    """POST {url, path, name?, overwrite}: download the URL into a folder as a task (202)."""

    @web.authenticated
    @authorized
    @endpoint(body=UrlImportRequest, response=TaskModel, status=202, errors=(*ERRORS, 502, 504))
    async def post(self, body: UrlImportRequest) -> None:
        name = body.name or (await self.uploads.probe_url(body.url)).name
        task = self.uploads.start_url_import(body.url, body.path, name, body.overwrite)
        self.write_json(task.to_json(), status=202)


default_handlers = [
    (api_path("upload", "sessions"), SessionsHandler),
    (api_path("upload", "sessions", SID), SessionHandler),
    (api_path("upload", "url", "probe"), UrlProbeHandler),
    (api_path("upload", "url"), UrlImportHandler),
]


# ---------------------------------------------------------------- OBS transit, imports, downloads

TRANSIT = rf"upload/transit/{SID}"


class TransitCreateHandler(UploadHandlerBase):
    """POST {path, name, size, key, overwrite, transit_path}: start or find a transit upload."""

    @web.authenticated
    @authorized
    @endpoint(body=TransitRequest, response=TransitModel, status=201, errors=ERRORS)
    async def post(self, body: TransitRequest) -> None:
        transit = self.uploads.transit
        session = await transit.create(
            path=body.path,
            name=body.name,
            size=body.size,
            key=body.key,
            overwrite=body.overwrite,
            transit_path=body.transit_path,
        )
        done = await transit.parts_done(session)
        self.write_json({**session.to_json(), "parts_done": done}, status=201)


class TransitHandler(UploadHandlerBase):
    """GET: the transit upload and the parts OBS holds. DELETE: cancel it."""

    @web.authenticated
    @authorized
    @endpoint(response=TransitModel, errors=(404,), summary="A transit upload")
    async def get(self, sid: str) -> None:
        transit = self.uploads.transit
        session = transit.get(sid)
        done = await transit.parts_done(session)
        self.write_json({**session.to_json(), "parts_done": done})

    @web.authenticated
    @authorized
    @endpoint(status=204, errors=(404,), summary="Cancel a transit upload")
    async def delete(self, sid: str) -> None:
        await self.uploads.transit.cancel(sid)
        self.set_status(204)
        self.finish()


class TransitPresignHandler(UploadHandlerBase):
    """POST {parts: [n, ...]}: expiring URLs to PUT those parts straight to OBS."""

    @web.authenticated
    @authorized
    @endpoint(body=PresignRequest, response=PresignResponse, errors=(400, 404))
    async def post(self, sid: str, body: PresignRequest) -> None:
        transit = self.uploads.transit
        urls = transit.presign(transit.get(sid), body.parts)
        self.write_json({"urls": {str(n): u for n, u in urls.items()}})


@web.stream_request_body
class TransitPartHandler(UploadHandlerBase):
    """PUT raw part bytes: the server relays them to OBS (when the browser cannot reach it)."""

    _buffer: bytearray | None = None
    _limit = 0

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method != "PUT":
            return
        await require_authorized(self, "write", "Not allowed to upload.")
        transit = self.uploads.transit
        session = transit.get(self.path_kwargs["sid"])
        start, end = transit.part_range(session, int(self.path_kwargs["number"]))
        self._limit = end - start
        connection: Any = self.request.connection
        connection.set_max_body_size(self._limit)
        self._buffer = bytearray()

    def data_received(self, chunk: bytes) -> None:
        """Collect the part in memory (parts are at most a few tens of MiB)."""
        if self._buffer is not None and len(self._buffer) + len(chunk) <= self._limit:
            self._buffer.extend(chunk)

    @web.authenticated
    @authorized
    @endpoint(
        parse=False,
        raw_body="application/octet-stream",
        response=PartResponse,
        errors=(400, 404, 502),
        summary="Relay one part of a transit upload to OBS",
    )
    async def put(self, sid: str, number: str) -> None:
        transit = self.uploads.transit
        session = transit.get(sid)
        data = bytes(self._buffer or b"")
        self._buffer = None
        etag = await transit.relay_part(session, int(number), data)
        self.write_json({"part": int(number), "etag": etag, "size": len(data)})


class TransitCompleteHandler(UploadHandlerBase):
    """POST: assemble the parts and pull the file into the folder (202 + the task)."""

    @web.authenticated
    @authorized
    @endpoint(response=TaskModel, status=202, errors=(400, 404, 409), summary="Complete it")
    async def post(self, sid: str) -> None:
        transit = self.uploads.transit
        task = await transit.complete(transit.get(sid))
        self.write_json(task.to_json(), status=202)


class ObsImportHandler(UploadHandlerBase):
    """POST {obs_path, path, overwrite}: copy one OBS file into a folder (202 + the task)."""

    @web.authenticated
    @authorized
    @endpoint(body=ObsImportRequest, response=TaskModel, status=202, errors=ERRORS)
    async def post(self, body: ObsImportRequest) -> None:
        task = await self.uploads.transit.start_import(body.obs_path, body.path, body.overwrite)
        self.write_json(task.to_json(), status=202)


class DownloadViaObsHandler(UploadHandlerBase):
    """POST {path, transit_path?}: stage a file in OBS and get an expiring link (202 + task)."""

    @web.authenticated
    @authorized
    @endpoint(body=DownloadRequest, response=TaskModel, status=202, errors=(400, 404))
    async def post(self, body: DownloadRequest) -> None:
        task = await self.uploads.transit.start_download(body.path, body.transit_path)
        self.write_json(task.to_json(), status=202)


default_handlers += [
    (api_path("upload", "transit"), TransitCreateHandler),
    (api_path(TRANSIT), TransitHandler),
    (api_path(TRANSIT, "presign"), TransitPresignHandler),
    (api_path(TRANSIT, "parts", r"(?P<number>[0-9]+)"), TransitPartHandler),
    (api_path(TRANSIT, "complete"), TransitCompleteHandler),
    (api_path("upload", "obs"), ObsImportHandler),
    (api_path("upload", "download"), DownloadViaObsHandler),
]
