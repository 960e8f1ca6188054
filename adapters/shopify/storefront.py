"""How a Shopify storefront works, as the widgets need it (PlatformAdapter.storefront).

- Cart permalinks `/cart/<variant>:<quantity>` take a product straight to checkout, where Shop
  Pay, Apple Pay and Google Pay are offered (shopify.dev, "Create cart permalinks").
- Themes render the dynamic checkout buttons (`{{ form | payment_button }}`, the
  `shopify-accelerated-checkout` elements): where they show, the express widget stays out.
- The Ajax API: `/cart.js` (amounts in the currency's subunit) and
  `/cart/shipping_rates.json?shipping_address[country]=..&shipping_address[zip]=..`, the
  platform's own estimate for the cart (decimal prices; 422 naming a bad zip).
- Product-page estimates go through the app proxy (`/apps/parcours/...`, signed by Shopify).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

__all__ = ["STOREFRONT"]

STOREFRONT: MappingProxyType[str, Any] = MappingProxyType({
    "checkout": "/checkout",
    "buy_now": "/cart/{variant}:{quantity}",
    "variant": "form[action*='/cart/add'] [name=id]",
    "quantity": "form[action*='/cart/add'] [name=quantity]",
    "native_express": (".shopify-payment-button,shopify-accelerated-checkout,"
                       "shopify-accelerated-checkout-cart,.additional-checkout-buttons"),
    "checkout_button": "[name=checkout]",
    "title": ".product__title,h1",
    "cart": {"url": "/cart.js", "subtotal": "items_subtotal_price", "minor": 2},
    "estimate": {"url": "/apps/parcours/shipping-estimate",
                 "query": {"country": "{country}", "postcode": "{postcode}",
                           "subtotal": "{price}", "currency": "{currency}"},
                 "list": "rates"},
    "cart_rates": {"url": "/cart/shipping_rates.json",
                   "query": {"shipping_address[country]": "{country}",
                             "shipping_address[zip]": "{postcode}"},
                   "list": "shipping_rates"},
})
