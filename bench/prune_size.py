"""What retention gives back: a SQLite database with 100,000 synthetic articles (90% older than
`retention.article_text`, each with a match and an old run record), before and after
`wirewatch prune`.

    python bench/prune_size.py [ARTICLES]"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wirewatch.crawler.store.database import open_database  # noqa: E402
from wirewatch.crawler.store.schema import Article, MatchRow, Run, RunSource  # noqa: E402

WORDS = ("ministry officials said troops artillery shipment border rail depot analysts report region "
         "according statement week launched defence agency month satellite images showed convoy").split()


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20


def main(count: int = 100_000) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "prune.db"
        sessions = open_database(f"sqlite:///{db}")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        started = time.monotonic()
        engine = sessions.kw["bind"]
        with engine.begin() as connection:
            for start in range(0, count, 5000):
                rows = []
                for i in range(start, min(count, start + 5000)):
                    old = i % 10 != 0
                    text = " ".join(rng.choice(WORDS) for _ in range(350)) + "."
                    rows.append({"canonical_url": f"https://outlet{i % 50}.example/a/{i}", "url": f"https://outlet{i % 50}.example/a/{i}",
                                 "source": f"outlet{i % 50}", "title": f"Report {i}", "text": text,
                                 "content_hash": f"{i:064x}",
                                 "fetched_at": now - dt.timedelta(days=400 if old else 5)})
                connection.execute(Article.__table__.insert(), rows)
            ids = [r[0] for r in connection.exec_driver_sql("SELECT id FROM articles")]
            connection.execute(MatchRow.__table__.insert(), [
                {"article_id": i, "watch": "nk-russia-aid", "score": 0.9, "severity": "high", "rule": "r",
                 "evidence": [], "alerted": False, "created_at": now} for i in ids[::20]])
            for day in range(60):
                run = connection.execute(Run.__table__.insert().values(trigger="schedule", status="ok",
                                                                      started_at=now - dt.timedelta(days=day)))
                connection.execute(RunSource.__table__.insert(), [
                    {"run_id": run.inserted_primary_key[0], "source": f"outlet{s}", "status": "ok", "errors": [],
                     "fetched": 0, "new": 0, "known": 0, "skipped": 0, "failed": 0, "matches": 0} for s in range(50)])
        engine.dispose()
        before = size_mb(db)
        config = Path(tmp) / "w.yaml"
        config.write_text(f"storage: sqlite:///{db}\n")
        print(f"{count:,} articles (90% older than 180 days), 5,000 matches, 3,000 run records: "
              f"{before:.1f} MB (built in {time.monotonic() - started:.0f}s)")
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "prune"],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        print(out.stdout.strip() or out.stderr.strip())
        print(f"after prune (+VACUUM): {size_mb(db):.1f} MB ({100 * (1 - size_mb(db) / before):.0f}% smaller), "
              f"in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
