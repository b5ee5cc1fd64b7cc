"""The sections of the config contract (DESIGN.md): network, sources, watches, daemon, alerts, workers."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, field_validator, model_validator

from wirewatch.crawler.conf.base import NAME_PATTERN, Secret, Strict, durations, http_url
from wirewatch.crawler.conf.durations import MAX_RETENTION, format_duration, parse_size
from wirewatch.crawler.netguard import AddressPolicy, nameserver_address

DEFAULT_INTERVAL = 900.0
MIN_TOKEN = 32                       # characters of web.token beyond loopback             # a source without `every` or `cron` is crawled every 15 minutes


class Network(Strict):
    allow_private: bool = False
    allow: list[str] = []              # networks allowed although private, e.g. an intranet mirror
    nameservers: list[str] = []        # resolve with these DNS servers ("host" or "host:port")
    contact: str = "https://github.com/wirewatch/wirewatch"
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    per_domain: int = Field(2, ge=1, le=32)
    max_redirects: int = Field(5, ge=0, le=20)
    retries: int = Field(1, ge=0, le=5)
    autothrottle: bool = True
    crawl_timeout: float = 900.0
    host_gap: float = 1.0              # queue mode: seconds between two requests to a host outside the job's site

    _durations = durations("timeout", "crawl_timeout", "host_gap")
    _sizes = field_validator("max_bytes", mode="before")(parse_size)

    @property
    def contact_warning(self) -> str | None:
        """What to say while `contact` is the project's default: sites should reach the operator."""
        if self.contact != type(self).model_fields["contact"].default:
            return None
        return ("network.contact is the project's default: set it to a page or address where site owners "
                "can reach you (it goes in the User-Agent)")

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP network: {entry!r} (use e.g. 10.20.0.0/16)") from None
        return value

    @field_validator("nameservers")
    @classmethod
    def _servers(cls, value: list[str]) -> list[str]:
        for entry in value:
            host, port = nameserver_address(entry)
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"not a DNS server address: {entry!r} (use an IP, e.g. 192.0.2.53 "
                                 "or [2001:db8::53]:53)") from None
            if not 0 < port < 65536:
                raise ValueError(f"not a port: {entry!r}")
        return value

    @property
    def policy(self) -> AddressPolicy:
        return AddressPolicy(self.allow_private,
                             tuple(ipaddress.ip_network(e, strict=False) for e in self.allow))


class Source(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    type: Literal["feed", "sitemap", "listing"]
    url: str
    every: float | None = None
    cron: str | None = None
    follow: str | None = None          # regex: which links are articles (listing; filter for others)
    next: str | None = None            # listing: regex for pagination links
    max_pages: int = Field(1, ge=1, le=100)
    max_depth: int = Field(3, ge=0, le=10)    # sitemap: how deep nested indexes are followed
    max_sitemaps: int = Field(100, ge=1, le=10_000)   # sitemap documents fetched per crawl
    max_articles: int = Field(500, ge=1)
    backlog: Literal["store", "alert"] = "store"   # first crawl: a silent baseline, or alert on it
    auth: Secret | None = None         # HTTP basic auth "user:password" (or written in the URL)

    _url = field_validator("url")(http_url)

    @model_validator(mode="before")
    @classmethod
    def _userinfo_is_auth(cls, data):
        """`https://user:password@host/feed`: the credentials are sent as HTTP basic auth and
        kept out of the URL, which is shown everywhere; they are a secret like any other."""
        url = data.get("url") if isinstance(data, dict) else None
        if isinstance(url, str):
            m = re.match(r"^(\s*https?://)([^/@\s]*)@(.*)$", url, re.I | re.S)
            if m:
                if data.get("auth"):
                    raise ValueError("give the credentials in the URL or in auth, not both")
                userinfo = unquote(m.group(2))
                data = {**data, "url": m.group(1) + m.group(3),
                        "auth": userinfo if ":" in userinfo else userinfo + ":"}
        return data

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if not self.auth:
            return None
        user, _, password = self.auth.partition(":")
        return user, password
    _every = durations("every", minimum=1.0)

    @field_validator("follow", "next")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            import datetime as dt

            from apscheduler.triggers.cron import CronTrigger
            try:
                trigger = CronTrigger.from_crontab(value, timezone=dt.timezone.utc)
            except ValueError as exc:
                raise ValueError(f"not a valid crontab expression: {exc}") from None
            if trigger.get_next_fire_time(None, dt.datetime.now(dt.timezone.utc)) is None:
                raise ValueError(f"the crontab expression {value!r} never fires")
        return value

    @model_validator(mode="after")
    def _schedule(self) -> "Source":
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        if self.type == "listing" and not self.follow:
            raise ValueError("a listing source needs 'follow' (a regex for article links)")
        return self

    @property
    def schedule(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {format_duration(self.interval)}"

    @property
    def interval(self) -> float:
        return self.every if self.every is not None else DEFAULT_INTERVAL


class WatchRef(Strict):
    include: str


class Daemon(Strict):
    failures_before_alert: int = Field(3, ge=1)
    quiet_after: float | None = 3 * 86400.0
    grace: float = 30.0
    dispatch_every: float = 5.0
    _durations = durations("quiet_after", "grace", "dispatch_every")


class Alerts(Strict):
    max_age: float = 3 * 86400.0           # older reports are stored and listed, not alerted
    give_up_after: float = 2 * 86400.0     # a row still failing after this is dead
    backoff: float = 5.0                   # first retry delay; doubles each attempt, with jitter
    backoff_max: float = 3600.0
    _durations = durations("max_age", "give_up_after", "backoff", "backoff_max")


class Analysis(Strict):
    """Bounds on the work one page may cost, so a poison page cannot stall a crawl."""
    max_text: int = 200_000               # characters of article text the matcher reads
    page_timeout: float = 30.0            # extraction + matching of one page; then it is skipped
    _sizes = field_validator("max_text", mode="before")(parse_size)
    _durations = durations("page_timeout")


def _cores(limit: int = 8) -> int:
    return max(1, min(limit, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


class Workers(Strict):
    """The crawl worker (one long-lived process) and its analysis processes."""
    crawls: int = Field(32, ge=1, le=1000)              # sources crawled at once by the crawl worker
    analysis: int | None = Field(None, ge=1, le=64)     # extraction + matching processes (unset: cores, max 8)
    recycle_after: int = Field(2000, ge=1)              # crawl jobs before the worker is replaced
    remote: bool = False                                # crawl on `wirewatch worker`s through the job queue
    silent_after: float = Field(60.0, ge=10)            # a worker with no heartbeat this long is reported
    max_rss: int = 768 * 1024 * 1024                    # ... or once it holds this much memory
    _sizes = field_validator("max_rss", mode="before")(parse_size)
    _durations = durations("silent_after")

    @property
    def analysis_processes(self) -> int:
        return self.analysis or _cores()


class Web(Strict):
    """The read-only web view, also served by the daemon when this section is present."""
    listen: str = "127.0.0.1:8080"
    token: Secret | None = None          # required unless listening on loopback
    allowed_hosts: list[str] = []        # Host names the view answers to, besides its address and localhost
    secure_cookies: bool = False         # mark the session cookie Secure (served behind HTTPS)
    trusted_proxy: str | None = None     # a proxy's address whose X-Forwarded-Proto / -Host are believed
    users: dict[str, Secret] = {}        # name → token: each analyst signs their verdicts and notes

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        listen_address(value)
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\]", host):
                raise ValueError(f"not a host name: {host[:60]!r} (a name like desk.example.org, no port)")
        return [h.lower() for h in value]

    @field_validator("trusted_proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"not an IP address: {value[:60]!r}") from None
        return value

    @field_validator("users")
    @classmethod
    def _users(cls, value: dict[str, str]) -> dict[str, str]:
        for name, token in value.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}", name):
                raise ValueError(f"not a user name: {name[:60]!r} (letters, digits, . _ -)")
            if not token:
                raise ValueError(f"web.users.{name} has an empty token")
        if len(set(value.values())) != len(value):
            raise ValueError("two web.users share a token: each analyst needs their own")
        return value

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> "Web":
        if not self.loopback and not self.token and not self.users:
            raise ValueError(f"listening on {self.listen} (beyond loopback) requires web.token or web.users")
        short = [name for name, token in self.tokens().items() if len(token) < MIN_TOKEN]
        if not self.loopback and short:
            which = "web.token" if short == ["analyst"] and self.token else f"web.users.{short[0]}'s token"
            raise ValueError(f"{which} must be at least {MIN_TOKEN} characters to listen beyond loopback "
                             "(e.g. token: ${WIREWATCH_WEB_TOKEN} with `openssl rand -hex 32`)")
        return self

    def tokens(self) -> dict[str, str]:
        """Who may use the view, by token: each of `users`, and `analyst` for the shared `token`."""
        return {**({"analyst": self.token} if self.token else {}), **self.users}

    def host_allowed(self, host_header: str) -> bool:
        """The Host a request names must be this view's own (its address, localhost or a name in
        allowed_hosts): a page elsewhere that rebinds its name to 127.0.0.1 is refused."""
        host = host_header.strip().lower()
        m = re.fullmatch(r"\[([0-9a-f:.]+)\](?::\d{1,5})?|([^:\[\]]*)(?::\d{1,5})?", host)
        if not m:
            return False
        name = (m.group(1) or m.group(2) or "").rstrip(".")
        if name in ("localhost", *self.allowed_hosts):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False               # a name: only localhost and allowed_hosts
        listen = ipaddress.ip_address(self.address[0]) if self.address[0] != "localhost" else None
        if listen is None:
            return address.is_loopback
        return address == listen or listen.is_unspecified or (listen.is_loopback and address.is_loopback)

    @property
    def address(self) -> tuple[str, int]:
        return listen_address(self.listen)

    @property
    def loopback(self) -> bool:
        host = self.address[0]
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def listen_address(value: str) -> tuple[str, int]:
    """('127.0.0.1', 8080) from '127.0.0.1:8080', '[::1]:8080' or 'localhost:8080'."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]]+):(\d{1,5})", value.strip())
    if not m or not 0 < int(m.group(2) or m.group(4)) < 65536:
        raise ValueError(f"not HOST:PORT: {value!r} (e.g. 127.0.0.1:8080 or [::1]:8080)")
    return (m.group(1) or m.group(3)), int(m.group(2) or m.group(4))


class Retention(Strict):
    """How long things are kept (`null`: for ever); `wirewatch prune` and the daemon apply it."""
    article_text: float | None = 180 * 86400.0
    runs: float | None = 30 * 86400.0
    delivered_alerts: float | None = 90 * 86400.0
    _durations = durations("article_text", "runs", "delivered_alerts", maximum=MAX_RETENTION)
