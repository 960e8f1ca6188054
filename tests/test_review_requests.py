"""Review requests as rows: created from order deliveries, timed from the journey, cancelled with
the order, postponed by the merchant (SQLite and PostgreSQL); the timing rules themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.accounts import create_store, get_store, save_store_facts
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database
from parcours.errors import NotFoundError, ValidationError
from parcours.events import JourneyEvent, email_hash
from parcours.recorder import StoreRef
from parcours.review_requests import SETTINGS_FACT, postpone, schedule
from parcours.review_timing import ReviewSettings, first_due, outside_quiet_hours, store_zone
from tests.test_webhooks import APP_SECRET, SHOP, drain, fixture, shopify_headers

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PLACED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FULFILLED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DELIVERED = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


# -- the whole path from deliveries ---------------------------------------------------------------

@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "SHOPIFY_API_SECRET": APP_SECRET}, instance_path=str(tmp_path))
    with app.extensions["parcours.db"].write() as conn:
        create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
    yield app
    app.extensions["parcours.db"].engine.dispose()


def _deliver(app: Flask, topic: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    response = app.test_client().post("/webhooks/shopify", data=body,
                                      headers=shopify_headers(body, topic))
    assert response.status_code == 200
    drain(app)


def _request(db: Database) -> Any:
    with db.read() as conn:
        [row] = conn.execute(select(t.review_requests)).all()
        messages = conn.execute(select(t.review_messages)).all()
    return row, messages


def test_an_order_delivered_is_asked_for_reviews_a_week_later(app: Flask) -> None:
    db: Database = app.extensions["parcours.db"]
    order = json.loads(fixture("shopify/orders_create__shopifydev-webhooks-ref.json"))
    order.update(cancelled_at=None, cancel_reason=None, financial_status="paid")
    _deliver(app, "orders/create", order)
    row, messages = _request(db)
    # Ordered, not shipped: the request waits, holding whom to ask and about what.
    assert (row.status, row.email, row.name, row.locale) == (
        "waiting", "jon@example.com", "John", "en")
    assert row.customer_key == email_hash("jon@example.com")
    assert [item["title"] for item in row.items] == ["Aviator sunglasses"]
    assert row.profile_id is not None and messages == []

    shipped = json.loads(fixture("shopify/fulfillments_create__shopifydev-webhooks-ref.json"))
    shipped.update(status="success", shipment_status="delivered",
                   updated_at="2022-01-03T10:00:00-05:00")
    _deliver(app, "fulfillments/update", shipped)
    row, [message] = _request(db)
    delivered = datetime(2022, 1, 3, 15, 0, tzinfo=UTC)
    assert row.status == "scheduled" and row.delivered_at == delivered
    assert (message.kind, message.status, message.due_at) == (
        "request", "due", delivered + timedelta(days=7))

    # The same deliveries again change nothing; the order cancelled cancels the request.
    _deliver(app, "fulfillments/update", shipped)
    assert _request(db)[1] == [message]
    order.update(cancelled_at="2022-01-04T10:00:00-05:00", cancel_reason="customer")
    _deliver(app, "orders/cancelled", order)
    row, [message] = _request(db)
    assert (row.status, message.status) == ("cancelled", "cancelled")


# -- timing from events ---------------------------------------------------------------------------

def fact(name: str, at: datetime, order_id: str = "1001") -> JourneyEvent:
    return JourneyEvent(store="shop", name=name, occurred_at=at,
                        identities={"order_id": order_id}, key=f"order:{order_id}:{name}")


def due(conn: Connection, order_id: str = "1001") -> tuple[str, datetime | None, str | None]:
    r, m = t.review_requests.c, t.review_messages.c
    row = conn.execute(select(r.id, r.status).where(r.order_id == order_id)).one()
    message = conn.execute(select(m.due_at, m.status).where(m.request_id == row.id)).first()
    return (row.status, None if message is None else message.due_at,
            None if message is None else message.status)


def test_fulfilment_times_the_request_until_delivery_is_known(db: Database,
                                                              store: StoreRef) -> None:
    with db.write() as conn:
        schedule(conn, store.id, [fact("order_placed", PLACED)], NOW)
        assert due(conn) == ("waiting", None, None)
        schedule(conn, store.id, [fact("order_fulfilled", FULFILLED)], NOW)
        # No delivery report (most WooCommerce stores): fulfilled + 5 days' transit + 7.
        assert due(conn) == ("scheduled", FULFILLED + timedelta(days=12), "due")
        schedule(conn, store.id, [fact("order_delivered", DELIVERED)], NOW)
        assert due(conn) == ("scheduled", DELIVERED + timedelta(days=7), "due")
        # A later report of the same fact does not move it; an earlier one does.
        schedule(conn, store.id, [fact("order_delivered", DELIVERED + timedelta(days=1))], NOW)
        assert due(conn) == ("scheduled", DELIVERED + timedelta(days=7), "due")


def test_out_of_order_facts_give_the_same_request(db: Database, store: StoreRef) -> None:
    facts = [fact("order_placed", PLACED), fact("order_fulfilled", FULFILLED),
             fact("order_delivered", DELIVERED)]
    with db.write() as conn:
        for event in reversed(facts):
            schedule(conn, store.id, [event], NOW)
        backwards = due(conn)
        schedule(conn, store.id, facts, NOW)
        schedule(conn, store.id, facts, NOW)  # redelivered: nothing new
        assert due(conn) == backwards == ("scheduled", DELIVERED + timedelta(days=7), "due")
        assert len(conn.execute(select(t.review_messages)).all()) == 1


@pytest.mark.parametrize("name", ["order_cancelled", "order_refunded"])
def test_a_cancelled_or_refunded_order_cancels_its_request(db: Database, store: StoreRef,
                                                           name: str) -> None:
    with db.write() as conn:
        schedule(conn, store.id, [fact("order_delivered", DELIVERED)], NOW)
        schedule(conn, store.id, [fact(name, DELIVERED + timedelta(days=1))], NOW)
        assert due(conn) == ("cancelled", DELIVERED + timedelta(days=7), "cancelled")
        # Nothing brings it back.
        schedule(conn, store.id, [fact("order_delivered", DELIVERED)], NOW)
        assert due(conn)[0] == "cancelled"


def test_store_settings_time_requests_and_can_turn_them_off(db: Database,
                                                            store: StoreRef) -> None:
    with db.write() as conn:
        save_store_facts(conn, store.id, {SETTINGS_FACT: {"delay_days": 0}}, NOW)
        schedule(conn, store.id, [fact("order_delivered", DELIVERED)], NOW)
        assert due(conn) == ("scheduled", DELIVERED, "due")
        save_store_facts(conn, store.id, {SETTINGS_FACT: {"enabled": False}},
                         NOW + timedelta(seconds=1))
        schedule(conn, store.id, [fact("order_delivered", DELIVERED, "1002")], NOW)
        assert due(conn, "1002") == ("waiting", None, None)
        row = conn.execute(select(t.review_requests.c.reason).where(
            t.review_requests.c.order_id == "1002")).scalar_one()
        assert row == "review requests are off"


def test_the_merchant_postpones_a_request(db: Database, store: StoreRef) -> None:
    later = DELIVERED + timedelta(days=20)
    with db.write() as conn:
        schedule(conn, store.id, [fact("order_delivered", DELIVERED)], NOW)
        assert postpone(conn, store.id, "1001", later, NOW) == later
        assert due(conn) == ("scheduled", later, "due")
        # A postponement is a floor: it never sends before the timing rules would.
        assert postpone(conn, store.id, "1001", NOW + timedelta(hours=1), NOW) \
            == DELIVERED + timedelta(days=7)
        with pytest.raises(ValidationError) as error:
            postpone(conn, store.id, "1001", NOW - timedelta(days=1), NOW)
        assert "until" in error.value.errors
        with pytest.raises(NotFoundError):
            postpone(conn, store.id, "no-such-order", later, NOW)
        schedule(conn, store.id, [fact("order_cancelled", NOW)], NOW)
        with pytest.raises(ValidationError) as error:
            postpone(conn, store.id, "1001", later, NOW)
        assert error.value.errors == {"order_id": ["its request is cancelled"]}


def test_requests_belong_to_their_store(db: Database, store: StoreRef) -> None:
    with db.write() as conn:
        create_store(conn, "other", account="acme", platform="custom")
        other = get_store(conn, "other")
        schedule(conn, other.id, [fact("order_delivered", DELIVERED)], NOW)
        with pytest.raises(NotFoundError):
            postpone(conn, store.id, "1001", NOW + timedelta(days=30), NOW)


# -- the rules, pure ----------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 3, 2, 22, 30, tzinfo=PARIS), datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)),
    (datetime(2026, 3, 3, 6, 0, tzinfo=PARIS), datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)),
    (datetime(2026, 3, 3, 9, 0, tzinfo=PARIS), datetime(2026, 3, 3, 9, 0, tzinfo=PARIS)),
    (datetime(2026, 3, 3, 20, 59, tzinfo=PARIS), datetime(2026, 3, 3, 20, 59, tzinfo=PARIS)),
    # The night the clocks go forward (29 March 2026 in Paris): 09:00 is still 09:00 local.
    (datetime(2026, 3, 28, 23, 0, tzinfo=PARIS), datetime(2026, 3, 29, 9, 0, tzinfo=PARIS)),
])
def test_quiet_hours_wait_for_the_morning_in_the_stores_zone(local: datetime,
                                                             expected: datetime) -> None:
    moment = local.astimezone(UTC)
    assert outside_quiet_hours(moment, ReviewSettings(), PARIS) == expected
    assert outside_quiet_hours(moment, ReviewSettings(), PARIS).tzinfo == UTC


def test_quiet_hours_within_a_day_and_none() -> None:
    lunch = ReviewSettings(quiet_start="12:00", quiet_end="14:00")
    noon = datetime(2026, 3, 3, 12, 30, tzinfo=UTC)
    assert outside_quiet_hours(noon, lunch, store_zone("UTC")) == noon.replace(hour=14, minute=0)
    none = ReviewSettings(quiet_start=None, quiet_end=None)
    assert outside_quiet_hours(noon, none, store_zone(None)) == noon
    assert store_zone("Not/AZone").key == "UTC"


def test_settings_are_validated_whole_naming_each_key() -> None:
    with pytest.raises(ValidationError) as error:
        ReviewSettings.from_dict({"delay_days": 61, "quiet_start": "25:00", "colour": "red",
                                  "daily_limit": "10"})
    assert set(error.value.errors) == {"delay_days", "quiet_start", "colour", "daily_limit"}
    with pytest.raises(ValidationError) as error:
        ReviewSettings.from_dict({"channel": "webhook"})
    assert error.value.errors == {"webhook_url": ["required when the channel is webhook"]}
    with pytest.raises(ValidationError) as error:
        ReviewSettings.from_dict({"webhook_url": "http://tool.example.com/hook",
                                  "channel": "webhook"})
    assert "webhook_url" in error.value.errors
    assert ReviewSettings.from_dict({"delay_days": 0}).delay_days == 0
    assert first_due(ReviewSettings(), delivered_at=None, fulfilled_at=None) is None
