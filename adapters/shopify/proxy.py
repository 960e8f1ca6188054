"""The app proxy: verifying what Shopify forwards from the storefront, and shipping estimates.

Shopify forwards a storefront request for `/apps/parcours/<rest>` to the app's proxy URL +
`/<rest>`, adding `shop`, `logged_in_customer_id`, `path_prefix` (the storefront prefix, which a
merchant may rename), `timestamp` and `signature` to the query (shopify.dev, "Authenticate app
proxies"). `signature` is the hex HMAC-SHA256, keyed with the app's client secret, of every other
parameter as `k=v`, sorted, concatenated with no separator, the values of a repeated parameter
joined with `,` (unencoded). Unlike the OAuth `hmac`, nothing here is form-encoded.

The signature covers the query only, and the timestamp is the only thing that ages it: a request is
refused when `timestamp` is more than 90 s from now in either direction (the tolerance of Shopify's
own `validateHmac`).

Shipping estimates are computed from the shop's delivery zones as synced into the store fact
`shipping_zones` (see `shipping_estimate` for the shape). Zones are country/province grained, as
Shopify's are; a postcode is accepted for the answer's sake but does not narrow a zone.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from parcours.adapters.base import Verification

__all__ = ["MAX_AGE", "proxy_signature", "proxy_verification", "shipping_estimate",
           "verify_proxy_signature"]

MAX_AGE = 90  # seconds
SINGLE_VALUED = ("shop", "signature", "timestamp")
REST_OF_WORLD = "*"  # DeliveryCountry.code.restOfWorld: the zone for every country not listed


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


# -- shipping estimates ---------------------------------------------------------------------------

def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _names(zone: Mapping[str, Any], country: str, province: str | None) -> bool:
    """Whether the zone lists the country, whole or with the shopper's province."""
    for entry in zone.get("countries") or []:
        if not isinstance(entry, Mapping) or str(entry.get("code") or "").upper() != country:
            continue
        provinces = entry.get("provinces") or []
        if isinstance(provinces, list) and (
                not provinces or (province and province in {str(p).upper() for p in provinces})):
            return True
    return False


def _rest_of_world(zone: Mapping[str, Any]) -> bool:
    return any(isinstance(entry, Mapping) and entry.get("code") == REST_OF_WORLD
               for entry in zone.get("countries") or [])


def _rate(zone: Mapping[str, Any], rate: Any, subtotal: Decimal | None,
          currency: str | None) -> dict[str, Any] | None:
    if not isinstance(rate, Mapping):
        return None
    price = _decimal(rate.get("price"))
    rate_currency = str(rate.get("currency") or "").upper()
    if price is None or price < 0 or len(rate_currency) != 3:
        return None
    if currency and rate_currency != currency:
        return None  # no conversion: the shopper's currency only
    low, high = _decimal(rate.get("min_subtotal")), _decimal(rate.get("max_subtotal"))
    if subtotal is not None and ((low is not None and subtotal < low)
                                 or (high is not None and subtotal > high)):
        return None
    return {"name": str(rate.get("name") or ""), "price": f"{price:.2f}",
            "currency": rate_currency, "zone": str(zone.get("name") or ""),
            "min_subtotal": f"{low:.2f}" if low else None,
            "max_subtotal": f"{high:.2f}" if high is not None else None}


def shipping_estimate(zones: Any, country: str, province: str | None = None,
                      postcode: str | None = None, subtotal: Decimal | str | None = None,
                      currency: str | None = None) -> list[dict[str, Any]]:
    """The rates a shopper at this address would be offered, cheapest first ([] when none).

    `zones` is the `shipping_zones` store fact: `[{"name", "countries": [{"code": "FR",
    "provinces": ["..."]}], "rates": [{"name", "price": "4.90", "currency": "EUR",
    "min_subtotal": "0" | null, "max_subtotal": null}]}]`. An empty `provinces` list covers the
    whole country; the country code `*` is Shopify's "rest of world", used only when no zone
    names the country. With `subtotal`, rates whose conditions exclude it are left out (bounds
    inclusive); without it, every rate is returned with its conditions, so a widget can say
    "free from 50.00". Only rates in `currency` when given (no conversion). Pure: malformed
    entries are skipped, never raised on, because the fact is written by another job from
    Shopify's data.
    """
    del postcode  # zones are country/province grained (see the module docstring)
    if not isinstance(zones, list):
        return []
    country = country.strip().upper()
    region = province.strip().upper() if province else None
    money = subtotal if isinstance(subtotal, Decimal) else _decimal(subtotal)
    wanted = currency.strip().upper() if currency else None
    usable = [zone for zone in zones if isinstance(zone, Mapping)
              and isinstance(zone.get("rates"), list) and isinstance(zone.get("countries"), list)]
    matching = [zone for zone in usable if _names(zone, country, region)]
    if not matching:
        matching = [zone for zone in usable if _rest_of_world(zone)]
    rates = [found for zone in matching for rate in zone["rates"]
             if (found := _rate(zone, rate, money, wanted)) is not None]
    unique = {(r["name"], r["price"], r["currency"]): r for r in rates}
    return sorted(unique.values(), key=lambda r: (Decimal(r["price"]), r["name"]))
