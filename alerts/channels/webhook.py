"""Generic webhook: the JSON body of DESIGN.md's contract with Standard Webhooks headers.

webhook-id is the alert id (identical on every retry), webhook-timestamp the send time, and
webhook-signature `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. The secret is a Standard
Webhooks secret, `whsec_` + base64 of the key, so any Standard Webhooks library verifies it; any
other value is refused when the config loads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Literal

from pydantic import field_validator

from wirewatch.alerts.http import HttpChannel
from wirewatch.alerts.model import Outcome
from wirewatch.crawler.conf.base import ChannelSpec, Secret, durations, http_url
from wirewatch.crawler.secrets import mask


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError for anything else."""
    if not secret.startswith("whsec_"):
        raise ValueError("secret must be a Standard Webhooks secret: 'whsec_' followed by the "
                         "base64 of a random key (e.g. whsec_$(openssl rand -base64 32))")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret after 'whsec_' is not valid base64") from None
    if len(key) < 16:
        raise ValueError("secret key is too short: use at least 16 random bytes (24 base64 characters)")
    return key


class WebhookSpec(ChannelSpec):
    type: Literal["webhook"]
    url: Secret
    secret: Secret | None = None
    timeout: float = 15.0
    _url = field_validator("url")(http_url)
    _timeout = durations("timeout")

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, value: str | None) -> str | None:
        if value is not None:
            secret_key(value)
        return value


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookChannel(HttpChannel):
    Spec = WebhookSpec
    spec: WebhookSpec

    @property
    def send_timeout(self) -> float:
        return self.spec.timeout

    def describe(self) -> str:
        return f"{self.name}: webhook {mask(self.spec.url)}{', signed' if self.spec.secret else ''}"

    def send(self, payload: dict) -> Outcome:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "webhook-id": payload["id"],
                   "webhook-timestamp": str(timestamp)}
        if self.spec.secret:
            headers["webhook-signature"] = sign(self.spec.secret, payload["id"], timestamp, body)
        return self.post(body, headers, timeout=self.spec.timeout)
