"""The widget config (pure), the public estimate and reviews routes (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store, save_store_facts
from parcours.adapters.shopify.storefront import STOREFRONT as SHOPIFY
from parcours.adapters.woocommerce.storefront import STOREFRONT as WOOCOMMERCE
from parcours.app import create_app
from parcours.errors import ValidationError
from parcours.reviews import ReviewInput, add_review
from parcours.shipping import EstimateQuery, parse_estimate_query
from parcours.widgets.config import DEFAULT_STOREFRONT, shipping_summary, widget_config

ZONES = [
    {"name": "Paris", "countries": [{"code": "FR", "provinces": []}], "postcodes": ["75*"],
     "rates": [{"name": "Coursier", "price": "2.00", "currency": "EUR"}]},
    {"name": "France", "countries": [{"code": "FR", "provinces": []}],
     "rates": [{"name": "Colissimo", "price": "4.90", "currency": "EUR"},
               {"name": "Relais", "price": "3.50", "currency": "EUR", "min_subtotal": "20.00"},
               {"name": "Colissimo", "price": "0", "currency": "EUR", "min_subtotal": "60"},
               {"name": "Express", "price": "12.00", "currency": "EUR"},
               {"name": "US rate", "price": "1.00", "currency": "USD"}]},
    {"name": "Corse", "countries": [{"code": "FR", "provinces": ["2A", "2B"]},
                                    {"code": "MC", "provinces": []}],
     "rates": [{"name": "Bateau", "price": "15.00", "currency": "EUR"}]},
    {"name": "Belgique", "countries": [{"code": "BE", "provinces": []}],
     "rates": [{"name": "Gratuit", "price": "0.00", "currency": "EUR"}]},
    {"name": "Monde", "countries": [{"code": "*", "provinces": []}],
     "rates": [{"name": "International", "price": "19.90", "currency": "EUR"}]},
    "not a zone",
    {"name": "No rates", "countries": [{"code": "DE", "provinces": []}], "rates": []},
]


# -- pure ----------------------------------------------------------------------------------------

def test_the_shipping_summary_says_from_and_free_from_per_zone() -> None:
    assert shipping_summary(ZONES, "eur") == {"currency": "EUR", "countries": ["BE", "FR", "MC"],
                                              "zones": [
        # Paris (postcodes) and Corse's provinces are left out: without an address they would
        # promise what most of the country does not get. The 3.50 rate needs a subtotal.
        {"countries": ["FR"], "from": "4.90", "free_from": "60.00"},
        {"countries": ["MC"], "from": "15.00", "free_from": None},
        {"countries": ["BE"], "from": None, "free_from": "0.00"},
        {"countries": ["*"], "from": "19.90", "free_from": None}]}
    assert shipping_summary(ZONES, "USD") == {"currency": "USD", "countries": ["FR"], "zones": [
        {"countries": ["FR"], "from": "1.00", "free_from": None}]}
    assert shipping_summary(ZONES, None) is None and shipping_summary("junk", "EUR") is None
    assert shipping_summary([], "EUR") is None


def test_the_config_merges_store_settings_platform_paths_and_facts() -> None:
    facts = {"widgets": {"express_pay": {"enabled": False, "holdout": 0.2}, "nope": {}},
             "shop": {"currency": "EUR", "locale": "fr"},
             "customer_accounts": {"login_required_at_checkout": True},
             "accelerated_checkout": {"wallets": ["shopify_pay", "apple_pay", "apple_pay"]},
             "storefront": {"title": ".my-title", "unknown": "dropped"},
             "widget_lang": "de"}
    config = widget_config("https://p.example/", "shop", facts, SHOPIFY)
    assert config["origin"] == "https://p.example" and config["store"] == "shop"
    assert config["widgets"]["express_pay"] == {"enabled": False, "holdout": 0.2,
                                                "pages": ["product", "cart"]}
    assert "nope" not in config["widgets"]
    assert config["facts"] == {"guest_checkout": False, "wallets": ["apple_pay", "shopify_pay"]}
    assert (config["lang"], config["locale"], config["currency"]) == (None, "fr", "EUR")
    paths = config["storefront"]
    assert paths["title"] == ".my-title" and "unknown" not in paths  # the store's own wins
    assert paths["buy_now"] == SHOPIFY["buy_now"]  # the platform's over the defaults
    assert paths["reviews"] == DEFAULT_STOREFRONT["reviews"]
    assert widget_config("https://p.example", "shop", {"widget_lang": "fr"})["lang"] == "fr"


def test_review_widgets_are_off_where_the_platform_shows_its_own_reviews() -> None:
    config = widget_config("https://p.example", "shop", {}, WOOCOMMERCE)
    assert config["widgets"]["review_stars"]["enabled"] is False
    assert config["widgets"]["review_list"]["enabled"] is False
    assert config["widgets"]["shipping_estimate"]["enabled"] is True
    assert config["facts"] == {"guest_checkout": None, "wallets": []}  # not said: unknown


def test_estimate_queries_name_every_bad_parameter() -> None:
    assert parse_estimate_query({"country": "fr", "postcode": " 75011 ", "subtotal": "42.5",
                                 "currency": "eur", "province": "idf"}) == EstimateQuery(
        "FR", "IDF", "75011", Decimal("42.5"), "EUR")
    assert parse_estimate_query({"country": "BE"}) == EstimateQuery("BE")
    with pytest.raises(ValidationError) as refused:
        parse_estimate_query({"country": "France", "postcode": "<script>", "subtotal": "-1",
                              "currency": "euro"})
    assert set(refused.value.errors) == {"country", "postcode", "subtotal", "currency"}
    with pytest.raises(ValidationError) as missing:
        parse_estimate_query({"subtotal": "NaN"})
    assert missing.value.errors == {"country": ["required"],
                                    "subtotal": ["a non-negative amount, e.g. 42.50"]}


# -- the public routes ---------------------------------------------------------------------------

@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url}, instance_path=str(tmp_path))
    with app.extensions["parcours.db"].write() as conn:
        shop = create_store(conn, "shop", account="a")
        save_store_facts(conn, shop.id, {"shipping_zones": ZONES}, datetime.now(UTC))
        create_store(conn, "gone", account="a")
        conn.execute(t.stores.update().where(t.stores.c.key == "gone")
                     .values(uninstalled_at=datetime.now(UTC)))
    yield app
    app.extensions["parcours.db"].engine.dispose()


def _store_id(app: Flask, key: str = "shop") -> int:
    with app.extensions["parcours.db"].read() as conn:
        return int(conn.execute(select(t.stores.c.id).where(t.stores.c.key == key)).scalar_one())


def test_the_estimate_route_answers_from_the_store_zones(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    answer = client.get("/w/shop/shipping-estimate?country=fr&postcode=13001&subtotal=25"
                        "&currency=EUR")
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Cache-Control"] == "public, max-age=60"
    body = answer.get_json()
    assert [(r["name"], r["price"]) for r in body["rates"]] == [
        ("Relais", "3.50"), ("Colissimo", "4.90"), ("Express", "12.00")]
    assert (body["country"], body["zones_synced"]) == ("FR", True)
    paris = client.get("/w/shop/shipping-estimate?country=FR&postcode=75011").get_json()
    assert [r["name"] for r in paris["rates"]] == ["Coursier"]  # the first zone that covers it
    bad = client.get("/w/shop/shipping-estimate?country=FRA&subtotal=x")
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {
        "country", "subtotal"}
    assert bad.headers["Access-Control-Allow-Origin"] == "*"  # the widget can read why
    assert client.get("/w/nobody/shipping-estimate?country=FR").status_code == 404
    assert client.get("/w/gone/shipping-estimate?country=FR").status_code == 404


def _review(app: Flask, product: str, rating: int, days: int, **extra: Any) -> int:
    with app.extensions["parcours.db"].write() as conn:
        return add_review(conn, _store_id(app), ReviewInput(
            product_id=product, rating=rating, body=f"{rating} stars",
            created_at=datetime(2026, 11, 30, tzinfo=UTC) - timedelta(days=days), **extra))


def test_the_reviews_route_pages_published_reviews_whatever_their_rating(app: Flask) -> None:
    for days, rating in enumerate([5, 1, 4, 2, 5, 3, 1]):
        _review(app, "p-1", rating, days, author="Ann", verified=days % 2 == 0)
    _review(app, "p-1", 5, 0, status="pending")  # awaiting moderation: not shown, not counted
    _review(app, "p-1", 5, 0, status="rejected")
    _review(app, "p-2", 4, 0)
    client = app.test_client()
    first = client.get("/w/shop/reviews/p-1.json?per_page=3")
    assert first.status_code == 200 and first.headers["Access-Control-Allow-Origin"] == "*"
    body = first.get_json()
    assert body["rating"] == {"average": 3.0, "count": 7, "best": 5, "worst": 1}
    assert (body["page"], body["pages"], body["per_page"]) == (1, 3, 3)
    assert [r["rating"] for r in body["reviews"]] == [5, 1, 4]  # newest first
    assert body["reviews"][0] == {"id": body["reviews"][0]["id"], "rating": 5,
                                  "title": None, "body": "5 stars", "author": "Ann",
                                  "verified": True, "reply": None, "locale": None,
                                  "created_at": "2026-11-30T00:00:00+00:00", "photos": []}
    assert body["write"] is None  # the store takes no reviews from its storefront
    last = client.get("/w/shop/reviews/p-1.json?per_page=3&page=3").get_json()
    assert [r["rating"] for r in last["reviews"]] == [1]
    beyond = client.get("/w/shop/reviews/p-1.json?per_page=3&page=9").get_json()
    assert beyond["page"] == 3  # clamped to the last page
    none = client.get("/w/shop/reviews/p-9.json").get_json()
    assert none["rating"] == {"average": None, "count": 0, "best": 5, "worst": 1}
    assert none["reviews"] == [] and none["pages"] == 1
    for query in ("page=0", "page=x", "per_page=21", "per_page=-1"):
        refused = client.get(f"/w/shop/reviews/p-1.json?{query}")
        assert refused.status_code == 400, query
    assert client.get(f"/w/shop/reviews/{'x' * 65}.json").status_code == 400
    assert client.get("/w/gone/reviews/p-1.json").status_code == 404


def test_a_bad_review_is_refused_whole(app: Flask) -> None:
    with pytest.raises(ValidationError) as refused:
        _review(app, "", 6, 0, author="x" * 101, status="hidden")
    assert set(refused.value.errors) == {"rating", "product_id", "author", "status"}
    with pytest.raises(ValidationError), app.extensions["parcours.db"].write() as conn:
        add_review(conn, _store_id(app), ReviewInput(
            product_id="p-1", rating=True, body="  ", created_at=datetime(2026, 11, 30)))  # type: ignore[arg-type]
    with app.extensions["parcours.db"].read() as conn:
        assert conn.execute(select(t.reviews)).first() is None
