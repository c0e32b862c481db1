"""REST routes of the OBS file browser, and the embedded store's object handler."""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..api import endpoint
from ..base import AUTH_RESOURCE, EndpointMixin, MaAPIHandler, api_path, require_authorized
from ..tasks.handlers import TaskModel
from .models import (
    BucketCreated,
    BucketList,
    BucketRequest,
    CopyRequest,
    FolderPage,
    ListQuery,
    ObjectQuery,
    ObsEntry,
    PartQuery,
    StatQuery,
)
from .service import STORE_URL_PATH, ObsService
from .store import LocalStore, PartWriter, _disposition

ERRORS = (400, 404, 409, 502, 503)


class ObsHandler(MaAPIHandler):
    """Base: the OBS service."""

    @property
    def obs(self) -> ObsService:
        """The OBS service."""
        return self.service("obs")  # type: ignore[no-any-return]


class BucketsHandler(ObsHandler):
    """GET lists buckets (and says which store is in use); POST {name} creates one."""

    @web.authenticated
    @authorized
    @endpoint(response=BucketList, errors=ERRORS, summary="List buckets")
    async def get(self) -> None:
        buckets = await self.obs.list_buckets()
        self.write_json({"store": self.obs.settings.public_info(), "buckets": buckets})

    @web.authenticated
    @authorized
    @endpoint(body=BucketRequest, response=BucketCreated, status=201, errors=ERRORS)
    async def post(self, body: BucketRequest) -> None:
        name = body.name.strip()
        await self.obs.create_bucket(name)
        self.write_json({"name": name, "path": f"obs://{name}/", "type": "directory"}, 201)


class ListHandler(ObsHandler):
    """GET ?path=obs://bucket/folder/&limit=&cursor=&filter= lists one page of a folder."""

    @web.authenticated
    @authorized
    @endpoint(query=ListQuery, response=FolderPage, errors=ERRORS, summary="List a folder")
    async def get(self, query: ListQuery) -> None:
        page = await self.obs.list_folder(
            query.path or "obs://",
            limit=query.limit,
            cursor=query.cursor or None,
            name_filter=query.filter,
        )
        self.write_json(page)


class StatHandler(ObsHandler):
    """GET ?path= describes one file or folder."""

    @web.authenticated
    @authorized
    @endpoint(query=StatQuery, response=ObsEntry, errors=ERRORS, summary="Describe a path")
    async def get(self, query: StatQuery) -> None:
        self.write_json(await self.obs.stat(query.path))


class CopyHandler(ObsHandler):
    """POST {src, dst, drop_last_dir} copies files/folders as a task (202)."""

    @web.authenticated
    @authorized
    @endpoint(body=CopyRequest, response=TaskModel, status=202, errors=ERRORS)
    async def post(self, body: CopyRequest) -> None:
        self.write_json(self.obs.submit_copy(body.src, body.dst, body.drop_last_dir).to_json(), 202)


_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@web.stream_request_body
class StoreObjectHandler(EndpointMixin, ExtensionHandlerMixin, JupyterHandler):
    """The embedded store over HTTP: GET (with Range) and PUT of multipart parts.

    A request is allowed when it carries a valid, unexpired HMAC signature from the server's
    presign helpers (so a browser can use the URL as it would an OBS presigned URL), or when
    it comes from an authenticated user authorized for ma_notebook.
    """

    auth_resource = AUTH_RESOURCE

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self._writer: PartWriter | None = None
        self._signed = False

    def _store(self) -> LocalStore:
        service = self.extensionapp.services.get("obs")  # type: ignore[attr-defined]
        store = getattr(service, "_store", None)
        if not isinstance(store, LocalStore):
            raise web.HTTPError(404, "The embedded object store is not in use on this server.")
        return store

    def _query(self) -> dict[str, str]:
        # unstripped: the signature covers the exact values the signer saw
        return {k: self.get_query_argument(k, strip=False) for k in self.request.query_arguments}

    def check_xsrf_cookie(self) -> None:
        """Signed requests need no XSRF token (the signature is the capability)."""
        if self._signed:
            return None
        return super().check_xsrf_cookie()

    async def prepare(self) -> None:  # type: ignore[override]
        bucket, key = self.path_kwargs["bucket"], self.path_kwargs["key"]
        store = self._store()
        query = self._query()
        op = "get" if self.request.method in ("GET", "HEAD") else "part"
        self._signed = query.get("op") == op and store.verify(query, bucket, key)
        await super().prepare()
        if not self._signed:
            if self.current_user is None:
                raise web.HTTPError(
                    403,
                    "This URL needs a valid signature or a logged-in user; "
                    "a presigned URL may have expired.",
                )
            await require_authorized(self, "read" if op == "get" else "write")
        if self.request.method == "PUT":
            self.request.connection.set_max_body_size(5 * 1024**3)  # type: ignore[union-attr]
            try:
                part = int(query.get("partNumber", ""))
            except ValueError:
                raise web.HTTPError(400, "PUT needs ?uploadId=...&partNumber=N.") from None
            self._writer = store.part_writer(bucket, key, query.get("uploadId", ""), part)

    def data_received(self, chunk: bytes) -> None:
        """Write a chunk of a part."""
        if self._writer is not None:
            self._writer.write(chunk)

    def on_connection_close(self) -> None:
        """A dropped upload leaves no partial part."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None

    @allow_unauthenticated  # checked in prepare(): a valid signature or an authorized user
    @endpoint(
        query=PartQuery,
        parse=False,
        raw_body="application/octet-stream",
        errors=(400, 404, 413),
        summary="Embedded store: PUT one multipart part (signed URL or logged-in user)",
    )
    async def put(self, bucket: str, key: str) -> None:
        writer = self._writer
        if writer is None:
            raise web.HTTPError(400, "PUT needs ?uploadId=...&partNumber=N.")
        etag = writer.commit()
        self._writer = None
        self.set_header("ETag", f'"{etag}"')
        self.set_header("Access-Control-Expose-Headers", "ETag")
        self.finish()

    @allow_unauthenticated  # checked in prepare()
    @endpoint(
        query=ObjectQuery,
        parse=False,
        raw_response="application/octet-stream",
        errors=(400, 404, 416),
        summary="Embedded store: an object's size and ETag",
    )
    async def head(self, bucket: str, key: str) -> None:
        await self._send(bucket, key, body=False)

    @allow_unauthenticated  # checked in prepare()
    @endpoint(
        query=ObjectQuery,
        parse=False,
        raw_response="application/octet-stream",
        errors=(400, 404, 416),
        summary="Embedded store: GET an object (Range supported)",
    )
    async def get(self, bucket: str, key: str) -> None:
        await self._send(bucket, key, body=True)

    async def _send(self, bucket: str, key: str, body: bool) -> None:
        store = self._store()
        info = store.head(bucket, key)
        path = store.open_read(bucket, key)
        size = info.size
        start, end = 0, size - 1
        rng = self.request.headers.get("Range")
        if rng:
            m = _RANGE_RE.match(rng.strip())
            if not m or (not m.group(1) and not m.group(2)):
                raise web.HTTPError(416, "Bad Range header.")
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:
                start = max(0, size - int(m.group(2)))
            if start >= size or start > end:
                self.set_header("Content-Range", f"bytes */{size}")
                raise web.HTTPError(416, "The range is not in the object.")
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("ETag", f'"{info.etag}"')
        self.set_header("Content-Length", str(max(0, end - start + 1)))
        filename = self.get_query_argument("filename", None, strip=False)
        if filename and self._signed:
            self.set_header("Content-Disposition", _disposition(filename))
        if not body:
            self.finish()
            return
        remaining = end - start + 1
        with open(path, "rb") as f:
            f.seek(start)
            while remaining > 0:
                chunk = f.read(min(1 << 20, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.write(chunk)
                await self.flush()
        self.finish()


default_handlers = [
    (api_path("obs", "buckets"), BucketsHandler),
    (api_path("obs", "list"), ListHandler),
    (api_path("obs", "stat"), StatHandler),
    (api_path("obs", "copy"), CopyHandler),
    (
        rf"/{STORE_URL_PATH}/(?P<bucket>[a-z0-9][a-z0-9.\-]{{1,61}}[a-z0-9])/(?P<key>.+)",
        StoreObjectHandler,
    ),
]
