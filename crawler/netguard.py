"""Refuse addresses a news source or a webhook target has no business on: loopback, private,
link-local, CGNAT, metadata, multicast and reserved ranges, and IPv6 forms that embed them.

The check is made on the address that is actually connected to: `resolve()` is the only name
resolution the crawler (crawler.crawl.resolver) and the webhook client (alerts.http) use, so a
name that answers a public address to a first lookup and 127.0.0.1 to the next gains nothing."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from wirewatch.crawler.errors import SourceError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, 6to4, Teredo client, NAT64, compatible."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _category(address: Address) -> str | None:
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


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses may be connected to: public ones, plus `allowed` networks, plus every
    private one when `allow_private` (tests, the demo, an intranet deployment)."""
    allow_private: bool = False
    allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def refusal(self, address: Address) -> str | None:
        """Why `address` may not be connected to, or None."""
        if self.allow_private or any(address in net for net in self.allowed):
            return None
        inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        if inner is not None:
            # judged by the IPv4 address it carries (NAT64 to a public site is fine, 6to4 of
            # 127.0.0.1 is loopback)
            reason = self.refusal(inner)
            return f"an IPv6 form of {inner}, {reason}" if reason else None
        return _category(address)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def _lookup(host: str, port: int, nameservers: tuple[str, ...]) -> list[str]:
    if nameservers:
        return _lookup_with(host, nameservers)
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0].split("%")[0] for info in infos))


def _lookup_with(host: str, nameservers: tuple[str, ...]) -> list[str]:
    """A and AAAA records from the configured DNS servers (`host:port` or `host`)."""
    import dns.exception
    import dns.nameserver
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(*nameserver_address(ns)) for ns in nameservers]
    resolver.lifetime = 10.0
    found: list[str] = []
    for kind in ("A", "AAAA"):
        try:
            found += [record.to_text() for record in resolver.resolve(host, kind, search=False)]
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException as exc:
            raise OSError(f"DNS lookup of {host} failed: {type(exc).__name__}") from None
    if not found:
        raise OSError(f"{host} has no address")
    return found


def nameserver_address(spec: str) -> tuple[str, int]:
    """`192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]` or `[2001:db8::53]:53`."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.removeprefix(":")
    elif spec.count(":") == 1:
        host, _, port = spec.partition(":")
    else:
        host, port = spec, ""
    return host, int(port) if port.isdigit() else (53 if not port else -1)


def resolve(host: str, port: int, policy: AddressPolicy, nameservers: tuple[str, ...] = ()) -> list[str]:
    """The addresses to connect to for `host`, every one checked; SourceError when the name does
    not resolve, or when any address it gave is refused (round-robin tricks gain nothing)."""
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = _lookup(host, port, nameservers)
        except (OSError, UnicodeError) as exc:
            raise SourceError(f"cannot resolve {host}: {exc}") from None
    for text in addresses:
        reason = policy.refusal(ipaddress.ip_address(text))
        if reason:
            raise SourceError(f"{host} resolves to {text}, {reason} "
                              "(set network.allow_private: true, or list it in network.allow)")
    return addresses


def check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise SourceError(f"refused {url}: only http and https URLs are allowed")
    if not parts.hostname:
        raise SourceError(f"refused {url}: no host")
