"""Addresses the server refuses to reach on a user's behalf (cloud metadata, link-local)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud metadata endpoints, refused even where their network is not otherwise special.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


def unmap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped IPv6 address, else ``ip`` itself."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_metadata_or_link_local(ip: IPAddress) -> bool:
    """Whether ``ip`` is a cloud metadata service or a link-local address."""
    ip = unmap(ip)
    return ip in METADATA_ADDRESSES or ip.is_link_local


def forbidden_address(addrinfos: Iterable[tuple[Any, ...]]) -> IPAddress | None:
    """The first metadata/link-local address among ``getaddrinfo`` results, if any."""
    for info in addrinfos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if is_metadata_or_link_local(ip):
            return ip
    return None
