"""Shopify OAuth for public apps: checking what Shopify sends, the `state`, and the token grants.

Everything here follows shopify.dev ("Implement authorization code grant manually", "Offline access
tokens", "Exchange a session token for an access token"):

- A request Shopify redirects to the app (install link, OAuth callback) carries `hmac`: hex
  HMAC-SHA256, keyed with the app's client secret, of the other query parameters sorted by name and
  joined as `k=v` with `&`. Shopify's own libraries (shopify-api-js `ProcessedQuery`, shopify_api
  Ruby `URI.encode_www_form`) form-encode each key and value before joining, so we do the same; for
  what Shopify actually sends (letters, digits, `.`, `-`, `_`, base64 `host`) it is the plain text.
- The shop domain must match `^[a-zA-Z0-9][a-zA-Z0-9-]*\\.myshopify\\.com$` *in full*: every URL
  the app builds towards a shop comes from it, so a foreign domain must never get through.
- `state` is signed (itsdangerous, salt "parcours.shopify.oauth-state"), expires after 10 minutes,
  names the shop, and carries a nonce. The same nonce is put in a signed, HttpOnly, SameSite=Lax
  cookie when the install starts; the callback requires both to match and clears the cookie. That
  makes a state single use and bound to the browser that started the install without any table:
  a replayed callback finds no cookie (or another nonce), and a state stolen from a URL is useless
  in another browser. Shopify's own libraries do the same (a signed `shopify_app_state` cookie).
- Token grants all POST JSON to `https://{shop}/admin/oauth/access_token` with `client_id` and
  `client_secret`: the authorization code (with `expiring=1`: public apps created since 2026-04-01
  must use expiring offline tokens), `grant_type=refresh_token` (Shopify rotates the refresh
  token), and token exchange of a session token for an expiring offline token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import requests
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from parcours.adapters.base import app_secrets as platform_secrets
from parcours.adapters.shopify.errors import (
    ShopifyAuthError,
    ShopifyGrantError,
    ShopifyRequestError,
    ShopifyUnreachable,
)
from parcours.errors import ConfigError

__all__ = [
    "SHOPIFY_SCOPES",
    "ShopifyTokens",
    "app_secrets",
    "authorize_url",
    "check_timestamp",
    "exchange_code",
    "exchange_session_token",
    "new_state",
    "normalise_shop",
    "query_hmac",
    "read_state",
    "refresh_tokens",
    "shop_url",
    "single_values",
    "verify_query_hmac",
]

log = logging.getLogger(__name__)

# The scopes the app asks for; app_config/shopify.app.toml.template says why each one is needed.
SHOPIFY_SCOPES: tuple[str, ...] = (
    "read_orders", "read_customers", "read_products", "write_products", "read_fulfillments",
    "read_shipping", "write_pixels", "read_customer_events", "read_themes", "write_app_proxy",
    "read_locales",
)
SHOP_DOMAIN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com")
STATE_SALT = "parcours.shopify.oauth-state"
COOKIE_SALT = "parcours.shopify.oauth-cookie"
STATE_MAX_AGE = 600  # seconds: the merchant has 10 minutes to approve
TIMEOUT = (5, 10)  # connect, read (seconds): every call to Shopify
TOKEN_PATH = "/admin/oauth/access_token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"


# -- the shop, the secrets, the URLs --------------------------------------------------------------

def normalise_shop(shop: str | None) -> str:
    """The shop's `*.myshopify.com` domain, lower-cased; ShopifyRequestError for anything else.

    `fullmatch`, not `match` with `$`: `$` also matches before a trailing newline. Nothing is
    stripped or repaired: a value that is not exactly a shop domain is refused.
    """
    value = shop or ""
    if not value:
        raise ShopifyRequestError("missing shop", {"shop": ["required"]})
    if len(value) > 255 or not SHOP_DOMAIN.fullmatch(value):
        raise ShopifyRequestError("not a Shopify shop domain", {
            "shop": ["must be the shop's <name>.myshopify.com domain"]})
    return value.lower()


def app_secrets(config: Mapping[str, Any]) -> list[str]:
    """The client secrets to verify with: the current one, then previous ones (rotation)."""
    return platform_secrets(config, "shopify")


def _setting(config: Mapping[str, Any], name: str) -> str:
    value = str(config.get(name) or "").strip()
    if not value:
        raise ConfigError(f"PARCOURS_{name} is not set: the Shopify app needs it")
    return value


def shop_url(config: Mapping[str, Any], shop: str, path: str) -> str:
    """A URL on the shop: `SHOPIFY_SHOP_ORIGIN` ("https://{shop}") + path, for a checked shop."""
    origin = str(config.get("SHOPIFY_SHOP_ORIGIN") or "https://{shop}")
    return origin.format(shop=normalise_shop(shop)).rstrip("/") + path


def authorize_url(config: Mapping[str, Any], shop: str, state: str) -> str:
    """Where the merchant approves the scopes. Offline access: no `grant_options[]=per-user`."""
    query = urlencode({
        "client_id": _setting(config, "SHOPIFY_API_KEY"),
        "scope": ",".join(SHOPIFY_SCOPES),
        "redirect_uri": _setting(config, "PUBLIC_URL").rstrip("/") + "/shopify/callback",
        "state": state,
    })
    return shop_url(config, shop, "/admin/oauth/authorize") + "?" + query


# -- query HMAC -----------------------------------------------------------------------------------

def single_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Query pairs as a dict; a repeated name is refused (Shopify never repeats one here, and a
    repeat would make "which value was signed" ambiguous)."""
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise ShopifyRequestError("repeated query parameter", {key: ["given more than once"]})
        values[key] = value
    return values


def _form(text: str) -> str:
    # application/x-www-form-urlencoded as URLSearchParams writes it (space as %20).
    return quote(text, safe="*-._").replace("~", "%7E")


def query_hmac(secret: str, params: Mapping[str, str]) -> str:
    """The hex `hmac` Shopify computes over `params` (without `hmac` and `signature`)."""
    message = "&".join(f"{_form(k)}={_form(v)}" for k, v in sorted(params.items())
                       if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_query_hmac(params: Mapping[str, str], secrets_: Sequence[str]) -> None:
    """Raise ShopifyAuthError unless `params["hmac"]` is right for one of `secrets_`."""
    if not secrets_:
        raise ConfigError("PARCOURS_SHOPIFY_API_SECRET is not set")
    given = params.get("hmac", "").strip().lower()
    if not given:
        raise ShopifyAuthError("missing hmac parameter")
    # Every secret is compared (constant time each), so timing tells nothing about which.
    matches = [hmac.compare_digest(query_hmac(s, params), given) for s in secrets_]
    if not any(matches):
        raise ShopifyAuthError("hmac does not match: the request was not signed by Shopify")


def check_timestamp(value: str | None, *, max_age: float, now: float | None = None) -> None:
    """Refuse a signed `timestamp` older than `max_age` seconds, or as far in the future."""
    try:
        stamp = int(value or "")
    except ValueError:
        raise ShopifyRequestError("bad timestamp",
                                  {"timestamp": ["must be Unix seconds"]}) from None
    moment = time.time() if now is None else now
    if abs(moment - stamp) > max_age:
        raise ShopifyAuthError(f"timestamp is more than {int(max_age)} s away from now "
                               "(stale or replayed request)")


# -- state ----------------------------------------------------------------------------------------

def _signer_at(moment: float | None) -> type[TimestampSigner]:
    if moment is None:
        return TimestampSigner
    fixed = int(moment)

    class _At(TimestampSigner):
        def get_timestamp(self) -> int:
            return fixed

    return _At


def _serializer(config: Mapping[str, Any], salt: str, moment: float | None = None
                ) -> URLSafeTimedSerializer:
    keys = app_secrets(config)
    if not keys:
        raise ConfigError("PARCOURS_SHOPIFY_API_SECRET is not set")
    # itsdangerous signs with the last key and accepts all: previous secrets first.
    return URLSafeTimedSerializer(list(reversed(keys)), salt=salt, signer=_signer_at(moment))


def _loads(serializer: URLSafeTimedSerializer, token: str, what: str, now: float | None) -> Any:
    try:
        value, signed_at = serializer.loads(token, return_timestamp=True)
    except BadSignature:
        raise ShopifyAuthError(f"{what} is not signed by this app (tampered or forged)") from None
    age = (time.time() if now is None else now) - signed_at.timestamp()
    if age > STATE_MAX_AGE or age < -60:
        raise ShopifyAuthError(f"{what} has expired: start the install again")
    return value


def new_state(config: Mapping[str, Any], shop: str, *, now: float | None = None
              ) -> tuple[str, str]:
    """A fresh `(state, cookie)` pair for `shop`: both signed, both carrying the same nonce."""
    nonce = secrets.token_urlsafe(24)
    state = _serializer(config, STATE_SALT, now).dumps({"shop": shop, "nonce": nonce})
    cookie = _serializer(config, COOKIE_SALT, now).dumps(nonce)
    return str(state), str(cookie)


def read_state(config: Mapping[str, Any], state: str, cookie: str | None, shop: str, *,
               now: float | None = None) -> None:
    """Raise ShopifyAuthError unless `state` is ours, unexpired, for `shop`, and this browser's."""
    payload = _loads(_serializer(config, STATE_SALT), state, "state", now)
    if not isinstance(payload, dict) or not isinstance(payload.get("nonce"), str):
        raise ShopifyAuthError("state is malformed")
    if payload.get("shop") != shop:
        raise ShopifyAuthError("state was issued for another shop")
    if not cookie:
        raise ShopifyAuthError("no install cookie: the install was started in another browser, "
                               "or this callback was already used")
    nonce = _loads(_serializer(config, COOKIE_SALT), cookie, "install cookie", now)
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce, payload["nonce"]):
        raise ShopifyAuthError("state does not belong to this browser's install (replayed?)")


# -- tokens ---------------------------------------------------------------------------------------

def _at(seconds: Any, now: datetime) -> datetime | None:
    return now + timedelta(seconds=int(seconds)) if seconds not in (None, "") else None


@dataclass(frozen=True)
class ShopifyTokens:
    """An offline access token and, for expiring ones, its refresh token (never in a repr)."""

    access_token: str = field(repr=False)
    access_expires_at: datetime | None
    refresh_token: str | None = field(repr=False)
    refresh_expires_at: datetime | None
    scope: str

    @classmethod
    def from_response(cls, data: Any, now: datetime | None = None) -> ShopifyTokens:
        """From an access_token answer: access_token, expires_in, refresh_token,
        refresh_token_expires_in, scope (the last four absent for non-expiring tokens)."""
        moment = now or datetime.now(UTC)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ShopifyAuthError("Shopify's token answer has no access_token")
        try:
            return cls(data["access_token"], _at(data.get("expires_in"), moment),
                       data.get("refresh_token") or None,
                       _at(data.get("refresh_token_expires_in"), moment),
                       str(data.get("scope") or ""))
        except (TypeError, ValueError):
            raise ShopifyAuthError("Shopify's token answer has malformed lifetimes") from None

    def to_json(self) -> str:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return json.dumps({"access_token": self.access_token,
                           "access_expires_at": stamp(self.access_expires_at),
                           "refresh_token": self.refresh_token,
                           "refresh_expires_at": stamp(self.refresh_expires_at),
                           "scope": self.scope})

    @classmethod
    def from_json(cls, text: str) -> ShopifyTokens:
        data = json.loads(text)

        def moment(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(data["access_token"], moment(data.get("access_expires_at")),
                   data.get("refresh_token"), moment(data.get("refresh_expires_at")),
                   data.get("scope") or "")

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token is gone or will be within `margin` (refresh it then)."""
        if self.access_expires_at is None:
            return False  # a non-expiring token
        return self.access_expires_at - margin <= (now or datetime.now(UTC))

    def refreshable(self, now: datetime | None = None) -> bool:
        if not self.refresh_token:
            return False
        return self.refresh_expires_at is None or self.refresh_expires_at > (
            now or datetime.now(UTC))


def _post_token(config: Mapping[str, Any], shop: str, body: dict[str, str],
                now: datetime | None) -> ShopifyTokens:
    payload = {"client_id": _setting(config, "SHOPIFY_API_KEY"),
               "client_secret": _setting(config, "SHOPIFY_API_SECRET"), **body}
    url = shop_url(config, shop, TOKEN_PATH)
    try:
        answer = requests.post(url, json=payload, timeout=TIMEOUT, allow_redirects=False,
                               headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise ShopifyUnreachable(f"cannot reach {shop}: {type(exc).__name__}") from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise ShopifyUnreachable(f"{shop} answered {answer.status_code} to a token request")
    try:
        data = answer.json()
    except ValueError:
        data = None
    if answer.status_code != 200:
        error = str(data.get("error") or "") if isinstance(data, dict) else ""
        detail = str(data.get("error_description") or "") if isinstance(data, dict) else ""
        raise ShopifyGrantError(f"Shopify refused the {body.get('grant_type', 'code')} grant: "
                                f"{error or answer.status_code} {detail}".strip(),
                                error=error, status=answer.status_code)
    return ShopifyTokens.from_response(data, now)


def exchange_code(config: Mapping[str, Any], shop: str, code: str, *,
                  now: datetime | None = None) -> ShopifyTokens:
    """The authorization code (single use) for an expiring offline token and its refresh token."""
    return _post_token(config, shop, {"code": code, "expiring": "1"}, now)


def refresh_tokens(config: Mapping[str, Any], shop: str, refresh_token: str, *,
                   now: datetime | None = None) -> ShopifyTokens:
    """A new access token and a new (rotated) refresh token; save both atomically."""
    return _post_token(config, shop, {"grant_type": "refresh_token",
                                      "refresh_token": refresh_token}, now)


def exchange_session_token(config: Mapping[str, Any], shop: str, session_token: str, *,
                           now: datetime | None = None) -> ShopifyTokens:
    """Token exchange: the embedded admin's session token for an expiring offline token."""
    return _post_token(config, shop, {
        "grant_type": TOKEN_EXCHANGE, "subject_token": session_token,
        "subject_token_type": ID_TOKEN, "requested_token_type": OFFLINE_TOKEN,
        "expiring": "1"}, now)
