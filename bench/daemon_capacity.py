"""How many sources the daemon keeps up with: the real `wirewatch run` against a local server.

    python bench/daemon_capacity.py [SOURCES] [INTERVAL] [MINUTES]     (defaults: 1000 60 5)

Serves SOURCES feeds (each with one article; 304 Not Modified after the first fetch), runs the
daemon with every source due every INTERVAL seconds, waits until each source has been checked
once (the first fetch of feed and article is set-up, not measured), then watches for MINUTES and
prints, from the server's own request log:

- the gaps between two checks of a source: p50, p95, max (goal at 1,000 x 60 s: p95 <= 65 s);
- the share of due checks that happened (goal: >= 99%);
- the CPU used by the daemon and all its children, in % of one core (goal: <= 100%);
- the RSS of the daemon and its children at the start and at the end of the window."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._rss import descendants, rss_mb  # noqa: E402
from wirewatch.crawler.demo.localsite import LocalSite, Page  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ARTICLE = ("<html><head><title>Depot report {i}</title></head><body><article><h1>Depot report {i}</h1>"
           "<p>The regional logistics office published its weekly depot inventory on Monday, listing "
           "fuel, spare parts and road salt stocks for the winter season across the district.</p>"
           "<p>Officials said deliveries of road salt would continue through December as planned.</p>"
           "</article></body></html>")
FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>Outlet {i}</title><link>{base}/</link>"
        "<item><title>Depot report {i}</title><link>{base}/a/{i}.html</link>"
        "<pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>")


def cpu_seconds(pids: list[int]) -> float:
    """User + system time of these processes and of their waited-for children."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])        # utime stime cutime cstime
    return total / TICKS


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def serve(sources: int) -> tuple[LocalSite, dict[int, list[float]]]:
    checks: dict[int, list[float]] = defaultdict(list)
    lock = threading.Lock()
    site = LocalSite().start()

    def feed(i: int):
        page = Page(FEED.format(i=i, base=site.base).encode(), content_type="application/rss+xml")

        def answer(handler) -> Page:
            with lock:
                checks[i].append(time.monotonic())
            return page
        return answer

    for i in range(sources):
        site.pages[f"/feed/{i}.xml"] = feed(i)
        site.pages[f"/a/{i}.html"] = Page(ARTICLE.format(i=i).encode())
    return site, checks


def main(sources: int = 1000, interval: float = 60, minutes: float = 5) -> None:
    site, checks = serve(sources)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "wirewatch.yaml"
        lines = [f"storage: sqlite:///{tmp}/capacity.db",
                 "network: {allow_private: true}",
                 "daemon: {dispatch_every: 5s, quiet_after: null}",
                 "sources:"]
        lines += [f'  - {{name: s{i}, type: feed, url: "{site.base}/feed/{i}.xml", every: {interval:g}s}}'
                  for i in range(sources)]
        config.write_text("\n".join(lines) + "\n")
        log = open(Path(tmp) / "daemon.log", "wb")
        daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config),
                                   "--log-level", "WARNING", "run"], cwd=tmp, stdout=subprocess.DEVNULL,
                                  stderr=log, start_new_session=True)
        try:
            set_up = time.monotonic()
            while len(checks) < sources and time.monotonic() - set_up < max(600, 3 * interval):
                if daemon.poll() is not None:
                    sys.exit(f"daemon exited with {daemon.returncode}: "
                             f"{(Path(tmp) / 'daemon.log').read_text()[-2000:]}")
                time.sleep(0.5)
            print(f"{sources} sources every {interval:g}s: all checked once after "
                  f"{time.monotonic() - set_up:.0f}s ({len(checks)} of {sources}); measuring {minutes:g} min")
            tree = [daemon.pid] + descendants(daemon.pid)
            start, cpu_start = time.monotonic(), cpu_seconds(tree)
            rss_start = sum(rss_mb(p) for p in tree)
            daemon_start = rss_mb(daemon.pid)
            time.sleep(minutes * 60)
            end = time.monotonic()
            tree = [daemon.pid] + descendants(daemon.pid)
            cpu = cpu_seconds(tree) - cpu_start
            rss_end, daemon_end = sum(rss_mb(p) for p in tree), rss_mb(daemon.pid)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
            site.stop()
            log.close()
        report(checks, sources, interval, start, end, cpu, (rss_start, rss_end), (daemon_start, daemon_end),
               Path(tmp) / "daemon.log")


def report(checks, sources, interval, start, end, cpu, tree_rss, daemon_rss, log: Path) -> None:
    gaps, done, due = [], 0, 0
    window = end - start
    for i in range(sources):
        times = [t for t in checks.get(i, []) if start - interval * 2 <= t <= end]
        inside = [t for t in times if t >= start]
        gaps += [b - a for a, b in zip(times, times[1:]) if b >= start]
        expected = int(window // interval)
        due += expected
        done += min(len(inside), expected)
    print(f"gaps between checks of a source: p50 {percentile(gaps, 0.5):.1f}s  "
          f"p95 {percentile(gaps, 0.95):.1f}s  max {max(gaps, default=float('nan')):.1f}s  "
          f"(schedule {interval:g}s, {len(gaps)} gaps)")
    print(f"due checks done: {done} of {due} = {100 * done / max(1, due):.1f}%")
    print(f"CPU of the daemon and its children: {100 * cpu / window:.0f}% of one core over {window:.0f}s")
    print(f"RSS daemon + children: {tree_rss[0]:.0f} MB -> {tree_rss[1]:.0f} MB; "
          f"daemon alone {daemon_rss[0]:.0f} MB -> {daemon_rss[1]:.0f} MB")
    skipped = log.read_text(errors="replace").count("previous crawl still running")
    if skipped:
        print(f"runs skipped with 'previous crawl still running': {skipped}")


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:4]]
    main(int(args[0]) if args else 1000, *(args[1:]))
