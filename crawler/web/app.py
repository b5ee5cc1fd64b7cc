"""The web view: stories, a story, an article with its evidence marked, all articles, matches,
sources, alerts; triage (read, star, verdicts, story notes); an Atom feed of alerts, the matches as
JSON, Prometheus metrics, a health check.

Safety: every page is rendered by Jinja2 with autoescaping (titles, text, URLs and source names all
came from the web); only http(s) URLs become links; every answer carries a strict
Content-Security-Policy (no script at all: the pages work without JavaScript). With a token (or
`web.users`) configured, every request but /healthz needs one — as `Authorization: Bearer TOKEN`,
or once as `?token=TOKEN`, which sets a session cookie naming its user and redirects. The few
routes that write are POST forms: each carries a CSRF token bound to a SameSite=Strict cookie, and
a form without it is refused; a verdict or note records the user who made it ("analyst" without
`web.users`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import os
import secrets
import time

from flask import Flask, Response, abort, g, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.model import amount_words, fact_line, payload_facts
from wirewatch.alerts.render import LANGUAGE_NAMES
from wirewatch.crawler.conf.durations import MAX_RETENTION, parse_duration
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Web
from wirewatch.crawler.desk import queries
from wirewatch.crawler.desk.ids import MAX_ID, row_id
from wirewatch.crawler.display import visible
from wirewatch.crawler.store.schema import Article, Story

HERE = Path(__file__).resolve().parent
COOKIE = "wirewatch_token"
CSRF_COOKIE = "wirewatch_csrf"
PAGE_SIZES = (25, 50, 100, 200)
# the languages the listings filter on: those the matcher reads
LANGUAGES = tuple((code, LANGUAGE_NAMES[code]) for code in ("en", "ko", "ru", "uk"))
WRITES = {"mark_match", "verdict_article", "note_story"}
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


def create_app(config: Config, sessions: sessionmaker[Session], web: Web | None = None, health=None) -> Flask:
    """`health`: inside the daemon, a callable saying when its scheduler last ticked (/healthz)."""
    web = web or config.web or Web()
    tokens = web.tokens()                                  # user → token
    sessions_of = {name: hmac.new(token.encode(), b"wirewatch web session", hashlib.sha256).hexdigest()
                   for name, token in tokens.items()}
    csrf_key = os.urandom(32)
    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
                root_path=str(HERE), instance_path=str(HERE / "instance"))     # no instance folder is used
    app.jinja_env.filters["link"] = http_link
    app.jinja_env.filters["fact"] = fact_line
    app.jinja_env.filters["amount"] = amount_words
    app.jinja_env.filters["langname"] = lambda code: LANGUAGE_NAMES.get((code or "").split("-")[0], code or "—")
    app.jinja_env.globals["facts_of"] = payload_facts
    app.jinja_env.globals["csrf_token"] = lambda: g.get("csrf_form", "")
    app.jinja_env.globals["user"] = lambda: g.get("user", "analyst")
    app.jinja_env.globals["page_url"] = _page_url
    app.jinja_env.filters["when"] = lambda value: _when(value)
    app.jinja_env.finalize = _shown              # control and bidi characters from the web, made visible

    def secure() -> bool:
        return web.secure_cookies or request.scheme == "https"

    def who(offered: str, by_session: bool) -> str | None:
        """The user a bearer token or a session cookie names, if it is right."""
        if by_session:
            name, _, mac = offered.partition(".")
            expected = sessions_of.get(name)
            return name if expected and hmac.compare_digest(mac.encode(), expected.encode()) else None
        for name, token in tokens.items():
            if hmac.compare_digest(offered.encode(), token.encode()):
                return name
        return None

    @app.before_request
    def _authorise():
        if not web.host_allowed(request.host):   # DNS rebinding: a foreign name pointing at us
            return _plain(421, "421 Misdirected Request: this view answers to its own address, localhost "
                               "and web.allowed_hosts only")
        if request.method not in ("GET", "HEAD") and not (request.method == "POST" and request.endpoint in WRITES):
            abort(405)
        g.user = "analyst"
        if tokens and request.path != "/healthz":
            given = request.args.get("token")
            name = who(given, False) if given is not None else None
            if name is not None:
                rest = {k: v for k, v in request.args.items(multi=True) if k != "token"}
                response = redirect(same_origin_path(request.path) + (f"?{urlencode(rest)}" if rest else ""),
                                    code=303)
                response.set_cookie(COOKIE, f"{name}.{sessions_of[name]}", httponly=True, samesite="Strict",
                                    secure=secure())
                return response
            header = request.headers.get("Authorization", "")
            if header.lower().startswith("bearer "):
                name = who(header[7:].strip(), False)
            else:
                name = who(request.cookies.get(COOKIE, ""), True) if request.cookies.get(COOKIE) else None
            if name is None:
                return Response("401 Unauthorized: a token is required (Authorization: Bearer, or ?token=)\n",
                                status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
            g.user = name
        cookie = request.cookies.get(CSRF_COOKIE, "")
        g.csrf_new = None if len(cookie) >= 32 else secrets.token_urlsafe(32)
        g.csrf_form = hmac.new(csrf_key, (g.csrf_new or cookie).encode(), hashlib.sha256).hexdigest()
        if request.method == "POST":
            origin = request.headers.get("Origin") or ""
            if (origin and origin != "null" and urlsplit(origin).netloc.lower() != request.host.lower()) \
                    or request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
                return _error(403, "This form came from another site: it is refused.")
            offered = request.form.get("csrf", "")
            if not cookie or g.csrf_new or not hmac.compare_digest(offered.encode(), g.csrf_form.encode()):
                return _error(403, "This form's security token is missing or out of date: go back, reload "
                                   "the page and submit it again.")
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        if g.get("csrf_new") and response.mimetype == "text/html":
            response.set_cookie(CSRF_COOKIE, g.csrf_new, httponly=True, samesite="Strict", secure=secure())
        return response

    def _error(status: int, message: str) -> Response:
        return Response(render_template("error.html", config=config, status=status, message=message,
                                        args=request.args), status=status, mimetype="text/html")

    @app.errorhandler(404)
    def _not_found(_exc):
        return _error(404, "There is nothing at this address: the row may have been pruned, or the link is wrong.")

    @app.errorhandler(400)
    def _bad_request(exc):
        return _error(400, getattr(exc, "description", None) or "The request could not be understood.")

    @app.errorhandler(405)
    def _not_allowed(_exc):
        return _error(405, "This address does not take that kind of request.")

    def filters(default_since: float | None) -> queries.Filters:
        args = request.args
        try:
            since = parse_duration(args["since"], MAX_RETENTION) if args.get("since") else default_since
            until = parse_duration(args["until"], MAX_RETENTION) if args.get("until") else None
            per = int(args.get("per") or args.get("limit") or 50)       # `limit`: the older name
            number = int(args.get("page") or 1)
            story = row_id(args["story"]) if args.get("story") else None
        except ValueError as exc:
            abort(400, description=f"{exc}")
        if not 1 <= per <= 500 or not 1 <= number <= 1_000_000:
            abort(400, description="per (rows a page) is from 1 to 500, page from 1")
        alerted = args.get("alerted") if args.get("alerted") in queries.ALERTED else None
        language = (args.get("language") or "").strip().lower()[:20] or None
        return queries.Filters(watch=args.get("watch") or None, source=args.get("source") or None,
                               language=language, since=since, until=until, story=story, search=(args.get("q") or "").strip()[:200] or None,
                               direction=args.get("direction") or None, country=args.get("country") or None,
                               item=args.get("item") or None, status=args.get("status") or None,
                               severity=args.get("severity") or None, alerted=alerted,
                               unread=args.get("unread") == "1", starred=args.get("starred") == "1",
                               limit=per, offset=(number - 1) * per)

    def source_names() -> list[str]:
        """The config's sources, or, with only a database, the sources it has stored."""
        if config.sources:
            return [s.name for s in config.sources]
        with sessions() as session:
            return queries.stored_sources(session)

    def page(template: str, **values):
        return render_template(template, config=config, args=request.args,
                               watches=[w.include for w in config.watches], sources=source_names(),
                               choices=queries.CHOICES, page_sizes=PAGE_SIZES, languages=LANGUAGES, **values)

    def back(default: str) -> Response:
        """After a form: back where it was sent from (a path on this view only)."""
        target = request.form.get("next") or default
        path, _, query = target.partition("?")
        return redirect(same_origin_path(path) + (f"?{query}" if query and "\\" not in query else ""), code=303)

    @app.get("/")
    def stories_page():
        with sessions() as session:
            found = queries.stories(session, filters(30 * 86400))
        return page("stories.html", stories=found.rows, paged=found, noun="stories", default_since="30d")

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
        with sessions() as session:
            article = session.get(Article, article_id)
            if article is None:
                abort(404)
            view = queries.article_view(session, article)
            reason = None
            if not view.matches:
                row = {"article_id": article.id, "matches": []}
                queries.reasons(config, [row], session)
                reason = row.get("reason")
            verdicts = queries.latest_verdicts(session, [(article.id, None)])
        return page("article.html", view=view, article=article, segments=_segments(article.text, view.spans),
                    reason=reason, verdicts=verdicts, watch_names=_watch_names(config),
                    labels=queries.LABELS)

    @app.get("/articles")
    def articles_page():
        kind = request.args.get("matched")
        with sessions() as session:
            found = queries.articles(session, filters(7 * 86400),
                                     True if kind == "yes" else False if kind == "no" else None)
            queries.reasons(config, found.rows, session)
        return page("articles.html", articles=found.rows, paged=found, noun="articles", default_since="7d")

    @app.get("/matches")
    def matches_page():
        with sessions() as session:
            found = queries.matches(session, filters(7 * 86400))
        return page("matches.html", matches=found.rows, paged=found, noun="matches", default_since="7d")

    @app.get("/api/matches")
    def matches_api():
        with sessions() as session:
            found = queries.matches(session, filters(7 * 86400))
        response = jsonify(found.rows)
        response.headers["X-Total-Count"] = str(found.total)       # the rows are one page of this many
        if found.next_offset() is not None:
            response.headers["Link"] = f'<{_page_url(request.args, found.last // (found.limit or 1) + 1)}>; rel="next"'
        return response

    @app.post(f"/matches/<int(max={MAX_ID}):match_id>/mark")
    def mark_match(match_id: int):
        def flag(name: str) -> bool | None:
            value = request.form.get(name)
            return None if value is None else value == "1"
        with sessions.begin() as session:
            if queries.mark(session, match_id, read=flag("read"), starred=flag("starred")) is None:
                abort(404)
        return back(url_for("matches_page"))

    @app.post(f"/articles/<int(max={MAX_ID}):article_id>/verdict")
    def verdict_article(article_id: int):
        form = request.form
        try:
            fact = int(form["fact"]) if form.get("fact") else None
        except ValueError:
            abort(400, description="the fact is a number")
        with sessions.begin() as session:
            article = session.get(Article, article_id)
            if article is None:
                abort(404)
            watch = form.get("watch") or ""
            if watch not in _watch_names(config):
                abort(400, description="choose one of the config's watches")
            try:
                queries.record_verdict(session, article, watch, form.get("label", ""), g.user, fact,
                                       form.get("note"))
            except ValueError as exc:
                abort(400, description=str(exc))
        return back(url_for("article_page", article_id=article_id))

    @app.post(f"/stories/<int(max={MAX_ID}):story_id>/note")
    def note_story(story_id: int):
        with sessions.begin() as session:
            story = session.get(Story, story_id)
            if story is None:
                abort(404)
            queries.set_note(session, story, request.form.get("text", ""), g.user)
        return back(url_for("story_page", story_id=story_id))

    @app.get("/sources")
    def sources_page():
        with sessions() as session:
            health = queries.source_health(session, config)
        return page("sources.html", health=health, from_database=not config.sources)

    @app.get("/alerts")
    def alerts_page():
        status = request.args.get("status") if request.args.get("status") in ("pending", "dead", "delivered") else None
        paging = filters(None)
        with sessions() as session:
            found = queries.outbox(session, status, paging)
            queue = queries.queue_counts(session)
        return page("alerts.html", rows=found.rows, paged=found, noun="alert rows", queue=queue, status=status)

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
        """200 "ok" while the database answers (and, in the daemon, the scheduler ticked within
        a minute); 503 with the reason otherwise."""
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:          # noqa: BLE001 - any database failure is "unhealthy"
            return Response(f"database unreachable: {type(exc).__name__}\n", status=503, mimetype="text/plain")
        if health is None:
            return Response("ok\n", mimetype="text/plain")
        state = health()
        last = state.get("last_tick")
        if last is None or time.time() - last > 60:
            since = "never" if last is None else f"{time.time() - last:.0f}s ago"
            return Response(f"scheduler stalled: last tick {since}\n", status=503, mimetype="text/plain")
        role = "scheduling" if state.get("scheduling") else "not scheduling (lock not held)"
        return Response(f"ok\nscheduler: last tick {time.time() - last:.1f}s ago, {role}\n", mimetype="text/plain")

    return app


def _watch_names(config: Config) -> list[str]:
    from wirewatch.crawler.analysis.matching import load_watch
    return [load_watch(ref.include).name for ref in config.watches]


def _page_url(args, number: int, per: int | None = None) -> str:
    """This listing's address at another page (or page size), every filter kept."""
    kept = {k: v for k, v in args.items(multi=True) if k not in ("page", "per", "token")}
    query = list(kept.items()) + [("page", str(number))] + ([("per", str(per or args.get("per")))]
                                                            if per or args.get("per") else [])
    return "?" + urlencode(query)


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
