"""Who is looking at the dashboard: sessions, the email + password login, logout, CSRF.

Three ways in, one kind of session:
- email + password, here (`/dashboard/login`), for agencies and custom shops (dashboard_users.py);
- Shopify: App Bridge's session token, verified by adapters/shopify/dashboard_login.py;
- WordPress: the plugin's signed single-use link, verified by
  adapters/woocommerce/dashboard_login.py.
Both platform modules end in `start_session`, so the platforms stay in their adapters.

Sessions are rows (`dashboard_sessions`): the cookie holds 32 random bytes, the row their
sha256, so a stolen database holds no usable cookie and logout or expiry really ends a session.
A platform login is scoped to its one store (`store_id`), as its owner; a user holds the role
and scope given to them (access.py): an analyst sees pages but changes nothing, and a store out
of their scope is not found. The cookie is HttpOnly, `__Host-` prefixed and Secure on https;
SameSite=Lax, except for Shopify sessions: the dashboard runs inside the Shopify admin's iframe,
a third-party context where only a `SameSite=None; Secure; Partitioned` cookie (CHIPS: kept per
top-level site, so it tracks nothing) is sent. Where even that is blocked, the Shopify module
gets a page asked for from the admin's iframe a fresh session token (its bounce page); forms
still need the cookie.

CSRF: every POST carries `csrf`, an HMAC of the session id (or, on the login form, of a
pre-login cookie) under a key derived from PARCOURS_SECRET_KEYS for this purpose only; a page
of another site can make a browser post, but can read neither the token nor the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, request, url_for
from sqlalchemy import delete, insert, select, update
from werkzeug.wrappers import Response

from parcours import tables as t
from parcours.access import Grant, grant_from_row
from parcours.credentials import Vault
from parcours.dashboard_text import LANGUAGES, pick_language
from parcours.dashboard_users import check_login
from parcours.db import Database
from parcours.webhooks.collect import RateLimiter

__all__ = ["CSRF_FIELD", "Embed", "Viewer", "auth_routes", "csrf_token", "csrf_valid",
           "current_viewer", "db", "end_session", "init_auth", "register_embed",
           "safe_next", "start_session"]

SESSION_COOKIE = "parcours_dashboard"
LOGIN_COOKIE = "parcours_dashboard_login"
CSRF_FIELD = "csrf"
_CSRF_PURPOSE = "parcours.dashboard-csrf"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
# (idle, absolute) lifetimes: a user's own login lasts a working week; a platform's is renewed
# by the platform whenever the merchant opens the app again.
LIFETIMES = {"password": (timedelta(hours=12), timedelta(days=7)),
             "shopify": (timedelta(hours=2), timedelta(hours=12)),
             "wordpress": (timedelta(hours=2), timedelta(hours=12))}
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often
LOGIN_POSTS, LOGIN_WINDOW = 10, 300.0  # per address, on top of the per-user lockout
_LIMIT = "parcours.dashboard.login_limit"
_EMBEDS = "parcours.dashboard.embeds"

auth_routes = Blueprint("dashboard_auth", __name__, url_prefix="/dashboard",
                        template_folder="templates")


@dataclass(frozen=True)
class Viewer:
    """The session of this request."""

    session_id: str  # the sha256 of the cookie's token
    account_id: int
    user_id: int | None
    store_id: int | None  # a platform login sees this store only
    via: str
    locale: str | None
    email: str | None
    created_at: datetime
    grant: Grant  # what the session may do, and its name in the audit log

    @property
    def can_write(self) -> bool:
        return self.grant.can_write


@dataclass(frozen=True)
class Embed:
    """What a platform's admin needs to show the dashboard inside itself: the script its
    frame must load, the meta tags that configure it, the origins allowed to frame it."""

    scripts: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    frame_ancestors: tuple[str, ...] = ()
    connect: tuple[str, ...] = ()


def db() -> Database:
    return current_app.extensions["parcours.db"]  # type: ignore[no-any-return]


def vault() -> Vault:
    return current_app.extensions["parcours.vault"]  # type: ignore[no-any-return]


def init_auth(app: Flask) -> None:
    app.extensions[_LIMIT] = RateLimiter(LOGIN_POSTS / LOGIN_WINDOW, LOGIN_POSTS)
    app.extensions.setdefault(_EMBEDS, {})
    app.register_blueprint(auth_routes)


def register_embed(app: Flask, via: str, embed: Callable[[Viewer], Embed]) -> None:
    """A platform's frame for its sessions (the Shopify adapter registers Shopify's)."""
    app.extensions.setdefault(_EMBEDS, {})[via] = embed


def embed_for(viewer: Viewer | None) -> Embed:
    if viewer is None:
        return Embed()
    found = current_app.extensions.get(_EMBEDS, {}).get(viewer.via)
    return found(viewer) if found is not None else Embed()


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def secure() -> bool:
    public = str(current_app.config.get("PUBLIC_URL") or "")
    return request.is_secure or public.startswith("https://")


def _cookie_name() -> str:
    """`__Host-` on https: the browser then refuses the cookie from any subdomain or path."""
    return f"__Host-{SESSION_COOKIE}" if secure() else SESSION_COOKIE


# -- sessions --------------------------------------------------------------------------------

def start_session(*, account_id: int, via: str, next_url: str, user_id: int | None = None,
                  store_id: int | None = None, locale: str | None = None) -> Response:
    """Open a session and send the browser to `next_url` (a path of this dashboard) with its
    cookie. Any session the browser had is ended first (no session fixation)."""
    now = _now()
    idle, _ = LIFETIMES[via]
    token = secrets.token_urlsafe(32)
    with db().write() as conn:
        conn.execute(delete(t.dashboard_sessions).where(t.dashboard_sessions.c.expires_at < now))
        old = request.cookies.get(_cookie_name(), "")
        if _TOKEN.match(old):
            conn.execute(delete(t.dashboard_sessions).where(
                t.dashboard_sessions.c.id == _digest(old)))
        conn.execute(insert(t.dashboard_sessions).values(
            id=_digest(token), account_id=account_id, user_id=user_id, store_id=store_id,
            via=via, locale=locale if locale in LANGUAGES else None, created_at=now,
            last_seen_at=now, expires_at=now + idle))
    response = redirect(safe_next(next_url), 303)
    embedded = via == "shopify" and secure()
    response.set_cookie(_cookie_name(), token, path="/", httponly=True, secure=secure(),
                        samesite="None" if embedded else "Lax", partitioned=embedded)
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard/")
    no_store(response)
    return response


def current_viewer() -> Viewer | None:
    """This request's session (read once per request), None without a live one."""
    if "dashboard_viewer" in g:
        return g.dashboard_viewer  # type: ignore[no-any-return]
    viewer = None
    token = request.cookies.get(_cookie_name(), "")
    if _TOKEN.match(token):
        viewer = _load(_digest(token))
    g.dashboard_viewer = viewer
    return viewer


def _grant(row: Any) -> Grant:
    """A user's role and scope; a platform login is the owner of its one store, named in the
    audit log by the shop's domain (or the site's)."""
    if row.user_id is not None:
        return grant_from_row(row._mapping, actor=f"user:{row.email}", interface="dashboard")
    return Grant(row.account_id, "owner", frozenset({row.store_key}), frozenset(),
                 f"{row.via}:{row.store_domain or row.store_key}", "dashboard")


def _load(session_id: str) -> Viewer | None:
    s, u, store = t.dashboard_sessions.c, t.users.c, t.stores.c
    now = _now()
    with db().read() as conn:
        row = conn.execute(select(s.id, s.account_id, s.user_id, s.store_id, s.via, s.locale,
                                  s.created_at, s.last_seen_at, s.expires_at, u.email, u.role,
                                  u.scope, store.key.label("store_key"),
                                  store.domain.label("store_domain"))
                           .outerjoin(t.users, u.id == s.user_id)
                           .outerjoin(t.stores, store.id == s.store_id)
                           .where(s.id == session_id)).first()
    if row is None or row.expires_at <= now or row.via not in LIFETIMES:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        idle, absolute = LIFETIMES[row.via]
        with db().write() as conn:
            conn.execute(update(t.dashboard_sessions).where(s.id == session_id).values(
                last_seen_at=now, expires_at=min(now + idle, row.created_at + absolute)))
    return Viewer(row.id, row.account_id, row.user_id, row.store_id, row.via, row.locale,
                  row.email, row.created_at, _grant(row))


def end_session(response: Response) -> None:
    viewer = current_viewer()
    if viewer is not None:
        with db().write() as conn:
            conn.execute(delete(t.dashboard_sessions).where(
                t.dashboard_sessions.c.id == viewer.session_id))
    response.delete_cookie(_cookie_name(), path="/", secure=secure(), httponly=True)


def set_locale(viewer: Viewer, locale: str) -> None:
    with db().write() as conn:
        conn.execute(update(t.dashboard_sessions).where(
            t.dashboard_sessions.c.id == viewer.session_id).values(locale=locale))
        if viewer.user_id is not None:  # a user's choice follows them to their next login
            conn.execute(update(t.users).where(t.users.c.id == viewer.user_id).values(
                locale=locale))


def safe_next(value: str | None, default: str = "/dashboard/") -> str:
    """A path of the dashboard to go to after a login or a post: never another site."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/") \
            or "\\" in value or "//" in parts.path:
        return default
    return value


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# -- CSRF ------------------------------------------------------------------------------------

def _csrf_for(subject: str, key: bytes) -> str:
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()


def _login_subject() -> tuple[str, str]:
    """(the pre-login cookie's value, the CSRF subject it makes): login CSRF, where a page of
    another site would log the browser into the attacker's account, is refused too."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not _TOKEN.match(cookie):
        cookie = g.get("dashboard_login_cookie") or secrets.token_urlsafe(32)
        g.dashboard_login_cookie = cookie
    return cookie, f"login:{cookie}"


def csrf_token() -> str:
    """The token of this request's forms."""
    viewer = current_viewer()
    subject = f"session:{viewer.session_id}" if viewer else _login_subject()[1]
    return _csrf_for(subject, vault().signing_keys(_CSRF_PURPOSE)[-1])


def csrf_valid() -> bool:
    sent = request.form.get(CSRF_FIELD, "")
    viewer = current_viewer()
    if viewer is not None:
        subject = f"session:{viewer.session_id}"
    else:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not _TOKEN.match(cookie):
            return False
        subject = f"login:{cookie}"
    return bool(sent) and any(hmac.compare_digest(sent, _csrf_for(subject, key))
                              for key in vault().signing_keys(_CSRF_PURPOSE))


def keep_login_cookie(response: Response) -> None:
    """Send the pre-login cookie the login form's token was made from (when new)."""
    cookie = g.get("dashboard_login_cookie")
    if cookie:
        response.set_cookie(LOGIN_COOKIE, cookie, path="/dashboard/", httponly=True,
                            secure=secure(), samesite="Lax", max_age=3600)


# -- the password login ----------------------------------------------------------------------

def _language() -> str:
    return pick_language(request.args.get("lang") or request.form.get("lang"),
                         [value for value, _ in request.accept_languages])


def _login_page(status: int = 200, *, error: str | None = None, email: str = "") -> Response:
    from parcours.dashboard import render_page

    response = render_page("login.html", _language(), status=status, viewer=None,
                           error=error, email=email, next=request.values.get("next", ""))
    keep_login_cookie(response)
    return response


@auth_routes.get("/login")
def login() -> Response:
    if current_viewer() is not None:
        return no_store(redirect(safe_next(request.args.get("next")), 303))
    return _login_page()


@auth_routes.post("/login")
def login_post() -> Response:
    limiter: RateLimiter = current_app.extensions[_LIMIT]
    wait = limiter.wait_for(request.remote_addr or "")
    if wait:
        response = _login_page(429, error="login_rate", email=request.form.get("email", ""))
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    if not csrf_valid():
        return _login_page(403, error="csrf")
    email, password = request.form.get("email", ""), request.form.get("password", "")
    with db().write() as conn:
        user = check_login(conn, email, password, _now())
    if user is None:
        return _login_page(401, error="login_refused", email=email[:320])
    return start_session(account_id=user.account_id, user_id=user.id, via="password",
                         locale=user.locale or _language(),
                         next_url=request.form.get("next") or "/dashboard/")


@auth_routes.post("/logout")
def logout() -> Response:
    if current_viewer() is not None and not csrf_valid():
        return no_store(redirect(url_for("dashboard.home"), 303))
    response = redirect(url_for("dashboard_auth.login", notice="logged_out"), 303)
    end_session(response)
    return no_store(response)


@auth_routes.post("/language")
def language() -> Response:
    """The language switch: remembered in the session (and for a user, their account)."""
    chosen = request.form.get("lang", "")
    viewer = current_viewer()
    back = safe_next(request.form.get("next"))
    if viewer is None or not csrf_valid() or chosen not in LANGUAGES:
        return no_store(redirect(back, 303))
    set_locale(viewer, chosen)
    return no_store(redirect(back, 303))


def needs_login() -> Response:
    """Where a request without a session goes: a platform's way back in when it has one (the
    Shopify admin's bounce page), else the login page."""
    for hook in current_app.extensions.get("parcours.dashboard.reauth", ()):
        answer = hook()
        if answer is not None:
            return answer  # type: ignore[no-any-return]
    target = request.full_path.rstrip("?") if request.method == "GET" else "/dashboard/"
    return no_store(redirect(url_for("dashboard_auth.login", next=target), 303))


def register_reauth(app: Flask, hook: Callable[[], Response | None]) -> None:
    """A platform's way to log back in a request that came without a session."""
    app.extensions.setdefault("parcours.dashboard.reauth", []).append(hook)

