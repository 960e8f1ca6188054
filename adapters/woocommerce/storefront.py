"""How a WooCommerce storefront works, as the widgets need it (PlatformAdapter.storefront).

- `?add-to-cart=<id>&quantity=<n>` on the checkout page adds the product (to the shopper's
  cart: unlike Shopify's permalink, what is already in it stays) and opens checkout
  (WooCommerce's form handler runs on every page); `parcours=buy_now` makes the plugin keep the
  shopper on checkout where the store redirects to the cart after an add. The id is the chosen
  variation when there is one (`variation_id`), else the product (`add-to-cart`).
- Express buttons are the gateways' own (Stripe's Express Checkout element, WooPayments'):
  where they show, the express widget stays out.
- Cart amounts and the platform's own cart estimate come from the Store API (wc/store/v1):
  GET cart (minor units, and the `Nonce` header its POST routes need), then POST
  cart/update-customer with the address, "state": "" so that the guest's default state does
  not fail validation for countries with states; the rates are in `shipping_rates[0]`.
- Product-page estimates: the plugin's route (`endpoints.shipping_estimate` in the inlined
  config, computed by WooCommerce itself).
- Reviews and their stars and JSON-LD are WooCommerce's own (Parcours publishes reviews there),
  so the review widgets stay off.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

__all__ = ["STOREFRONT"]

STOREFRONT: MappingProxyType[str, Any] = MappingProxyType({
    "checkout": "{checkout_url}",
    "buy_now": "{checkout_url}?add-to-cart={variant}&quantity={quantity}&parcours=buy_now",
    "variant": "form.cart [name=variation_id],form.cart [name=add-to-cart]",
    "quantity": "form.cart [name=quantity]",
    "native_express": ("#wc-stripe-express-checkout-element,#wc-stripe-payment-request-wrapper,"
                       "#wcpay-express-checkout-element,.wcpay-payment-request-wrapper,"
                       ".wc-block-components-express-payment"),
    "checkout_button": ".checkout-button,.wc-block-cart__submit-button",
    "title": ".product_title,h1",
    "cart": {"url": "{store_api}/cart", "subtotal": "totals.total_items",
             "minor": "totals.currency_minor_unit", "nonce": "Nonce"},
    "estimate": {"url": "{shipping_estimate}",
                 "query": {"country": "{country}", "postcode": "{postcode}",
                           "product_id": "{variant}", "quantity": "{quantity}"},
                 "list": "rates"},
    "cart_rates": {"url": "{store_api}/cart/update-customer", "method": "POST",
                   "body": {"shipping_address": {"country": "{country}",
                                                 "postcode": "{postcode}", "state": ""}},
                   "list": "shipping_rates.0.shipping_rates", "minor": "currency_minor_unit"},
    "reviews": None,
    "json_ld": False,
})
