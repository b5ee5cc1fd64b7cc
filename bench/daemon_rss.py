"""Daemon memory across 200 scheduled crawls of a local site.

    python bench/daemon_rss.py [CRAWLS]

Runs `wirewatch run` (two sources every second, a console channel, a new article every few
seconds) and samples the daemon process's RSS. Goal: flat, within 20 MB after warm-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._rss import descendants, rss_mb  # noqa: E402
from wirewatch.crawler.demo.localsite import LocalSite  # noqa: E402
from wirewatch.crawler.demo.site import build_site, load_articles  # noqa: E402
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Run  # noqa: E402

WARM_UP = 20


def main(target: int = 200) -> None:
    articles = load_articles()
    with LocalSite() as site, tempfile.TemporaryDirectory() as tmp:
        site.pages.update(build_site(articles[:2], site.base))
        config = Path(tmp) / "wirewatch.yaml"
        config.write_text(f"""
storage: sqlite:///{tmp}/daemon.db
network: {{allow_private: true, autothrottle: false}}
sources:
  - {{name: feed, type: feed, url: "{site.base}/feed.xml", every: 1s}}
  - {{name: sitemap, type: sitemap, url: "{site.base}/sitemap.xml", every: 1s}}
channels: [{{type: console}}]
daemon: {{dispatch_every: 1s, quiet_after: null}}
""")
        daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "--log-level",
                                   "WARNING", "run"], cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        sessions = open_database(f"sqlite:///{tmp}/daemon.db")
        samples: list[tuple[int, float]] = []
        child_peak, published, started = 0.0, 2, time.monotonic()
        try:
            while True:
                time.sleep(0.5)
                with sessions() as session:
                    crawls = session.query(Run).filter(Run.finished_at.is_not(None)).count()
                samples.append((crawls, rss_mb(daemon.pid)))
                child_peak = max([child_peak] + [rss_mb(p) for p in descendants(daemon.pid)])
                if crawls // 10 + 2 > published and published < len(articles):
                    published += 1                                 # something new now and then
                    site.pages.update(build_site(articles[:published], site.base))
                if crawls >= target or daemon.poll() is not None or time.monotonic() - started > 900:
                    break
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(60)
    after = [rss for crawls, rss in samples if crawls >= WARM_UP]
    first = after[0] if after else float("nan")
    print(f"crawls: {samples[-1][0]} in {time.monotonic() - started:.0f} s")
    print(f"daemon RSS: start {samples[0][1]:.1f} MB, after {WARM_UP} crawls {first:.1f} MB, "
          f"max after warm-up {max(after):.1f} MB, end {after[-1]:.1f} MB")
    print(f"growth after warm-up: {max(after) - first:.1f} MB (goal: within 20 MB)")
    print(f"largest child seen (crawl worker, analysis process): {child_peak:.1f} MB "
          f"(a crawl worker is replaced after workers.recycle_after jobs or past workers.max_rss)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
