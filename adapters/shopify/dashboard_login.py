"""The Shopify admin's way into the Parcours dashboard: App Bridge's session token.

1. Shopify loads the app's URL (`/shopify/admin`, routes.py) in its admin's iframe with
   `id_token` (a session token) and `locale` appended. That page loads App Bridge and links to
   `/dashboard/shopify?id_token=…&locale=…`; a click asks App Bridge for a fresh token first
   (`shopify.idToken()`: tokens live one minute), so the link works however long the page was
   open.
2. `GET /dashboard/shopify` verifies the token (session.py: HS256 with the app's secret,
   `aud` = the API key, `dest` = `https://{shop}`, `exp`/`nbf` with 10 s of leeway), finds the
   installed store whose domain is the `dest` shop, opens a dashboard session scoped to that
   store, and sends the browser to the store's overview (or `next`). The token never becomes
   the session: it is spent at once, and the address bar no longer holds it.
3. Inside the admin the session's cookie is a third-party one: `SameSite=None; Secure;
   Partitioned` on https (dashboard_auth.py). Where a browser refuses even that, a dashboard
   page asked for from the admin's iframe without a session gets the bounce page: App Bridge
   with `shopify-reload` naming step 2, so App Bridge loads it again with a fresh `id_token`
   (Shopify's documented way back in for a document request). Forms need the cookie.
4. Dashboard pages of a Shopify session load App Bridge and may be framed by the shop's admin
   only (`frame-ancestors https://{shop} https://admin.shopify.com`), as Shopify requires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from parcours import tables as t
from parcours.adapters.shopify.errors import ShopifyAuthError
from parcours.adapters.shopify.oauth import app_secrets
from parcours.adapters.shopify.session import verify_session_token
from parcours.dashboard_auth import (
    Embed,
    Viewer,
    db,
    register_embed,
    register_reauth,
    safe_next,
    start_session,
)
from parcours.dashboard_text import pick_language
from parcours.errors import ConfigError

__all__ = ["APP_BRIDGE", "register"]

APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
blueprint = Blueprint("shopify_dashboard", __name__, template_folder="templates")


def register(app: Flask) -> None:
    if blueprint.name not in app.blueprints:
        app.register_blueprint(blueprint)
    register_embed(app, "shopify", _embed)
    register_reauth(app, _bounce)


def _refused(status: int) -> Response:
    from parcours.dashboard import language_of, render_page

    return render_page("message.html", language_of(None), status=status,
                       title_key="platform_refused_title", body_key="platform_refused_body")


@blueprint.get("/dashboard/shopify")
def login() -> Response:
    config = current_app.config
    api_key = str(config.get("SHOPIFY_API_KEY") or "")
    token = request.args.get("id_token", "")
    try:
        session = verify_session_token(token, api_key, app_secrets(config))
    except (ShopifyAuthError, ConfigError) as exc:
        current_app.logger.warning("dashboard: Shopify session token refused: %s", exc)
        return _refused(401)
    s = t.stores.c
    with db().read() as conn:
        row = conn.execute(select(s.id, s.key, s.account_id).where(
            s.platform == "shopify", s.domain == session.shop, s.uninstalled_at.is_(None))
            .order_by(s.id)).first()
    if row is None:  # not installed (yet): the app's own page installs it
        return _refused(404)
    locale = request.args.get("locale")
    next_url = safe_next(request.args.get("next"), f"/dashboard/stores/{row.key}/")
    return start_session(account_id=row.account_id, store_id=row.id, via="shopify",
                         locale=pick_language(locale) if locale else None, next_url=next_url)


def _shop(viewer: Viewer) -> str | None:
    if "shopify_dashboard_shop" not in g:
        with db().read() as conn:
            g.shopify_dashboard_shop = conn.execute(select(t.stores.c.domain).where(
                t.stores.c.id == viewer.store_id)).scalar()
    return g.shopify_dashboard_shop  # type: ignore[no-any-return]


def _embed(viewer: Viewer) -> Embed:
    shop = _shop(viewer)
    api_key = str(current_app.config.get("SHOPIFY_API_KEY") or "")
    return Embed(scripts=(APP_BRIDGE,), meta=(("shopify-api-key", api_key),),
                 frame_ancestors=tuple(a for a in (f"https://{shop}" if shop else "",
                                                   "https://admin.shopify.com") if a),
                 connect=("https://*.shopify.com",))


def _bounce() -> Any:
    """A page asked for from an iframe without a session: App Bridge gets a fresh token and
    loads the login with it (only when the Shopify app is configured)."""
    api_key = str(current_app.config.get("SHOPIFY_API_KEY") or "")
    if request.headers.get("Sec-Fetch-Dest") != "iframe" or not api_key \
            or request.method != "GET":
        return None
    public = str(current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    target = f"{public}/dashboard/shopify?" + urlencode(
        {"next": request.full_path.rstrip("?")})
    page = render_template("parcours_shopify/bounce.html", api_key=api_key,
                           app_bridge=APP_BRIDGE)
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {APP_BRIDGE}; connect-src https://*.shopify.com; "
        "frame-ancestors https://*.myshopify.com https://admin.shopify.com; base-uri 'none'")
    # App Bridge reads `shopify-reload` from the page's own address: send it there.
    if request.args.get("shopify-reload") is None:
        query = urlencode({"shopify-reload": target})
        response = redirect(f"{request.path}?{query}", 302)
        response.headers["Cache-Control"] = "no-store"
    return response
