"""Slack incoming webhooks: Block Kit with a plain-text fallback, at most N messages a second
per webhook, 429 + Retry-After respected, dead channels (no_service, archived) dead-lettered."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from wirewatch.alerts.http import HttpChannel
from wirewatch.alerts.model import Outcome, fact_line, payload_facts
from wirewatch.alerts.render import evidence_sentence, follow_up, headline, language_line, news_lines, text_body
from wirewatch.crawler.conf.base import ChannelSpec, Secret, http_url
from wirewatch.crawler.secrets import mask

_TIMEOUT = 15.0
_PACE: dict[str, float] = {}
_PACE_LOCK = threading.Lock()
_PERMANENT_ERRORS = ("no_service", "channel_is_archived", "invalid_token", "action_prohibited",
                     "channel_not_found", "no_team", "team_disabled", "invalid_payload")


def _escape(text: str) -> str:
    """Slack reads &, < and > as markup (<!channel>, <url|label>); these three are all it needs."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, label: str) -> str:
    """A mrkdwn link whose URL cannot end the link early (|, >) or start markup; only http(s)."""
    if not re.match(r"https?://", url or "", re.I):
        return _escape(label)
    safe = quote(url, safe="/:?#[]@!$'()*+,;=%~-._&")
    return f"<{_escape(safe)}|{_escape(label)}>"


def blocks(payload: dict) -> list[dict]:
    if payload.get("type") != "wirewatch.alert":
        return [{"type": "section", "text": {"type": "mrkdwn",
                 "text": f"*{_escape(headline(payload))}*\n{_escape(payload.get('message', ''))}"}}]
    article = payload["article"]
    update = follow_up(payload)
    out = [{"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(f"Update to: {update}")}]}] \
        if update else []
    out += [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*{_link(article['url'], headline(payload))}*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(
            f"{article['source']} · {article.get('published') or 'time unknown'}"
            + (f" · {language_line(payload)}" if language_line(payload) else ""))}]},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Watch*\n{_escape(payload['watch'])}"},
            {"type": "mrkdwn", "text": f"*Score*\n{payload['score']:.2f}"}]},
    ]
    if update and payload.get("new_facts"):
        news = "\n".join(f"• {_escape(line)}" for line in news_lines(payload)[:10])
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*New since the first report*\n{news}"}})
    if payload.get("facts"):
        facts = "\n".join(f"• {_escape(fact_line(f))}" for f in payload_facts(payload)[:10])
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Facts*\n{facts}"}})
    sentence = evidence_sentence(payload)
    if sentence:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": f"> {_escape(sentence)[:2900]}"}})
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"alert {payload['id']}"}]})
    return out


class SlackSpec(ChannelSpec):
    type: Literal["slack"]
    url: Secret                                   # the incoming-webhook URL is the credential
    per_second: float = Field(1.0, gt=0)
    _url = field_validator("url")(http_url)


class SlackChannel(HttpChannel):
    Spec = SlackSpec
    spec: SlackSpec

    @property
    def send_timeout(self) -> float:
        return _TIMEOUT + 1.0 / self.spec.per_second          # the post, and its place in the pace

    def describe(self) -> str:
        return f"{self.name}: slack {mask(self.spec.url)}"

    def _pace(self) -> None:
        """At most `per_second` messages a second to one webhook, across this process."""
        interval = 1.0 / self.spec.per_second
        with _PACE_LOCK:
            now = time.monotonic()
            slot = max(now, _PACE.get(self.spec.url, 0.0) + interval)
            _PACE[self.spec.url] = slot
        if slot > now:
            time.sleep(slot - now)

    def send(self, payload: dict) -> Outcome:
        body = json.dumps({"text": _escape(text_body(payload)[:3000]), "blocks": blocks(payload)}).encode()
        self._pace()
        return self.post(body, {"Content-Type": "application/json"}, timeout=_TIMEOUT,
                         permanent_bodies=_PERMANENT_ERRORS)
