"""Peak resident memory of a process and all its descendants, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _status(int(entry)).get("PPid", "0").strip()
            children.setdefault(int(ppid), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    value = _status(pid).get(field, "0 kB").split()[0]
    return int(value) / 1024


class PeakSampler:
    """Samples every `interval` s: the peak RSS of each descendant (by its command name)."""

    def __init__(self, root: int | None = None, interval: float = 0.1):
        self.root = root or os.getpid()
        self.interval = interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in descendants(self.root):
                name = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[-60:].decode(
                    errors="replace") if Path(f"/proc/{pid}/cmdline").exists() else str(pid)
                kind = "crawl child or worker" if "multiprocessing" in name else name
                self.peaks[kind] = max(self.peaks.get(kind, 0.0), rss_mb(pid, "VmHWM"))

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
