"""Shopify: webhook verification and the normalizer of its payloads into canonical events.

Registration lives in `parcours.adapters.builtin`, so importing this package has no side effect.
"""

from parcours.adapters.shopify.webhooks import ShopifyAdapter

__all__ = ["ShopifyAdapter"]
