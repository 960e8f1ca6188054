"""A store's widget configuration: which widgets, on which page types, with which settings.

The same object reaches every storefront: the Shopify app embed inlines it from the app's
metafield, the WordPress plugin from its options, and custom shops (or a platform without an
inlined copy) fetch it once from `GET /w/<store>/config.json`. Stores change it through the
`widgets` store fact; what a store does not set comes from the defaults below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_WIDGETS", "etag", "storefront_facts", "widget_config"]

# Each widget, the page types it belongs on, and its default settings.
DEFAULT_WIDGETS: dict[str, dict[str, Any]] = {
    "shipping_estimate": {"enabled": True, "pages": ["product", "cart"]},
    "review_stars": {"enabled": True, "pages": ["product"]},
    "review_list": {"enabled": True, "pages": ["product"]},
    "express_pay": {"enabled": True, "pages": ["product", "cart"]},
    "guest_checkout": {"enabled": True, "pages": ["cart", "checkout"]},
}


def storefront_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """What widgets need to know of the store, from its facts (the same names on every
    platform); None where the platform has not said."""
    accounts = facts.get("customer_accounts")
    guest = (None if not isinstance(accounts, Mapping)
             or "login_required_at_checkout" not in accounts
             else not accounts["login_required_at_checkout"])
    return {"guest_checkout": guest}


def widget_config(public_url: str, store_key: str, widgets: Any, lang: str | None,
                  facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config the storefront reads: where to load from and send to, the widgets (the
    store's settings over the defaults; unknown names and malformed entries are ignored), and
    the store facts the widgets act on."""
    merged = {name: dict(settings) for name, settings in DEFAULT_WIDGETS.items()}
    if isinstance(widgets, Mapping):
        for name, settings in widgets.items():
            if name in merged and isinstance(settings, Mapping):
                merged[name] = {**merged[name], **settings}
    return {"origin": public_url, "store": store_key, "widgets": merged, "lang": lang,
            "facts": storefront_facts(facts or {})}


def etag(config: Mapping[str, Any]) -> str:
    """A strong validator of the config's content (same content, same tag, on any server)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
