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

__all__ = ["DEFAULT_WIDGETS", "etag", "widget_config"]

# Each widget, the page types it belongs on, and its default settings.
DEFAULT_WIDGETS: dict[str, dict[str, Any]] = {
    "shipping_estimate": {"enabled": True, "pages": ["product", "cart"]},
    "review_stars": {"enabled": True, "pages": ["product"]},
    "review_list": {"enabled": True, "pages": ["product"]},
    "express_pay": {"enabled": True, "pages": ["product", "cart"]},
    "guest_checkout": {"enabled": True, "pages": ["cart", "checkout"]},
}


def widget_config(public_url: str, store_key: str, widgets: Any, lang: str | None
                  ) -> dict[str, Any]:
    """The config the storefront reads: where to load from and send to, and the widgets (the
    store's settings over the defaults; unknown names and malformed entries are ignored)."""
    merged = {name: dict(settings) for name, settings in DEFAULT_WIDGETS.items()}
    if isinstance(widgets, Mapping):
        for name, settings in widgets.items():
            if name in merged and isinstance(settings, Mapping):
                merged[name] = {**merged[name], **settings}
    return {"origin": public_url, "store": store_key, "widgets": merged, "lang": lang}


def etag(config: Mapping[str, Any]) -> str:
    """A strong validator of the config's content (same content, same tag, on any server)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
