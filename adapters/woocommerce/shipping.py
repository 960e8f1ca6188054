"""A store's WooCommerce shipping zones, in the `shipping_zones` fact shape (parcours.shipping).

WooCommerce applies the first zone, in the store's order, whose locations match the address, and
zone 0 ("Locations not covered by your other zones") to the rest; the fact keeps that order and
names zone 0's countries `*`. Only rates Parcours can state before checkout are kept:

- flat_rate with a plain cost ("4.90"); a formula ("10 * [qty]", "[fee percent=…]") depends on
  the cart, so it is left to the cart estimate;
- free_shipping that needs nothing, or a minimum amount (`min_subtotal`); one that needs a
  coupon is left out;
- local pickup is not shipping, disabled methods are not offered.

Continents are not expanded (WooCommerce's continent lists change with releases): a zone made only
of continents is skipped, and says so in the returned notes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from parcours.adapters.woocommerce.client import WooClient
from parcours.shipping import REST_OF_WORLD

__all__ = ["read_zones", "zone_fact"]

_PLAIN = re.compile(r"\s*\d+(\.\d+)?\s*")


def _setting(method: dict[str, Any], name: str) -> str:
    value = ((method.get("settings") or {}).get(name) or {}).get("value")
    return str(value) if value is not None else ""


def _money(text: str) -> str | None:
    if not _PLAIN.fullmatch(text):
        return None
    try:
        return f"{Decimal(text.strip()):.2f}"
    except InvalidOperation:
        return None


def _rate(method: dict[str, Any], currency: str) -> dict[str, Any] | None:
    if not method.get("enabled"):
        return None
    name = str(method.get("title") or method.get("method_title") or "")
    kind = method.get("method_id")
    if kind == "flat_rate":
        price = _money(_setting(method, "cost") or "0")
        return None if price is None else {"name": name, "price": price, "currency": currency,
                                           "min_subtotal": None, "max_subtotal": None}
    if kind == "free_shipping":
        requires = _setting(method, "requires")
        if requires in ("", "none"):
            low = None
        elif requires in ("min_amount", "either"):
            low = _money(_setting(method, "min_amount") or "0")
        else:  # a coupon is needed
            return None
        return {"name": name, "price": "0.00", "currency": currency, "min_subtotal": low,
                "max_subtotal": None}
    return None


def zone_fact(zone: dict[str, Any], locations: list[dict[str, Any]],
              methods: list[dict[str, Any]], currency: str) -> dict[str, Any] | None:
    """One zone in the fact's shape, or None when no address can match it."""
    countries: dict[str, list[str]] = {}
    postcodes: list[str] = []
    for location in locations:
        code, kind = str(location.get("code") or ""), location.get("type")
        if kind == "country":
            countries.setdefault(code.upper(), [])
        elif kind == "state" and ":" in code:
            country, state = code.upper().split(":", 1)
            countries.setdefault(country, []).append(state)
        elif kind == "postcode":
            postcodes.append(code)
    if zone.get("id") == 0:
        countries = {REST_OF_WORLD: []}
    if not countries:
        return None
    fact: dict[str, Any] = {
        "name": str(zone.get("name") or ""),
        "countries": [{"code": code, "provinces": sorted(set(provinces))}
                      for code, provinces in countries.items()],
        "rates": [rate for method in methods if (rate := _rate(method, currency)) is not None]}
    if postcodes:
        fact["postcodes"] = postcodes
    return fact


def read_zones(client: WooClient, currency: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every zone the store applies, in order, with zone 0 last; and notes on what was left out."""
    zones = sorted(client.get("shipping/zones"), key=lambda z: (z.get("id") == 0,
                                                                 z.get("order", 0), z.get("id")))
    facts, notes = [], []
    for zone in zones:
        locations = [] if zone["id"] == 0 else client.get(f"shipping/zones/{zone['id']}/locations")
        methods = client.get(f"shipping/zones/{zone['id']}/methods")
        fact = zone_fact(zone, locations, methods, currency)
        if fact is None:
            notes.append(f"zone {zone.get('name')!r} names only continents: not used for "
                         f"estimates")
        else:
            facts.append(fact)
    return facts, notes
