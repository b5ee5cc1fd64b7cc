"""Refuse URLs that resolve to addresses a news source or a webhook target has no business on:
loopback, private, link-local, CGNAT, metadata, multicast and reserved ranges."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from wirewatch.crawler.errors import SourceError

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a CGNAT address"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a reserved address"
    return None


def check_url(url: str, allow_private: bool) -> None:
    """Raise SourceError when `url` is not http(s) or, unless allowed, resolves to a forbidden address."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise SourceError(f"refused {url}: only http and https URLs are allowed")
    if allow_private:
        return
    host = parts.hostname
    if not host:
        raise SourceError(f"refused {url}: no host")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        reason = _forbidden(address)
        if reason:
            raise SourceError(f"refused {url}: {host} resolves to {address}, {reason} "
                              "(set network.allow_private: true to allow)")
