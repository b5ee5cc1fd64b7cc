"""The address guard for code that connects by itself (apprise's plugins): inside the block,
every `socket.getaddrinfo` made in this context resolves through crawler.netguard.resolve under
the network policy, so it only ever yields checked addresses (IP literals included). A lookup the
policy refuses fails, and the refusal is recorded for the caller.

The guard is a context variable, not a thread-local: apprise runs a service with a deadline on a
worker thread, in a copy of the caller's context, and the guard goes with it. Other threads, and
this one outside the block, resolve as usual."""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from typing import Iterator

from wirewatch.crawler.errors import SourceError
from wirewatch.crawler.netguard import AddressPolicy, resolve

_guard: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("wirewatch_address_guard", default=None)
_original = socket.getaddrinfo
_install_lock = threading.Lock()


def _guarded_getaddrinfo(host, port, *args, **kwargs):
    guard = _guard.get()
    if guard is None or host is None:
        return _original(host, port, *args, **kwargs)
    policy, nameservers, refusals = guard
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        number = int(port) if port not in (None, "") else 0
    except (TypeError, ValueError):
        number = socket.getservbyname(str(port))
    inner = _guard.set(None)                 # the guard's own lookups are plain ones
    try:
        addresses = resolve(name.strip("[]"), number, policy, nameservers)
    except SourceError as exc:
        refusals.append(str(exc))
        raise socket.gaierror(socket.EAI_FAIL, f"refused by wirewatch: {exc}") from None
    finally:
        _guard.reset(inner)
    found = []
    for address in addresses:                # only the checked addresses, resolved as literals
        found += _original(address, port, *args, **kwargs)
    return found


@contextlib.contextmanager
def guarded_lookups(policy: AddressPolicy, nameservers: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Within the block, this thread's name lookups obey `policy`; yields the refusals made."""
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
    refusals: list[str] = []
    token = _guard.set((policy, nameservers, refusals))
    try:
        yield refusals
    finally:
        _guard.reset(token)
