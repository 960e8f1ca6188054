"""What the hosted review pages share: the email link's form (review_form.py) and the
storefront's (review_storefront.py).

Both are plain HTML pages with no script, one nonce-allowed style sheet and headers that lock
them down (`protect`); both speak the shopper's language (`language`, review_form_text.py);
both defend their posts the same way: a CSRF token bound to a cookie (a page of another site
can make the browser post, but can read neither), a honeypot field (no browser autofills it; a
spam robot fills every field), and one per-address rate limit on posts shared by both forms
(`REVIEW_FORM_POSTS` within `REVIEW_FORM_WINDOW` seconds). Photos go through review_photos.py.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
import secrets
from typing import IO, Any

from flask import Response, current_app, g, render_template, request
from flask.sansio.app import App
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException, InternalServerError

from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ConfigError, ParcoursError
from parcours.review_form_text import TEXT, pick_language
from parcours.review_photos import MAX_BYTES, Photo, prepare_photo, read_upload
from parcours.webhooks.collect import RateLimiter

__all__ = ["CSRF_COOKIE", "CSRF_MAX_AGE", "CSRF_SALT", "HONEYPOT", "MAX_BODY", "MAX_PHOTOS",
           "PHOTO_CODES", "csrf_cookie", "csrf_token", "csrf_valid", "db", "http_error",
           "init_limit", "message", "page", "parcours_error", "protect", "rate_limited",
           "read_photo", "robot", "set_csrf_cookie", "shopper_language", "vault"]

log = logging.getLogger(__name__)

CSRF_SALT = "parcours.review-csrf"
CSRF_COOKIE = "parcours_review"
CSRF_MAX_AGE = 2 * 86400  # a form left open overnight still sends
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
HONEYPOT = "comment_extra"
MAX_PHOTOS = 4  # at once, in the email form (one per product)
# The email form's whole submission: the photos and the texts (the app's own limit is one
# photo's size).
MAX_BODY = MAX_PHOTOS * MAX_BYTES + 2**20
# Posts per address: `REVIEW_FORM_POSTS` within `REVIEW_FORM_WINDOW` seconds.
POSTS, WINDOW = 10, 600
_LIMIT = "parcours.review_form_limit"
# PhotoRefused.reason -> the key of its message in review_form_text.
PHOTO_CODES = {"too_big": "photo_too_big", "not_image": "photo_not_image",
               "pixels": "photo_pixels"}


def init_limit(app: App) -> None:
    """One bucket per app (each test's app its own), from its final config."""
    try:
        posts = int(app.config.get("REVIEW_FORM_POSTS", POSTS))
        window = float(app.config.get("REVIEW_FORM_WINDOW", WINDOW))
    except (TypeError, ValueError):
        raise ConfigError("REVIEW_FORM_POSTS and REVIEW_FORM_WINDOW must be numbers") from None
    if posts < 1 or window <= 0:
        raise ConfigError("REVIEW_FORM_POSTS must be at least 1, REVIEW_FORM_WINDOW over 0")
    app.extensions[_LIMIT] = RateLimiter(posts / window, posts)


def db() -> Database:
    return current_app.extensions["parcours.db"]  # type: ignore[no-any-return]


def vault() -> Vault:
    return current_app.extensions["parcours.vault"]  # type: ignore[no-any-return]


# -- every response ----------------------------------------------------------------------------

def _nonce() -> str:
    """This response's CSP nonce for the page's style sheet."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def protect(response: Response) -> Response:
    """No script may run, nothing may frame the page, and the URL (an email link is the
    shopper's credential) is neither sent as a referrer nor kept in a cache. A response
    that set its own policy (a photo) keeps it."""
    response.headers.setdefault("Content-Security-Policy", (
        f"default-src 'none'; img-src 'self' https:; style-src 'nonce-{_nonce()}'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def shopper_language(locale: str | None = None, default: str | None = None) -> str:
    accepted = [value for value, _quality in request.accept_languages]
    return pick_language(request.args.get("lang"), locale, default, accepted)


def page(template: str, language: str, status: int = 200, **context: Any) -> Response:
    """A page of templates/review_form/ in `language` (`t` its words)."""
    context.setdefault("switch", False)
    response = Response(render_template(f"review_form/{template}", lang=language,
                                        t=TEXT[language], csp_nonce=_nonce(), **context),
                        status=status, mimetype="text/html")
    response.headers["Content-Language"] = language
    return response


def message(language: str, what: str, status: int, *, again: str | None = None,
            **fields: Any) -> Response:
    """A page that only says something: `what`_title and `what`_body of the texts."""
    words = TEXT[language]
    return page("message.html", language, status, title=words[f"{what}_title"],
                body=words[f"{what}_body"].format(**fields), again=again)


def http_error(exc: HTTPException) -> Response:
    """The shopper's page, not the API's JSON: a body over the limit, a bad method, ..."""
    if exc.code == 413:  # the limit the post's route set
        limit = request.max_content_length or MAX_BODY
        return message(shopper_language(), "too_large", 413, megabytes=limit // 2**20)
    if isinstance(exc, InternalServerError):
        return message(shopper_language(), "error", 500)
    return page("message.html", shopper_language(), exc.code or 400, title=exc.name,
                body=exc.description or "", again=None)


def parcours_error(exc: ParcoursError) -> Response:
    log.error("review page: %s", exc)
    return message(shopper_language(), "error", 500)


# -- posts -------------------------------------------------------------------------------------

def rate_limited() -> Response | None:
    """The refusal when this address posted too often (it takes a token otherwise)."""
    limiter: RateLimiter = current_app.extensions[_LIMIT]
    wait = limiter.wait_for(request.remote_addr or "")
    if not wait:
        return None
    refused = message(shopper_language(), "rate", 429)
    refused.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return refused


def robot() -> bool:
    """The honeypot was filled: a robot, to be thanked with nothing kept."""
    return bool(request.form.get(HONEYPOT, "").strip())


def _csrf() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(vault().signing_keys(CSRF_SALT), salt=CSRF_SALT)


def csrf_cookie() -> str:
    """The browser's CSRF cookie value, or a new one: one value per browser, so several open
    tabs all send."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return cookie if _COOKIE_VALUE.match(cookie) else secrets.token_urlsafe(24)


def csrf_token(subject: Any, cookie: str) -> str:
    """The form's hidden token: what the form is for (`subject`, JSON) and the cookie's value."""
    return _csrf().dumps([subject, cookie])


def csrf_valid(subject: Any) -> bool:
    """The posted token names `subject` and the value of the cookie sent with it."""
    cookie, sent = request.cookies.get(CSRF_COOKIE, ""), request.form.get("csrf", "")
    if not _COOKIE_VALUE.match(cookie) or not sent:
        return False
    try:
        data = _csrf().loads(sent, max_age=CSRF_MAX_AGE)
    except BadSignature:
        return False
    return (isinstance(data, list) and len(data) == 2 and data[0] == subject
            and isinstance(data[1], str) and hmac.compare_digest(data[1], cookie))


def set_csrf_cookie(response: Response, cookie: str, path: str) -> None:
    response.set_cookie(CSRF_COOKIE, cookie, max_age=CSRF_MAX_AGE, path=path, httponly=True,
                        samesite="Lax", secure=request.is_secure)


def read_photo(stream: IO[bytes]) -> Photo:
    """An uploaded photo, cleaned; PhotoRefused (its `reason` a key of PHOTO_CODES)."""
    return prepare_photo(read_upload(stream))
