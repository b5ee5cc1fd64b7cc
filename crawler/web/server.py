"""Serving the web view: `wirewatch web`, or a thread of the daemon when the config has `web:`.
waitress is the server (a production WSGI server, pure Python)."""

from __future__ import annotations

import logging
import threading

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Web, listen_address
from wirewatch.crawler.errors import ConfigError, WirewatchError
from wirewatch.crawler.store.database import open_database

log = logging.getLogger("wirewatch.web")


def settings(config: Config, listen: str | None) -> Web:
    """The web section with --listen applied, refused when it would serve beyond loopback
    without a token."""
    web = config.web or Web()
    if listen:
        try:
            listen_address(listen)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None
        web = web.model_copy(update={"listen": listen})       # (model_copy does not validate)
    if not web.loopback and not web.token:
        raise ConfigError(f"refusing to serve on {web.listen} without web.token "
                          "(set web.token, e.g. token: ${WIREWATCH_WEB_TOKEN}, or listen on 127.0.0.1)")
    return web


def make_server(config: Config, web: Web, health=None):
    from waitress import create_server

    from wirewatch.crawler.web.app import create_app
    sessions = open_database(config.storage, config.base_dir)
    host, port = web.address
    proxy = {"trusted_proxy": web.trusted_proxy, "trusted_proxy_headers": {"x-forwarded-proto"}} \
        if web.trusted_proxy else {}
    try:
        return create_server(create_app(config, sessions, web, health), host=host, port=port, threads=4,
                             ident="wirewatch", clear_untrusted_proxy_headers=True, **proxy)
    except OSError as exc:
        raise WirewatchError(f"cannot listen on {web.listen}: {exc.strerror or exc}") from None


def web_command(config: Config, listen: str | None) -> int:
    web = settings(config, listen)
    server = make_server(config, web)
    host, port = web.address
    shown = f"[{host}]" if ":" in host else host
    log.info("web view on http://%s:%d/%s; Ctrl-C stops it", shown, port,
             " (a token required)" if web.tokens() else "")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


class WebThread:
    """The web view inside the daemon: started with it, closed when it stops."""

    def __init__(self, config: Config, health=None):
        self.web = settings(config, None)
        self.server = make_server(config, self.web, health)
        self.thread = threading.Thread(target=self._serve, daemon=True, name="web")

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:             # closed under it at shutdown
            pass

    def start(self) -> "WebThread":
        self.thread.start()
        log.info("web view on http://%s:%d/", *self.web.address)
        return self

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)
