"""Where git may connect: every redirect hop checked, the checked addresses pinned for git.

git would follow a redirect to another host and resolve names again itself, so a check of the
first host alone proves nothing. Here the service asks the smart-HTTP endpoint itself (headers
only, no credentials), follows and checks each redirect, and hands git the final URL with
``http.followRedirects=false`` and ``http.curloptResolve`` set to the addresses it checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import socket
import ssl
import urllib.request
from dataclasses import replace
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..netguard import forbidden_address
from ..tasks import TaskError
from .gitcmd import Remote

#: The most redirects followed before giving up (git's own limit is 20; real forges use 1-2).
MAX_HOPS = 5
#: What git asks first; a redirect of it moves the repository's base URL.
INFO_REFS = "info/refs?service=git-upload-pack"
DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22}


def _forbidden(host: str, addr: str) -> TaskError:
    return TaskError(
        f"Cloning from {host} ({addr}) is refused: it is a link-local/metadata address. "
        "An administrator can allow it with c.GitService.allow_link_local = True.",
        status=403,
        reason="forbidden_host",
    )


async def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, or 403 when any of them is link-local/metadata."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise TaskError(
            f"Cannot reach {host}: could not resolve host ({e.strerror or e}). Check the URL and "
            f"the network; to see git's own output, run in a terminal: git ls-remote {host}",
            status=502,
            reason="unreachable",
        ) from e
    addr = forbidden_address(infos)
    if addr is not None:
        raise _forbidden(host, str(addr))
    seen: list[str] = []
    for info in infos:
        ip = str(info[4][0]).split("%", 1)[0]
        if ip not in seen:
            seen.append(ip)
    return seen


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _proxied(scheme: str, host: str) -> bool:
    """Whether git reaches ``host`` through an HTTP proxy from the environment."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def _pin(host: str, port: int, addrs: list[str]) -> str:
    shown = ",".join(f"[{a}]" if ":" in a else a for a in addrs)
    return f"{host}:{port}:{shown}"


def probe_location(url: str, addr: str, timeout: float) -> str | None:
    """The ``Location`` of a redirect answered to git's first request, connecting to ``addr``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    base = parts.path if parts.path.endswith("/") else parts.path + "/"
    target = base + INFO_REFS + (f"&{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    try:
        sock = socket.create_connection((addr, port), timeout=timeout)
    except OSError:
        return None  # git reports the unreachable host with its own message
    try:
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = sock
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", parts.netloc.rsplit("@", 1)[-1])
        conn.putheader("User-Agent", "git/ma-notebook")
        conn.putheader("Git-Protocol", "version=2")
        conn.endheaders()
        resp = conn.getresponse()
        if resp.status in (301, 302, 303, 307, 308):
            return resp.getheader("Location") or None
        return None
    except (OSError, http.client.HTTPException, ssl.SSLError):
        return None
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _redirected_base(url: str, location: str) -> str:
    """The repository URL after a redirect of its ``info/refs``, as git would compute it."""
    parts = urlsplit(url)
    base = parts.path if parts.path.endswith("/") else parts.path + "/"
    asked = urlunsplit((parts.scheme, parts.netloc, base + INFO_REFS, "", ""))
    new = urljoin(asked, location)
    new_parts = urlsplit(new)
    if new_parts.scheme not in ("http", "https"):
        raise TaskError(
            f"{urlunsplit((*parts[:3], '', ''))} redirects to a {new_parts.scheme[:20]}:// URL; "
            "only http and https redirects are followed.",
            status=502,
            reason="unreachable",
        )
    full = new_parts.path + ("?" + new_parts.query if new_parts.query else "")
    tail = "/" + INFO_REFS
    path = full[: -len(tail)] if full.endswith(tail) else new_parts.path
    netloc = new_parts.netloc.rsplit("@", 1)[-1]  # never carry a credential from a Location
    return urlunsplit((new_parts.scheme, netloc, path, "", ""))


async def route(remote: Remote, *, allow_link_local: bool, timeout: float = 15.0) -> Remote:
    """``remote`` with every redirect followed and checked, and its addresses pinned for git."""
    if allow_link_local or not remote.host:
        return remote
    if remote.scheme not in ("http", "https"):
        await checked_addresses(remote.host, DEFAULT_PORTS.get(remote.scheme, 22))
        return remote
    loop = asyncio.get_running_loop()
    url = remote.url
    for _hop in range(MAX_HOPS + 1):
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        if _proxied(parts.scheme, host):
            # git talks to the proxy, which resolves the name: check what we can, pin nothing
            # (redirects still are not followed by git).
            try:
                await checked_addresses(host, port)
            except TaskError as e:
                if e.reason != "unreachable":
                    raise  # a metadata address stays refused, proxy or not
            return replace(remote, url=url, host=host, pins=())
        addrs = await checked_addresses(host, port)
        location = await loop.run_in_executor(None, probe_location, url, addrs[0], timeout)
        if location is None:
            pins = () if _is_literal(host) else (_pin(host, port, addrs),)
            return replace(remote, url=url, host=host, pins=pins)
        url = _redirected_base(url, location)
    raise TaskError(
        f"{remote.url} redirects more than {MAX_HOPS} times; clone from its final address.",
        status=502,
        reason="unreachable",
    )
