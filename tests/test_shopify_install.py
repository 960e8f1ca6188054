"""The post-install job, review metafields and reconciliation, on a real database (SQLite and
PostgreSQL) against the fake Shopify on a loopback port."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.adapters.shopify.client import ShopifyClient
from parcours.adapters.shopify.errors import ShopifyError, ShopifyGraphQLError
from parcours.adapters.shopify.install import (
    InstallReport,
    embed_enabled,
    rewrite_config,
    run_post_install,
    webhook_topics,
)
from parcours.adapters.shopify.normalize import normalize
from parcours.adapters.shopify.oauth import ShopifyTokens
from parcours.adapters.shopify.reconcile import poll_orders
from parcours.adapters.shopify.reviews import publish_rating
from parcours.adapters.shopify.tokens import save_tokens
from parcours.app import create_app
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.inbox import process_pending, receive
from parcours.reconcile import reconcile_stores
from parcours.widgets.config import DEFAULT_WIDGETS
from tests.fake_shopify import API_KEY, FakeShop, running
from tests.fake_shopify.admin import (
    delivery_method,
    delivery_profile,
    delivery_zone,
    money,
    order_node,
)
from tests.test_shopify_client import Clock

SHOP = "parcours-test.myshopify.com"
TOKEN = "shpat_install-test-token"
PUBLIC = "https://parcours.example.com"
INSTALLATION = "gid://shopify/AppInstallation/1"
SETTINGS_DATA = "config/settings_data.json"
EMBED_TYPE = "shopify://apps/parcours/blocks/app-embed/0f0e0d0c-aaaa-bbbb-cccc-1234567890ab"
STEPS = ["webhooks", "web_pixel", "shop_facts", "shipping_zones", "widget_config", "app_embed"]
FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
FREE_OVER_50 = ("TOTAL_PRICE", "GREATER_THAN_OR_EQUAL_TO",
                {"amount": "50.0", "currencyCode": "EUR"})
UNDER_50 = ("TOTAL_PRICE", "LESS_THAN_OR_EQUAL_TO", {"amount": "49.99", "currencyCode": "EUR"})
HEAVY = ("TOTAL_WEIGHT", "GREATER_THAN_OR_EQUAL_TO", {"value": 5.0, "unit": "KILOGRAMS"})
PROFILES = [
    delivery_profile(1, {
        10: [delivery_zone("France", {"FR": []}, [
                 delivery_method("Colissimo", "4.9", conditions=[UNDER_50]),
                 delivery_method("Livraison offerte", "0.0", conditions=[FREE_OVER_50]),
                 delivery_method("Transporteur", None),  # carrier-calculated: no fixed price
                 delivery_method("Lourd", "15.0", conditions=[HEAVY]),  # by weight: unknown
                 delivery_method("Ancien", "3.0", active=False)]),
             delivery_zone("Benelux", {"BE": ["VAN", "WBR"], "LU": []},
                           [delivery_method("Standard", "7.5")])],
        11: [delivery_zone("Monde", {"*": []}, [delivery_method("International", "19.9")])],
    }),
    delivery_profile(2, {12: [delivery_zone("Fragile", {"FR": []},
                                            [delivery_method("Sur mesure", "30.0")])]},
                     default=False, name="Fragile items"),
]
ZONES = [
    {"name": "France", "countries": [{"code": "FR", "provinces": []}], "rates": [
        {"name": "Colissimo", "price": "4.90", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": "49.99"},
        {"name": "Livraison offerte", "price": "0.00", "currency": "EUR",
         "min_subtotal": "50.00", "max_subtotal": None}]},
    {"name": "Benelux", "countries": [{"code": "BE", "provinces": ["VAN", "WBR"]},
                                      {"code": "LU", "provinces": []}], "rates": [
        {"name": "Standard", "price": "7.50", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": None}]},
    {"name": "Monde", "countries": [{"code": "*", "provinces": []}], "rates": [
        {"name": "International", "price": "19.90", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": None}]},
]


def settings_data(enabled: bool | None) -> str:
    """The main theme's settings, with Shopify's comment header, and Parcours's embed."""
    blocks: dict[str, Any] = {"1": {"type": "shopify://apps/chat/blocks/bubble/1",
                                    "disabled": False, "settings": {}}}
    if enabled is not None:
        blocks["17158281812345"] = {"type": EMBED_TYPE, "disabled": not enabled, "settings": {}}
    return ("/*\n * IMPORTANT: The contents of this file are auto-generated.\n */\n"
            + json.dumps({"current": {"blocks": blocks, "sections": {}}, "presets": {}}))


@dataclass
class Env:
    db: Database
    shop: FakeShop
    origin: str
    clock: Clock
    config: dict[str, Any]
    vault: Vault

    def client(self) -> ShopifyClient:
        return ShopifyClient(SHOP, TOKEN, origin_template=self.origin, sleep=self.clock.sleep,
                             clock=self.clock.time)

    def run(self) -> InstallReport:
        with self.client() as client:
            return run_post_install(self.db, self.vault, self.config, "shop", client=client)

    def facts(self) -> dict[str, Any]:
        with self.db.read() as conn:
            store_id = get_store(conn, "shop").id
            return {row.name: row.value for row in conn.execute(select(
                t.store_facts.c.name, t.store_facts.c.value).where(
                t.store_facts.c.store_id == store_id))}

    def mutations_since(self, start: int) -> list[str]:
        return [field for call in self.shop.calls[start:] if call.get("operation") == "mutation"
                for field in call["fields"]]


@pytest.fixture
def env(db: Database) -> Iterator[Env]:
    clock = Clock()
    with running() as (state, origin):
        shop = state.shop(SHOP)
        shop.access_tokens[TOKEN] = time.time() + 3600
        shop.clock = clock.time
        shop.primary_domain = "https://boutique.example.fr"
        shop.delivery_profiles = PROFILES
        shop.theme_files = {SETTINGS_DATA: settings_data(False)}
        with db.write() as conn:
            create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
        config = {"PUBLIC_URL": PUBLIC, "SHOPIFY_API_KEY": API_KEY,
                  "SHOPIFY_SHOP_ORIGIN": origin}
        yield Env(db, shop, origin, clock, config, Vault(generate_key()))


def _metafield(shop: FakeShop, owner: str, namespace: str, key: str) -> dict[str, Any]:
    return shop.metafields[(owner, namespace, key)]


# -- post-install ------------------------------------------------------------------------------

def test_first_run_sets_everything_up_and_a_second_run_changes_nothing(env: Env) -> None:
    first = env.run()
    assert (first.done, first.skipped, first.notes) == (STEPS, [], [])

    subs = list(env.shop.webhook_subscriptions.values())
    assert sorted(sub["topic"] for sub in subs) == webhook_topics()
    assert {"ORDERS_PAID", "CARTS_CREATE", "APP_UNINSTALLED",
            "CUSTOMER_ACCOUNT_SETTINGS_UPDATE"} <= set(webhook_topics())
    assert not {"CUSTOMERS_REDACT", "SHOP_REDACT", "CUSTOMERS_DATA_REQUEST"} & set(
        webhook_topics())  # compliance topics live in the app's TOML
    assert {(sub["uri"], sub["format"]) for sub in subs} == {(PUBLIC + "/webhooks/shopify",
                                                              "JSON")}
    [pixel] = env.shop.web_pixels.values()
    assert json.loads(pixel["settings"]) == {"endpoint": PUBLIC, "store_key": "shop"}
    config = _metafield(env.shop, INSTALLATION, "parcours", "config")
    assert config["type"] == "json"
    value = json.loads(config["value"])
    assert (value["origin"], value["store"], value["widgets"]) == (PUBLIC, "shop",
                                                                   DEFAULT_WIDGETS)
    # The page's language wins (no store override); the shop's is the fallback.
    assert (value["lang"], value["locale"], value["currency"]) == (None, "fr", "EUR")
    assert value["facts"] == {"guest_checkout": True, "wallets": ["apple_pay", "shopify_pay"]}
    assert value["storefront"]["buy_now"] == "/cart/{variant}:{quantity}"
    assert value["shipping"] is not None  # summarised from the zones synced just before
    facts = env.facts()
    assert facts["shop"] == {"currency": "EUR", "primary_domain": "https://boutique.example.fr",
                             "timezone": "Europe/Paris", "locale": "fr"}
    with env.db.read() as conn:
        assert conn.execute(select(t.stores.c.timezone)).scalar_one() == "Europe/Paris"
    assert facts["customer_accounts"] == {
        "customer_accounts_version": "new_customer_accounts",
        "login_required_at_checkout": False,
        "login_links_visible_on_storefront_and_checkout": True,
        "url": "https://shopify.com/1/account"}
    assert facts["accelerated_checkout"] == {"wallets": ["apple_pay", "shopify_pay"],
                                             "shop_pay": True}

    start = len(env.shop.calls)
    second = env.run()
    assert (second.done, second.skipped) == ([], STEPS)
    assert env.mutations_since(start) == []
    assert len(env.shop.webhook_subscriptions) == len(webhook_topics())


def test_a_run_failing_half_way_completes_when_run_again(env: Env) -> None:
    # The third subscription fails for good (5 attempts), after two were created.
    env.shop.fail_on = {"webhookSubscriptionCreate": [0, 0, 500, 500, 500, 500, 500]}
    with pytest.raises(ShopifyError):
        env.run()
    assert len(env.shop.webhook_subscriptions) == 2
    assert env.clock.waits == [1.0, 2.0, 4.0, 8.0]  # backoff, recorded not slept

    env.shop.fail_on = {"webPixelCreate": [503] * 5}  # now the pixel fails
    with pytest.raises(ShopifyError):
        env.run()
    assert len(env.shop.webhook_subscriptions) == len(webhook_topics())
    assert env.shop.web_pixels == {} and env.facts() == {}

    start = len(env.shop.calls)
    report = env.run()
    assert (report.done, report.skipped) == (STEPS[1:], ["webhooks"])
    assert env.mutations_since(start) == ["webPixelCreate", "metafieldsSet"]
    assert len(env.shop.webhook_subscriptions) == len(webhook_topics())  # no duplicates


def test_a_small_bucket_makes_the_job_wait_not_fail(env: Env) -> None:
    env.shop.bucket_max, env.shop.restore_rate = 150, 20.0  # every query fits, few at once
    report = env.run()
    assert report.done == STEPS
    assert env.clock.waits and all(0 < wait <= 5 for wait in env.clock.waits)
    assert len(env.shop.webhook_subscriptions) == len(webhook_topics())


def test_a_new_public_url_moves_subscriptions_pixel_and_config(env: Env) -> None:
    env.run()
    ids = set(env.shop.webhook_subscriptions)
    env.config["PUBLIC_URL"] = "https://new.example.com/"
    report = env.run()
    assert report.done == ["webhooks", "web_pixel", "widget_config"]
    assert set(env.shop.webhook_subscriptions) == ids  # updated in place, not duplicated
    assert {sub["uri"] for sub in env.shop.webhook_subscriptions.values()} == {
        "https://new.example.com/webhooks/shopify"}
    [pixel] = env.shop.web_pixels.values()
    assert json.loads(pixel["settings"])["endpoint"] == "https://new.example.com"
    config = json.loads(_metafield(env.shop, INSTALLATION, "parcours", "config")["value"])
    assert config["origin"] == "https://new.example.com"


def test_shipping_zones_of_the_default_profile_in_the_proxy_shape(env: Env) -> None:
    env.run()
    assert env.facts()["shipping_zones"] == ZONES


def test_app_embed_is_checked_in_the_main_theme_settings(env: Env) -> None:
    env.run()
    link = (f"https://{SHOP}/admin/themes/current/editor?context=apps"
            f"&activateAppId={API_KEY}/app-embed")
    assert env.facts()["app_embed"] == {"active": False, "link": link}
    env.shop.theme_files[SETTINGS_DATA] = settings_data(True)  # the merchant switched it on
    report = env.run()
    assert report.done == ["app_embed"]
    assert env.facts()["app_embed"] == {"active": True, "link": link}


@pytest.mark.parametrize(("content", "active"), [
    (None, False), ("", False), ("not json", False), (settings_data(None), False),
    (settings_data(False), False), (settings_data(True), True),
    (json.dumps({"current": "Light", "presets": {"Light": {"blocks": {
        "9": {"type": EMBED_TYPE}}}}}), True),  # a preset, and no "disabled": on
    (json.dumps({"current": {"blocks": {"9": {
        "type": EMBED_TYPE.replace("app-embed", "app-embed-old")}}}}), False),
])
def test_embed_enabled_reads_settings_data(content: str | None, active: bool) -> None:
    assert embed_enabled(content, "app-embed") is active


def test_customer_accounts_fact_is_the_webhook_normalizers(env: Env) -> None:
    env.shop.customer_accounts_version, env.shop.login_required_at_checkout = "CLASSIC", True
    env.run()
    payload = json.loads((FIXTURES / "customer_account_settings_update__shopifydev-webhooks-"
                                      "ref.json").read_bytes())
    [action] = normalize("shop", "customer_account_settings/update", payload).actions
    ours = env.facts()["customer_accounts"]
    assert action.name == "customer_accounts" and set(action.value) == set(ours)
    assert ours["customer_accounts_version"] == action.value["customer_accounts_version"]
    assert ours["login_required_at_checkout"] is True


def test_missing_optional_scopes_are_noted_not_fatal(env: Env) -> None:
    env.shop.scopes = ("read_orders,read_customers,write_products,read_fulfillments,"
                       "write_pixels,read_customer_events,read_themes")  # no locales, shipping
    report = env.run()
    assert report.skipped == ["shipping_zones"]
    assert any("read_locales" in note for note in report.notes)
    assert any("read_shipping" in note for note in report.notes)
    assert env.facts()["shop"]["locale"] is None and "shipping_zones" not in env.facts()


def test_config_is_rewritten_when_the_widgets_change(env: Env) -> None:
    env.run()
    with env.db.write() as conn:
        conn.execute(t.store_facts.insert().values(
            store_id=get_store(conn, "shop").id, name="widgets",
            value={"express_pay": {"enabled": False}}, updated_at=datetime.now(UTC)))
    with env.client() as client:
        assert rewrite_config(env.db, env.vault, env.config, "shop", client=client) is True
        assert rewrite_config(env.db, env.vault, env.config, "shop", client=client) is False
    config = json.loads(_metafield(env.shop, INSTALLATION, "parcours", "config")["value"])
    assert config["widgets"]["express_pay"] == {"enabled": False, "pages": ["product", "cart"]}
    assert config["widgets"]["review_stars"] == {"enabled": True, "pages": ["product"]}


def test_the_job_runs_through_huey(env: Env, database_url: str, tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "JOBS_IMMEDIATE": True, **env.config}, instance_path=str(tmp_path))
    # The app registered the job itself (ShopifyAdapter.init_app); it reads the stored tokens.
    db = app.extensions["parcours.db"]
    with db.write() as conn:
        save_tokens(conn, app.extensions["parcours.vault"], get_store(conn, "shop").id,
                    ShopifyTokens(TOKEN, None, None, None, "read_orders"))
    result = app.extensions["parcours.shopify.post_install"]("shop")
    assert result.get()["done"] == STEPS
    assert len(env.shop.webhook_subscriptions) == len(webhook_topics())
    env.shop.access_tokens.clear()  # uninstalled meanwhile: stops without retrying
    result = app.extensions["parcours.shopify.post_install"]("shop")
    assert "access token is invalid" in result.get()["error"]
    app.extensions["parcours.db"].engine.dispose()


# -- reviews -----------------------------------------------------------------------------------

def test_ratings_are_published_to_the_standard_review_metafields(env: Env) -> None:
    product = "gid://shopify/Product/42"
    with env.client() as client:
        publish_rating(client, product, Decimal("4.5"), 12)
        rating = _metafield(env.shop, product, "reviews", "rating")
        count = _metafield(env.shop, product, "reviews", "rating_count")
        assert (rating["type"], json.loads(rating["value"])) == (
            "rating", {"value": "4.5", "scale_min": "1.0", "scale_max": "5.0"})
        assert (count["type"], count["value"]) == ("number_integer", "12")

        publish_rating(client, product, Decimal("4.7777"), 13)
        assert json.loads(_metafield(env.shop, product, "reviews", "rating")["value"])[
            "value"] == "4.78"
        publish_rating(client, product, Decimal("5"), 1)
        assert json.loads(_metafield(env.shop, product, "reviews", "rating")["value"])[
            "value"] == "5.0"

        publish_rating(client, product, Decimal("0"), 0)  # the last review was removed
        assert (product, "reviews", "rating") not in env.shop.metafields
        assert (product, "reviews", "rating_count") not in env.shop.metafields


@pytest.mark.parametrize(("product", "rating", "count"), [
    ("gid://shopify/Product/42", Decimal("5.5"), 3), ("gid://shopify/Product/42",
                                                      Decimal("0.5"), 3),
    ("gid://shopify/Product/42", Decimal("NaN"), 3), ("gid://shopify/Product/42",
                                                      Decimal("4"), -1),
    ("gid://shopify/Order/42", Decimal("4"), 1), ("42", Decimal("4"), 1),
])
def test_bad_ratings_are_refused_before_any_call(env: Env, product: str, rating: Decimal,
                                                 count: int) -> None:
    with env.client() as client, pytest.raises(ValueError):
        publish_rating(client, product, rating, count)
    assert env.shop.calls == []


def test_ratings_need_write_products(env: Env) -> None:
    env.shop.scopes = "read_products"
    with env.client() as client, pytest.raises(ShopifyGraphQLError) as caught:
        publish_rating(client, "gid://shopify/Product/42", Decimal("4"), 2)
    assert caught.value.codes == {"ACCESS_DENIED"}


# -- reconciliation ----------------------------------------------------------------------------

def _orders() -> list[dict[str, Any]]:
    delivered = {"legacyResourceId": "3001", "createdAt": "2026-11-20T11:00:00Z",
                 "updatedAt": "2026-11-21T09:00:00Z", "status": "SUCCESS",
                 "displayStatus": "DELIVERED"}
    refund = {"legacyResourceId": "9001", "createdAt": "2026-11-21T10:00:00Z",
              "transactions": {"nodes": [{"kind": "REFUND", "status": "SUCCESS",
                                          "amountSet": money("10.00")}]}}
    main = order_node(1001, created_at="2026-11-20T10:00:00Z",
                      updated_at="2026-11-21T10:00:00Z", financial="PARTIALLY_REFUNDED",
                      fulfillment="FULFILLED", customer_id=7, product_ids=[501, 502],
                      fulfillments=[delivered], refunds=[refund])
    pending = [order_node(1100 + i, updated_at=f"2026-11-20T1{i % 10}:30:00Z",
                          financial="PENDING") for i in range(11)]
    old = order_node(900, updated_at="2026-11-01T10:00:00Z")
    return [main, *pending, old]


def test_orders_updated_since_become_orders_updated_deliveries(env: Env) -> None:
    env.shop.orders = _orders()
    with env.client() as client:
        deliveries = poll_orders(client, datetime(2026, 11, 19, tzinfo=UTC))
    assert len(deliveries) == 12  # two pages of ten; the order of 1 November is left out
    assert [call["variables"].get("query") for call in env.shop.calls] == [
        "updated_at:>'2026-11-19T00:00:00Z'"] * 2
    main = deliveries[-1]  # the latest change comes last
    assert (main.topic, main.key) == ("orders/updated",
                                      "shopify:reconcile:1001:2026-11-21T10:00:00Z")
    payload = json.loads(main.body)
    assert payload["id"] == 1001 and payload["financial_status"] == "partially_refunded"
    assert payload["customer"] == {"id": 7, "email": "shopper@example.com"}
    events = normalize("shop", main.topic, payload).events
    assert {event.key: event.name for event in events} == {
        "order:1001:placed": "order_placed", "order:1001:paid": "order_paid",
        "order:1001:fulfilled": "order_fulfilled", "order:1001:delivered": "order_delivered",
        "refund:9001": "order_refunded"}
    paid = next(event for event in events if event.name == "order_paid")
    assert paid.properties == {"total": "42.50", "currency": "EUR", "gateway": "shopify_payments",
                               "product_ids": ["501", "502"]}
    refunded = next(event for event in events if event.name == "order_refunded")
    assert refunded.properties == {"total": "10.00", "currency": "EUR"}


def test_reconciled_deliveries_go_through_the_inbox_once(env: Env) -> None:
    env.shop.orders = _orders()
    with env.client() as client:
        deliveries = poll_orders(client, datetime(2026, 11, 19, tzinfo=UTC))
    with env.db.write() as conn:
        store_id = get_store(conn, "shop").id
        new = [receive(conn, store_id=store_id, source="shopify", topic=delivery.topic,
                       delivery_key=delivery.key, body=delivery.body) for delivery in deliveries]
        again = [receive(conn, store_id=store_id, source="shopify", topic=delivery.topic,
                         delivery_key=delivery.key, body=delivery.body)
                 for delivery in deliveries]
    assert all(new) and not any(again)
    result = process_pending(env.db)
    assert (result.done, result.failed) == (12, 0)
    keys = ["order:1001:placed", "order:1001:paid", "order:1001:fulfilled",
            "order:1001:delivered", "refund:9001"]
    with env.db.read() as conn:
        stored = {row.key: row.name for row in conn.execute(select(
            t.events.c.key, t.events.c.name).where(t.events.c.store_id == store_id,
                                                   t.events.c.key.in_(keys)))}
    assert stored == {"order:1001:placed": "order_placed", "order:1001:paid": "order_paid",
                      "order:1001:fulfilled": "order_fulfilled",
                      "order:1001:delivered": "order_delivered", "refund:9001": "order_refunded"}


def test_the_reconcile_job_polls_a_stored_store_with_its_token(env: Env) -> None:
    env.shop.orders = _orders()
    with env.db.write() as conn:
        save_tokens(conn, env.vault, get_store(conn, "shop").id,
                    ShopifyTokens(TOKEN, None, None, None, "read_orders"))
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    result = reconcile_stores(env.db, env.vault, env.config, now=now)
    # Since 20 Nov 11:55: the main order and the eight pending ones updated from 12:30 on.
    assert (result.stores, result.errors, result.new) == (1, 0, 9)
    [search] = {call["variables"]["query"] for call in env.shop.calls
                if "orders" in call.get("fields", [])}
    assert search == "updated_at:>'2026-11-20T11:55:00Z'"  # first window: a day, 5 min overlap
    with env.db.read() as conn:
        keys = set(conn.execute(select(t.inbox.c.delivery_key)).scalars())
    assert "shopify:reconcile:1001:2026-11-21T10:00:00Z" in keys
    assert not any(key.startswith(("shopify:reconcile:900:", "shopify:reconcile:1101:"))
                   for key in keys)


def test_a_store_whose_token_is_refused_is_counted_and_retried_next_time(env: Env) -> None:
    with env.db.write() as conn:
        save_tokens(conn, env.vault, get_store(conn, "shop").id,
                    ShopifyTokens("shpat_revoked", None, None, None, "read_orders"))
    result = reconcile_stores(env.db, env.vault, env.config)
    assert (result.stores, result.errors) == (0, 1)
    with env.db.read() as conn:  # the window is not skipped: the next run asks again
        assert conn.execute(select(t.stores.c.reconciled_until)).scalar_one() is None
