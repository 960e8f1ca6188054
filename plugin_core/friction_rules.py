"""The default friction rules, as data: what each reads, when it fires, what it names and fixes.

`parcours.friction` validates this dict like any store's own rules (`FrictionRules.from_dict`)
and docs/friction.md explains every key. The thresholds are Parcours' defaults, chosen to fire
only on a clear signal: rates are compared through their 95% confidence bound, and no funnel
rule judges fewer journeys than its `min_sample`. The published figures in `sources` say why a
friction matters; they are not the thresholds (no study gives a store's "normal" drop).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_FRICTION_RULES_DATA"]

_CART_ABANDONMENT = "Baymard Institute, Cart Abandonment Rate Statistics"
_CART_ABANDONMENT_URL = "https://baymard.com/lists/cart-abandonment-rate"
_EXTRA_COSTS = {
    "title": _CART_ABANDONMENT, "url": _CART_ABANDONMENT_URL,
    "figure": "Extra costs too high (shipping, tax, fees): 40-48% of shoppers who abandoned "
              "an order gave this reason.",
}
_ACCOUNT = {
    "title": _CART_ABANDONMENT, "url": _CART_ABANDONMENT_URL,
    "figure": "The site wanted me to create an account: 18-26% of shoppers who abandoned an "
              "order gave this reason.",
}
_LONG_CHECKOUT = {
    "title": _CART_ABANDONMENT, "url": _CART_ABANDONMENT_URL,
    "figure": "Too long or complicated checkout process: 17-22% of shoppers who abandoned an "
              "order gave this reason.",
}
_PRODUCT_PAGE_SHIPPING = {
    "title": "Baymard, product page shipping",
    "url": "https://baymard.com/blog/show-shipping-costs-on-product-pages",
    "figure": "64% of users looked for shipping costs on the product page before adding to "
              "cart, yet 43% of e-commerce sites show no shipping cost there.",
}
_REVIEWS = {
    "title": "Spiegel Research Center (Northwestern University), How Online Reviews Influence "
             "Sales, 2017",
    "url": "https://spiegel.medill.northwestern.edu/",
    "figure": "A product with five reviews was 270% more likely to be purchased than one with "
              "none; up to 80% of reviews came from emails asking buyers after their purchase.",
}

# The mobile payment signal, shared by the two express-pay rules: on mobile, more shoppers who
# reach the payment step (or, where the checkout's steps are not tracked, who start checkout)
# leave without paying than on desktop. Express wallets skip the form on either count.
def _mobile_payment_gap() -> dict[str, Any]:
    """A fresh copy for each rule (a store editing one rule's data must not change the other's).
    """
    return {"any": [
        {"metric": "drop_gap", "from": start, "to": "paid", "device": "mobile",
         "baseline": "desktop", "min_gap": 0.05, "min_ratio": 1.2, "min_sample": 100}
        for start in ("shipping", "checkout")]}


DEFAULT_FRICTION_RULES_DATA: dict[str, Any] = {
    "confidence": 0.95,
    "rules": [
        {
            "id": "shipping_estimate",
            "severity": "high",
            "friction": {
                "en": "Many shoppers with a cart never start checkout, and your pages show no "
                      "shipping cost before checkout.",
                "fr": "Beaucoup de clients avec un panier ne commencent jamais la commande, et "
                      "vos pages n'affichent aucun frais de livraison avant la commande.",
            },
            "when": {"all": [
                {"metric": "drop", "from": "cart", "to": "checkout", "at_least": 0.6,
                 "min_sample": 200},
                {"widget": "shipping_estimate.enabled", "equals": False},
            ]},
            "show": [{"metric": "drop", "from": "product", "to": "cart"}],
            "fix": {
                "kind": "widget", "target": "shipping_estimate", "one_click": True,
                "text": {
                    "en": "Turn on the shipping estimate: product and cart pages show the "
                          "delivery cost and the free-delivery threshold at once.",
                    "fr": "Activez l'estimation de livraison : les pages produit et panier "
                          "affichent tout de suite les frais et le seuil de livraison gratuite.",
                },
            },
            "sources": [_EXTRA_COSTS, _PRODUCT_PAGE_SHIPPING],
        },
        {
            "id": "guest_checkout",
            "severity": "high",
            "friction": {
                "en": "Shoppers must log in or create an account to check out.",
                "fr": "Les clients doivent se connecter ou créer un compte pour commander.",
            },
            "when": {"all": [
                {"fact": "customer_accounts.login_required_at_checkout", "equals": True},
                {"metric": "journeys", "step": "checkout", "at_least": 100},
            ]},
            "show": [{"metric": "drop", "from": "checkout", "to": "contact"}],
            "fix": {
                "kind": "store_setting", "target": "guest_checkout",
                "one_click": {"woocommerce": True, "shopify": False, "custom": False},
                "where": {"shopify": "customer_accounts",
                          "woocommerce": "woocommerce_enable_guest_checkout",
                          "custom": "guest_checkout"},
                "text": {
                    "en": "Allow guest checkout; offer an account after the order instead.",
                    "fr": "Autorisez la commande sans compte ; proposez le compte après la "
                          "commande.",
                },
            },
            "sources": [_ACCOUNT],
        },
        {
            "id": "guest_checkout_prompt",
            "severity": "medium",
            "friction": {
                "en": "Many shoppers leave at the first checkout step (contact), though guest "
                      "checkout is allowed: they may think an account is needed.",
                "fr": "Beaucoup de clients partent à la première étape de la commande "
                      "(contact), alors que la commande sans compte est possible : ils "
                      "pensent peut-être qu'un compte est nécessaire.",
            },
            "when": {"all": [
                {"metric": "drop", "from": "checkout", "to": "contact", "at_least": 0.35,
                 "min_sample": 200},
                {"fact": "customer_accounts.login_required_at_checkout", "equals": False},
                {"widget": "guest_checkout.enabled", "equals": False},
            ]},
            "fix": {
                "kind": "widget", "target": "guest_checkout", "one_click": True,
                "text": {
                    "en": "Turn on the guest checkout prompt: \"No account needed\" on the cart "
                          "and at checkout.",
                    "fr": "Activez le message de commande sans compte : « Pas besoin de "
                          "compte » sur le panier et à la commande.",
                },
            },
            "sources": [_ACCOUNT],
        },
        {
            "id": "express_pay",
            "severity": "medium",
            "friction": {
                "en": "On mobile, more shoppers leave at payment than on desktop, and the "
                      "express pay buttons are off.",
                "fr": "Sur mobile, plus de clients partent au paiement que sur ordinateur, et "
                      "les boutons de paiement express sont désactivés.",
            },
            "when": {"all": [
                _mobile_payment_gap(),
                {"widget": "express_pay.enabled", "equals": False},
                {"fact": "accelerated_checkout.wallets", "empty": False},
            ]},
            "fix": {
                "kind": "widget", "target": "express_pay", "one_click": True,
                "text": {
                    "en": "Turn on express pay: Apple Pay, Google Pay or Shop Pay straight from "
                          "the product and cart pages, with no form to fill.",
                    "fr": "Activez le paiement express : Apple Pay, Google Pay ou Shop Pay dès "
                          "les pages produit et panier, sans formulaire à remplir.",
                },
            },
            "sources": [_LONG_CHECKOUT],
        },
        {
            "id": "express_pay_wallets",
            "severity": "medium",
            "friction": {
                "en": "On mobile, more shoppers leave at payment than on desktop, and the store "
                      "offers no express wallet (Apple Pay, Google Pay, Shop Pay).",
                "fr": "Sur mobile, plus de clients partent au paiement que sur ordinateur, et "
                      "la boutique ne propose aucun paiement express (Apple Pay, Google Pay, "
                      "Shop Pay).",
            },
            "when": {"all": [
                _mobile_payment_gap(),
                {"fact": "accelerated_checkout.wallets", "empty": True},
            ]},
            "fix": {
                "kind": "store_setting", "target": "express_pay",
                # WooCommerce: Parcours turns on the express buttons of an enabled Stripe or
                # WooPayments gateway; with neither, the merchant installs one first.
                "one_click": {"woocommerce": {"fact": "accelerated_checkout.supported",
                                              "equals": True},
                              "shopify": False, "custom": False},
                "where": {"shopify": "payments", "woocommerce": "payment_gateways",
                          "custom": "wallets"},
                "text": {
                    "en": "Offer express wallets (Shop Pay, Apple Pay, Google Pay) in your "
                          "payment settings, then turn on express pay.",
                    "fr": "Proposez les paiements express (Shop Pay, Apple Pay, Google Pay) dans "
                          "vos réglages de paiement, puis activez le paiement express.",
                },
            },
            "sources": [_LONG_CHECKOUT],
        },
        {
            "id": "review_requests",
            "severity": "low",
            "friction": {
                "en": "Orders reach shoppers but almost none is reviewed: nobody asks for a "
                      "review after delivery.",
                "fr": "Les commandes arrivent chez les clients mais presque aucune n'est "
                      "évaluée : personne ne demande d'avis après la livraison.",
            },
            "when": {"all": [
                {"metric": "drop", "from": "received", "to": "reviewed", "at_least": 0.9,
                 "min_sample": 50},
                # Parcours asks unless the merchant turned it off (no setting: on).
                {"fact": "review_settings.enabled", "equals": False, "if_missing": False},
                # WooCommerce 10.8+ can ask itself; Shopify never does (no fact: not asking).
                {"fact": "platform_review_requests.enabled", "not_equals": True,
                 "if_missing": True},
            ]},
            "fix": {
                "kind": "review_setting", "target": "enabled", "one_click": True,
                "text": {
                    "en": "Turn on review requests: Parcours emails each buyer a few days "
                          "after delivery.",
                    "fr": "Activez les demandes d'avis : Parcours écrit à chaque acheteur "
                          "quelques jours après la livraison.",
                },
            },
            "sources": [_REVIEWS],
        },
    ],
}
