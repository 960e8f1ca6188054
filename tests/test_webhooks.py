"""The webhook receiver on the real app and a real database (SQLite and PostgreSQL).

Verify before storing, store once, acknowledge; then the worker path turns deliveries into
events, keeps what it cannot use as failed with the reason, and lets an operator replay it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.app import create_app
from parcours.credentials import generate_key, set_secret
from parcours.db import Database
from parcours.inbox import list_entries, process_pending, replay
from parcours.standard_webhooks import sign

FIXTURES = Path(__file__).parent / "fixtures"
APP_SECRET, OLD_APP_SECRET = "shpss_current-app-secret", "shpss_previous-app-secret"
WC_SECRET = 's3cr3t-&-"quote"-test'  # the secret of the recorded WooCommerce deliveries
SHOP = "parcours-test.myshopify.com"
CUSTOM_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url,
                      "SECRET_KEYS": generate_key(), "SHOPIFY_API_SECRET": APP_SECRET,
                      "SHOPIFY_API_SECRET_PREVIOUS": OLD_APP_SECRET,
                      "MAX_CONTENT_LENGTH": 64 * 1024}, instance_path=str(tmp_path))
    db: Database = app.extensions["parcours.db"]
    vault = app.extensions["parcours.vault"]
    with db.write() as conn:
        create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
        create_store(conn, "woo", account="acme", platform="woocommerce")
        create_store(conn, "own", account="acme", platform="custom")
        set_secret(conn, vault, get_store(conn, "woo").id, WC_SECRET)
        set_secret(conn, vault, get_store(conn, "own").id, CUSTOM_SECRET)
    yield app
    db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def rows(app: Flask) -> list[Any]:
    with _db(app).read() as conn:
        return list(conn.execute(select(t.inbox).order_by(t.inbox.c.id)))


def event_count(app: Flask) -> int:
    with _db(app).read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())


def fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def shopify_headers(body: bytes, topic: str = "orders/create", secret: str = APP_SECRET,
                    webhook_id: str | None = None, shop: str = SHOP) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": shop, "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()), "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Triggered-At": "2026-11-20T17:00:05.000Z",
            "Content-Type": "application/json"}


def envelope(name: str) -> tuple[dict[str, str], bytes]:
    data = json.loads(fixture(f"woocommerce/{name}"))
    headers = {k: v for k, v in data["headers"].items()
               if k.lower() not in ("content-length", "host", "connection")}
    return headers, data["body"].encode()


def custom_headers(body: bytes, *, at: int | None = None, msg_id: str | None = None,
                   secret: str = CUSTOM_SECRET) -> dict[str, str]:
    stamp = int(time.time()) if at is None else at
    msg = msg_id or f"msg_{uuid.uuid4().hex}"
    return {"webhook-id": msg, "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, msg, stamp, body),
            "Content-Type": "application/json"}


def drain(app: Flask) -> None:
    while (result := process_pending(_db(app), limit=50)).done + result.failed:
        pass


ORDER = "shopify/orders_create__shopifydev-webhooks-ref.json"


# -- Shopify ------------------------------------------------------------------------------------
def test_shopify_delivery_is_stored_once_with_its_headers(app: Flask, client: FlaskClient) -> None:
    body = fixture(ORDER)
    headers = shopify_headers(body, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    first = client.post("/webhooks/shopify", data=body, headers=headers)
    again = client.post("/webhooks/shopify", data=body, headers=headers)
    assert (first.status_code, first.json) == (200, {"ok": True, "duplicate": False})
    assert (again.status_code, again.json) == (200, {"ok": True, "duplicate": True})
    [row] = rows(app)
    assert row.delivery_key == "shopify:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert bytes(row.body) == body and row.topic == "orders/create" and row.status == "pending"
    for name in ("x-shopify-event-id", "x-shopify-topic", "x-shopify-triggered-at",
                 "x-shopify-api-version", "x-shopify-webhook-id", "x-shopify-shop-domain"):
        assert row.headers[name] == headers["-".join(p.capitalize() for p in name.split("-"))
                                             .replace("Api", "API")]
    drain(app)
    assert rows(app)[0].status == "done"
    assert event_count(app) >= 2  # placed and cancelled: the docs' sample is a voided order


@pytest.mark.parametrize("change", ["wrong secret", "missing", "not base64", "empty",
                                    "tampered body"])
def test_shopify_bad_signature_is_401_and_stores_nothing(app: Flask, client: FlaskClient,
                                                         change: str) -> None:
    body = fixture(ORDER)
    headers = shopify_headers(body)
    sent = body
    if change == "wrong secret":
        headers = shopify_headers(body, secret="not-the-secret")
    elif change == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    elif change == "not base64":
        headers["X-Shopify-Hmac-Sha256"] = "%%%not base64%%%"
    elif change == "empty":
        headers["X-Shopify-Hmac-Sha256"] = ""
    else:
        sent = body.replace(b"jon@example.com", b"eve@example.com")
    response = client.post("/webhooks/shopify", data=sent, headers=headers)
    assert response.status_code == 401
    assert "signature rejected" in response.json["error"]["message"]
    assert rows(app) == []


def test_shopify_previous_secret_and_any_header_case(app: Flask, client: FlaskClient) -> None:
    body = fixture(ORDER)
    old = shopify_headers(body, secret=OLD_APP_SECRET)
    lower = {k.lower(): v for k, v in shopify_headers(body).items()}
    upper = {k.upper(): v for k, v in shopify_headers(body).items()}
    for headers in (old, lower, upper):
        assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert len(rows(app)) == 3


def test_body_over_the_limit_is_413(app: Flask, client: FlaskClient) -> None:
    body = b'{"id": 1, "padding": "' + b"x" * (65 * 1024) + b'"}'
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 413
    assert rows(app) == []


def test_unknown_shop_is_kept_then_replayed_once_the_store_exists(app: Flask,
                                                                  client: FlaskClient) -> None:
    body = fixture(ORDER)
    headers = shopify_headers(body, shop="later.myshopify.com")
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    drain(app)
    [row] = rows(app)
    assert row.status == "failed" and "later.myshopify.com" in row.error
    with _db(app).write() as conn:
        create_store(conn, "later", account="acme", platform="shopify",
                     domain="Later.myshopify.com")
        assert replay(conn, failed=True) == 1
    drain(app)
    [row] = rows(app)
    assert row.status == "done" and row.store_id is not None
    assert event_count(app) >= 2


def test_compliance_notice_for_an_unknown_shop_is_done(app: Flask, client: FlaskClient) -> None:
    body = fixture("shopify/shop_redact__shopifydev-privacy-compliance.json")
    headers = shopify_headers(body, topic="shop/redact", shop="gone.myshopify.com")
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    drain(app)
    [row] = rows(app)
    assert row.status == "done" and "nothing held" in row.error


def test_authenticated_body_that_is_not_json_is_kept_as_failed(app: Flask,
                                                               client: FlaskClient) -> None:
    body = b"<html>not json</html>"
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 200  # the platform must not retry a body that cannot change
    drain(app)
    [row] = rows(app)
    assert row.status == "failed" and "not valid JSON" in row.error
    assert bytes(row.body) == body  # nothing sent is lost
    with _db(app).read() as conn:
        [entry] = list_entries(conn, status="failed")
    assert entry.id == row.id and entry.store == "shop"


def test_unknown_topic_is_acknowledged_kept_and_makes_no_event(app: Flask,
                                                               client: FlaskClient) -> None:
    body = b'{"id": 5}'
    headers = shopify_headers(body, topic="inventory_levels/update")
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    drain(app)
    [row] = rows(app)
    assert row.status == "done" and event_count(app) == 0


def test_unknown_platform_or_store_is_404(client: FlaskClient, app: Flask) -> None:
    assert client.post("/webhooks/magento", data=b"{}").status_code == 404
    headers, body = envelope("webhook_order_created_delivery_envelope__local-wc11.0.1.json")
    assert client.post("/webhooks/woocommerce/nope", data=body, headers=headers).status_code == 404
    assert client.post("/webhooks/woocommerce", data=body, headers=headers).status_code == 404
    assert rows(app) == []


# -- WooCommerce --------------------------------------------------------------------------------
def test_recorded_woocommerce_deliveries_verify_and_record(app: Flask,
                                                           client: FlaskClient) -> None:
    for name in ("webhook_order_updated_delivery_envelope__local-wc11.0.1.json",  # out of order
                 "webhook_order_created_delivery_envelope__local-wc11.0.1.json"):
        headers, body = envelope(name)
        response = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
        assert (response.status_code, response.json["duplicate"]) == (200, False)
    drain(app)
    assert [r.status for r in rows(app)] == ["done", "done"]
    with _db(app).read() as conn:
        names = sorted(conn.execute(select(t.events.c.name)).scalars())
        state = conn.execute(select(t.resource_states.c.state, t.resource_states.c.resource_id)
                             ).one()
    # Both bodies show the same completed order: its facts are recorded once each.
    assert names == ["order_fulfilled", "order_paid", "order_placed"]
    assert state.resource_id == "12"


def test_woocommerce_dedupe_needs_delivery_and_body(app: Flask, client: FlaskClient) -> None:
    headers, body = envelope("webhook_order_created_delivery_envelope__local-wc11.0.1.json")
    assert client.post("/webhooks/woocommerce/woo", data=body, headers=headers).json == {
        "ok": True, "duplicate": False}
    assert client.post("/webhooks/woocommerce/woo", data=body, headers=headers).json == {
        "ok": True, "duplicate": True}
    # Same delivery id, another body (WooCommerce reuses ids): a new delivery, signed anew.
    other = body.replace(b'"status":"completed"', b'"status":"processing"')
    assert other != body
    signed = {**headers, "X-WC-Webhook-Signature": base64.b64encode(
        hmac.new(WC_SECRET.encode(), other, hashlib.sha256).digest()).decode()}
    assert client.post("/webhooks/woocommerce/woo", data=other, headers=signed).json == {
        "ok": True, "duplicate": False}
    assert len(rows(app)) == 2


def test_woocommerce_wrong_secret_and_rotation(app: Flask, client: FlaskClient) -> None:
    headers, body = envelope("webhook_order_created_delivery_envelope__local-wc11.0.1.json")
    with _db(app).write() as conn:  # the store moves to a new secret; the old one stays a while
        set_secret(conn, app.extensions["parcours.vault"], get_store(conn, "woo").id,
                   "the-new-secret", keep_previous=timedelta(hours=1))
    assert client.post("/webhooks/woocommerce/woo", data=body, headers=headers).status_code == 200
    with _db(app).write() as conn:  # now the old one expires at once
        set_secret(conn, app.extensions["parcours.vault"], get_store(conn, "woo").id,
                   "the-newest-secret")
    headers["X-WC-Webhook-Delivery-ID"] = "another-delivery"
    # A process trusts its copy of the secrets for WEBHOOK_CACHE_SECONDS (documented)...
    assert client.post("/webhooks/woocommerce/woo", data=body, headers=headers).status_code == 200
    # ...while a process without a copy (as each one after it expires) refuses the removed one.
    other = create_app({name: app.config[name] for name in ("DATABASE_URL", "SECRET_KEYS")},
                       instance_path=app.instance_path)
    headers["X-WC-Webhook-Delivery-ID"] = "a-third-delivery"
    response = other.test_client().post("/webhooks/woocommerce/woo", data=body, headers=headers)
    other.extensions["parcours.db"].engine.dispose()
    assert response.status_code == 401
    assert len(rows(app)) == 2


def test_woocommerce_ping_is_200_and_never_an_event(app: Flask, client: FlaskClient) -> None:
    headers, body = envelope("webhook_ping_delivery_envelope__local-wc11.0.1.json")
    response = client.post("/webhooks/woocommerce/woo", data=body, headers=headers)
    assert (response.status_code, response.json) == (200, {"ok": True, "ping": True})
    drain(app)
    [row] = rows(app)
    assert (row.status, row.topic, bytes(row.body)) == ("ping", "ping", b"webhook_id=1")
    assert event_count(app) == 0
    # A form body that is not exactly a ping must carry a valid signature.
    response = client.post("/webhooks/woocommerce/woo", data=b"webhook_id=1&x=2",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401


# -- custom shops: Standard Webhooks ------------------------------------------------------------
def _custom_body() -> bytes:
    return json.dumps({"events": [
        {"name": "product_viewed", "occurred_at": "2026-11-20T10:00:00Z",
         "identities": {"anonymous_id": "a-1"}, "properties": {"product_id": "p-9"}}]}).encode()


def test_standard_webhooks_delivery(app: Flask, client: FlaskClient) -> None:
    body = _custom_body()
    headers = custom_headers(body, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    assert client.post("/webhooks/custom/own", data=body, headers=headers).json == {
        "ok": True, "duplicate": False}
    assert client.post("/webhooks/custom/own", data=body, headers=headers).json == {
        "ok": True, "duplicate": True}
    drain(app)
    [row] = rows(app)
    assert row.delivery_key == "custom:own:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert row.status == "done" and event_count(app) == 1


def test_standard_webhooks_any_listed_signature_may_match(app: Flask,
                                                          client: FlaskClient) -> None:
    body = _custom_body()
    headers = custom_headers(body)
    stale = sign("whsec_" + base64.b64encode(b"o" * 32).decode(), headers["webhook-id"],
                 int(headers["webhook-timestamp"]), body)
    headers["webhook-signature"] = f"v2,abc {stale} {headers['webhook-signature']}"
    assert client.post("/webhooks/custom/own", data=body, headers=headers).status_code == 200


@pytest.mark.parametrize("signature", ["", "garbage", "v1,", "v1,%%%", "v1 abc", ",,,",
                                       "v1," + "A" * 5000, "v1,c2lnbmF0dXJl"])
def test_standard_webhooks_malformed_signatures_are_401(app: Flask, client: FlaskClient,
                                                        signature: str) -> None:
    body = _custom_body()
    headers = {**custom_headers(body), "webhook-signature": signature}
    assert client.post("/webhooks/custom/own", data=body, headers=headers).status_code == 401
    assert rows(app) == []


@pytest.mark.parametrize("offset", [-301, 330])  # +30 s: a slow run must not age it in
def test_standard_webhooks_timestamp_beyond_five_minutes_is_401(app: Flask, client: FlaskClient,
                                                                offset: int) -> None:
    body = _custom_body()
    headers = custom_headers(body, at=int(time.time()) + offset)
    response = client.post("/webhooks/custom/own", data=body, headers=headers)
    assert response.status_code == 401 and "5 minutes" in response.json["error"]["message"]
    for bad in ("yesterday", "-5", "1e9"):
        headers["webhook-timestamp"] = bad
        assert client.post("/webhooks/custom/own", data=body, headers=headers).status_code == 401
    assert rows(app) == []


def test_invalid_canonical_events_fail_naming_the_field(app: Flask, client: FlaskClient) -> None:
    body = json.dumps({"events": [{"name": "teleported", "occurred_at": "2026-11-20T10:00:00Z",
                                   "identities": {"anonymous_id": "a"}}]}).encode()
    assert client.post("/webhooks/custom/own", data=body,
                       headers=custom_headers(body)).status_code == 200
    drain(app)
    [row] = rows(app)
    assert row.status == "failed" and "teleported" in row.error and "record 0" in row.error


def test_shopify_uninstall_drops_secrets_and_schedules_deletion(app: Flask,
                                                                client: FlaskClient) -> None:
    body = fixture("shopify/app_uninstalled__shopifydev-webhooks-ref.json")
    headers = shopify_headers(body, topic="app/uninstalled")
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    drain(app)
    with _db(app).read() as conn:
        store = conn.execute(select(t.stores).where(t.stores.c.key == "shop")).one()
    assert store.uninstalled_at is not None
    assert store.delete_after - store.uninstalled_at == timedelta(days=30)
    assert store.delete_after > datetime.now(UTC) + timedelta(days=29)
