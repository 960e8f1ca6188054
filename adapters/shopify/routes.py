"""The Shopify routes: install (OAuth), the embedded admin, and the storefront's app proxy.

- `GET /shopify/install`: the app store's install link (`shop`, `timestamp`, `hmac`, `host`).
  Verified, then the merchant is sent to approve the scopes with a signed `state`; the state's
  nonce is also put in a signed cookie (see `oauth.py` for why).
- `GET /shopify/callback`: Shopify's redirect after approval. Verified (HMAC, timestamp, state,
  cookie, shop), the code is exchanged for expiring offline tokens, the store is created or
  reactivated, the post-install job is started, and the merchant lands in the embedded app.
- `GET /shopify/admin`: the embedded app's URL. Needs a session token (`id_token` query parameter,
  as Shopify loads it, or `Authorization: Bearer`). A shop without usable tokens gets them by token
  exchange, so a merchant who opens the app is never bounced through OAuth again.
- `GET /shopify/api/...`: JSON for the embedded app, behind `require_session_token`.
- `GET /apps/parcours/...`: the app proxy. Shopify forwards `/apps/parcours/<rest>` on the
  storefront to the proxy URL + `/<rest>`, so `shopify.app.toml` must set
  `[app_proxy] url = "<PUBLIC_URL>/apps/parcours"`, `prefix = "apps"`, `subpath = "parcours"`
  and the routes live at `/apps/parcours/<rest>` here. Every request is signature-checked
  (90 s freshness) before its parameters are read.

Refusals are JSON `{"error": {"message", "fields"?}}`: 400 malformed, 401 not verified, 404 unknown
shop, 502 Shopify unreachable, 503 not configured. Nothing is stored before every check passes.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from sqlalchemy import Connection, select, update

from parcours import tables as t
from parcours.accounts import STORE_KEY, create_store, free_store_key, store_facts
from parcours.adapters.shopify.errors import (
    ShopifyAuthError,
    ShopifyRequestError,
    ShopifyUnreachable,
)
from parcours.adapters.shopify.oauth import (
    STATE_MAX_AGE,
    ShopifyTokens,
    app_secrets,
    authorize_url,
    check_timestamp,
    exchange_code,
    exchange_session_token,
    new_state,
    normalise_shop,
    read_state,
    shop_url,
    single_values,
    verify_query_hmac,
)
from parcours.adapters.shopify.proxy import proxy_verification
from parcours.adapters.shopify.session import SessionToken, verify_session_token
from parcours.adapters.shopify.setup import SetupItem, language, setup_items
from parcours.adapters.shopify.tokens import load_tokens, save_tokens, usable
from parcours.credentials import Vault
from parcours.db import Database, advisory_lock
from parcours.errors import ConfigError, NotFoundError, ValidationError
from parcours.reviews import product_reviews
from parcours.shipping import estimate_answer, parse_estimate_query

__all__ = ["register_routes", "require_session_token", "shopify_routes"]

log = logging.getLogger(__name__)
shopify_routes = Blueprint("shopify", __name__, template_folder="templates")
COOKIE = "parcours_shopify_oauth"
CALLBACK = "/shopify/callback"
REQUEST_MAX_AGE = 300  # seconds: how old a signed install or callback request may be
RETRY_HEADER = {"X-Shopify-Retry-Invalid-Session-Request": "1"}  # App Bridge fetches anew
F = TypeVar("F", bound=Callable[..., Any])


def error_response(status: int, message: str, fields: Mapping[str, Any] | None = None
                   ) -> tuple[Response, int]:
    """The app's error shape, `{"error": {"message", "fields"?}}` (as parcours.app writes it)."""
    body: dict[str, Any] = {"message": message}
    if fields:
        body["fields"] = dict(fields)
    return jsonify(error=body), status


def register_routes(app: Flask) -> None:
    """Add the Shopify routes to `app` (ShopifyAdapter.init_app calls this)."""
    if shopify_routes.name not in app.blueprints:
        app.register_blueprint(shopify_routes)


def _db() -> Database:
    return cast(Database, current_app.extensions["parcours.db"])


def _vault() -> Vault:
    return cast(Vault, current_app.extensions["parcours.vault"])


def _config() -> Mapping[str, Any]:
    return current_app.config


@shopify_routes.errorhandler(ShopifyRequestError)
def _malformed(exc: ShopifyRequestError) -> Any:
    return error_response(400, exc.args[0], exc.errors)


@shopify_routes.errorhandler(ShopifyAuthError)
def _refused(exc: ShopifyAuthError) -> Any:
    log.warning("refused a Shopify request to %s: %s", request.path, exc)
    return error_response(401, str(exc))


@shopify_routes.errorhandler(ShopifyUnreachable)
def _unavailable(exc: ShopifyUnreachable) -> Any:
    log.warning("Shopify unavailable during %s: %s", request.path, exc)
    return error_response(502, f"{exc}; try again in a moment")


@shopify_routes.errorhandler(ConfigError)
def _unconfigured(exc: ConfigError) -> Any:
    log.error("Shopify routes are not configured: %s", exc)
    return error_response(503, str(exc))


# -- stores ---------------------------------------------------------------------------------------

def _shop_store(conn: Connection, shop: str) -> Any:
    s = t.stores.c
    return conn.execute(select(s.id, s.key, s.uninstalled_at).where(
        s.platform == "shopify", s.domain == shop).order_by(s.id)).first()


def _connect(shop: str, tokens: ShopifyTokens) -> str:
    """Create the shop's store, or reactivate it (a reinstall within the retention), and save
    its tokens; all in one transaction. Returns the store key."""
    with _db().write() as conn:
        advisory_lock(conn, f"parcours.shopify.install:{shop}")
        row = _shop_store(conn, shop)
        if row is None:
            key = free_store_key(conn, shop.split(".", 1)[0])
            assert STORE_KEY.match(key)
            store_id = create_store(conn, key, account=shop, platform="shopify", name=shop,
                                    domain=shop).id
        else:
            key, store_id = row.key, row.id
            conn.execute(update(t.stores).where(t.stores.c.id == store_id)
                         .values(uninstalled_at=None, delete_after=None))
        save_tokens(conn, _vault(), store_id, tokens)
    log.info("Shopify shop %s connected as store %s", shop, key)
    return str(key)


def _start_post_install(store_key: str) -> None:
    """Start the post-install job (webhooks, pixel, metafield, facts). It is idempotent and
    resumable, so a failure to enqueue is logged and left to its own retries and sweeps."""
    start = current_app.extensions.get("parcours.shopify.post_install")
    if start is None:
        return
    try:
        start(store_key)
    except Exception:
        log.exception("could not start the Shopify post-install job of %s", store_key)


# -- OAuth ----------------------------------------------------------------------------------------

def _cookie_options() -> dict[str, Any]:
    """Sent only to the callback (under the app's mount point), never to scripts, and on the
    top-level GET navigation back from Shopify (Lax); Secure whenever the app is on https."""
    secure = request.is_secure or str(_config().get("PUBLIC_URL") or "").startswith("https://")
    return {"path": request.script_root + CALLBACK, "httponly": True, "samesite": "Lax",
            "secure": secure}


def _signed_query() -> tuple[dict[str, str], str]:
    """The query of a request Shopify signed, verified: (parameters, shop)."""
    params = single_values(request.args.items(multi=True))
    shop = normalise_shop(params.get("shop"))
    verify_query_hmac(params, app_secrets(_config()))
    check_timestamp(params.get("timestamp"), max_age=REQUEST_MAX_AGE)
    return params, shop


@shopify_routes.get("/shopify/install")
def install() -> Any:
    _, shop = _signed_query()
    state, cookie = new_state(_config(), shop)
    response = redirect(authorize_url(_config(), shop, state), 302)
    response.set_cookie(COOKIE, cookie, max_age=STATE_MAX_AGE, **_cookie_options())
    response.headers["Cache-Control"] = "no-store"
    return response


@shopify_routes.get(CALLBACK)
def callback() -> Any:
    params, shop = _signed_query()
    missing = {name: ["required"] for name in ("code", "state") if not params.get(name)}
    if missing:
        raise ShopifyRequestError("incomplete OAuth callback", missing)
    read_state(_config(), params["state"], request.cookies.get(COOKIE), shop)
    tokens = exchange_code(_config(), shop, params["code"])
    key = _connect(shop, tokens)
    _start_post_install(key)
    api_key = str(_config()["SHOPIFY_API_KEY"])
    response = redirect(shop_url(_config(), shop, f"/admin/apps/{api_key}"), 302)
    response.delete_cookie(COOKIE, **_cookie_options())
    response.headers["Cache-Control"] = "no-store"
    return response


# -- embedded admin -------------------------------------------------------------------------------

def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _session(token: str) -> SessionToken:
    if not token:
        raise ShopifyAuthError("missing session token (id_token or Authorization: Bearer)")
    config = _config()
    return verify_session_token(token, str(config.get("SHOPIFY_API_KEY") or ""),
                                app_secrets(config))


def require_session_token(view: F) -> F:
    """For JSON called by the embedded app: a valid session token, else 401 with the header that
    makes App Bridge fetch a fresh token and retry. Sets `g.shopify_shop` and
    `g.shopify_session`. Self-contained (answers the 401 itself), so other blueprints can use it.
    """
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            session = _session(_bearer())
        except ShopifyAuthError as exc:
            response, status = error_response(401, str(exc))
            response.headers.update(RETRY_HEADER)
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response, status
        g.shopify_shop, g.shopify_session = session.shop, session
        return view(*args, **kwargs)

    return cast(F, wrapper)


INTRO = {"en": ("{shop} is connected to Parcours as store {store}: journeys are recorded from "
                "the storefront to the review."),
         "fr": ("{shop} est connectée à Parcours (boutique {store}) : les parcours sont "
                "suivis de la boutique jusqu'à l'avis.")}
HEADING = {"en": "Setup and frictions", "fr": "Installation et points de friction"}
OPEN_DASHBOARD = {"en": "Open the dashboard", "fr": "Ouvrir le tableau de bord"}


def _checklist(conn: Connection, store_id: int, shop: str) -> tuple[str, list[SetupItem]]:
    facts = store_facts(conn, store_id)
    return language(facts), setup_items(facts, shop)


@shopify_routes.get("/shopify/admin")
def admin() -> Any:
    token = request.args.get("id_token") or _bearer()
    session = _session(token)
    with _db().read() as conn:
        row = _shop_store(conn, session.shop)
        tokens = load_tokens(conn, _vault(), row.id) if row is not None else None
    if row is None or not usable(tokens):
        key = _connect(session.shop, exchange_session_token(_config(), session.shop, token))
        _start_post_install(key)
    else:
        key = row.key
    with _db().read() as conn:
        lang, items = _checklist(conn, _shop_store(conn, session.shop).id, session.shop)
    # The dashboard, with this load's token (the page's script swaps in a fresh one).
    dashboard = "/dashboard/shopify?" + urlencode(
        {"id_token": token, "locale": request.args.get("locale") or lang})
    page = render_template("parcours_shopify/admin.html", lang=lang, items=items,
                           api_key=_config().get("SHOPIFY_API_KEY"), heading=HEADING[lang],
                           intro=INTRO[lang].format(shop=session.shop, store=key),
                           dashboard_url=request.script_root + dashboard,
                           open_dashboard=OPEN_DASHBOARD[lang])
    return page, 200, {
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        # Shopify requires embedded apps to allow framing by the shop's admin only.
        "Content-Security-Policy":
            f"frame-ancestors https://{session.shop} https://admin.shopify.com;"}


@shopify_routes.get("/shopify/api/status")
@require_session_token
def status() -> Any:
    shop = str(g.shopify_shop)
    with _db().read() as conn:
        row = _shop_store(conn, shop)
        tokens = load_tokens(conn, _vault(), row.id) if row is not None else None
        items = _checklist(conn, row.id, shop)[1] if row is not None else []
    installed = row is not None and row.uninstalled_at is None and usable(tokens)
    return jsonify(shop=shop, store=row.key if row is not None else None, installed=installed,
                   setup=[item.as_dict() for item in items])


# -- app proxy ------------------------------------------------------------------------------------

PROXY = "/apps/parcours"
_PRODUCT = re.compile(r"[0-9]{1,20}")


def _proxied_store() -> tuple[int, str]:
    """Verify the proxy signature first, then find the (installed) store of `shop`."""
    verdict = proxy_verification(request.args, app_secrets(_config()))
    if not verdict.ok:
        raise ShopifyAuthError(f"app proxy request refused: {verdict.reason}")
    shop = normalise_shop(request.args.get("shop"))
    with _db().read() as conn:
        row = _shop_store(conn, shop)
    if row is None or row.uninstalled_at is not None:
        raise NotFoundError(f"{shop} has not installed Parcours")
    return int(row.id), shop


def _proxy_answer(**body: Any) -> Any:
    response = jsonify(**body)
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@shopify_routes.get(f"{PROXY}/shipping-estimate")
def shipping_estimate_route() -> Any:
    store_id, shop = _proxied_store()
    try:
        query = parse_estimate_query(request.args)
    except ValidationError as exc:
        raise ShopifyRequestError(exc.args[0], exc.errors) from None
    with _db().read() as conn:
        zones = store_facts(conn, store_id, "shipping_zones").get("shipping_zones")
    return _proxy_answer(shop=shop, **estimate_answer(query, zones))


@shopify_routes.get(f"{PROXY}/reviews/<product_id>")
def reviews_route(product_id: str) -> Any:
    """A page of a product's published reviews with its rating (`?page=`), the same answer as
    Parcours' public `/w/<store>/reviews/<product>.json`, for a theme's own script."""
    store_id, _ = _proxied_store()
    if not _PRODUCT.fullmatch(product_id):
        raise ShopifyRequestError("invalid product id", {"product_id": ["a numeric product id"]})
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        raise ShopifyRequestError("invalid page", {"page": ["a whole number from 1"]})
    with _db().read() as conn:
        return _proxy_answer(**product_reviews(conn, store_id, product_id, page=int(page)))
