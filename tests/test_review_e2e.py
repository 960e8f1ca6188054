"""Review requests end to end, on SQLite and PostgreSQL: a platform's webhooks say an order
reached its buyer; a week later the sender mails the buyer (a real SMTP server); the link in
the email opens the form; the buyer's review is published to the fake Shopify (rating
metafields) or the fake WooCommerce (product reviews), a 1-star review like a 5-star one; the
reminder never goes to a buyer who answered; the journey reaches evaluation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.adapters.shopify.oauth import ShopifyTokens
from parcours.adapters.shopify.tokens import save_tokens
from parcours.adapters.woocommerce.keys import StoreKeys, save_keys
from parcours.app import create_app
from parcours.credentials import generate_key, set_secret
from parcours.db import Database
from parcours.review_publish import publish_pending
from parcours.review_sender import send_due
from parcours.stages import Stage
from tests.fake_shopify import running as shopify_running
from tests.fake_woocommerce import add_key, add_product
from tests.fake_woocommerce import running as woo_running
from tests.review_form_support import Shopper
from tests.smtp_support import SmtpServer
from tests.test_webhooks import APP_SECRET, WC_SECRET, drain, envelope, fixture, shopify_headers

SHOP = "parcours-e2e.myshopify.com"
TOKEN = "shpat_e2e-reviews"
PUBLIC = "https://parcours.example"


def _app(database_url: str, tmp_path: Path, smtp: SmtpServer, **config: Any) -> Flask:
    return create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                       "SHOPIFY_API_SECRET": APP_SECRET, "PUBLIC_URL": PUBLIC,
                       "SMTP_URL": smtp.url, "MAIL_FROM": "reviews@parcours.example",
                       **config}, instance_path=str(tmp_path))


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def _due(app: Flask) -> datetime:
    with _db(app).read() as conn:
        return conn.execute(select(t.review_messages.c.due_at).where(
            t.review_messages.c.kind == "request")).scalar_one()


def _send(app: Flask, at: datetime) -> dict[str, int]:
    report = send_due(_db(app), app.extensions["parcours.vault"], app.config, now=at)
    return {"sent": report.sent, "skipped": report.skipped, "deferred": report.deferred}


def _answer(app: Flask, smtp: SmtpServer, rating: int) -> str:
    """Open the emailed link and review the order's first product; the review's text."""
    [mail] = smtp.received
    text = mail.message.get_body(("plain",)).get_content()
    [token] = set(re.findall(rf"{re.escape(PUBLIC)}/r/([A-Za-z0-9._-]+)(?![A-Za-z0-9._/-])",
                             text))
    shopper = Shopper(app.test_client(), token)
    assert shopper.open().status_code == 200
    body = "Arrived <b>late</b> & scratched" if rating == 1 else "Lovely"
    thanks = shopper.send(**{"rating-0": str(rating), "body-0": body, "ces": "3", "nps": "6"})
    assert thanks.status_code == 200
    assert shopper.open().status_code == 410  # the link works once
    return body


def _after_answer(app: Flask, smtp: SmtpServer, due: datetime) -> None:
    """No reminder for a buyer who answered; the journey reaches evaluation."""
    assert _send(app, due + timedelta(days=14))["sent"] == 0
    assert len(smtp.received) == 1
    drain(app)
    with _db(app).read() as conn:
        request = conn.execute(select(t.review_requests)).one()
        stage = conn.execute(select(t.profiles.c.stage).where(
            t.profiles.c.id == request.profile_id)).scalar_one()
        names = set(conn.execute(select(t.events.c.name)).scalars())
    assert (request.status, request.ces, request.nps) == ("submitted", 3, 6)
    assert {"review_requested", "review_opened", "review_submitted"} <= names
    assert stage == Stage.EVALUATION


@pytest.fixture
def shopify_app(database_url: str, tmp_path: Path, smtp_server: SmtpServer
                ) -> Iterator[tuple[Flask, Any]]:
    with shopify_running() as (state, origin):
        shop = state.shop(SHOP)
        shop.access_tokens[TOKEN] = time.time() + 3600
        shop.scopes = "write_products,read_orders"
        app = _app(database_url, tmp_path, smtp_server, SHOPIFY_SHOP_ORIGIN=origin)
        with _db(app).write() as conn:
            store_id = create_store(conn, "shop", account="acme", platform="shopify",
                                    domain=SHOP).id
            save_tokens(conn, app.extensions["parcours.vault"], store_id,
                        ShopifyTokens(TOKEN, None, None, None, "write_products,read_orders"))
        yield app, shop
        _db(app).engine.dispose()


def _shopify(app: Flask, topic: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    response = app.test_client().post("/webhooks/shopify", data=body,
                                      headers=shopify_headers(body, topic, shop=SHOP))
    assert response.status_code == 200
    drain(app)


def test_a_shopify_buyer_is_asked_and_a_one_star_review_is_published(
        shopify_app: tuple[Flask, Any], smtp_server: SmtpServer) -> None:
    app, shop = shopify_app
    order = json.loads(fixture("shopify/orders_create__shopifydev-webhooks-ref.json"))
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    _shopify(app, "orders/create", order)
    delivered = json.loads(fixture("shopify/fulfillments_create__shopifydev-webhooks-ref.json"))
    delivered.update(status="success", shipment_status="delivered",
                     updated_at="2026-03-02T12:00:00+00:00")
    _shopify(app, "fulfillments/update", delivered)

    due = _due(app)
    assert due == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # a week after delivery
    assert _send(app, due - timedelta(hours=1))["sent"] == 0
    assert _send(app, due + timedelta(minutes=1))["sent"] == 1
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["jon@example.com"]
    assert "Aviator sunglasses" in mail.message.get_body(("plain",)).get_content()

    body = _answer(app, smtp_server, rating=1)
    assert publish_pending(_db(app), app.extensions["parcours.vault"], app.config
                           ).as_dict()["published"] == 1
    product = f"gid://shopify/Product/{order['line_items'][0]['product_id']}"
    rating = shop.metafields[(product, "reviews", "rating")]
    assert json.loads(rating["value"])["value"] == "1.0"  # published like any other rating
    assert shop.metafields[(product, "reviews", "rating_count")]["value"] == "1"
    with _db(app).read() as conn:
        review = conn.execute(select(t.reviews)).one()
    assert (review.rating, review.body, review.verified, review.status, review.sync_status) == (
        1, body, True, "published", "done")  # the text kept as written
    _after_answer(app, smtp_server, due)


@pytest.fixture
def woo_app(database_url: str, tmp_path: Path, smtp_server: SmtpServer
            ) -> Iterator[tuple[Flask, Any, int]]:
    with woo_running() as (fake, base, _):
        key = add_key(fake)
        product = int(add_product(fake, name="E2E Mug")["id"])
        app = _app(database_url, tmp_path, smtp_server, WOOCOMMERCE_LOCAL_STORES=True)
        with _db(app).write() as conn:
            store_id = create_store(conn, "woo", account="acme", platform="woocommerce",
                                    domain="127.0.0.1").id
            vault = app.extensions["parcours.vault"]
            save_keys(conn, vault, store_id, StoreKeys(base, key.consumer_key,
                                                       key.consumer_secret))
            set_secret(conn, vault, store_id, WC_SECRET)
        yield app, fake, product
        _db(app).engine.dispose()


def test_a_woocommerce_buyer_is_asked_and_the_review_becomes_a_product_review(
        woo_app: tuple[Flask, Any, int], smtp_server: SmtpServer) -> None:
    app, fake, product = woo_app
    headers, raw = envelope("webhook_order_created_delivery_envelope__local-wc11.0.1.json")
    order = json.loads(raw)
    order["line_items"][0]["product_id"] = product
    order["date_completed_gmt"] = "2026-03-02T12:00:00"
    body = json.dumps(order).encode()
    headers["X-WC-Webhook-Signature"] = base64.b64encode(
        hmac.new(WC_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert app.test_client().post("/webhooks/woocommerce/woo", data=body,
                                  headers=headers).status_code == 200
    drain(app)

    due = _due(app)  # WooCommerce never reports delivery: completed + 5 days' transit + 7
    assert due == datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
    assert _send(app, due + timedelta(minutes=1))["sent"] == 1
    [mail] = smtp_server.received
    assert mail.rcpt_tos == [order["billing"]["email"]]

    _answer(app, smtp_server, rating=5)
    assert publish_pending(_db(app), app.extensions["parcours.vault"], app.config
                           ).as_dict()["published"] == 1
    [copy] = fake.reviews.values()
    assert (copy["product_id"], copy["rating"], copy["reviewer_email"]) == (
        product, 5, order["billing"]["email"])
    _after_answer(app, smtp_server, due)
