"""Logging for people (text) and for log shippers (--log-format json); secrets always redacted."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

from wirewatch.crawler.display import visible
from wirewatch.crawler.secrets import RedactingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "ts": round(record.created, 3),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ("source", "run_id", "counts"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:                 # the redacting filter has already formatted it
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _quiet_frameworks(record: logging.LogRecord) -> bool:
    """Scrapy resets its loggers' levels when a crawl starts, apprise logs each failed send: only
    their errors reach our log."""
    return record.levelno >= logging.ERROR or \
        not record.name.startswith(("scrapy", "twisted", "py.warnings", "apprise", "procrastinate", "psycopg"))


class CalmOutages(logging.Filter):
    """A record whose exception says the database is unreachable (a crawl under way when it went,
    a framework reporting its callback's failure) becomes one line without a traceback, and only
    the first such line a minute goes through: an outage is told, not repeated per page."""

    EVERY = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._said = -self.EVERY

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        from wirewatch.crawler.store.outage import _first_line, is_outage
        if not is_outage(exc):
            return True
        now = time.monotonic()
        if now - self._said < self.EVERY:
            return False
        self._said = now
        record.msg, record.args = f"{record.getMessage()}: database unreachable ({_first_line(exc)})", None
        record.exc_info, record.exc_text = None, None
        return True


class TextFormatter(logging.Formatter):
    """People read these on a terminal: control characters in messages are made visible."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (it may be replaced after logging is set up), or to
    what a StderrToLog wrapper stands in front of."""

    @property
    def stream(self):
        return getattr(sys.stderr, "underlying", sys.stderr)

    @stream.setter
    def stream(self, value) -> None:
        pass


class StderrToLog:
    """In --log-format json, what anything writes to standard error (a library's print, a
    warning printed raw) becomes a log record, so every line a log shipper reads is JSON."""

    def __init__(self, underlying):
        self.underlying = underlying
        self._pending = ""
        self._log = logging.getLogger("wirewatch.stderr")

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            if line.strip():
                self._log.warning("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self._log.warning("%s", self._pending)
        self._pending = ""

    def fileno(self) -> int:
        return self.underlying.fileno()

    def isatty(self) -> bool:
        return False


def _log_uncaught(kind, value, traceback) -> None:
    logging.getLogger("wirewatch").critical("uncaught %s: %s", kind.__name__, value,
                                            exc_info=(kind, value, traceback))


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    os.environ["WIREWATCH_LOG"] = f"{level}:{fmt}"      # for processes started from this one
    logging.captureWarnings(True)                        # warnings are records (shown when they matter)
    if fmt == "json":
        if not isinstance(sys.stderr, StderrToLog):
            sys.stderr = StderrToLog(sys.stderr)
        sys.excepthook = _log_uncaught
        threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
    handler = StderrHandler()
    handler.addFilter(CalmOutages())
    handler.addFilter(_quiet_frameworks)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("wirewatch").setLevel(level)
    for noisy in ("scrapy", "twisted", "trafilatura", "htmldate", "courlan", "urllib3", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)    # the daemon reports its jobs' errors itself


def setup_from_environment() -> None:
    """In a process started by one that set up logging (the analysis processes): the same."""
    level, _, fmt = os.environ.get("WIREWATCH_LOG", "WARNING:text").partition(":")
    setup_logging(level or "WARNING", fmt or "text")
