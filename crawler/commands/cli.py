"""The `wirewatch` command line. Usage and config errors exit 2 with one clear line."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from wirewatch.crawler import __version__
from wirewatch.crawler.errors import ConfigError, LockedError, WirewatchError

log = logging.getLogger("wirewatch")
DEFAULT_CONFIG = "wirewatch.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wirewatch", description=(
        "Crawl defence-news sources, flag reports of North Korea-Russia military aid, and alert "
        "analysts by Slack, webhook or email."))
    p.add_argument("-c", "--config", help=f"config file (default: ./{DEFAULT_CONFIG}, or $WIREWATCH_CONFIG)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-format", default="text", choices=["text", "json"],
                   help="json gives one JSON object per log line, for log shippers")
    p.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="one-off crawl of all (or the named) sources, then deliver due alerts")
    crawl.add_argument("sources", nargs="*", metavar="SOURCE")
    crawl.add_argument("--timeout", type=float, help="wall-clock limit in seconds (default network.crawl_timeout)")
    crawl.add_argument("--no-alerts", action="store_true",
                       help="trial run: store and match, but queue and send no alert")
    sub.add_parser("worker", help="a crawl worker taking jobs from the queue in PostgreSQL (workers.remote)")
    daemon = sub.add_parser("run", help="the daemon: crawl each source on its schedule and deliver alerts")
    daemon.add_argument("--standby", action="store_true",
                        help="PostgreSQL: when another daemon holds the database, wait and take over when it goes")
    sub.add_parser("check", help="validate the config and print the plan")
    probe = sub.add_parser("probe", help="fetch each source once, live, and say if it is usable; stores nothing")
    probe.add_argument("sources", nargs="*", metavar="SOURCE")
    status = sub.add_parser("status", help="per-source health, schedule, the alert queue and mutes "
                                           "(exit 1 when a source is failing or an alert is dead)")
    status.add_argument("--format", choices=["table", "json"], default="table",
                        help="json: one object, for monitoring scripts")
    status.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")

    classify = sub.add_parser("classify", help="run the matcher over JSON Lines {id,title,text} on stdin")
    classify.add_argument("--watch", action="append",
                          help="a shipped watch name or a watch YAML path (default: the config's, else nk-russia-aid)")
    classify.add_argument("--explain", action="store_true", help="say why each article did or did not match")

    def since(value: str) -> float:
        from wirewatch.crawler.conf.durations import MAX_RETENTION, parse_duration
        try:
            return parse_duration(value, MAX_RETENTION)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def lasting(value: str) -> float:
        from wirewatch.crawler.conf.durations import parse_duration
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def article_ref(value: str) -> str:
        import re
        if re.match(r"\s*https?://", value, re.I):
            return value
        row(value)
        return value.strip()

    def row(value: str) -> int:
        from wirewatch.crawler.desk.ids import row_id
        try:
            return row_id(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def published_back(value: str) -> float:
        """A duration back from now (7d) or a date (2026-11-30, 2026-11-30T12:00): seconds back."""
        import datetime as dt
        import re
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?", value.strip()):
            try:
                when = dt.datetime.fromisoformat(value.strip()).replace(tzinfo=dt.timezone.utc)
            except ValueError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
            return max(1.0, (dt.datetime.now(dt.timezone.utc) - when).total_seconds())
        return since(value)

    def count(value: str) -> int:
        if not value.strip().isdigit() or len(value.strip()) > 9:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}")
        return int(value)

    def language_code(value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})?", value.strip()):
            raise argparse.ArgumentTypeError(f"expected a language code such as ko, ru, uk or en, got {value!r}")
        return value.strip().lower()

    def page_number(value: str) -> int:
        number = count(value)
        if number < 1:
            raise argparse.ArgumentTypeError("pages count from 1")
        return number

    def formats(command) -> None:
        command.add_argument("--format", choices=["table", "json", "csv"], default="table",
                             help="a table pages 50 rows; json and csv export every row in range")
        command.add_argument("--limit", type=count, help="at most this many rows (0: all; a table's default is 50)")
        command.add_argument("--page", type=page_number, help="which page of --limit rows (default 1)")

    def listing(name: str, text: str, default_since: str):
        command = sub.add_parser(name, help=text)
        command.add_argument("--since", type=published_back,
                             help=f"published this far back or since this date (default {default_since}), e.g. 24h, "
                                  "7d, 2026-11-30")
        command.add_argument("--until", type=published_back, help="published up to this far back, or this date")
        command.add_argument("--search", help='words and "phrases" in the title or text (all must be there)')
        command.add_argument("--source")
        command.add_argument("--language", type=language_code, help="only articles in this language, e.g. ko, ru, uk, en")
        formats(command)
        return command

    def fact_filters(command) -> None:
        command.add_argument("--watch")
        command.add_argument("--direction", help="e.g. 'North Korea>Russia'")
        command.add_argument("--country", help="either party, e.g. Russia")
        from wirewatch.crawler.desk.queries import CHOICES
        command.add_argument("--item", choices=CHOICES["items"], metavar="ITEM",
                             help=f"one of {', '.join(CHOICES['items'])}")
        command.add_argument("--status", choices=CHOICES["statuses"], metavar="STATUS",
                             help=f"one of {', '.join(CHOICES['statuses'])}")
        command.add_argument("--severity", choices=["low", "medium", "high"])
        fate = command.add_mutually_exclusive_group()
        fate.add_argument("--alerted", action="store_true", help="only matches that alerted")
        fate.add_argument("--held", action="store_true", help="only matches held back")
        command.add_argument("--unread", action="store_true", help="only matches not yet marked read")
        command.add_argument("--starred", action="store_true", help="only starred matches")

    matches = listing("matches", "stored matches, newest first, and whether (or why not) each alerted", "7d")
    fact_filters(matches)
    matches.add_argument("--story", type=row)
    stories = listing("stories", "stories with their outlets and what each report added", "30d")
    fact_filters(stories)
    articles = listing("articles", "every stored article, matched or not, and why not", "7d")
    kind = articles.add_mutually_exclusive_group()
    kind.add_argument("--matched", action="store_true", help="only articles some watch matched")
    kind.add_argument("--unmatched", action="store_true", help="only articles no watch matched")
    mark = sub.add_parser("mark", help="triage a match: read or unread, starred or not")
    mark.add_argument("article", type=row, metavar="ID", help="the article id (first column of `matches`)")
    mark.add_argument("--watch", help="only its match for this watch")
    read = mark.add_mutually_exclusive_group()
    read.add_argument("--read", dest="read", action="store_const", const=True)
    read.add_argument("--unread", dest="read", action="store_const", const=False)
    star = mark.add_mutually_exclusive_group()
    star.add_argument("--star", dest="starred", action="store_const", const=True)
    star.add_argument("--unstar", dest="starred", action="store_const", const=False)
    verdict = sub.add_parser("verdict", help="say whether a match was right: relevant, not-relevant, "
                                             "wrong-fact (--fact N), or missed (an unmatched article)")
    verdict.add_argument("article", type=row, metavar="ID")
    verdict.add_argument("label", choices=["relevant", "not-relevant", "wrong-fact", "missed",
                                           "not_relevant", "wrong_fact"], metavar="LABEL")
    verdict.add_argument("--watch", help="which watch (needed when the config has several)")
    verdict.add_argument("--fact", type=page_number, help="wrong-fact: which fact, 1 for the first `show` lists")
    verdict.add_argument("--note")
    verdict.add_argument("--by", default="analyst", help="who says so (default: analyst)")
    note = sub.add_parser("note", help="a note on a story (an empty text clears it)")
    note.add_argument("story", type=row, metavar="STORY")
    note.add_argument("text")
    note.add_argument("--by", default="analyst")
    feedback = sub.add_parser("feedback", help="the analysts' verdicts")
    fsub = feedback.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")
    export = fsub.add_parser("export", help="verdicts as JSON Lines in classify's input format, with the label")
    export.add_argument("--since", type=since, help="verdicts given this far back (default: all)")
    export.add_argument("--watch")
    export.add_argument("--output", "-o", help="write to this file (default: standard output)")
    evaluate = sub.add_parser("evaluate", help="run the watches over a labelled JSON Lines file: precision, "
                                               "recall and each disagreement")
    evaluate.add_argument("file")
    evaluate.add_argument("--watch", action="append", help="a watch name or YAML path (default: the config's)")
    show = sub.add_parser("show", help="one article: text with the evidence marked, facts, story, deliveries")
    show.add_argument("ref", metavar="ID|URL", type=article_ref)
    show.add_argument("--format", choices=["text", "json"], default="text")
    rescan = sub.add_parser("rescan", help="run the current watches again over stored articles (matching only)")
    rescan.add_argument("--since", type=since, help="articles fetched this far back (default 30d)")
    rescan.add_argument("--watch", help="only this watch")
    regroup = rescan.add_mutually_exclusive_group()
    regroup.add_argument("--alert", action="store_true",
                         help="queue alerts for matches gained (alerts.max_age and story novelty still hold)")
    regroup.add_argument("--restory", action="store_true",
                         help="then regroup the matches into stories under the current rules, in publication "
                              "order, and print how stories changed (sends nothing)")
    mute = sub.add_parser("mute", help="silence a story, a source or a watch for a while")
    target = mute.add_mutually_exclusive_group(required=True)
    target.add_argument("--story", type=row)
    target.add_argument("--source")
    target.add_argument("--watch")
    mute.add_argument("--for", dest="duration", type=lasting, required=True, help="how long, e.g. 2d, 12h (at most 365d)")
    mute.add_argument("--reason")
    unmute = sub.add_parser("unmute", help="end a silence now")
    unmute.add_argument("mute_id", type=row, metavar="ID")
    mutes = sub.add_parser("mutes", help="the silences in force")
    mutes.add_argument("--format", choices=["table", "json", "csv"], default="table")
    prune = sub.add_parser("prune", help="apply retention: old article text, run records, delivered alerts")
    prune.add_argument("--dry-run", action="store_true", help="say what would go, change nothing")
    db = sub.add_parser("db", help="the database schema")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dsub.add_parser("upgrade", help="apply the schema migrations this release needs (back up first)")
    dsub.add_parser("current", help="the database's schema revision and this release's")
    web = sub.add_parser("web", help="the web view: stories, matches, articles, triage, sources, alerts, feed, metrics")
    web.add_argument("--listen", metavar="HOST:PORT", help="default: the config's web.listen, else 127.0.0.1:8080")

    demo = sub.add_parser("demo", help="the whole flow on a bundled local site, no internet needed")
    demo.add_argument("--db", help="keep the demo database in this SQLite file (default: a temporary one)")

    alerts = sub.add_parser("alerts", help="operate the alert outbox")
    asub = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    asub.add_parser("test", help="send a test alert through every channel and report each result")
    lst = asub.add_parser("list", help="list alerts in the outbox, newest first")
    lst.add_argument("--status", choices=["pending", "dead", "delivered"])
    formats(lst)
    retry = asub.add_parser("retry", help="queue alerts again: one by id, or every dead one")
    group = retry.add_mutually_exclusive_group(required=True)
    group.add_argument("alert_id", nargs="?", metavar="ID")
    group.add_argument("--dead", action="store_true")
    return p


def _config_path(args) -> Path:
    path = args.config or os.environ.get("WIREWATCH_CONFIG") or DEFAULT_CONFIG
    if not Path(path).exists():
        raise ConfigError(f"config file {path} not found (pass -c CONFIG; see config/example.yaml)")
    return Path(path)


def load(args):
    """The config file; with none at all but WIREWATCH_STORAGE set, the defaults on that database
    (enough for the desk commands, `status` and `web`)."""
    from wirewatch.crawler.conf.load import load_config, parse_config
    if not (args.config or os.environ.get("WIREWATCH_CONFIG") or Path(DEFAULT_CONFIG).exists()) \
            and os.environ.get("WIREWATCH_STORAGE"):
        return parse_config("", origin="(WIREWATCH_STORAGE, no config file)")
    return load_config(_config_path(args))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from wirewatch.crawler.logs import setup_logging
    from wirewatch.crawler.secrets import RedactingStream
    setup_logging(args.log_level, args.log_format)
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)        # nothing a command prints shows a secret
    try:
        return _dispatch(args)
    except (ConfigError, LockedError) as exc:
        print(f"wirewatch: error: {_redacted(exc)}", file=sys.stderr)
        return 2
    except WirewatchError as exc:
        print(f"wirewatch: error: {_redacted(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:                  # `wirewatch ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _redacted(exc: Exception) -> str:
    from wirewatch.crawler.secrets import redact
    return redact(str(exc))


def _wants_config(args) -> bool:
    """classify needs no config, but uses the watches of one that is given or present."""
    return bool(args.config or os.environ.get("WIREWATCH_CONFIG") or Path(DEFAULT_CONFIG).exists())


def _dispatch(args) -> int:
    command = args.command
    if command == "classify":
        from wirewatch.crawler.commands.classify import classify
        from wirewatch.crawler.conf.load import watch_refs
        return classify(args, (lambda a: watch_refs(_config_path(a))) if _wants_config(args) else None)
    if command == "evaluate":
        from wirewatch.crawler.commands.feedback import evaluate_command
        return evaluate_command(load(args) if _wants_config(args) else None, args)
    if command == "demo":
        from wirewatch.crawler.demo.run import run_demo
        return run_demo(args.db, args.log_level)
    config = load(args)
    if command == "db":
        return db_command(config, args.db_command)
    if command == "prune":
        return prune_command(config, args.dry_run)
    if command in ("crawl", "run", "worker") and config.auto_upgrade:
        _auto_upgrade(config)
    if command in ("crawl", "run", "worker") and config.network.contact_warning:
        log.warning("%s", config.network.contact_warning)
    if command == "check":
        from wirewatch.crawler.commands.operator import print_plan
        return print_plan(config)
    if command == "crawl":
        return crawl(config, args)
    if command == "probe":
        from wirewatch.crawler.commands.probe import probe_command
        return probe_command(config, args.sources)
    if command == "worker":
        if not config.storage.startswith("postgresql"):
            raise ConfigError("wirewatch worker needs PostgreSQL storage shared with the daemon (the job queue "
                              f"lives in it); storage is {config.storage.split(':', 1)[0]}")
        if not config.workers.remote:
            log.warning("workers.remote is not true in this config: a daemon with this config crawls itself and "
                        "queues no jobs for workers")
        from wirewatch.crawler.service.remote import RemoteWorker
        return RemoteWorker(_config_path(args), config, args.log_level, args.log_format).run()
    if command == "run":
        from wirewatch.crawler.service.daemon import Daemon
        return Daemon(_config_path(args), config, args.log_level, args.log_format, args.standby).run()
    if command == "status":
        from wirewatch.crawler.commands.operator import print_status
        return print_status(config, as_json=args.format == "json")
    if command in ("mute", "unmute", "mutes"):
        from wirewatch.crawler.commands import silences
        return getattr(silences, f"{command}_command")(config, args)
    if command in ("mark", "verdict", "note", "feedback"):
        from wirewatch.crawler.commands import feedback
        name = "export" if command == "feedback" else command
        return getattr(feedback, f"{name}_command")(config, args)
    if command in ("matches", "stories", "articles", "show", "rescan"):
        from wirewatch.crawler.commands import desk
        return getattr(desk, f"{command}_command")(config, args)
    if command == "web":
        from wirewatch.crawler.web.server import web_command
        return web_command(config, args.listen)
    from wirewatch.crawler.commands.operator import alerts_command
    return alerts_command(config, args)


def db_command(config, action: str) -> int:
    from wirewatch.crawler.store.database import schema_revisions, upgrade_database
    if action == "current":
        current, head = schema_revisions(config.storage, config.base_dir)
        print(f"database: {current or 'empty'}; this release: {head}")
        return 0
    before, after = upgrade_database(config.storage, config.base_dir)
    print(f"schema {before or 'empty'} -> {after}" if before != after else f"schema already at {after}")
    return 0


def prune_command(config, dry_run: bool) -> int:
    import sqlite3

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from wirewatch.crawler.store.database import open_database
    from wirewatch.crawler.store.retention import prune
    sessions = open_database(config.storage, config.base_dir)
    try:
        report = prune(sessions, config.retention, dry_run)     # one transaction: all of it or none
    except OperationalError as exc:
        from wirewatch.crawler.errors import StorageError
        raise StorageError(f"prune did not run, nothing was removed: {str(exc.orig).splitlines()[0]}") from None
    print(report.line(dry_run))
    engine = sessions.kw["bind"]
    if not dry_run and make_url(config.storage).get_backend_name() == "sqlite":
        raw = engine.raw_connection()                # outside any transaction: give the space back
        try:
            raw.cursor().execute("VACUUM")
        except sqlite3.Error as exc:                  # the prune itself is committed: nothing is lost
            print(f"wirewatch: VACUUM skipped ({exc}); the freed space is reused, run prune again later",
                  file=sys.stderr)
        finally:
            raw.close()
    return 0


def _auto_upgrade(config) -> None:
    from sqlalchemy.engine import make_url

    from wirewatch.crawler.store.database import upgrade_database
    if make_url(config.storage).get_backend_name() != "sqlite":
        raise ConfigError("auto_upgrade works on SQLite only; run `wirewatch db upgrade` for this database")
    before, after = upgrade_database(config.storage, config.base_dir)
    if before != after:
        log.info("database schema upgraded: %s -> %s (auto_upgrade)", before or "empty", after)


def crawl(config, args) -> int:
    from wirewatch.crawler.commands.operator import deliver_due
    from wirewatch.crawler.service.runner import run_crawl
    from wirewatch.crawler.store.database import open_database

    sessions = open_database(config.storage, config.base_dir)
    names = args.sources or None
    log.info("crawling %d source(s)", len(names or config.sources))
    report = run_crawl(config, sessions, names, timeout=args.timeout, log_level=args.log_level,
                       log_format=args.log_format, trial=args.no_alerts)
    for source in report.sources:
        print(source.line())
    if args.no_alerts:
        print("trial run (--no-alerts): matches stored, no alert queued or sent")
    else:
        deliver_due(config, sessions)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
