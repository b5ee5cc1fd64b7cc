"""The HTTP transport of the webhook-style channels: connect only to an address the guard checked.

`GuardedAdapter` resolves the target once through crawler.netguard.resolve, refuses it when the
policy does, and connects to that very address; the Host header and, for https, the TLS server
name and certificate check stay those of the URL's host. A second lookup that would answer
127.0.0.1 (DNS rebinding) never happens."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Session
from requests.adapters import HTTPAdapter

from wirewatch.crawler.conf.sections import Network
from wirewatch.crawler.netguard import AddressPolicy, check_scheme, resolve

_DEFAULT_PORTS = {"http": 80, "https": 443}


class GuardedAdapter(HTTPAdapter):
    def __init__(self, policy: AddressPolicy, nameservers: tuple[str, ...] = ()):
        super().__init__()
        self.policy = policy
        self.nameservers = nameservers

    def send(self, request: PreparedRequest, **kwargs):
        """Raises SourceError (before any connection) when the target is refused."""
        check_scheme(request.url or "")
        original = request.url
        parts = urlsplit(request.url)
        host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
        address = resolve(host, port, self.policy, self.nameservers)[0]
        request.headers["Host"] = parts.netloc.rpartition("@")[2]
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        request.url = urlunsplit(parts._replace(netloc=netloc))
        request.wirewatch_server_name = host          # type: ignore[attr-defined]
        kwargs["proxies"] = {}                        # a proxy would resolve the target itself
        response = super().send(request, **kwargs)
        response.url = original                      # redirects resolve against the name, not the IP
        return response

    def build_connection_pool_key_attributes(self, request: PreparedRequest, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        server_name = getattr(request, "wirewatch_server_name", None)
        if server_name and host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = server_name       # SNI
            pool_kwargs["assert_hostname"] = server_name       # the certificate names the host
        return host_params, pool_kwargs


def guarded_session(network: Network, user_agent: str) -> Session:
    session = Session()
    adapter = GuardedAdapter(network.policy, tuple(network.nameservers))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session
