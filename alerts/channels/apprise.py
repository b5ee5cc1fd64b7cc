"""apprise: one channel type for some 90 services — Teams, Telegram, Discord, Matrix, ntfy,
Pushover, generic JSON / form webhooks ... — each given as an apprise URL. The URLs carry the
credentials, so they are secrets: masked everywhere, registered before apprise parses (and logs)
them. A URL apprise cannot read is a config error naming the channel.

apprise connects by itself, so the address guard sits where every plugin resolves a name: while
this channel sends (in the sending thread, apprise told to dispatch sequentially), name lookups
go through crawler.netguard and connections go to the checked addresses only. A target on a
refused network is `dead`, as the webhook channel's is; so is an HTTP 4xx other than 408 / 429."""

from __future__ import annotations

import logging
import re
import threading
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from wirewatch.alerts.channel import Channel
from wirewatch.alerts.guard import guarded_lookups
from wirewatch.alerts.model import Outcome
from wirewatch.alerts.render import headline, text_body
from wirewatch.crawler import secrets
from wirewatch.crawler.conf.base import ChannelSpec, Secret

# WARNING: apprise captures a failed send's log lines (the HTTP status) into the result it returns;
# our log handler lets only its errors through (crawler.logs), redacted like every line
logging.getLogger("apprise").setLevel(logging.WARNING)
_HTTP_ERROR = re.compile(r"\berror=(\d{3})\b")            # how apprise's HTTP plugins log a status


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


class AppriseSpec(ChannelSpec):
    type: Literal["apprise"]
    urls: list[Secret] = Field(min_length=1)

    @field_validator("urls")
    @classmethod
    def _readable(cls, urls: list[str], info: ValidationInfo) -> list[str]:
        import apprise
        channel = info.data.get("name") or "apprise"
        for number, url in enumerate(urls, 1):
            secrets.register(url, declared=True)          # apprise logs a URL it cannot read
            if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
                raise ValueError(f"channel {channel}: apprise cannot read URL #{number} (scheme "
                                 f"{_scheme(url)!r}); see https://github.com/caronc/apprise/wiki")
        return urls


class AppriseChannel(Channel):
    Spec = AppriseSpec
    spec: AppriseSpec
    send_timeout = 60.0

    def __init__(self, name, spec, env):
        import apprise
        super().__init__(name, spec, env)
        self._apprise = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
        for url in spec.urls:
            self._apprise.add(url)
        self._lock = threading.Lock()

    def describe(self) -> str:
        schemes = ", ".join(_scheme(u) for u in self.spec.urls)
        return f"{self.name}: apprise, {len(self.spec.urls)} URL(s): {schemes} (URLs masked)"

    def send(self, payload: dict) -> Outcome:
        network = self.env.network
        try:
            with self._lock, guarded_lookups(network.policy, tuple(network.nameservers)) as refusals:
                result = self._apprise.notify(title=headline(payload), body=text_body(payload))
        except Exception as exc:           # noqa: BLE001 - any failure inside apprise is a retry
            return Outcome.retry(f"apprise failed: {type(exc).__name__}")
        if refusals:
            return Outcome.dead(secrets.redact(refusals[0]))
        if result:
            return Outcome.delivered()
        statuses = {int(m.group(1)) for entry in result.logs() for m in _HTTP_ERROR.finditer(entry.message)}
        permanent = sorted(s for s in statuses if 400 <= s < 500 and s not in (408, 429))
        if permanent:
            return Outcome.dead(f"apprise: HTTP {permanent[0]} from a target (fix the URL, then "
                                "`wirewatch alerts retry`)")
        detail = f" (HTTP {', '.join(map(str, sorted(statuses)))})" if statuses else ""
        return Outcome.retry(f"apprise could not deliver to every URL{detail}")
