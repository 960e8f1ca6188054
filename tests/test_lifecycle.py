"""Privacy and lifecycle end to end: Shopify's compliance webhooks, the same operations over the
JSON API for every platform, and the reconciliation hook (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_api_key, create_store, get_store
from parcours.adapters.base import Delivery, StoreAccess, adapter_for, register
from parcours.adapters.custom import CustomAdapter
from parcours.app import create_app
from parcours.credentials import generate_key, read_secrets, set_secret
from parcours.db import Database
from parcours.reconcile import reconcile_stores
from tests.test_webhooks import APP_SECRET, SHOP, drain, fixture, shopify_headers

ORDER = "shopify/orders_create__shopifydev-webhooks-ref.json"
# What the order sample and the compliance samples say of their customer.
EMAIL, PHONES = "john@example.com", ("555-625-1199", "555-555-SHIP", "555-555-5555")
NAMES = ("John", "Smith")


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "SHOPIFY_API_SECRET": APP_SECRET}, instance_path=str(tmp_path))
    with _db(app).write() as conn:
        create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
        create_store(conn, "woo", account="acme", platform="woocommerce")
        set_secret(conn, app.extensions["parcours.vault"], get_store(conn, "woo").id, "s")
    yield app
    _db(app).engine.dispose()


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def _deliver(client: FlaskClient, name: str, topic: str) -> None:
    body = fixture(name)
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body, topic))
    assert response.status_code == 200


def _everything(db: Database) -> str:
    """Every stored row of every table, as one lower-cased text (bytes decoded)."""
    parts = []
    with db.read() as conn:
        for table in t.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    parts.append(json.dumps(value, default=str))
    return "\n".join(parts).lower()


def test_customers_redact_leaves_no_email_name_or_phone(app: Flask) -> None:
    client = app.test_client()
    _deliver(client, ORDER, "orders/create")
    drain(app)
    before = _everything(_db(app))
    assert EMAIL in before and "smith" in before and "555-555-ship" in before  # it was held
    with _db(app).read() as conn:
        journeys = len(list(conn.execute(select(t.journeys))))

    _deliver(client, "shopify/customers_redact__shopifydev-privacy-compliance.json",
              "customers/redact")
    drain(app)
    after = _everything(_db(app))
    for personal in (EMAIL, *PHONES, *NAMES):
        assert personal.lower() not in after, f"{personal!r} is still stored"
    with _db(app).read() as conn:  # the analytics stay: the journey is unlinked, not removed
        assert len(list(conn.execute(select(t.journeys)))) == journeys
        [request] = conn.execute(select(t.privacy_requests)).all()
    assert request.kind == "redact_customer" and request.completed_at is not None


def test_data_request_webhook_then_the_merchant_reads_the_export(app: Flask) -> None:
    client = app.test_client()
    _deliver(client, ORDER, "orders/create")
    # The docs' samples name different customers: ask about the one who placed the order.
    order = json.loads(fixture(ORDER))
    request = json.loads(fixture(
        "shopify/customers_data_request__shopifydev-privacy-compliance.json"))
    request["customer"] = {"id": order["customer"]["id"], "email": order["email"], "phone": None}
    body = json.dumps(request).encode()
    assert client.post("/webhooks/shopify", data=body, headers=shopify_headers(
        body, "customers/data_request")).status_code == 200
    drain(app)
    with _db(app).write() as conn:
        key = create_api_key(conn, "acme")
        [request] = conn.execute(select(t.privacy_requests)).all()
    assert (request.kind, request.reference) == ("data_request", "9999")
    response = client.get(f"/api/v1/stores/shop/privacy/exports/{request.id}",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    export = json.dumps(response.json["export"])
    assert order["email"] in export and "order_placed" in export  # events and deliveries


def test_shop_redact_and_uninstall_drop_credentials_at_once(app: Flask) -> None:
    client = app.test_client()
    with _db(app).write() as conn:
        key = create_api_key(conn, "acme")
        other = create_api_key(conn, "someone-else")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/stores/woo/uninstall",
                       headers={"Authorization": f"Bearer {other}"}).status_code == 404
    response = client.post("/api/v1/stores/woo/uninstall", json={}, headers=auth)
    assert response.status_code == 202
    with _db(app).read() as conn:
        woo = conn.execute(select(t.stores).where(t.stores.c.key == "woo")).one()
        assert read_secrets(conn, app.extensions["parcours.vault"], woo.id) == []
    assert woo.delete_after - woo.uninstalled_at == timedelta(days=30)

    _deliver(client, "shopify/shop_redact__shopifydev-privacy-compliance.json", "shop/redact")
    drain(app)
    with _db(app).read() as conn:
        shop = conn.execute(select(t.stores).where(t.stores.c.key == "shop")).one()
    assert shop.delete_after <= datetime.now(UTC)  # deleted at the next purge


def test_privacy_api_for_any_platform(app: Flask) -> None:
    client = app.test_client()
    with _db(app).write() as conn:
        key = create_api_key(conn, "acme")
    auth = {"Authorization": f"Bearer {key}"}
    bad = client.post("/api/v1/stores/woo/privacy/exports", json={"phone": "1"}, headers=auth)
    assert bad.status_code == 422 and "_schema" in bad.json["error"]["fields"]
    bad = client.post("/api/v1/stores/woo/privacy/exports", json={"email": "nope"}, headers=auth)
    assert bad.status_code == 422 and "email" in bad.json["error"]["fields"]
    made = client.post("/api/v1/stores/woo/privacy/exports", json={"email": EMAIL},
                       headers=auth)
    assert made.status_code == 201 and made.json["export"] is not None
    done = client.post("/api/v1/stores/woo/privacy/redactions", json={"email": EMAIL},
                       headers=auth)
    assert done.status_code == 200 and done.json["exports"] == 1
    gone = client.get(f"/api/v1/stores/woo/privacy/exports/{made.json['id']}", headers=auth)
    assert gone.status_code == 404  # a redaction deletes the customer's exports too


class _PollingCustom(CustomAdapter):
    """A platform that can be polled: the deliveries its API would return since `since`."""

    def __init__(self, deliveries: list[Delivery]) -> None:
        self.deliveries, self.asked = deliveries, []

    def reconcile(self, store: StoreAccess, since: datetime) -> Iterable[Delivery]:
        self.asked.append((store.key, since))
        return self.deliveries


def _events_body(shopper: str) -> bytes:
    return json.dumps({"events": [{"name": "page_viewed", "occurred_at": "2026-11-20T10:00:00Z",
                                   "identities": {"anonymous_id": shopper}}]}).encode()


def test_reconciliation_feeds_the_same_dedupe_and_normalizers(app: Flask) -> None:
    with _db(app).write() as conn:
        create_store(conn, "own", account="acme", platform="custom")
    missed = [Delivery("events", "custom:own:poll-1", _events_body("a")),
              Delivery("events", "custom:own:poll-2", _events_body("b"))]
    original = adapter_for("custom")
    polling = _PollingCustom(missed)
    register(polling)
    try:
        now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        vault = app.extensions["parcours.vault"]
        first = reconcile_stores(_db(app), vault, app.config, now=now)
        second = reconcile_stores(_db(app), vault, app.config, now=now + timedelta(minutes=15))
    finally:
        register(original)
    assert (first.new, second.new, second.deliveries) == (2, 0, 2)  # repeats are deduplicated
    since_first, since_second = (s for k, s in polling.asked if k == "own")
    assert since_first == now - timedelta(days=1, minutes=5)
    assert since_second == now - timedelta(minutes=5)  # from the last poll, with overlap
    drain(app)
    with _db(app).read() as conn:
        names = list(conn.execute(select(t.events.c.name)).scalars())
        inbox: list[Any] = list(conn.execute(select(t.inbox.c.status, t.inbox.c.headers)))
    assert names == ["page_viewed", "page_viewed"]
    assert {(row.status, row.headers["x-parcours-origin"]) for row in inbox} == {
        ("done", "reconcile")}
