"""Shipping estimates from a store's delivery zones: what a shopper would pay, before checkout.

Pure. The zones are the `shipping_zones` store fact, which each platform's adapter writes in one
shape (Shopify's delivery profiles, WooCommerce's shipping zones), so the product-page estimate
is computed the same way whatever the platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from parcours.errors import ValidationError

__all__ = ["REST_OF_WORLD", "EstimateQuery", "decimal_or_none", "estimate_answer",
           "parse_estimate_query",
           "postcode_matches", "shipping_estimate"]

REST_OF_WORLD = "*"  # the zone for every country no other zone names
_FIELDS = {  # parameter: (pattern, what it must be)
    "country": (re.compile(r"[A-Za-z]{2}"), "an ISO 3166-1 alpha-2 code, e.g. FR"),
    "province": (re.compile(r"[A-Za-z0-9-]{1,10}"), "a province code, e.g. IDF or CA-QC"),
    "postcode": (re.compile(r"[A-Za-z0-9 -]{1,16}"), "up to 16 letters, digits, spaces or '-'"),
    "currency": (re.compile(r"[A-Za-z]{3}"), "an ISO 4217 code, e.g. EUR"),
}


@dataclass(frozen=True)
class EstimateQuery:
    """A shopper's estimate request, checked: where to, and (optionally) for how much."""

    country: str
    province: str | None = None
    postcode: str | None = None
    subtotal: Decimal | None = None
    currency: str | None = None


def parse_estimate_query(args: Mapping[str, str]) -> EstimateQuery:
    """The estimate parameters of a storefront request (`country` required; `province`,
    `postcode`, `subtotal`, `currency` optional); ValidationError naming each bad one."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str | None] = {}
    for name, (pattern, rule) in _FIELDS.items():
        value = (args.get(name) or "").strip()
        values[name] = value or None
        if value and not pattern.fullmatch(value):
            errors[name] = [rule]
    if not values["country"]:
        errors["country"] = ["required"]
    subtotal = decimal_or_none((args.get("subtotal") or "").strip())
    if (args.get("subtotal") or "").strip() and (subtotal is None or not 0 <= subtotal < 10**9):
        errors["subtotal"] = ["a non-negative amount, e.g. 42.50"]
    if errors:
        raise ValidationError("invalid shipping estimate request", errors)
    upper = {name: value.upper() if value and name != "postcode" else value
             for name, value in values.items()}
    return EstimateQuery(str(upper["country"]), upper["province"], upper["postcode"], subtotal,
                         upper["currency"])


def decimal_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def postcode_matches(postcode: str, patterns: list[Any]) -> bool:
    """WooCommerce's postcode rules: an exact code, a prefix with `*` ("75*"), or a numeric
    range ("30000...39999"); case and spaces ignored."""
    code = re.sub(r"\s+", "", postcode).upper()
    for pattern in (re.sub(r"\s+", "", str(p)).upper() for p in patterns):
        low, dots, high = pattern.partition("...")
        if dots and low.isdigit() and high.isdigit() and code.isdigit():
            if int(low) <= int(code) <= int(high):
                return True
        elif pattern.endswith("*"):
            if code.startswith(pattern[:-1]):
                return True
        elif code == pattern:
            return True
    return False


def _names(zone: Mapping[str, Any], country: str, province: str | None,
           postcode: str | None) -> bool:
    """Whether the zone lists the country, whole or with the shopper's province, and (for a
    zone restricted to some postcodes) the shopper's postcode."""
    postcodes = zone.get("postcodes")
    if isinstance(postcodes, list) and postcodes and not (
            postcode and postcode_matches(postcode, postcodes)):
        return False
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
    price = decimal_or_none(rate.get("price"))
    rate_currency = str(rate.get("currency") or "").upper()
    if price is None or price < 0 or len(rate_currency) != 3:
        return None
    if currency and rate_currency != currency:
        return None  # no conversion: the shopper's currency only
    low, high = decimal_or_none(rate.get("min_subtotal")), decimal_or_none(rate.get("max_subtotal"))
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
    "provinces": ["..."]}], "postcodes"?: ["75*"], "rates": [{"name", "price": "4.90",
    "currency": "EUR", "min_subtotal": "0" | null, "max_subtotal": null}]}]`. An empty
    `provinces` list covers the whole country; a zone with `postcodes` covers only those (so
    only when the shopper gave a postcode); the country code `*` is the rest of the world, used
    only when no zone names the country. Zones are tried in order; the first that covers the
    address gives the rates. With `subtotal`, rates whose conditions exclude it are
    left out (bounds inclusive); without it, every rate is returned with its conditions, so a
    widget can say "free from 50.00". Only rates in `currency` when given (no conversion).
    Malformed entries are skipped, never raised on: another job writes the fact from the
    platform's data.
    """
    if not isinstance(zones, list):
        return []
    country = country.strip().upper()
    region = province.strip().upper() if province else None
    money = subtotal if isinstance(subtotal, Decimal) else decimal_or_none(subtotal)
    wanted = currency.strip().upper() if currency else None
    usable = [zone for zone in zones if isinstance(zone, Mapping)
              and isinstance(zone.get("rates"), list) and isinstance(zone.get("countries"), list)]
    # Like the platforms: the first zone (in the store's order) that covers the address, else
    # the rest of the world; never the rates of two zones at once.
    matching = next(([zone] for zone in usable if _names(zone, country, region, postcode)),
                    [zone for zone in usable if _rest_of_world(zone)][:1])
    rates = [found for zone in matching for rate in zone["rates"]
             if (found := _rate(zone, rate, money, wanted)) is not None]
    unique = {(r["name"], r["price"], r["currency"]): r for r in rates}
    return sorted(unique.values(), key=lambda r: (Decimal(r["price"]), r["name"]))


def estimate_answer(query: EstimateQuery, zones: Any) -> dict[str, Any]:
    """What a storefront estimate route answers (the Shopify app proxy, Parcours' own): the
    address as understood, the rates, and whether the store's zones are known at all."""
    return {"country": query.country, "province": query.province, "postcode": query.postcode,
            "currency": query.currency,
            "rates": shipping_estimate(zones, query.country, query.province, query.postcode,
                                       query.subtotal, query.currency),
            "zones_synced": zones is not None}
