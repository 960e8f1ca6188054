"""WooCommerce pieces that need no store: URL rules (SSRF), zones to estimates, postcodes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from parcours.adapters.woocommerce.errors import StoreURLError
from parcours.adapters.woocommerce.shipping import zone_fact
from parcours.adapters.woocommerce.site import normalise_store_url
from parcours.shipping import postcode_matches, shipping_estimate

FIXTURES = Path(__file__).parent / "fixtures" / "woocommerce"


@pytest.mark.parametrize(("url", "why"), [
    ("http://shop.example.com", "must start with https://"),
    ("https://127.0.0.1", "not a public address"),
    ("https://localhost:8443/shop", "not a public address"),
    ("https://10.0.0.7", "not a public address"),
    ("https://192.168.1.20", "not a public address"),
    ("https://169.254.169.254/latest", "not a public address"),  # cloud metadata
    ("https://[::1]", "not a public address"),
    ("https://0.0.0.0", "not a public address"),
    ("https://user:pw@shop.example.com", "no user or password"),
    ("https://shop.example.com/?a=1", "query"),
    ("https://shop.example.com:99999", "invalid port"),
    ("https://no-such-host.invalid", "does not resolve"),
    ("", "required"),
    ("javascript:alert(1)", "must start with https://"),
])
def test_production_refuses_what_it_must_not_call(url: str, why: str) -> None:
    with pytest.raises(StoreURLError) as refused:
        normalise_store_url(url)
    assert why in json.dumps(refused.value.errors)
    assert "store_url" in refused.value.errors


def test_public_https_urls_are_normalised() -> None:
    assert normalise_store_url("https://93.184.215.14/Boutique/") == \
        "https://93.184.215.14/Boutique"
    assert normalise_store_url("https://93.184.215.14:8443") == "https://93.184.215.14:8443"


def test_local_mode_allows_the_developers_store() -> None:
    assert normalise_store_url("http://127.0.0.1:8088/", local=True) == "http://127.0.0.1:8088"
    with pytest.raises(StoreURLError):
        normalise_store_url("ftp://127.0.0.1", local=True)


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def test_recorded_zone_becomes_an_estimate() -> None:
    zone = _fixture("shipping_zone_rest__local-wc11.0.1.json")
    locations = _fixture("shipping_zone_locations_rest__local-wc11.0.1.json")
    method = _fixture("shipping_zone_method_rest__local-wc11.0.1.json")
    free = {"id": 3, "enabled": True, "method_id": "free_shipping", "title": "Livraison offerte",
            "settings": {"requires": {"value": "min_amount"}, "min_amount": {"value": "60"}}}
    coupon = {**free, "id": 4, "settings": {"requires": {"value": "coupon"}}}
    formula = {**method, "id": 5, "settings": {"cost": {"value": "2 * [qty]"}}}
    pickup = {"id": 6, "enabled": True, "method_id": "local_pickup", "title": "Pickup"}
    fact = zone_fact(zone, locations, [method, free, coupon, formula, pickup], "EUR")
    assert fact == {"name": "Germany", "countries": [{"code": "DE", "provinces": []}],
                    "rates": [
                        {"name": "Flat rate", "price": "4.90", "currency": "EUR",
                         "min_subtotal": None, "max_subtotal": None},
                        {"name": "Livraison offerte", "price": "0.00", "currency": "EUR",
                         "min_subtotal": "60.00", "max_subtotal": None}]}
    assert [(r["name"], r["price"]) for r in shipping_estimate([fact], "de", subtotal="30")] == [
        ("Flat rate", "4.90")]
    assert [r["price"] for r in shipping_estimate([fact], "DE", subtotal=Decimal("75"))] == [
        "0.00", "4.90"]


def test_first_matching_zone_wins_and_postcode_zones_need_a_postcode() -> None:
    rate = {"name": "R", "currency": "EUR", "min_subtotal": None, "max_subtotal": None}
    zones = [
        {"name": "Paris", "countries": [{"code": "FR", "provinces": []}],
         "postcodes": ["75*"], "rates": [{**rate, "name": "Coursier", "price": "9.00"}]},
        {"name": "France", "countries": [{"code": "FR", "provinces": []}],
         "rates": [{**rate, "name": "Colissimo", "price": "4.90"}]},
        {"name": "Monde", "countries": [{"code": "*", "provinces": []}],
         "rates": [{**rate, "name": "International", "price": "19.90"}]},
    ]

    def names(country: str, postcode: str | None = None) -> list[str]:
        return [r["name"] for r in shipping_estimate(zones, country, postcode=postcode)]

    assert names("FR", "75011") == ["Coursier"]
    assert names("FR", "69001") == ["Colissimo"]
    assert names("FR") == ["Colissimo"]
    assert names("JP") == ["International"]


@pytest.mark.parametrize(("postcode", "patterns", "matches"), [
    ("75011", ["75011"], True), ("75 011", ["75011"], True), ("sw1a 1aa", ["SW1A1AA"], True),
    ("75011", ["75*"], True), ("69001", ["75*"], False),
    ("30500", ["30000...39999"], True), ("40000", ["30000...39999"], False),
    ("AB123", ["30000...39999"], False),
])
def test_postcode_rules(postcode: str, patterns: list[str], matches: bool) -> None:
    assert postcode_matches(postcode, patterns) is matches


def test_the_plugins_session_stamp_stitches_the_order_to_the_visit() -> None:
    from parcours.adapters.woocommerce.normalize import normalize

    order = _fixture("order_rest__local-wc11.0.1.json")
    stamp = "0123456789abcdef0123456789abcdef"
    order["meta_data"] = [{"id": 1, "key": "_parcours_session", "value": stamp}]
    events = normalize("shop", "order.updated", order).events
    assert events and all(event.identities["cart_token"] == stamp for event in events)
    order["meta_data"] = [{"id": 1, "key": "_parcours_session", "value": "<script>"}]
    assert all("cart_token" not in event.identities
               for event in normalize("shop", "order.updated", order).events)
