"""Server-side URL fetching with an SSRF guard: every resolved address and redirect is checked."""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import email.utils
import ipaddress
import os
import posixpath
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from tornado import httputil
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.iostream import IOStream
from tornado.netutil import Resolver
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError, SimpleAsyncHTTPClient
from tornado.tcpclient import TCPClient

from ..netguard import METADATA_ADDRESSES, IPAddress, unmap

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UrlError(Exception):
    """A URL cannot be fetched; the message says why and what to do."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UrlRefused(UrlError):
    """The URL points at an address the server will not fetch on the user's behalf."""


class _TrackingTCPClient(TCPClient):
    """A TCP client that remembers its streams so a stalled fetch can be cut off."""

    def __init__(self, resolver: Resolver) -> None:
        super().__init__(resolver=resolver)
        self.streams: list[IOStream] = []

    async def connect(self, *args: Any, **kwargs: Any) -> IOStream:  # type: ignore[override]
        """Connect and remember the stream."""
        stream = await super().connect(*args, **kwargs)
        self.streams.append(stream)
        return stream

    def abort(self) -> None:
        """Close every stream this client opened."""
        for stream in self.streams:
            stream.close()


def parse_networks(entries: list[str]) -> list[IPNetwork]:
    """Parse allow-list entries (addresses or CIDR networks); ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as e:
            raise ValueError(f"Not an IP address or network: {entry!r}") from e
    return networks


def address_refusal(ip: IPAddress, allowed: list[IPNetwork]) -> str | None:
    """Why ``ip`` must not be fetched (None when it may be)."""
    ip = unmap(ip)
    if any(ip in net for net in allowed):
        return None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "a non-public address"
    return None


class GuardedResolver(Resolver):
    """Resolves a host and refuses it unless every address it resolves to may be fetched.

    The connection then uses exactly the checked addresses, so DNS cannot change in between.
    """

    def initialize(self, allowed: list[IPNetwork]) -> None:  # type: ignore[override]
        """Remember the configured allow-list."""
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int, family: socket.AddressFamily = socket.AF_UNSPEC
    ) -> list[tuple[int, Any]]:
        """Resolve ``host`` and check every address."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise UrlError(f"Cannot resolve host {host!r}: {e.strerror}. Check the URL.") from e
        addresses: list[tuple[int, Any]] = [(fam, sockaddr) for fam, _, _, _, sockaddr in infos]
        for _, sockaddr in addresses:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            why = address_refusal(ip, self.allowed)
            if why:
                raise UrlRefused(
                    f"Refused to fetch {host}: it resolves to {ip}, {why}. The server only "
                    "fetches public addresses; an administrator can allow networks with "
                    "c.UploadService.url_allowed_networks."
                )
        return addresses


def infer_file_name(headers: httputil.HTTPHeaders, url: str, final_url: str) -> str:
    """The file name: Content-Disposition, else the URL path (typed, then redirected)."""
    disposition = headers.get("Content-Disposition")
    if disposition:
        name = disposition_filename(disposition)
        if name:
            name = safe_name(name)
            if name:
                return name
    candidates = [url, final_url]
    for candidate in candidates:
        segment = safe_name(unquote(posixpath.basename(urlsplit(candidate).path)))
        if segment and "." in segment:
            return segment
    for candidate in candidates:
        segment = safe_name(unquote(posixpath.basename(urlsplit(candidate).path)))
        if segment:
            return segment
    return "download"


def disposition_filename(disposition: str) -> str | None:
    """The file name of a Content-Disposition header; ``filename*`` wins (RFC 6266 4.3)."""
    msg = email.message.Message()
    msg["Content-Disposition"] = disposition
    plain: str | None = None
    for key, value in msg.get_params(header="content-disposition") or []:
        if key.lower() != "filename":
            continue
        if isinstance(value, tuple):  # the RFC 5987 form, filename*=UTF-8''...
            return email.utils.collapse_rfc2231_value(value)
        plain = plain or value
    return plain


def safe_name(name: str) -> str:
    """A plain file name from an untrusted one (no folders, no control characters)."""
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return ""
    # At most 255 bytes in UTF-8 (file systems count bytes), cut on a character boundary.
    return name.encode("utf-8", "surrogatepass")[:255].decode("utf-8", "ignore")


@dataclass
class FetchInfo:
    """What the server learned about a URL before the body."""

    url: str
    final_url: str
    name: str
    size: int | None
    content_type: str | None
    headers: httputil.HTTPHeaders = field(default_factory=httputil.HTTPHeaders)

    def to_json(self) -> dict[str, Any]:
        """The probe result as the REST API returns it."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
        }


def display_url(url: str) -> str:
    """``url`` without its query and fragment (which may carry tokens), for messages and logs."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else UrlError saying what is expected."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlError(
            f"Enter an http:// or https:// URL of a file, for example "
            f"https://example.com/data.zip (got {url!r})."
        )
    if parts.username or parts.password:
        raise UrlError("Remove the user name and password from the URL.")
    return url


class UrlFetcher:
    """Fetches URLs through the guarded resolver, following redirects one checked hop at a time."""

    def __init__(
        self,
        allowed: list[IPNetwork],
        connect_timeout: float = 20.0,
        idle_timeout: float = 60.0,
        max_redirects: int = 5,
    ) -> None:
        self.allowed = allowed
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_redirects = max_redirects

    def _client(self, max_body: int) -> tuple[SimpleAsyncHTTPClient, _TrackingTCPClient]:
        resolver = GuardedResolver(allowed=self.allowed)
        client = SimpleAsyncHTTPClient(
            force_instance=True,
            resolver=resolver,
            max_body_size=max_body,
            max_buffer_size=1 << 20,
        )
        tcp = _TrackingTCPClient(resolver)
        client.tcp_client = tcp
        return client, tcp

    async def probe(self, url: str) -> FetchInfo:
        """Follow redirects to the file and read its headers (name, size), not its body."""
        info, _ = await self._fetch(url, None, 1 << 40)
        return info

    async def download(
        self,
        url: str,
        on_headers: Callable[[FetchInfo], None],
        on_chunk: Callable[[bytes], Awaitable[None] | None],
        max_bytes: int,
    ) -> FetchInfo:
        """Stream the body of ``url`` to ``on_chunk`` after ``on_headers`` saw the headers."""
        info, _ = await self._fetch(url, (on_headers, on_chunk), max_bytes)
        return info

    async def _fetch(
        self,
        url: str,
        sink: tuple[Callable[[FetchInfo], None], Callable[[bytes], Awaitable[None] | None]] | None,
        max_bytes: int,
    ) -> tuple[FetchInfo, int]:
        original = check_url(url)
        current = original
        for _hop in range(self.max_redirects + 1):
            result = await self._hop(original, current, sink, max_bytes)
            if isinstance(result, str):
                current = result
                continue
            return result, 200
        raise UrlError(
            f"Too many redirects (more than {self.max_redirects}) from {display_url(original)}."
        )

    async def _hop(
        self,
        original: str,
        current: str,
        sink: tuple[Callable[[FetchInfo], None], Callable[[bytes], Awaitable[None] | None]] | None,
        max_bytes: int,
    ) -> FetchInfo | str:
        """Fetch one URL: its info (body streamed to the sink), or the checked redirect target."""
        state: dict[str, Any] = {"status": 0, "headers": httputil.HTTPHeaders()}
        last_data = [time.monotonic()]
        headers_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_header(line: str) -> None:
            if not state["status"]:
                state["status"] = httputil.parse_response_start_line(line.strip()).code
            elif line == "\r\n":
                if 200 <= state["status"] < 300:
                    state["info"] = self._info(original, current, state["headers"], max_bytes)
                    if sink is None:
                        if not headers_done.done():
                            headers_done.set_result(None)
                        return
                    sink[0](state["info"])
            else:
                state["headers"].parse_line(line)

        def on_chunk(chunk: bytes) -> Any:
            last_data[0] = time.monotonic()
            if sink is not None and "info" in state:
                return sink[1](chunk)
            return None  # a probe drops the body and hangs up once the headers are in

        request = HTTPRequest(
            current,
            method="GET",
            follow_redirects=False,
            header_callback=on_header,
            streaming_callback=on_chunk,
            connect_timeout=self.connect_timeout,
            request_timeout=7 * 24 * 3600.0,
            decompress_response=False,
            user_agent="ma-notebook-url-import",
            validate_cert=True,
        )
        client, tcp = self._client(max_bytes)
        fetch = asyncio.ensure_future(client.fetch(request, raise_error=False))
        fetch.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            response = await self._watch(fetch, last_data, headers_done)
            if response is None:
                return state["info"]  # type: ignore[no-any-return]
        except UrlError:
            raise
        except HTTPTimeoutError as e:
            raise UrlError(f"Timed out connecting to {urlsplit(current).netloc}: {e}.") from e
        except (HTTPStreamClosedError, HTTPClientError, OSError) as e:
            raise UrlError(
                f"Could not download {display_url(current)}: {e}. "
                "Check that the URL opens in a browser."
            ) from e
        finally:
            tcp.abort()
            client.close()
        code = response.code
        if code in (301, 302, 303, 307, 308) and "Location" in response.headers:
            return check_url(urljoin(current, response.headers["Location"]))
        if not 200 <= code < 300 or "info" not in state:
            raise UrlError(
                f"The server at {urlsplit(current).netloc} answered HTTP {code} "
                f"{response.reason}. Check that the URL opens in a browser."
            )
        return state["info"]  # type: ignore[no-any-return]

    async def _watch(
        self, fetch: asyncio.Future[HTTPResponse], last: list[float], early: asyncio.Future[None]
    ) -> HTTPResponse | None:
        """Await ``fetch`` (None once ``early`` is done), failing it when no data arrives."""
        waiting: set[asyncio.Future[Any]] = {fetch, early}
        while True:
            done, _ = await asyncio.wait(
                waiting,
                timeout=min(1.0, self.idle_timeout),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if early in done:
                return None
            if fetch in done:
                return fetch.result()
            if time.monotonic() - last[0] > self.idle_timeout:
                raise UrlError(
                    f"The remote server sent no data for {self.idle_timeout:g} s; "
                    "try again later or check the URL."
                )

    def _info(
        self, url: str, final_url: str, headers: httputil.HTTPHeaders, max_bytes: int
    ) -> FetchInfo:
        size: int | None = None
        raw = headers.get("Content-Length")
        if raw and raw.isdigit() and "Content-Encoding" not in headers:
            size = int(raw)
        if size is not None and size > max_bytes:
            raise UrlError(
                f"The file is {size} bytes, over the {max_bytes}-byte limit of URL imports.",
                status=413,
            )
        return FetchInfo(
            url=url,
            final_url=final_url,
            name=infer_file_name(headers, url, final_url),
            size=size,
            content_type=headers.get("Content-Type"),
            headers=headers,
        )


def remove_quietly(path: str) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
