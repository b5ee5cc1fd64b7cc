"""A real DNS server on 127.0.0.1 (UDP) whose answers the test scripts: each name has a list of
A records handed out one per query, the last repeating. Lets a test rebind a name between two
lookups without a packet leaving loopback."""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LocalDNS:
    def __init__(self):
        self.answers: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True, name="local-dns")
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def script(self, name: str, *addresses: str) -> None:
        with self._lock:
            self.answers[name.lower().rstrip(".")] = list(addresses)

    def _answer(self, name: str) -> str | None:
        with self._lock:
            self.queries.append(name)
            script = self.answers.get(name)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            if question.rdtype == dns.rdatatype.A:
                address = self._answer(name)
                if address is None:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                else:
                    response.answer.append(dns.rrset.from_text(question.name, 0, "IN", "A", address))
            elif name not in self.answers:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()
