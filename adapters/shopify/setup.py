"""What a merchant sees on opening the app: what is set up, what costs sales, and where to fix it.

Pure: the store facts the post-install job and the webhooks keep (`app_embed`,
`customer_accounts`, `accelerated_checkout`, `shipping_zones`) in, a checklist out. The embedded
admin page shows it and `/shopify/api/status` returns it, so the dashboard (and a merchant's own
tools) read one answer. A fact not known yet is said to be unknown, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["SetupItem", "language", "setup_items"]

State = Literal["ok", "action", "unknown"]

# Where a Shopify merchant changes each setting (admin URLs redirect to admin.shopify.com).
SETTINGS = {"customer_accounts": "https://{shop}/admin/settings/customer_accounts",
            "payments": "https://{shop}/admin/settings/payments",
            "shipping": "https://{shop}/admin/settings/shipping"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "embed_ok": "The Parcours app embed is on: widgets and review stars can show on your "
                    "storefront.",
        "embed_off": "The Parcours app embed is off in your theme: no widget shows yet.",
        "embed_do": "Turn it on in the theme editor",
        "guest_ok": "Shoppers can check out as guests.",
        "guest_off": "Shoppers must log in to check out. Forced accounts make 18-26% of "
                     "abandoning shoppers leave (Baymard).",
        "guest_do": "Open customer account settings",
        "express_ok": "Express checkout available: {wallets}.",
        "express_off": "No express wallet (Shop Pay, Apple Pay, Google Pay) is enabled.",
        "express_do": "Open payment settings",
        "zones_ok": "Product pages can show shipping costs from your {count} delivery zones.",
        "zones_off": "No fixed shipping rate was found: product pages cannot show a shipping "
                     "cost early.",
        "zones_do": "Open shipping settings",
        "unknown": "Not known yet: Parcours is still reading your shop.",
    },
    "fr": {
        "embed_ok": "L'intégration Parcours est activée : widgets et étoiles d'avis peuvent "
                    "s'afficher sur votre boutique.",
        "embed_off": "L'intégration Parcours est désactivée dans votre thème : aucun widget ne "
                     "s'affiche encore.",
        "embed_do": "L'activer dans l'éditeur de thème",
        "guest_ok": "Les clients peuvent commander sans compte.",
        "guest_off": "Les clients doivent se connecter pour commander. Un compte obligatoire "
                     "fait partir 18 à 26 % des clients qui abandonnent (Baymard).",
        "guest_do": "Ouvrir les réglages des comptes clients",
        "express_ok": "Paiement express disponible : {wallets}.",
        "express_off": "Aucun paiement express (Shop Pay, Apple Pay, Google Pay) n'est activé.",
        "express_do": "Ouvrir les réglages de paiement",
        "zones_ok": "Les pages produit peuvent afficher les frais de livraison de vos {count} "
                    "zones.",
        "zones_off": "Aucun tarif de livraison fixe trouvé : les pages produit ne peuvent pas "
                     "afficher les frais de livraison tôt.",
        "zones_do": "Ouvrir les réglages de livraison",
        "unknown": "Pas encore connu : Parcours lit votre boutique.",
    },
}
WALLETS = {"shopify_pay": "Shop Pay", "apple_pay": "Apple Pay", "google_pay": "Google Pay",
           "android_pay": "Google Pay", "facebook_pay": "Meta Pay", "amazon_pay": "Amazon Pay"}


@dataclass(frozen=True)
class SetupItem:
    """One line of the checklist; `link` is where the merchant acts (None when nothing to do)."""

    name: str
    state: State
    message: str
    link: str | None = None
    link_label: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def language(facts: Mapping[str, Any]) -> str:
    """The shop's language for its merchant pages: fr or en (the default)."""
    locale = str((facts.get("shop") or {}).get("locale") or "en")
    return "fr" if locale.lower().startswith("fr") else "en"


def setup_items(facts: Mapping[str, Any], shop: str) -> list[SetupItem]:
    """The checklist for `shop` from its store facts, in the shop's language (fr or en)."""
    text = TEXT[language(facts)]

    def item(name: str, known: Any, ok: bool, key: str, setting: str | None = None,
             link: str | None = None, **values: Any) -> SetupItem:
        if known is None:
            return SetupItem(name, "unknown", text["unknown"])
        if ok:
            return SetupItem(name, "ok", text[f"{key}_ok"].format(**values))
        target = link or SETTINGS[str(setting)].format(shop=shop)
        return SetupItem(name, "action", text[f"{key}_off"], target, text[f"{key}_do"])

    embed = facts.get("app_embed")
    accounts = facts.get("customer_accounts")
    wallets = (facts.get("accelerated_checkout") or {}).get("wallets")
    zones = facts.get("shipping_zones")
    names = sorted({WALLETS.get(str(w), str(w).replace("_", " ").title()) for w in wallets or []})
    priced = [zone for zone in zones or [] if zone.get("rates")]
    return [
        item("app_embed", embed, bool((embed or {}).get("active")), "embed",
             link=(embed or {}).get("link")),
        item("guest_checkout", accounts, not (accounts or {}).get("login_required_at_checkout"),
             "guest", "customer_accounts"),
        item("express_checkout", wallets, bool(names), "express", "payments",
             wallets=", ".join(names)),
        item("shipping_estimate", zones, bool(priced), "zones", "shipping", count=len(priced)),
    ]
