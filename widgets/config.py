"""A store's widget configuration: which widgets, on which page types, with which settings, and
the storefront paths they use.

The same object reaches every storefront: the Shopify app embed inlines it from the app's
metafield, the WordPress plugin inlines the page's part and the loader fetches the rest, and
custom shops fetch it once from `GET /w/<store>/config.json`. What a store has not set comes
from the defaults below.

Platform differences arrive here as data, never as imports: each adapter describes its
storefront (`PlatformAdapter.storefront`: where the cart is read, how a product goes straight to
checkout, which buttons the platform already shows) and the store's facts say what it offers
(guest checkout, wallets, shipping zones). See docs/widgets.md for every key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from parcours.shipping import REST_OF_WORLD, decimal_or_none

__all__ = ["CONFIG_FACTS", "DEFAULT_STOREFRONT", "DEFAULT_WIDGETS", "LANGUAGES", "etag",
           "shipping_summary", "storefront_facts", "widget_config"]

LANGUAGES = ("en", "fr")

# Each widget, the page types it belongs on, and its default settings. `holdout` is the share
# of shoppers (0 to 1) who see nothing, for measuring the widget's effect; `salt` names the
# experiment (a new salt reshuffles the buckets).
DEFAULT_WIDGETS: dict[str, dict[str, Any]] = {
    "shipping_estimate": {"enabled": True, "pages": ["product", "cart"]},
    "review_stars": {"enabled": True, "pages": ["product"]},
    "review_list": {"enabled": True, "pages": ["product"], "per_page": 5},
    "express_pay": {"enabled": True, "pages": ["product", "cart"]},
    "guest_checkout": {"enabled": True, "pages": ["cart", "checkout"]},
}

# A custom shop's storefront, as far as Parcours can know it: estimates and reviews from
# Parcours itself; the shop describes its cart and checkout paths in its `storefront` fact.
# Strings may hold `{name}` placeholders that the widgets fill in (docs/widgets.md).
DEFAULT_STOREFRONT: dict[str, Any] = {
    "checkout": "/checkout",
    "buy_now": None,  # a product straight to checkout, e.g. "/cart/{variant}:{quantity}"
    "variant": "[name=id]",  # the input holding the chosen variant on a product page
    "quantity": "[name=quantity]",
    "native_express": None,  # the platform's own express buttons: never shown twice
    "checkout_button": "[name=checkout],a[href$='/checkout'],[data-parcours-checkout]",
    "title": "h1",
    "cart": None,  # {"url", "subtotal": path, "minor": digits or path}: the cart's subtotal
    "estimate": {"url": "{origin}/w/{store}/shipping-estimate",
                 "query": {"country": "{country}", "postcode": "{postcode}",
                           "subtotal": "{price}", "currency": "{currency}"},
                 "list": "rates"},
    "cart_rates": {"url": "{origin}/w/{store}/shipping-estimate",
                   "query": {"country": "{country}", "postcode": "{postcode}",
                             "subtotal": "{subtotal}", "currency": "{currency}"},
                   "list": "rates"},
    "reviews": "{origin}/w/{store}/reviews/{product}.json",
    "json_ld": True,  # add schema.org Product ratings unless the platform does
}

# The facts `widget_config` reads (one query for the config route).
CONFIG_FACTS = ("widgets", "widget_lang", "shop", "site", "consent", "customer_accounts",
                "accelerated_checkout", "shipping_zones", "storefront")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def storefront_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """What widgets need to know of the store, from its facts (the same names on every
    platform); None where the platform has not said."""
    accounts = facts.get("customer_accounts")
    guest = (None if not isinstance(accounts, Mapping)
             or "login_required_at_checkout" not in accounts
             else not accounts["login_required_at_checkout"])
    wallets = _mapping(facts.get("accelerated_checkout")).get("wallets")
    return {"guest_checkout": guest,
            "wallets": sorted({str(w) for w in wallets}) if isinstance(wallets, list) else []}


def _zone_summary(zone: Mapping[str, Any], currency: str) -> dict[str, Any] | None:
    """Cheapest delivery any cart gets, and the subtotal from which delivery is free."""
    paid: list[Decimal] = []
    free: list[Decimal] = []
    for rate in zone.get("rates") or []:
        if not isinstance(rate, Mapping) or str(rate.get("currency") or "").upper() != currency:
            continue
        price = decimal_or_none(rate.get("price"))
        low = decimal_or_none(rate.get("min_subtotal")) or Decimal(0)
        if price is None or price < 0:
            continue
        if price == 0:
            free.append(low)
        elif low == 0:
            paid.append(price)
    if not paid and not free:
        return None
    return {"from": f"{min(paid):.2f}" if paid else None,
            "free_from": f"{min(free):.2f}" if free else None}


def shipping_summary(zones: Any, currency: str | None) -> dict[str, Any] | None:
    """"Delivery from X, free from Y" per zone, for product pages before any input.

    Zones limited to some postcodes or provinces are left out: without an address they would
    promise what most of the country does not get. The widget picks the first zone naming the
    shopper's country, else the rest of the world (`"*"`), as the full estimate does.
    """
    if not isinstance(zones, list) or not currency:
        return None
    summaries = []
    for zone in zones:
        if not isinstance(zone, Mapping) or zone.get("postcodes"):
            continue
        countries = [str(entry.get("code") or "").upper()
                     for entry in zone.get("countries") or []
                     if isinstance(entry, Mapping) and not entry.get("provinces")]
        summary = _zone_summary(zone, currency.upper())
        if countries and summary is not None:
            summaries.append({"countries": countries, **summary})
    if not summaries:
        return None
    every = sorted({code for s in summaries for code in s["countries"]} - {REST_OF_WORLD})
    return {"currency": currency.upper(), "zones": summaries, "countries": every}


def _merged(defaults: Mapping[str, Any], given: Any) -> dict[str, Any]:
    """`given` over `defaults`, one level deep; names the defaults do not know are ignored."""
    merged = dict(defaults)
    for name, value in _mapping(given).items():
        if name in merged:
            merged[name] = value
    return merged


def widget_config(public_url: str, store_key: str, facts: Mapping[str, Any],
                  storefront: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config the storefront reads.

    `facts` are the store's (`CONFIG_FACTS`); `storefront` is its platform's description
    (the adapter's), over which a store's own `storefront` fact wins key by key.
    """
    widgets = {name: dict(settings) for name, settings in DEFAULT_WIDGETS.items()}
    for name, settings in _mapping(facts.get("widgets")).items():
        if name in widgets and isinstance(settings, Mapping):
            widgets[name] = {**widgets[name], **settings}
    paths = _merged(_merged(DEFAULT_STOREFRONT, storefront), facts.get("storefront"))
    if not paths["reviews"]:  # the platform shows its own reviews (and Parcours' copies there)
        for name in ("review_stars", "review_list"):
            widgets[name]["enabled"] = False
    shop, site = _mapping(facts.get("shop")), _mapping(facts.get("site"))
    currency = shop.get("currency") or site.get("currency")
    override = facts.get("widget_lang")
    return {
        "origin": public_url.rstrip("/"), "store": store_key, "widgets": widgets,
        # The page's language wins, unless the store chose one (`widget_lang`); `locale` is
        # the store's own, for pages that declare none.
        "lang": override if override in LANGUAGES else None,
        "locale": shop.get("locale") or site.get("locale"),
        "currency": currency,
        # A store that must ask for consent first (EU cookie rules as it reads them): the
        # loader then stores no id and sends nothing until the page grants it.
        "consent_required": bool(_mapping(facts.get("consent")).get("required")),
        "facts": storefront_facts(facts),
        "shipping": shipping_summary(facts.get("shipping_zones"), currency),
        "storefront": paths,
    }


def etag(config: Mapping[str, Any]) -> str:
    """A strong validator of the config's content (same content, same tag, on any server)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
