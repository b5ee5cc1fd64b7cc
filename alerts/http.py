"""What the HTTP channels share: one POST with no redirects, and the mapping of its answer
to an outcome (delivered, retry after N seconds, or a permanent failure)."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import TYPE_CHECKING

from wirewatch.alerts.channel import Channel, ChannelEnv
from wirewatch.alerts.model import Outcome
from wirewatch.crawler.errors import SourceError
from wirewatch.crawler.secrets import redact

if TYPE_CHECKING:
    import requests

PERMANENT = {400, 401, 403, 404, 410, 413, 422}


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def snippet(text: str, limit: int = 80) -> str:
    """A peer's answer as it may appear in a log or a listing: short, one line, secrets masked."""
    from wirewatch.alerts.render import one_line
    return one_line(redact(text[:limit * 4]), limit)


def post(session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float,
         permanent_bodies: tuple[str, ...] = ()) -> Outcome:
    import requests  # imported when a channel sends, not when the config loads
    try:
        response = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except SourceError as exc:                    # the address guard refused the target
        return Outcome.dead(redact(str(exc)))
    except requests.Timeout:
        return Outcome.retry(f"no answer within {timeout:g}s")
    except requests.ConnectionError as exc:
        return Outcome.retry(f"connection failed: {type(exc).__name__}")
    except requests.RequestException as exc:      # broken chunked or compressed answers, ...
        return Outcome.retry(f"request failed: {type(exc).__name__}")
    text = response.text[:2000].strip()
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.delivered()
    detail = f"HTTP {status}" + (f" {snippet(text)}" if text else "")
    if status == 429 or status >= 500:
        return Outcome.retry(detail, retry_after(response.headers.get("Retry-After")))
    if 300 <= status < 400:
        reason = f"HTTP {status} redirect (redirects are not followed; fix the URL)"
        return Outcome.dead(reason) if status in (301, 308) else Outcome.retry(reason)
    if status in PERMANENT or any(marker in text for marker in permanent_bodies):
        return Outcome.dead(detail)
    return Outcome.retry(detail)


class HttpChannel(Channel):
    """What the Slack and webhook channels share: a keep-alive session and the POST policy."""

    def __init__(self, name: str, spec, env: ChannelEnv):
        super().__init__(name, spec, env)
        from wirewatch.alerts.transport import guarded_session  # requests loads only if used
        self.session = guarded_session(env.network, f"wirewatch (+{env.network.contact})")

    def post(self, body: bytes, headers: dict[str, str], timeout: float,
             permanent_bodies: tuple[str, ...] = ()) -> Outcome:
        return post(self.session, self.spec.url, body, headers, timeout, permanent_bodies)

    def close(self) -> None:
        self.session.close()
