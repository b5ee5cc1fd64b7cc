"""The read-only web view: stories, a story, an article with its evidence marked, sources,
alerts, matches; an Atom feed of alerts, the matches as JSON, Prometheus metrics, a health check.

Safety: every page is rendered by Jinja2 with autoescaping (titles, text, URLs and source names all
came from the web); only http(s) URLs become links; every answer carries a strict
Content-Security-Policy (no script at all: the pages work without JavaScript); there is no route
that writes. With a token configured, every request but /healthz needs it — as
`Authorization: Bearer TOKEN`, or once as `?token=TOKEN`, which sets a cookie and redirects."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.model import amount_words, fact_line, payload_facts
from wirewatch.crawler.conf.durations import MAX_RETENTION, parse_duration
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Web
from wirewatch.crawler.desk import queries
from wirewatch.crawler.desk.ids import MAX_ID, row_id
from wirewatch.crawler.display import visible
from wirewatch.crawler.store.schema import Article, Outbox, Story

HERE = Path(__file__).resolve().parent
COOKIE = "wirewatch_token"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def http_link(url: str | None) -> str | None:
    """The URL if it may become a link (http or https), else None (shown as text)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def create_app(config: Config, sessions: sessionmaker[Session], web: Web | None = None) -> Flask:
    web = web or config.web or Web()
    token = web.token
    session_id = hmac.new(token.encode(), b"wirewatch web session", hashlib.sha256).hexdigest() if token else None
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
                root_path=str(HERE), instance_path=str(HERE / "instance"))     # no instance folder is used
    app.jinja_env.filters["link"] = http_link
    app.jinja_env.filters["fact"] = fact_line
    app.jinja_env.filters["amount"] = amount_words
    app.jinja_env.globals["facts_of"] = payload_facts
    app.jinja_env.filters["when"] = lambda value: _when(value)
    app.jinja_env.finalize = _shown              # control and bidi characters from the web, made visible

    @app.before_request
    def _authorise():
        if not web.host_allowed(request.host):   # DNS rebinding: a foreign name pointing at us
            return _plain(421, "421 Misdirected Request: this view answers to its own address, localhost "
                               "and web.allowed_hosts only")
        if request.method not in ("GET", "HEAD"):
            abort(405)
        if token is None or request.path == "/healthz":
            return None
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            rest = {k: v for k, v in request.args.items(multi=True) if k != "token"}
            response = redirect(same_origin_path(request.path) + (f"?{urlencode(rest)}" if rest else ""), code=303)
            response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict",
                                secure=web.secure_cookies or request.scheme == "https")
            return response
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            offered, expected = header[7:].strip(), token
        else:
            offered, expected = request.cookies.get(COOKIE, ""), session_id
        if not offered or not hmac.compare_digest(offered.encode(), expected.encode()):
            return Response("401 Unauthorized: a token is required (Authorization: Bearer, or ?token=)\n",
                            status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def filters(default_since: float | None) -> queries.Filters:
        since = request.args.get("since") or None
        try:
            seconds = parse_duration(since, MAX_RETENTION) if since else default_since
            limit = int(request.args.get("limit") or 50)
            story = row_id(request.args["story"]) if request.args.get("story") else None
        except ValueError as exc:
            abort(_plain(400, f"400 Bad Request: {exc}"))
        return queries.Filters(watch=request.args.get("watch") or None, source=request.args.get("source") or None,
                               since=seconds, story=story, limit=max(1, min(limit, 1000)))

    def page(template: str, **values):
        return render_template(template, config=config, args=request.args,
                               watches=[w.include for w in config.watches],
                               sources=[s.name for s in config.sources], **values)

    @app.get("/")
    def stories_page():
        with sessions() as session:
            views = queries.stories(session, filters(30 * 86400))
        return page("stories.html", stories=views)

    def viewed(model, key: int, view):
        """The view of one stored row, or 404."""
        with sessions() as session:
            row = session.get(model, key)
            if row is None:
                abort(404)
            return row, view(session, row)

    @app.get(f"/stories/<int(max={MAX_ID}):story_id>")
    def story_page(story_id: int):
        _, view = viewed(Story, story_id, queries.story_view)
        return page("story.html", story=view)

    @app.get(f"/articles/<int(max={MAX_ID}):article_id>")
    def article_page(article_id: int):
        article, view = viewed(Article, article_id, queries.article_view)
        return page("article.html", view=view, article=article, segments=_segments(article.text, view.spans))

    @app.get("/matches")
    def matches_page():
        with sessions() as session:
            rows = queries.matches(session, filters(7 * 86400))
        return page("matches.html", matches=rows)

    @app.get("/api/matches")
    def matches_api():
        with sessions() as session:
            return jsonify(queries.matches(session, filters(7 * 86400)))

    @app.get("/sources")
    def sources_page():
        with sessions() as session:
            health = queries.source_health(session, config)
        return page("sources.html", health=health)

    @app.get("/alerts")
    def alerts_page():
        with sessions() as session:
            rows = list(session.scalars(select(Outbox).where(Outbox.status.in_(("pending", "dead")))
                                        .order_by(Outbox.id.desc()).limit(500)))
            queue = queries.queue_counts(session)
        return page("alerts.html", rows=rows, queue=queue)

    @app.get("/alerts.atom")
    def alerts_feed():
        from wirewatch.crawler.web.feed import alerts_atom
        with sessions() as session:
            body = alerts_atom(session, request.url_root, url_for)
        return Response(body, mimetype="application/atom+xml")

    @app.get("/metrics")
    def metrics():
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from wirewatch.crawler.web.metrics import registry_for
        return Response(generate_latest(registry_for(config, sessions)), content_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz():
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:          # noqa: BLE001 - any database failure is "unhealthy"
            return Response(f"database unreachable: {type(exc).__name__}\n", status=503, mimetype="text/plain")
        return Response("ok\n", mimetype="text/plain")

    return app


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def same_origin_path(path: str) -> str:
    """A redirect target that can only be a path on this origin: percent-encoded, one leading slash
    ('/\t/evil.example' would otherwise reach a browser as '//evil.example')."""
    quoted = quote(path, safe="/-._~")
    return quoted if quoted.startswith("/") and not quoted.startswith("//") else "/"


def _shown(value):
    """Every {{ value }} a template prints: text from the web with its control and bidi characters
    as visible escapes (newlines and tabs kept); markup we built, numbers and None as they are."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, keep_newlines=True)
    return value


def _segments(text: str, spans: list[tuple[int, int, str]]) -> list[tuple[str, str | None]]:
    out, at = [], 0
    for start, end, role in spans:
        out.append((text[at:start], None))
        out.append((text[start:end], role))
        at = end
    out.append((text[at:], None))
    return [s for s in out if s[0]]


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, dt.datetime) else str(value)
