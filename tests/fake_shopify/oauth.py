"""The fake's OAuth: `/shops/<shop>/admin/oauth/authorize` and `/admin/oauth/access_token`.

Faithful to shopify.dev ("Implement authorization code grant manually", "Offline access tokens",
"Exchange a session token for an access token", changelog "More resilient refreshes for expiring
offline access tokens", 2026-08-28):

- `authorize` plays the merchant approving at once: it checks `client_id` and `redirect_uri` (an
  allowed redirection URL of the app), records the granted scopes, and redirects to
  `redirect_uri` with `code`, `hmac`, `host`, `shop`, `state`, `timestamp`, signed with the app's
  secret over the sorted, form-encoded `k=v` pairs joined by `&`.
- `access_token` takes JSON or a form with `client_id` and `client_secret`, and one grant:
  the authorization code (single use; `expiring=1` gives a one-hour offline token with a 90-day
  refresh token, without it a non-expiring token), `grant_type=refresh_token` (rotation: a new
  pair each time; the used token stays valid until one of its replacements is used, which
  retires it and its other replacements), or token exchange (`subject_token` a session token
  signed with the app's secret for this app and shop). Refusals are 400 with Shopify's
  `{"error", "error_description"}`.

The helpers at the bottom build what Shopify would send (install links, session tokens, proxied
storefront requests) with their own signing code, independent of Parcours'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jwt
from flask import Blueprint, current_app, jsonify, redirect, request

from tests.fake_shopify import FakeShop, FakeShopify

oauth_blueprint = Blueprint("fake_shopify_oauth", __name__)

ACCESS_LIFETIME = 3600  # seconds: expiring offline access tokens
REFRESH_LIFETIME = 90 * 24 * 3600  # refresh tokens
CODE_LIFETIME = 600
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE = "urn:shopify:params:oauth:token-type:online-access-token"


def _state() -> FakeShopify:
    return current_app.config["STATE"]  # type: ignore[no-any-return]


def _refuse(error: str, description: str, status: int = 400) -> Any:
    return jsonify(error=error, error_description=description), status


def sign_query(secret: str, params: dict[str, str]) -> str:
    """The `hmac` of a redirect: sorted, form-encoded `k=v` pairs joined by `&`."""
    message = urlencode(sorted((k, v) for k, v in params.items() if k != "hmac"),
                        quote_via=quote)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def host_param(shop: str) -> str:
    """`host`: base64 of the shop's admin URL (admin.shopify.com/store/<name>)."""
    return base64.b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode()


# -- authorize ---------------------------------------------------------------------------------

@oauth_blueprint.get("/admin/oauth/authorize")
def authorize(shop: str) -> Any:
    state = _state()
    args = request.args
    if args.get("client_id") != state.api_key:
        return "Oauth error invalid_request: The client_id is invalid", 400
    redirect_uri = args.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    allowed = (redirect_uri in state.redirect_urls if state.redirect_urls
               else parts.scheme in ("http", "https") and bool(parts.netloc))
    if not allowed:
        return "Oauth error invalid_request: The redirect_uri is not whitelisted", 400
    fake = state.shop(shop)
    code = secrets.token_hex(16)
    with state.lock:
        fake.granted_codes[code] = time.time() + CODE_LIFETIME
        fake.scopes = args.get("scope", "")
    params = {"code": code, "host": host_param(shop), "shop": shop,
              "state": args.get("state", ""), "timestamp": str(int(time.time()))}
    params["hmac"] = sign_query(state.api_secret, params)
    return redirect(f"{redirect_uri}?{urlencode(params)}", 302)


# -- access_token ------------------------------------------------------------------------------

def _issue(fake: FakeShop, expiring: bool, parent: str | None = None) -> dict[str, Any]:
    access = "shpat_" + secrets.token_hex(16)
    now = time.time()
    if not expiring:
        fake.access_tokens[access] = float("inf")
        return {"access_token": access, "scope": fake.scopes}
    refresh = "shprt_" + secrets.token_hex(16)
    fake.access_tokens[access] = now + ACCESS_LIFETIME
    fake.refresh_tokens[refresh] = now + REFRESH_LIFETIME
    if parent is not None:
        fake.refresh_parents[refresh] = parent
    return {"access_token": access, "expires_in": ACCESS_LIFETIME, "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_LIFETIME, "scope": fake.scopes}


def _use_refresh_token(fake: FakeShop, token: str) -> bool:
    """Whether `token` is live; using it retires its parent and its parent's other children."""
    if fake.refresh_tokens.get(token, 0) < time.time():
        return False
    parent = fake.refresh_parents.pop(token, None)
    if parent is not None:
        fake.refresh_tokens.pop(parent, None)
        for child, its_parent in list(fake.refresh_parents.items()):
            if its_parent == parent:
                fake.refresh_tokens.pop(child, None)
                del fake.refresh_parents[child]
    return True


def _exchange(state: FakeShopify, shop: str, body: dict[str, Any]) -> Any:
    if body.get("subject_token_type") != ID_TOKEN:
        return _refuse("invalid_request", "subject_token_type must be an id_token")
    if body.get("requested_token_type") not in (OFFLINE, ONLINE):
        return _refuse("invalid_request", "unsupported requested_token_type")
    try:
        claims = jwt.decode(str(body.get("subject_token") or ""), state.api_secret,
                            algorithms=["HS256"], audience=state.api_key, leeway=5,
                            options={"require": ["exp", "nbf", "iss", "dest", "aud"]})
    except jwt.InvalidTokenError as exc:
        return _refuse("invalid_subject_token", f"The subject token is invalid: {exc}")
    if urlsplit(str(claims["dest"])).hostname != shop:
        return _refuse("invalid_subject_token", "The subject token is for another shop")
    fake = state.shop(shop)
    with state.lock:
        answer = _issue(fake, str(body.get("expiring", "0")) == "1")
    if body["requested_token_type"] == ONLINE:
        answer.update(associated_user_scope=fake.scopes,
                      associated_user={"id": int(claims.get("sub") or 1)})
    return jsonify(answer)


@oauth_blueprint.post("/admin/oauth/access_token")
def access_token(shop: str) -> Any:
    state = _state()
    body: dict[str, Any] = request.get_json(silent=True) or request.form.to_dict()
    if body.get("client_id") != state.api_key or not hmac.compare_digest(
            str(body.get("client_secret") or ""), state.api_secret):
        return _refuse("invalid_client", "Client authentication failed")
    grant = body.get("grant_type")
    fake = state.shop(shop)
    if grant == TOKEN_EXCHANGE:
        return _exchange(state, shop, body)
    if grant == "refresh_token":
        with state.lock:
            if not _use_refresh_token(fake, str(body.get("refresh_token") or "")):
                return _refuse("invalid_grant", "The refresh token is invalid, expired, or "
                                                "was already rotated")
            return jsonify(_issue(fake, True, parent=str(body["refresh_token"])))
    if grant not in (None, "authorization_code"):
        return _refuse("unsupported_grant_type", f"Unsupported grant_type {grant!r}")
    with state.lock:
        expiry = fake.granted_codes.pop(str(body.get("code") or ""), 0)
        if expiry < time.time():
            return _refuse("invalid_request",
                           "The authorization code was not found or was already used")
        return jsonify(_issue(fake, str(body.get("expiring", "0")) == "1"))


# -- what Shopify sends, for tests -------------------------------------------------------------

def install_url(state: FakeShopify, shop: str, app_origin: str, *,
                timestamp: int | None = None, secret: str | None = None) -> str:
    """The signed link Shopify opens to install the app (`/shopify/install` on the app)."""
    params = {"host": host_param(shop), "shop": shop,
              "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    params["hmac"] = sign_query(secret or state.api_secret, params)
    return f"{app_origin.rstrip('/')}/shopify/install?{urlencode(params)}"


def session_token(state: FakeShopify, shop: str, expires_in: int = 60, aud: str | None = None,
                  *, secret: str | None = None, iss: str | None = None,
                  dest: str | None = None, algorithm: str = "HS256",
                  now: float | None = None) -> str:
    """A session token as App Bridge hands it to the embedded app (one minute of life)."""
    moment = int(time.time() if now is None else now)
    claims = {"iss": iss or f"https://{shop}/admin", "dest": dest or f"https://{shop}",
              "aud": aud or state.api_key, "sub": "42", "exp": moment + expires_in,
              "nbf": moment, "iat": moment, "jti": secrets.token_hex(8),
              "sid": secrets.token_hex(8)}
    key = None if algorithm == "none" else (secret or state.api_secret)
    return jwt.encode(claims, key, algorithm=algorithm)  # type: ignore[arg-type]


def proxy_query(state: FakeShopify, shop: str, params: Iterable[tuple[str, str]], *,
                timestamp: int | None = None, secret: str | None = None,
                customer_id: str = "") -> list[tuple[str, str]]:
    """The query Shopify forwards for a storefront request to /apps/parcours/...: the shopper's
    parameters plus shop, logged_in_customer_id, path_prefix, timestamp and `signature`."""
    pairs = [*params, ("shop", shop), ("logged_in_customer_id", customer_id),
             ("path_prefix", "/apps/parcours"),
             ("timestamp", str(int(time.time()) if timestamp is None else timestamp))]
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(grouped[k])}" for k in sorted(grouped))
    signature = hmac.new((secret or state.api_secret).encode(), message.encode(),
                         hashlib.sha256).hexdigest()
    return [*pairs, ("signature", signature)]
