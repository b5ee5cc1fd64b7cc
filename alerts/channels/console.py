"""Print alerts to standard output: the demo's channel, and handy when trying a watch."""

from __future__ import annotations

import sys
import threading
from typing import Literal

from wirewatch.alerts.channel import Channel
from wirewatch.alerts.model import Outcome
from wirewatch.alerts.render import text_body
from wirewatch.crawler.conf.base import ChannelSpec
from wirewatch.crawler.display import visible

_PRINT = threading.Lock()


class ConsoleSpec(ChannelSpec):
    type: Literal["console"]


class ConsoleChannel(Channel):
    Spec = ConsoleSpec
    stream = None                  # None: whatever sys.stdout is when an alert is printed
    send_timeout = 1.0

    def describe(self) -> str:
        return f"{self.name}: console (standard output)"

    def send(self, payload: dict) -> Outcome:
        out = self.stream or sys.stdout
        with _PRINT:
            out.write("─" * 72 + "\n" + visible(text_body(payload), keep_newlines=True))
            out.flush()
        return Outcome.delivered()
