"""The app proxy: verifying what Shopify forwards from the storefront.

Shopify forwards a storefront request for `/apps/parcours/<rest>` to the app's proxy URL +
`/<rest>`, adding `shop`, `logged_in_customer_id`, `path_prefix` (the storefront prefix, which a
merchant may rename), `timestamp` and `signature` to the query (shopify.dev, "Authenticate app
proxies"). `signature` is the hex HMAC-SHA256, keyed with the app's client secret, of every other
parameter as `k=v`, sorted, concatenated with no separator, the values of a repeated parameter
joined with `,` (unencoded). Unlike the OAuth `hmac`, nothing here is form-encoded.

The signature covers the query only, and the timestamp is the only thing that ages it: a request is
refused when `timestamp` is more than 90 s from now in either direction (the tolerance of Shopify's
own `validateHmac`).

Shipping estimates are computed by parcours.shipping from the zones the post-install job synced.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from parcours.adapters.base import Verification

__all__ = ["MAX_AGE", "proxy_signature", "proxy_verification", "verify_proxy_signature"]

MAX_AGE = 90  # seconds
SINGLE_VALUED = ("shop", "signature", "timestamp")


def _pairs(args: Any) -> list[tuple[str, str]]:
    """Query pairs from a werkzeug MultiDict, a mapping, or pairs, keeping repeated names."""
    if hasattr(args, "items") and hasattr(args, "getlist"):
        return [(str(k), str(v)) for k, v in args.items(multi=True)]
    if isinstance(args, Mapping):
        return [(str(k), str(v)) for k, v in args.items()]
    return [(str(k), str(v)) for k, v in args]


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped


def proxy_signature(secret: str, args: Any) -> str:
    """The `signature` Shopify adds to a proxied request with these parameters."""
    grouped = _grouped(_pairs(args))
    message = "".join(f"{key}={','.join(values)}" for key, values in sorted(grouped.items())
                      if key != "signature")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def proxy_verification(args: Any, secrets: Sequence[str], now: float | None = None,
                       max_age: float = MAX_AGE) -> Verification:
    """Whether a proxied request is Shopify's and fresh, with the reason when it is not."""
    keys = [secret for secret in secrets if secret]
    if not keys:
        return Verification(False, "no Shopify API secret is set")
    pairs = _pairs(args)
    grouped = _grouped(pairs)
    for name in SINGLE_VALUED:
        if len(grouped.get(name, [])) != 1:
            return Verification(False, f"{name} must be given exactly once")
    given = grouped["signature"][0].strip().lower()
    # Every secret is compared (constant time each), so timing tells nothing about which.
    matches = [hmac.compare_digest(proxy_signature(key, pairs), given) for key in keys]
    if not any(matches):
        return Verification(False, "signature does not match: not forwarded by Shopify")
    try:
        stamp = int(grouped["timestamp"][0])
    except ValueError:
        return Verification(False, "timestamp is not a number")
    if abs((time.time() if now is None else now) - stamp) > max_age:
        return Verification(False, f"timestamp is more than {int(max_age)} s from now")
    return Verification(True)


def verify_proxy_signature(args: Any, secrets: Sequence[str], now: float | None = None) -> bool:
    """True when `args` (a MultiDict or pairs) carry a valid, fresh (90 s) `signature`."""
    return proxy_verification(args, secrets, now).ok
