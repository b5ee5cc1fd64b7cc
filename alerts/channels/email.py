"""Email over SMTP: STARTTLS, implicit TLS or plain; certificates verified (optionally against a
private CA file); multipart text + HTML; header-safe subjects; one email per alert or a digest."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

from pydantic import Field

from wirewatch.alerts.channel import Channel, ChannelEnv
from wirewatch.alerts.model import Outcome
from wirewatch.alerts.render import follow_up, headline, html_body, one_line, text_body
from wirewatch.crawler.conf.base import ChannelSpec, Secret, durations

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class EmailSpec(ChannelSpec):
    type: Literal["email"]
    host: str
    port: int | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None              # shown as *** by describe(); not masked in every text
    password: Secret | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    ca_file: str | None = None
    timeout: float = 30.0
    digest: float | None = None        # seconds; None sends one email per alert
    _durations = durations("timeout", "digest")


class EmailChannel(Channel):
    Spec = EmailSpec
    spec: EmailSpec

    def __init__(self, name: str, spec: EmailSpec, env: ChannelEnv):
        super().__init__(name, spec, env)
        self.digest = spec.digest
        self.send_timeout = spec.timeout * 3          # connect, TLS and login, then the message
        self.port = spec.port or _DEFAULT_PORTS[spec.security]
        self.ca_file = str(Path(env.base_dir) / spec.ca_file) if spec.ca_file else None

    def describe(self) -> str:
        login = ", login *** / ***" if self.spec.username else ""
        digest = f", digest every {self.digest:g}s" if self.digest else ""
        return (f"{self.name}: email via {self.spec.host}:{self.port} ({self.spec.security}{login}) "
                f"from {self.spec.sender} to {', '.join(self.spec.to)}{digest}")

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def message_id(self, alert_id: str) -> str:
        """The same for every retry of an alert, so a follow-up can name it and a client can dedupe."""
        return f"<{alert_id}@{self.spec.sender.rsplit('@', 1)[-1]}>"

    def message(self, subject: str, text: str, html: str, alert_id: str | None,
                thread: str | None = None) -> Message:
        # A headline in Korean or Russian is written as RFC 2047 words that keep their spaces: the
        # newer email API folds such a subject between two encoded words and readers drop the
        # space there ('заявили, что' arrived as 'заявили,что'), so the classic Header is used.
        msg = MIMEMultipart("alternative")
        subject = one_line(subject, 180)
        msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
        msg["From"] = self.spec.sender
        msg["To"] = ", ".join(self.spec.to)
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = self.message_id(alert_id) if alert_id else \
            make_msgid(domain=self.spec.sender.rsplit("@", 1)[-1])
        if alert_id:
            msg["X-Wirewatch-Alert-Id"] = alert_id
        if thread:                                 # a story's follow-up threads under its first alert
            msg["In-Reply-To"] = msg["References"] = self.message_id(thread)
        msg.attach(MIMEText(text, "plain", "utf-8"))
        msg.attach(MIMEText(html, "html", "utf-8"))
        return msg

    def send(self, payload: dict) -> Outcome:
        prefix = "[wirewatch] " if payload.get("type") == "wirewatch.alert" else ""
        first = follow_up(payload)
        thread = (payload.get("story") or {}).get("first_alert_id") if first else None
        # mail clients thread on the references and the subject: a follow-up answers the first alert
        subject = f"Re: {prefix}{first}" if first else prefix + headline(payload)
        return self._deliver(self.message(subject, text_body(payload), html_body(payload), payload.get("id"),
                                          thread))

    def send_digest(self, payloads: list[dict]) -> Outcome:
        if len(payloads) == 1:
            return self.send(payloads[0])
        text = "\n\n".join(text_body(p) for p in payloads)
        html = "<hr>".join(html_body(p) for p in payloads)
        subject = f"[wirewatch] {len(payloads)} alerts: {headline(payloads[0])}"
        return self._deliver(self.message(subject, text, html, None))

    def _deliver(self, msg: Message) -> Outcome:
        try:
            with self._connect() as smtp:
                if self.spec.username:
                    smtp.login(self.spec.username, self.spec.password or "")
                refused = smtp.send_message(msg)
        except ssl.SSLCertVerificationError as exc:
            return Outcome.dead(f"TLS certificate of {self.spec.host} not trusted ({exc.verify_message}); "
                                "set ca_file for a private CA")
        except smtplib.SMTPAuthenticationError as exc:
            return Outcome.dead(f"SMTP login refused: {exc.smtp_code}")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            reason = f"all recipients refused ({', '.join(map(str, sorted(codes)))})"
            return Outcome.dead(reason) if all(c >= 500 for c in codes) else Outcome.retry(reason)
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.smtp_code} {exc.smtp_error.decode(errors='replace')[:120]}"
            return Outcome.dead(reason) if exc.smtp_code >= 500 else Outcome.retry(reason)
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            return Outcome.retry(f"SMTP {self.spec.host}:{self.port} unreachable: {type(exc).__name__}: {exc}")
        if refused:       # the others have it; sending again would duplicate it for them
            return Outcome("delivered", f"refused by the server for: {', '.join(refused)}")
        return Outcome.delivered()

    def _connect(self) -> smtplib.SMTP:
        timeout = self.spec.timeout
        if self.spec.security == "tls":
            return smtplib.SMTP_SSL(self.spec.host, self.port, timeout=timeout, context=self._context())
        smtp = smtplib.SMTP(self.spec.host, self.port, timeout=timeout)
        try:
            if self.spec.security == "starttls":
                smtp.starttls(context=self._context())
        except BaseException:
            smtp.close()
            raise
        return smtp
