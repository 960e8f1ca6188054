"""The merchant dashboard: server-rendered pages under /dashboard, in French and English.

Plain HTML forms and links, charts drawn as inline SVG by Jinja macros (templates/dashboard/
_charts.html), no script of its own; it works without JavaScript and with the keyboard alone.
Logins, sessions and CSRF are dashboard_auth.py; the words are dashboard_text.py.

A page is one view function and one template extending `base.html`:

    @store_page("/friction", nav="friction")
    def friction(view: View) -> Response:
        with view.read() as conn:
            report = friction_report(conn, view.store, view.period)
        return view.render("friction.html", report=report)

`store_page` registers `/dashboard/stores/<store>/friction` (GET; pass `methods` for posts),
resolves the store through the session's grant (another account's store, or one out of the
user's scope, is a 404, like one that does not exist), reads the period picker's `?from=&to=`
or `?days=` and the language, and adds the page to the navigation under the words
`nav_friction` of dashboard_text.py. Every POST of the blueprint has its CSRF token checked,
and is refused to analysts (403), before the view runs; one that succeeds (a redirect after the
post, or a download) is written to the audit log with the session as its actor.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Flask, g, redirect, render_template, request, url_for
from sqlalchemy import Connection
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from parcours import audit, reports
from parcours.access import find_store, visible_stores
from parcours.accounts import get_store
from parcours.dashboard_auth import (
    CSRF_FIELD,
    Viewer,
    auth_routes,
    csrf_token,
    csrf_valid,
    current_viewer,
    db,
    embed_for,
    init_auth,
    needs_login,
    no_store,
)
from parcours.dashboard_text import TEXT, Formats, pick_language
from parcours.errors import NotFoundError, ValidationError
from parcours.recorder import StoreRef

__all__ = ["NAV", "View", "dashboard", "init_app", "render_page", "store_page"]

dashboard = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                      template_folder="templates")
PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_PERIOD_DAYS = 731


@dataclass(frozen=True)
class NavItem:
    name: str  # the words are nav_<name>
    endpoint: str


NAV: list[NavItem] = []


def init_app(app: Flask) -> None:
    init_auth(app)
    app.register_blueprint(dashboard)


# -- every page ------------------------------------------------------------------------------

def _nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def protect(response: Response) -> Response:
    """Only this page's own style sheet (and a platform's frame script inside its admin);
    framed by nothing but the platform's admin; no referrer; never cached."""
    embed = embed_for(current_viewer())
    scripts = " ".join(embed.scripts)
    ancestors = " ".join(embed.frame_ancestors) or "'none'"
    connect = " ".join(("'self'", *embed.connect))
    response.headers.setdefault("Content-Security-Policy", (
        f"default-src 'none'; style-src 'nonce-{_nonce()}'; img-src 'self' data:; "
        f"script-src {scripts or chr(39) + 'none' + chr(39)}; connect-src {connect}; "
        f"form-action 'self'; frame-ancestors {ancestors}; base-uri 'none'"))
    if not embed.frame_ancestors:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("Cache-Control", "no-store")
    response.vary.add("Cookie")
    return response


def render_page(template: str, language: str, *, status: int = 200,
                viewer: Viewer | None = None, view: View | None = None,
                **context: Any) -> Response:
    """A page of templates/dashboard/ in `language`, with what base.html needs."""
    path = request.full_path.rstrip("?")
    response = Response(render_template(
        f"dashboard/{template}", lang=language, other=_other(language), t=TEXT[language],
        f=Formats(language), csp_nonce=_nonce(), csrf=csrf_token(), csrf_field=CSRF_FIELD,
        viewer=viewer, view=view, embed=embed_for(viewer), nav=NAV if view else [],
        here=path if path.startswith("/dashboard/") else "/dashboard/", **context),
        status=status, mimetype="text/html")
    response.headers["Content-Language"] = language
    return response


def _other(language: str) -> str:
    return "fr" if language == "en" else "en"


def language_of(viewer: Viewer | None) -> str:
    """The session's choice (the user's, or what the platform said at login), else the
    browser's languages, else English."""
    accepted = [value for value, _ in request.accept_languages]
    return pick_language(viewer.locale if viewer else None, accepted)


@dashboard.before_request
def _require_login() -> Response | None:
    viewer = current_viewer()
    if viewer is None:
        return needs_login()
    if request.method == "POST" and not csrf_valid():
        return render_page("message.html", language_of(viewer), status=403, viewer=viewer,
                           title_key="csrf_title", body_key="csrf_body")
    if request.method == "POST" and not viewer.can_write:
        return render_page("message.html", language_of(viewer), status=403, viewer=viewer,
                           title_key="forbidden_title", body_key="forbidden_body")
    return None


# Form fields that say what a post changed, and hold nothing personal (the privacy form's
# subject, a reply's text are left out).
AUDITED_FIELDS = ("kind", "target", "status", "reason")
# The notices of a post that was refused, though answered with a redirect like a success.
REFUSED_NOTICES = frozenset({"reason_required", "reply_too_long", "fix_refused", "fix_failed"})


@dashboard.after_request
def _audit(response: Response) -> Response:
    """Write the audit entry of a post that changed something: its answer is the redirect that
    follows a post (a refusal re-renders the form with a 4xx, or names a refused notice)."""
    view = g.get("dashboard_view")
    if request.method != "POST" or view is None or response.status_code >= 400:
        return response
    notice = parse_qs(urlsplit(response.location or "").query).get("notice", [""])[0]
    if notice in REFUSED_NOTICES:
        return response
    detail = {name: request.form[name] for name in AUDITED_FIELDS if request.form.get(name)}
    path = request.path.removeprefix(dashboard.url_prefix or "")
    with db().write() as conn:
        audit.record(conn, actor=view.viewer.grant.actor, interface="dashboard",
                     action=f"POST {path}", account_id=view.viewer.account_id,
                     store_id=view.store.id, detail={"page": request.endpoint,
                                                     "notice": notice or None, **detail})
    return response


dashboard.after_request(protect)
auth_routes.after_request(protect)


def _http_error(exc: HTTPException) -> Response:
    viewer = current_viewer()
    language = language_of(viewer)
    words = TEXT[language]
    key = {404: "not_found", 403: "forbidden", 405: "not_allowed"}.get(exc.code or 0)
    return render_page("message.html", language, status=exc.code or 500, viewer=viewer,
                       title=words[f"{key}_title"] if key else exc.name,
                       body=words[f"{key}_body"] if key else "")


dashboard.register_error_handler(HTTPException, _http_error)
dashboard.register_error_handler(NotFoundError, lambda exc: _http_error(NotFound()))


@dashboard.errorhandler(ValidationError)
def _refused(exc: ValidationError) -> Response:
    """A form the page's own checks let through but the shared validation refused."""
    viewer = current_viewer()
    return render_page("message.html", language_of(viewer), status=422, viewer=viewer,
                       title_key="refused_title", body=str(exc))


# -- a store's pages -------------------------------------------------------------------------

@dataclass
class View:
    """What a store's page works with: who looks, at which store, over which period, in
    which language."""

    viewer: Viewer
    store: StoreRef
    name: str
    platform: str
    language: str
    period: reports.Period
    preset: int | None
    period_errors: dict[str, str] = field(default_factory=dict)

    @property
    def t(self) -> Mapping[str, str]:
        return TEXT[self.language]

    @property
    def previous(self) -> reports.Period:
        """The period of the same length just before this one (for comparisons)."""
        length = (self.period.end - self.period.start).days + 1
        end = self.period.start - timedelta(days=1)
        return reports.Period(end - timedelta(days=length - 1), end)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with db().read() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with db().write() as conn:
            yield conn

    def url(self, endpoint: str, **values: Any) -> str:
        return url_for(f"dashboard.{endpoint}", store=self.store.key, **values)

    def period_query(self) -> dict[str, str]:
        """The period as the query of a link (exports, other pages)."""
        if self.preset is not None:
            return {"days": str(self.preset)}
        return {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()}

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return render_page(template, self.language, status=status, viewer=self.viewer,
                           view=self, **context)

    def back(self, endpoint: str, notice: str | None = None, **values: Any) -> Response:
        """After a post: see the page again (303), with a fixed notice (never the input)."""
        if notice is not None:
            values["notice"] = notice
        return no_store(redirect(self.url(endpoint, **values), 303))


def parse_period(args: Mapping[str, str], today: date
                 ) -> tuple[reports.Period, int | None, dict[str, str]]:
    """The period of `?from=&to=` (inclusive days) or `?days=` (a preset); the default
    (the last 30 days) with the codes of the errors, by field, when they are bad."""
    errors: dict[str, str] = {}
    start_text, end_text = args.get("from", "").strip(), args.get("to", "").strip()
    if start_text or end_text:
        days: dict[str, date] = {}
        for name, text in (("from", start_text), ("to", end_text)):
            try:
                days[name] = date.fromisoformat(text) if text else today
            except ValueError:
                errors[name] = "period_day"
        if not errors:
            start, end = days["from"], days["to"]
            if not start_text:
                start = end - timedelta(days=DEFAULT_DAYS - 1)
            if start > end:
                errors["from"] = "period_order"
            elif (end - start).days > MAX_PERIOD_DAYS:
                errors["from"] = "period_long"
            else:
                return reports.Period(start, end), None, {}
    preset = args.get("days", "")
    count = int(preset) if preset.isdigit() and int(preset) in PRESETS else DEFAULT_DAYS
    return reports.Period(today - timedelta(days=count - 1), today), count, errors


def _view(key: str) -> View:
    viewer = current_viewer()
    assert viewer is not None  # before_request sent the others to the login
    with db().read() as conn:
        found = find_store(conn, key, viewer.grant)
        ref = get_store(conn, key, account_id=viewer.account_id)
    period, preset, errors = parse_period(request.args, datetime.now(UTC).date())
    g.dashboard_view = View(viewer, ref, found.name, found.platform, language_of(viewer), period,
                            preset, errors)
    return g.dashboard_view  # type: ignore[no-any-return]


def store_page(rule: str, *, nav: str | None = None, methods: tuple[str, ...] = ("GET",)
               ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register `fn(view, **rule_values)` as the page `/dashboard/stores/<store><rule>`; with
    `nav`, also in the navigation (in the order pages are registered)."""
    def decorator(fn: Callable[..., Response]) -> Callable[..., Response]:
        def route(store: str, **values: Any) -> Response:
            return fn(_view(store), **values)

        route.__name__ = fn.__name__
        route.__doc__ = fn.__doc__
        dashboard.add_url_rule(f"/stores/<store>{rule}", fn.__name__, route,
                               methods=list(methods))
        if nav is not None and all(item.name != nav for item in NAV):
            NAV.append(NavItem(nav, f"dashboard.{fn.__name__}"))
        return fn

    return decorator


# -- home: the stores ------------------------------------------------------------------------

@dashboard.get("/")
def home() -> Response:
    """The stores of the session's scope; a platform login (one store) goes straight to it."""
    viewer = current_viewer()
    assert viewer is not None
    with db().read() as conn:
        stores = visible_stores(conn, viewer.grant)
    if len(stores) == 1:
        return no_store(redirect(url_for("dashboard.overview", store=stores[0].key), 303))
    return render_page("stores.html", language_of(viewer), viewer=viewer, stores=stores)


# -- overview, funnel, stages ----------------------------------------------------------------

# The KPI cards: (name, kind, better) where kind says how to show it and its change.
KPI_CARDS = (("journeys", "count", "up"), ("conversion", "ratio", "up"),
             ("cart_abandonment", "ratio", "down"), ("checkout_abandonment", "ratio", "down"),
             ("payment_failure_rate", "ratio", "down"), ("orders", "count", "up"),
             ("revenue", "money", "up"), ("average_order_value", "money", "up"),
             ("repeat_purchase_rate", "ratio", "up"), ("time_to_convert", "duration", "down"))


def _kpi_value(data: Mapping[str, Any], name: str) -> Any:
    if name == "conversion":
        return data["conversion"]["overall"]
    if name == "time_to_convert":
        return data["median_time_to_convert_seconds"]
    if name == "orders":
        return sum(data["orders"].values()) if data["orders"] else 0
    return data[name]


def kpi_cards(now: Mapping[str, Any], before: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each KPI with its value now, before, and whether the change is good news."""
    cards = []
    for name, kind, better in KPI_CARDS:
        current, previous = _kpi_value(now, name), _kpi_value(before, name)
        if kind == "money":  # one value per currency
            for currency in sorted(current or {}) or [None]:
                cards.append({"name": name, "kind": kind, "better": better,
                              "currency": currency,
                              "value": (current or {}).get(currency) if currency else None,
                              "previous": (previous or {}).get(currency) if currency else None})
            continue
        cards.append({"name": name, "kind": kind, "better": better, "currency": None,
                      "value": current, "previous": previous})
    return cards


@store_page("/", nav="overview")
def overview(view: View) -> Response:
    """KPIs of the period beside the period of the same length before it."""
    with view.read() as conn:
        now = reports.kpis(conn, view.store, view.period)
        before = reports.kpis(conn, view.store, view.previous)
    return view.render("overview.html", kpis=now, cards=kpi_cards(now, before),
                       empty=not now["journeys"] and not now["orders"])


@store_page("/funnel", nav="funnel")
def funnel(view: View) -> Response:
    with view.read() as conn:
        report = reports.funnel(conn, view.store, view.period)
    return view.render("funnel.html", report=report, empty=not report["journeys"])


@store_page("/stages", nav="stages")
def stages(view: View) -> Response:
    with view.read() as conn:
        report = reports.stages(conn, view.store, view.period)
    totals = [{"day": day["day"], "events": sum(day["events"].values())}
              for day in report["events_by_day"]]
    return view.render("stages.html", report=report, totals=totals,
                       empty=not report["flows"] and not any(report["profiles_now"].values())
                       and not totals)


def csv_download(rows: list[list[Any]], filename: str) -> Response:
    """A CSV attachment (RFC 4180, UTF-8 with a BOM so that spreadsheets read accents)."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The other pages register themselves on import, in the navigation's order: the insights
# (journeys, dropped shoppers, friction, experiments), then reviews, settings, exports, privacy.
from parcours import dashboard_insights, dashboard_manage  # noqa: E402, F401
