"""Session tokens of the embedded admin: every request from the app inside Shopify's admin.

App Bridge gives the app's front end a session token (a JWT, one minute of life) that it sends as
`Authorization: Bearer <token>`; Shopify also appends one as `id_token` when it loads the app's
URL. Per shopify.dev ("About session tokens", and Shopify's own `decodeSessionToken`): HS256 signed
with the app's client secret, `aud` is the app's client id, `iss` is `https://{shop}/admin` and
`dest` `https://{shop}` (same origin), `exp`/`nbf` checked with 10 s of leeway for clock skew;
`sub` is the admin user, `sid` the admin session, `jti` the token's id.

The algorithm is pinned to HS256: a token saying `alg: none` (or anything else) is refused before
its claims are read. The shop the request acts for comes from `dest`, never from a query string.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt

from parcours.adapters.shopify.errors import ShopifyAuthError
from parcours.adapters.shopify.oauth import SHOP_DOMAIN
from parcours.errors import ConfigError

__all__ = ["SessionToken", "verify_session_token"]

REQUIRED = ["exp", "nbf", "iat", "iss", "dest", "aud"]


@dataclass(frozen=True)
class SessionToken:
    """The verified claims; `shop` is the `*.myshopify.com` domain of `dest`."""

    shop: str
    iss: str
    dest: str
    aud: str
    sub: str | None
    sid: str | None
    jti: str | None
    exp: int
    nbf: int
    iat: int


def _origin(url: str, claim: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.port or parts.username \
            or parts.password or parts.query or parts.fragment:
        raise ShopifyAuthError(f"session token {claim} is not an https shop URL")
    return parts.scheme, parts.hostname


def _number(claims: dict[str, object], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShopifyAuthError(f"session token {name} is not a number")
    return int(value)


def _decode(token: str, api_key: str, keys: Sequence[str]) -> dict[str, object]:
    options = {"require": REQUIRED, "verify_exp": False, "verify_nbf": False,
               "verify_iat": False}  # times are checked below, against `now`
    for index, key in enumerate(keys):
        try:
            claims = jwt.decode(token, key, algorithms=["HS256"], audience=api_key,
                                options=options)  # type: ignore[arg-type]
        except jwt.InvalidSignatureError:
            if index == len(keys) - 1:
                raise ShopifyAuthError("session token signature does not match the app's "
                                       "secret") from None
            continue  # signed with an older secret, maybe
        except jwt.InvalidAlgorithmError:
            raise ShopifyAuthError("session token is not signed with HS256") from None
        except jwt.InvalidAudienceError:
            raise ShopifyAuthError("session token audience is not this app's API key") from None
        except jwt.MissingRequiredClaimError as exc:
            raise ShopifyAuthError(f"session token has no {exc.claim} claim") from None
        except jwt.InvalidTokenError as exc:
            raise ShopifyAuthError(f"malformed session token ({type(exc).__name__})") from None
        return claims
    raise AssertionError("unreachable")  # pragma: no cover


def verify_session_token(token: str, api_key: str, secrets: Sequence[str],
                         now: float | None = None, leeway: float = 10) -> SessionToken:
    """The claims of a valid session token; ShopifyAuthError (an AuthError) naming the problem.

    `secrets`: the app's current client secret first, then previous ones during rotation.
    """
    keys = [secret for secret in secrets if secret]
    if not keys or not api_key:
        raise ConfigError("the Shopify API key and secret must be set to verify session tokens")
    if not token or token.count(".") != 2:
        raise ShopifyAuthError("missing or malformed session token")
    claims = _decode(token.strip(), api_key, keys)
    moment = time.time() if now is None else now
    exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
    if exp + leeway < moment:
        raise ShopifyAuthError("session token has expired")
    if nbf - leeway > moment:
        raise ShopifyAuthError("session token is not valid yet (nbf in the future)")
    if iat - leeway > moment:
        raise ShopifyAuthError("session token was issued in the future")
    iss, dest = str(claims["iss"]), str(claims["dest"])
    if _origin(iss, "iss") != _origin(dest, "dest"):
        raise ShopifyAuthError("session token iss and dest are not the same shop")
    if urlsplit(iss).path.rstrip("/") != "/admin":
        raise ShopifyAuthError("session token iss is not the shop's admin")
    shop = _origin(dest, "dest")[1]
    if not SHOP_DOMAIN.fullmatch(shop):
        raise ShopifyAuthError("session token dest is not a myshopify.com shop")

    def text(name: str) -> str | None:
        value = claims.get(name)
        return None if value is None else str(value)

    return SessionToken(shop=shop.lower(), iss=iss, dest=dest, aud=api_key, sub=text("sub"),
                        sid=text("sid"), jti=text("jti"), exp=exp, nbf=nbf, iat=iat)
