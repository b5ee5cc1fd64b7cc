"""A small real HTTP server on 127.0.0.1 serving a site from memory, with ETag / If-None-Match,
gzip on request, and a request log. The demo serves its bundled site with it; the tests and
benchmarks serve recorded pages with it and script failures (stalls, errors) per path."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import urlsplit


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0                   # seconds before answering (a stalled server)
    etag: bool = True


class LocalSite:
    def __init__(self, pages: dict[str, Page] | None = None, host: str = "127.0.0.1"):
        self.host = host
        self.pages: dict[str, Page | Callable[[BaseHTTPRequestHandler], Page]] = dict(pages or {})
        self.requests: list[tuple[str, str, dict[str, str]]] = []       # (method, path, headers)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.in_flight = 0                   # requests being answered now, and the most ever at once
        self.max_in_flight = 0
        self.spans: list[tuple[float, float, str]] = []      # (began, answered, path) of each request

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [path for _, path, _ in self.requests]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def start(self, port: int = 0) -> "LocalSite":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                began = time.monotonic()
                with site._lock:
                    site.requests.append(("GET", self.path, dict(self.headers.items())))
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    page = site.pages.get(self.path) or site.pages.get(path)
                    if callable(page):
                        page = page(self)
                    if page is None:
                        page = Page(b"<html><body><h1>Not found</h1></body></html>", status=404, etag=False)
                    if page.delay:
                        time.sleep(page.delay)
                    site._answer(self, page)
                finally:
                    with site._lock:
                        site.in_flight -= 1
                        site.spans.append((began, time.monotonic(), self.path))

        server_class = _IPv6Server if ":" in self.host else ThreadingHTTPServer
        self._server = server_class((self.host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="localsite").start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "LocalSite":
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, page: Page) -> None:
        etag = f'"{hashlib.sha1(page.body).hexdigest()[:16]}"' if page.etag and page.status == 200 else None
        try:
            if etag and handler.headers.get("If-None-Match") == etag:
                handler.send_response(304)
                handler.send_header("ETag", etag)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            handler.send_response(page.status)
            handler.send_header("Content-Type", page.content_type)
            if etag:
                handler.send_header("ETag", etag)
            for key, value in page.headers.items():
                handler.send_header(key, value)
            if "Content-Length" not in page.headers:
                handler.send_header("Content-Length", str(len(page.body)))
            handler.end_headers()
            handler.wfile.write(page.body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
