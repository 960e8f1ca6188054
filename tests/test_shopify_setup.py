"""The merchant's checklist from store facts: each state, the links, both languages."""

from __future__ import annotations

from typing import Any

from parcours.adapters.shopify.setup import setup_items

SHOP = "lune.myshopify.com"
EMBED_LINK = ("https://lune.myshopify.com/admin/themes/current/editor?context=apps"
              "&activateAppId=key/app-embed")


def facts(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "shop": {"locale": "en", "currency": "EUR"},
        "app_embed": {"active": True, "link": EMBED_LINK},
        "customer_accounts": {"customer_accounts_version": "new_customer_accounts",
                              "login_required_at_checkout": False},
        "accelerated_checkout": {"wallets": ["apple_pay", "shopify_pay"], "shop_pay": True},
        "shipping_zones": [{"name": "France", "countries": [], "rates": [{"price": "4.90"}]},
                           {"name": "Carrier only", "countries": [], "rates": []}],
    }
    return base | changes


def by_name(items: list[Any]) -> dict[str, Any]:
    return {item.name: item for item in items}


def test_a_well_set_shop_has_nothing_to_do() -> None:
    items = by_name(setup_items(facts(), SHOP))
    assert {name: item.state for name, item in items.items()} == dict.fromkeys(
        ("app_embed", "guest_checkout", "express_checkout", "shipping_estimate"), "ok")
    assert items["express_checkout"].message == "Express checkout available: Apple Pay, Shop Pay."
    assert "1 delivery zones" in items["shipping_estimate"].message  # only zones with a rate
    assert all(item.link is None for item in items.values())


def test_each_friction_names_the_fix_and_links_to_the_setting() -> None:
    items = by_name(setup_items(facts(
        app_embed={"active": False, "link": EMBED_LINK},
        customer_accounts={"login_required_at_checkout": True},
        accelerated_checkout={"wallets": []},
        shipping_zones=[]), SHOP))
    assert {item.state for item in items.values()} == {"action"}
    assert items["app_embed"].link == EMBED_LINK
    assert items["guest_checkout"].link == f"https://{SHOP}/admin/settings/customer_accounts"
    assert "18-26%" in items["guest_checkout"].message
    assert items["express_checkout"].link == f"https://{SHOP}/admin/settings/payments"
    assert items["shipping_estimate"].link == f"https://{SHOP}/admin/settings/shipping"


def test_facts_not_received_are_unknown_not_guessed() -> None:
    items = setup_items({"shop": {"locale": "fr-FR"}}, SHOP)
    assert {item.state for item in items} == {"unknown"}
    assert items[0].message == "Pas encore connu : Parcours lit votre boutique."


def test_french_shops_read_french() -> None:
    items = by_name(setup_items(facts(shop={"locale": "fr"}, customer_accounts={
        "login_required_at_checkout": True}), SHOP))
    assert items["guest_checkout"].link_label == "Ouvrir les réglages des comptes clients"
    assert items["app_embed"].message.startswith("L'intégration Parcours est activée")
