"""REST routes of the OBS file browser, and the embedded store's object handler."""

from __future__ import annotations

import json
import re
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..base import AUTH_RESOURCE, MaAPIHandler, api_path, int_arg, require_authorized
from .errors import ObsError
from .service import STORE_URL_PATH, ObsService
from .store import LocalStore, PartWriter, _disposition


def http_error(e: ObsError) -> web.HTTPError:
    """The HTTP error answering an ObsError (its message, status and reason)."""
    return web.HTTPError(e.status, e.message.replace("%", "%%"), reason=e.reason)


class ObsHandler(MaAPIHandler):
    """Base: the OBS service, with ObsErrors answered as JSON errors."""

    @property
    def obs(self) -> ObsService:
        """The OBS service."""
        return self.service("obs")  # type: ignore[no-any-return]

    def path_arg(self, name: str = "path", default: str | None = None) -> str:
        """A required obs:// query argument."""
        value = self.get_query_argument(name, default)
        if not value:
            raise web.HTTPError(400, f"Query argument '{name}' is required (obs://bucket/key).")
        return value


class BucketsHandler(ObsHandler):
    """GET lists buckets (and says which store is in use); POST {name} creates one."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            buckets = await self.obs.list_buckets()
            store = self.obs.settings.public_info()
        except ObsError as e:
            raise http_error(e) from None
        self.write_json({"store": store, "buckets": buckets})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        name = str(self.json_body().get("name") or "").strip()
        if not name:
            raise web.HTTPError(400, 'Give the bucket\'s name: {"name": "my-bucket"}.')
        try:
            await self.obs.create_bucket(name)
        except ObsError as e:
            raise http_error(e) from None
        self.write_json({"name": name, "path": f"obs://{name}/", "type": "directory"}, 201)


class ListHandler(ObsHandler):
    """GET ?path=obs://bucket/folder/&limit=&cursor=&filter= lists one page of a folder."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", "obs://") or "obs://"
        limit = int_arg(self, "limit", 100, minimum=1, maximum=1000) or 100
        cursor = self.get_query_argument("cursor", None) or None
        name_filter = self.get_query_argument("filter", "") or ""
        try:
            page = await self.obs.list_folder(
                path, limit=limit, cursor=cursor, name_filter=name_filter
            )
        except ObsError as e:
            raise http_error(e) from None
        self.write_json(page)


class StatHandler(ObsHandler):
    """GET ?path= describes one file or folder."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            self.write_json(await self.obs.stat(self.path_arg()))
        except ObsError as e:
            raise http_error(e) from None


class CopyHandler(ObsHandler):
    """POST {src, dst, drop_last_dir} copies files/folders as a task (202)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        src, dst = body.get("src"), body.get("dst")
        if not isinstance(src, str) or not isinstance(dst, str) or not src or not dst:
            raise web.HTTPError(400, "Give 'src' and 'dst' (obs://bucket/key or local paths).")
        if not (src.startswith("obs://") or dst.startswith("obs://")):
            raise web.HTTPError(400, "At least one of 'src' and 'dst' must be an obs:// path.")
        try:
            task = self.obs.submit_copy(src, dst, bool(body.get("drop_last_dir")))
        except ObsError as e:
            raise http_error(e) from None
        self.write_json(task.to_json(), 202)


_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@web.stream_request_body
class StoreObjectHandler(ExtensionHandlerMixin, JupyterHandler):
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

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as JSON ``{"message", "reason"}``, like the REST API."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": getattr(exc, "reason", None)}))

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
            try:
                self._writer = store.part_writer(bucket, key, query.get("uploadId", ""), part)
            except ObsError as e:
                raise http_error(e) from None

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
    async def head(self, bucket: str, key: str) -> None:
        await self._send(bucket, key, body=False)

    @allow_unauthenticated  # checked in prepare()
    async def get(self, bucket: str, key: str) -> None:
        await self._send(bucket, key, body=True)

    async def _send(self, bucket: str, key: str, body: bool) -> None:
        store = self._store()
        try:
            info = store.head(bucket, key)
            path = store.open_read(bucket, key)
        except ObsError as e:
            raise http_error(e) from None
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
