"""apprise: one channel type for some 90 services — Teams, Telegram, Discord, Matrix, ntfy,
Pushover, generic JSON / form webhooks ... — each given as an apprise URL. The URLs carry the
credentials, so they are secrets: masked everywhere. A URL apprise cannot read is a config error
naming the channel; a notification apprise could not deliver is retried like any channel's."""

from __future__ import annotations

import logging
import threading
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from wirewatch.alerts.channel import Channel
from wirewatch.alerts.model import Outcome
from wirewatch.alerts.render import headline, text_body
from wirewatch.crawler.conf.base import ChannelSpec, Secret

logging.getLogger("apprise").setLevel(logging.ERROR)     # its own lines could carry a URL


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
        self._apprise = apprise.Apprise()
        for url in spec.urls:
            self._apprise.add(url)
        self._lock = threading.Lock()

    def describe(self) -> str:
        schemes = ", ".join(_scheme(u) for u in self.spec.urls)
        return f"{self.name}: apprise, {len(self.spec.urls)} URL(s): {schemes} (URLs masked)"

    def send(self, payload: dict) -> Outcome:
        try:
            with self._lock:
                delivered = self._apprise.notify(title=headline(payload), body=text_body(payload))
        except Exception as exc:           # noqa: BLE001 - any failure inside apprise is a retry
            return Outcome.retry(f"apprise failed: {type(exc).__name__}")
        if not delivered:
            return Outcome.retry("apprise could not deliver to every URL")
        return Outcome.delivered()
