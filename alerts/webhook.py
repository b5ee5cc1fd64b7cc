"""Generic webhook: the JSON body of DESIGN.md's contract with Standard Webhooks headers.

webhook-id is the alert id (identical on every retry), webhook-timestamp the send time, and
webhook-signature `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. A `whsec_`-prefixed secret
is base64 (as the Standard Webhooks libraries expect); any other secret is used as UTF-8 bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from alerts.http import HttpChannel
from alerts.model import Outcome
from crawler.config import WebhookChannel as WebhookSpec
from crawler.secrets import mask


def secret_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            pass
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookChannel(HttpChannel):
    spec: WebhookSpec

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
