"""Shared fixtures: every network peer is a real local server on 127.0.0.1."""

from __future__ import annotations

import glob
import gzip
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

import pytest
import yaml

from tests.servers import free_port
from wirewatch.crawler import secrets
from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.store.database import open_database

REPO = Path(__file__).resolve().parents[1]


def corpus_root() -> Path:
    """The news pages the tests serve: a trimmed copy of Scrapinghub's article-extraction-benchmark
    (MIT, see tests/resources/corpus/README.md) shipped in the repository, so a fresh clone needs
    nothing beside it."""
    return REPO / "tests" / "resources" / "corpus"


class Corpus:
    def __init__(self, root: Path):
        self.root = root
        self.truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
        self.ids = sorted(self.truth)

    def html(self, page_id: str) -> bytes:
        return gzip.decompress((self.root / "html" / f"{page_id}.html.gz").read_bytes())


@pytest.fixture(autouse=True)
def _no_secrets_from_other_tests():
    """Secrets a config registers stay for the process; each test starts without them."""
    yield
    secrets.forget_all()


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return Corpus(corpus_root())


@pytest.fixture(scope="session")
def site():
    with LocalSite() as running:
        running.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        yield running


def rss(base: str, links: list[str], titles: list[str] | None = None) -> bytes:
    items = "".join(f"<item><title>{escape((titles or links)[i])}</title><link>{escape(base + link)}</link>"
                    f"<pubDate>Mon, 23 Nov 2026 10:00:00 +0000</pubDate></item>" for i, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>{base}/</link><description>d</description>{items}</channel></rss>").encode()


def write_config(tmp_path: Path, sources: list[dict], **sections) -> Path:
    data = {"storage": f"sqlite:///{tmp_path / 'wirewatch.db'}",
            "network": {"allow_private": True, "autothrottle": False, "timeout": "3s",
                        "contact": "https://wirewatch.example/tests",
                        "crawl_timeout": "90s", "retries": 0},
            "sources": sources, "channels": []}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = tmp_path / "wirewatch.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def crawl_config(path: Path, names: list[str] | None = None):
    """Run a real crawl (child process, real Scrapy) and return (report, sessions)."""
    from wirewatch.crawler.service.runner import run_crawl
    config = load_config(path)
    sessions = open_database(config.storage, config.base_dir)
    return run_crawl(config, sessions, names, log_level="WARNING"), sessions


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer:
    """A throwaway PostgreSQL server from Debian's binaries (initdb refuses root: run as postgres),
    that a test may stop, start and restart under a running wirewatch."""

    def __init__(self):
        initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (initdb and self.pg_ctl):
            pytest.skip("PostgreSQL server binaries are not installed (.ci/run installs them)")
        self.base = Path(tempfile.mkdtemp(prefix="wirewatch-pg-"))       # reachable by the postgres user
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.base / "data", free_port()
        subprocess.run(self.prefix + [initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"], check=True,
                       capture_output=True)
        self.options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(self.prefix + [self.pg_ctl, "-D", str(self.data), *args], check=True, capture_output=True,
                       timeout=120)

    def start(self) -> None:
        self._ctl("-o", self.options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-o", self.options, "-l", str(self.base / "log"), "-w", "restart")

    def close(self) -> None:
        subprocess.run(self.prefix + [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    server = PostgresServer()
    yield server.url
    server.close()
