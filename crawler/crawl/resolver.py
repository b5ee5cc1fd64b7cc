"""The crawl's name resolver: every address Scrapy connects to comes from here, checked.

Installed as TWISTED_DNS_RESOLVER. Each connection resolves anew (no cache that a short-TTL
answer could poison) in the reactor's thread pool, through crawler.netguard.resolve; a refused
name completes with no address, so the connection fails, and the reason is kept for the
source's error line."""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from wirewatch.crawler.errors import SourceError
from wirewatch.crawler.netguard import AddressPolicy, resolve

REFUSALS: dict[str, str] = {}          # host → why it was refused, for the error line


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str):
        self.name = name

    def cancel(self) -> None:
        """Lookups run to completion in a thread; their answer is then ignored."""


@implementer(IHostnameResolver)
class GuardedResolver:
    def __init__(self, reactor, policy: AddressPolicy, nameservers: tuple[str, ...]):
        self.reactor = reactor
        self.policy = policy
        self.nameservers = nameservers

    @classmethod
    def from_crawler(cls, crawler, reactor) -> "GuardedResolver":
        from wirewatch.crawler.crawl.settings import address_policy
        return cls(reactor, address_policy(crawler.settings), tuple(crawler.settings.getlist("WIREWATCH_NAMESERVERS")))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(self, resolutionReceiver, hostName: str, portNumber: int = 0,
                        addressTypes=None, transportSemantics: str = "TCP"):
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        lookup = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), resolve, hostName,
                                   portNumber, self.policy, self.nameservers)

        def deliver(addresses: list[str]) -> None:
            for text in addresses:
                kind = IPv6Address if ":" in text else IPv4Address
                if addressTypes is None or kind in addressTypes:
                    resolutionReceiver.addressResolved(kind("TCP", text, portNumber))
            resolutionReceiver.resolutionComplete()

        def refuse(failure) -> None:
            REFUSALS[hostName] = str(failure.value) if failure.check(SourceError) else \
                f"cannot resolve {hostName}: {failure.value}"
            resolutionReceiver.resolutionComplete()

        lookup.addCallbacks(deliver, refuse)
        return resolution
