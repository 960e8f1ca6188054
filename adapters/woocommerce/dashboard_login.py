"""The WordPress plugin's way into the Parcours dashboard: a signed, short-lived, single-use link.

Trust path: the plugin holds no Parcours credential of its own (its options are the server URL
and the public store key), but its WordPress holds one secret it shares with Parcours: the
webhook secret Parcours wrote into the store's WooCommerce webhooks (install.py), readable
there with `wc_get_webhook( $id )->get_secret()` for the webhooks whose delivery URL is
`{server}/webhooks/woocommerce/{store}`. Only the site's code and Parcours know it.

The plugin's "Open Parcours dashboard" button (a nonce-checked admin-post action of a user who
may manage WooCommerce) builds, at the click,

    {server}/dashboard/wordpress?store=KEY&ts=UNIX&nonce=RANDOM&locale=en|fr&sig=HEX

with `sig = hex(HMAC-SHA256(K, "parcours-dashboard-login\\n" + store + "\\n" + ts + "\\n" +
nonce + "\\n" + locale))` and `K = HMAC-SHA256(webhook secret, "parcours.dashboard-login")`:
a key of its own derived from the secret, so a login signature can never pass for a webhook's,
nor the reverse (functions-dashboard.php, `parcours_dashboard_link`). The browser is sent
there at once. Parcours checks the signature against each of the store's valid webhook secrets
(old and new during a rotation, constant-time), the time (at most `MAX_AGE` old, `SKEW` ahead),
and that the nonce was never used (its row in `dashboard_link_uses`, kept until the link
expires), then opens a session scoped to that store and sends the browser on without the link
in its address bar. A replayed, altered or expired link is refused, and nothing is written.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, request
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.wrappers import Response

from parcours import tables as t
from parcours.accounts import STORE_KEY
from parcours.credentials import read_secrets
from parcours.dashboard_auth import db, start_session, vault

__all__ = ["MAX_AGE", "SKEW", "link_signature", "register"]

MAX_AGE = 300  # seconds a link works after the click
SKEW = 60  # seconds a WordPress clock may run ahead of this one
PURPOSE = b"parcours.dashboard-login"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_SIG = re.compile(r"^[0-9a-f]{64}$")
blueprint = Blueprint("woocommerce_dashboard", __name__)


def register(app: Flask) -> None:
    if blueprint.name not in app.blueprints:
        app.register_blueprint(blueprint)


def link_signature(secret: str, store: str, ts: str, nonce: str, locale: str) -> str:
    """What the plugin signs (the same computation as its PHP)."""
    key = hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()
    message = "\n".join(("parcours-dashboard-login", store, ts, nonce, locale))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _refused(reason: str) -> Response:
    from parcours.dashboard import language_of, render_page

    current_app.logger.warning("dashboard: WordPress login link refused: %s", reason)
    return render_page("message.html", language_of(None), status=401,
                       title_key="platform_refused_title", body_key="platform_refused_body")


def _spend(conn: Connection, nonce: str, store_id: int, expires: datetime) -> bool:
    """Record the nonce as used; False when it already was (a replay)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    done = conn.execute(dialect.insert(t.dashboard_link_uses).values(
        nonce=nonce, store_id=store_id, expires_at=expires).on_conflict_do_nothing(
        index_elements=["nonce"]).returning(t.dashboard_link_uses.c.nonce))
    return done.first() is not None


@blueprint.get("/dashboard/wordpress")
def login() -> Response:
    args = request.args
    store, ts, nonce = args.get("store", ""), args.get("ts", ""), args.get("nonce", "")
    locale, sig = args.get("locale", ""), args.get("sig", "").lower()
    if not (STORE_KEY.match(store) and ts.isdigit() and len(ts) <= 12 and _NONCE.match(nonce)
            and locale in ("", "en", "fr") and _SIG.match(sig)):
        return _refused("malformed link")
    issued = int(ts)
    now = time.time()
    if issued > now + SKEW or issued < now - MAX_AGE:
        return _refused("expired link")
    s = t.stores.c
    with db().write() as conn:  # the checks and the nonce's use, or nothing
        row = conn.execute(select(s.id, s.account_id).where(
            s.key == store, s.platform == "woocommerce", s.uninstalled_at.is_(None))).first()
        reason = _check(conn, row, sig, store, ts, nonce, locale)
    if reason is not None or row is None:
        return _refused(reason or "no such WooCommerce store")
    return start_session(account_id=row.account_id, store_id=row.id, via="wordpress",
                         locale=locale or None, next_url=f"/dashboard/stores/{store}/")


def _check(conn: Connection, row: Any, sig: str, store: str, ts: str, nonce: str,
           locale: str) -> str | None:
    """Why the link is refused, or None once its nonce is spent."""
    if row is None:
        return "no such WooCommerce store"
    secrets = read_secrets(conn, vault(), row.id)
    if not any(hmac.compare_digest(sig, link_signature(secret, store, ts, nonce, locale))
               for secret in secrets):
        return "bad signature"
    moment = datetime.now(UTC)
    conn.execute(delete(t.dashboard_link_uses).where(
        t.dashboard_link_uses.c.expires_at < moment))
    expires = datetime.fromtimestamp(int(ts), UTC) + timedelta(seconds=MAX_AGE + SKEW)
    if not _spend(conn, nonce, row.id, expires):
        return "link already used"
    return None
