"""The channel registry: config entry → channel object with one small interface.

A channel has `send(payload) -> Outcome`, `describe()` (secrets masked) and `close()`;
an email channel with a digest interval also has `digest` and `send_digest(payloads)`."""

from __future__ import annotations

from crawler.config import Config


def build_channel(name: str, spec, config: Config):
    if spec.type == "slack":
        from alerts.slack import SlackChannel
        return SlackChannel(name, spec, config.network)
    if spec.type == "webhook":
        from alerts.webhook import WebhookChannel
        return WebhookChannel(name, spec, config.network)
    if spec.type == "email":
        from alerts.email import EmailChannel
        return EmailChannel(name, spec, config.base_dir)
    from alerts.console import ConsoleChannel
    return ConsoleChannel(name)
