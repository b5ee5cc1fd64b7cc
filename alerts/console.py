"""Print alerts to standard output: the demo's channel, and handy when trying a watch."""

from __future__ import annotations

import sys
import threading

from alerts.model import Outcome
from alerts.render import text_body

_PRINT = threading.Lock()


class ConsoleChannel:
    digest = None

    def __init__(self, name: str, stream=None):
        self.name = name
        self.stream = stream

    def describe(self) -> str:
        return f"{self.name}: console (standard output)"

    def send(self, payload: dict) -> Outcome:
        out = self.stream or sys.stdout
        with _PRINT:
            out.write("─" * 72 + "\n" + text_body(payload))
            out.flush()
        return Outcome.delivered()

    def close(self) -> None:
        pass
