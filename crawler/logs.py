"""Logging for people (text) and for log shippers (--log-format json); secrets always redacted."""

from __future__ import annotations

import json
import logging
import sys

from wirewatch.crawler.display import visible
from wirewatch.crawler.secrets import RedactingFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
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
        not record.name.startswith(("scrapy", "twisted", "py.warnings", "apprise"))


class TextFormatter(logging.Formatter):
    """People read these on a terminal: control characters in messages are made visible."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return visible(super().formatMessage(record))


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (it may be replaced after logging is set up)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = StderrHandler()
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
    for noisy in ("scrapy", "twisted", "trafilatura", "htmldate", "courlan", "apscheduler", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
