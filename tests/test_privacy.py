"""Data subjects' requests on a real database (SQLite and PostgreSQL): the export holds what is
held on the customer and nothing on others; redaction leaves their personal data in no column of
any table while the analytics stay; store deletion and the inbox retention happen when due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select

from parcours import privacy
from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.adapters.base import OrderContact
from parcours.credentials import Vault, generate_key, read_secrets, set_secret
from parcours.db import Database
from parcours.errors import NotFoundError, ValidationError
from parcours.events import email_hash
from parcours.inbox import normalize_body, receive
from parcours.privacy import (
    REDACTED,
    Subject,
    data_request,
    get_export,
    purge_due,
    redact_customer,
    schedule_store_deletion,
)
from parcours.recorder import StoreRef, record
from parcours.review_requests import save_contacts, schedule
from parcours.reviews import ReviewInput, add_review

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ORDER_FIXTURE = (Path(__file__).parent / "fixtures" / "shopify"
                 / "orders_create__shopifydev-webhooks-ref.json").read_bytes()

# The customer of Shopify's sample order (its order email is "jon@", its customer's "john@").
CUSTOMER_ID, ORDER_ID = "115310627314723954", "820982911946154508"
EMAIL, ORDER_EMAIL, PHONE = "john@example.com", "jon@example.com", "123-123-1234"
SUBJECT = Subject(customer_id=CUSTOMER_ID, email="John@Example.COM", phone=PHONE,
                  order_ids=(ORDER_ID,))
# Their personal data as it appears in the sample (names and phone of the customer and of the
# order's billing/shipping person), compared case-sensitively ("jsmith" is the shop's domain).
PERSONAL = ("John", "Smith", PHONE, "Steve", "Shipper", "555-555-SHIP", "123 Elm St.",
            "123 Shipping Street", "K2H7A8")

# Another customer: the same sample with every identifying value replaced.
OTHER_EMAIL = "marie@example.org"
OTHER_ORDER = ORDER_FIXTURE
for old, new in ((EMAIL, OTHER_EMAIL), (ORDER_EMAIL, OTHER_EMAIL), ("John", "Marie"),
                 ("Smith", "Curie"), (PHONE, "+33 6 12 34 56 78"), (CUSTOMER_ID, "998877665544"),
                 (ORDER_ID, "445566778899"), ("Steve", "Pierre"), ("Shipper", "Curie"),
                 ("555-555-SHIP", "+33 6 98 76 54 32"), ("123 Elm St.", "1 rue Cuvier"),
                 ("123 Shipping Street", "2 rue Cuvier"), ("K2H7A8", "75005")):
    OTHER_ORDER = OTHER_ORDER.replace(old.encode(), new.encode())


def custom_events(email: str, anon: str, order_id: str | None = None) -> bytes:
    """A batch as the SDK posts it (the clear email is hashed when loaded, not in the body)."""
    events: list[dict[str, Any]] = [
        {"name": "product_viewed", "occurred_at": "2025-02-27T10:00:00+00:00",
         "identities": {"email": email, "anonymous_id": anon},
         "properties": {"product_id": "632910392", "first_name": email.split("@")[0].title(),
                        "referrer": f"https://mail.example/read?from={email.upper()}"}},
        {"name": "product_added_to_cart", "occurred_at": "2025-02-27T10:05:00+00:00",
         "identities": {"anonymous_id": anon}, "properties": {"product_id": "632910392"}},
    ]
    if order_id is not None:
        events.append({
            "name": "order_paid", "occurred_at": "2025-02-27T10:10:00+00:00",
            "identities": {"email": email, "order_id": order_id},
            "resource": {"type": "order", "id": order_id,
                         "updated_at": "2025-02-27T10:10:00+00:00"},
            "properties": {"total": "414.95", "currency": "USD", "contact_email": email}})
    return json.dumps({"events": events}).encode()


# Deliveries besides the two orders: (key, source, topic, status, body).
SUBJECT_BATCH = custom_events(EMAIL, "anon-john", ORDER_ID)
OTHER_BATCH = custom_events(OTHER_EMAIL, "anon-marie")
FULFILMENT = {"id": 4, "order_id": int(ORDER_ID), "tracking_number": "1Z999AA10123456784",
              "destination": {"first_name": "John", "last_name": "Smith", "city": "Ottawa"}}
CUSTOMER_UPDATE = {"id": int(CUSTOMER_ID), "first_name": "John", "last_name": "Smith",
                   "state": "enabled"}
MAIL = f"From: John Smith <{EMAIL}>\r\nPhone: {PHONE}\r\n".encode()
BY_CHANCE = json.dumps({"id": 5, "reference": f"x{CUSTOMER_ID}"}).encode()  # not a field match
DELIVERIES = (
    ("d-order", "shopify", "orders/create", "done", ORDER_FIXTURE),
    ("d-other-order", "shopify", "orders/create", "done", OTHER_ORDER),
    ("d-batch", "custom", "events", "done", SUBJECT_BATCH),
    ("d-other-batch", "custom", "events", "done", OTHER_BATCH),
    ("d-fulfilment", "shopify", "fulfillments/create", "pending", json.dumps(FULFILMENT).encode()),
    ("d-customer", "shopify", "customers/update", "pending", json.dumps(CUSTOMER_UPDATE).encode()),
    ("d-mail", "custom", "events", "failed", MAIL),
    ("d-by-chance", "shopify", "orders/create", "pending", BY_CHANCE),
)
MENTIONING = {"d-order", "d-batch", "d-fulfilment", "d-customer", "d-mail"}


def populate(conn: Connection, store: StoreRef) -> None:
    """Keep every delivery in the inbox and record the events of those marked done, as the
    worker would have; each customer has left a review."""
    for key, source, topic, status, body in DELIVERIES:
        receive(conn, store_id=store.id, source=source, topic=topic, delivery_key=key,
                body=body, status=status, now=NOW)
        if status == "done":
            normalized = normalize_body(source, store.key, topic, body)
            record(conn, store, normalized.events, NOW)
            save_contacts(conn, store.id, [action for action in normalized.actions
                                           if isinstance(action, OrderContact)], NOW)
            schedule(conn, store.id, normalized.events, NOW)
    for email, author, order in ((EMAIL, "John Smith", ORDER_ID), (OTHER_EMAIL, "Marie", None)):
        profile = profile_of(conn, store, f"email_hash:{email_hash(email)}")
        add_review(conn, store.id, ReviewInput(
            product_id="632910392", rating=2, author=author, profile_id=profile, order_id=order,
            title="Late", body=f"Write to me at {email} for details", created_at=NOW))


def bodies(conn: Connection, store: StoreRef) -> dict[str, tuple[bytes, str | None]]:
    rows = conn.execute(select(t.inbox.c.delivery_key, t.inbox.c.body, t.inbox.c.error)
                        .where(t.inbox.c.store_id == store.id))
    return {row.delivery_key: (bytes(row.body), row.error) for row in rows}


def everything(conn: Connection, but: t.Table | None = None) -> str:
    """Every value of every row of every table, as text (bytes decoded, JSON dumped)."""
    parts: list[str] = []
    for table in t.metadata.sorted_tables:
        if table is but:
            continue
        for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    parts.append(bytes(value).decode("utf-8", "replace"))
                elif isinstance(value, dict | list):
                    parts.append(json.dumps(value, ensure_ascii=False))
                else:
                    parts.append(str(value))
    return "\n".join(parts)


def analytics(conn: Connection, store: StoreRef) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the dashboard counts from: rollups, journeys, profiles, events' names."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in (t.event_rollups, t.journey_rollups, t.order_rollups, t.conversion_time_rollups,
                  t.customer_rollups, t.stage_rollups, t.segment_rollups, t.stage_time_rollups,
                  t.experiment_rollups, t.journeys, t.profiles):
        out[table.name] = sorted(tuple(row) for row in conn.execute(
            select(table).where(table.c.store_id == store.id)))
    out["events"] = sorted(tuple(row) for row in conn.execute(
        select(t.events.c.id, t.events.c.profile_id, t.events.c.name, t.events.c.occurred_at)
        .where(t.events.c.store_id == store.id)))
    return out


def profile_of(conn: Connection, store: StoreRef, key: str) -> int:
    return int(conn.execute(select(t.identities.c.profile_id).where(
        t.identities.c.store_id == store.id, t.identities.c.key == key)).scalar_one())


def test_subject_keys_are_the_stored_identity_keys() -> None:
    assert SUBJECT.keys() == (f"customer_id:{CUSTOMER_ID}", f"email_hash:{email_hash(EMAIL)}",
                              f"order_id:{ORDER_ID}")
    assert Subject(order_ids=("1", "2")).keys() == ("order_id:1", "order_id:2")
    with pytest.raises(ValidationError) as error:
        Subject(phone=PHONE).check()
    assert error.value.errors == {"subject": ["give an email, a customer_id or order_ids"]}


def test_export_holds_the_customer_and_nobody_else(db: Database, store: StoreRef) -> None:
    with db.write() as conn:
        populate(conn, store)
        request_id = data_request(conn, store, SUBJECT, reference="shopify:9999", now=NOW)
        export = get_export(conn, store, request_id)
        stored = conn.execute(select(t.privacy_requests)
                              .where(t.privacy_requests.c.id == request_id)).one()

    pseudonymous = {"customer_id": CUSTOMER_ID, "email_hash": email_hash(EMAIL),
                    "order_ids": [ORDER_ID]}
    assert (stored.kind, stored.reference, stored.subject) == (
        "data_request", "shopify:9999", pseudonymous)
    assert stored.completed_at == NOW
    assert export["subject"] == pseudonymous
    [profile] = export["profiles"]  # the batch's order_paid stitched the order to the browsing
    assert {(i["kind"], i["value"]) for i in profile["identities"]} == {
        ("customer_id", CUSTOMER_ID), ("email_hash", email_hash(EMAIL)),
        ("email_hash", email_hash(ORDER_EMAIL)), ("anonymous_id", "anon-john"),
        ("order_id", ORDER_ID)}
    assert [e["name"] for e in profile["events"]] == [
        "order_placed", "order_cancelled", "product_viewed", "product_added_to_cart",
        "order_paid"]
    viewed = profile["events"][2]
    assert viewed["properties"]["referrer"] == f"https://mail.example/read?from={EMAIL.upper()}"
    assert viewed["identities"] == {"email_hash": email_hash(EMAIL), "anonymous_id": "anon-john"}
    assert [(r["type"], r["id"], r["state"]) for r in profile["resources"]] == [
        ("order", ORDER_ID, "order_paid")]
    # The 2021 sample order was cancelled unpaid; the 2025 batch opens and converts a journey.
    assert [(j["order_id"], j["amount"], j["currency"]) for j in profile["journeys"]] == [
        (None, None, None), (ORDER_ID, "414.95", "USD")]
    # ... with their segments: the sample order's (a direct visit, shipped to the US)
    assert [(j["device"], j["channel"], j["country"]) for j in profile["journeys"]] == [
        (None, "direct", "US"), (None, None, None)]
    assert [(r["author"], r["rating"], r["order_id"]) for r in profile["reviews"]] == [
        ("John Smith", 2, ORDER_ID)]

    delivered = {d["id"]: d for d in export["deliveries"]}
    with db.read() as conn:
        ids = dict(conn.execute(select(t.inbox.c.delivery_key, t.inbox.c.id)).all())
    assert set(delivered) == {ids[key] for key in MENTIONING}
    assert delivered[ids["d-order"]]["body"] == json.loads(ORDER_FIXTURE)
    assert delivered[ids["d-mail"]]["body"] == MAIL.decode()
    assert delivered[ids["d-customer"]]["topic"] == "customers/update"
    dumped = json.dumps(export)
    assert OTHER_EMAIL not in dumped and "Marie" not in dumped and "anon-marie" not in dumped


def test_export_is_scoped_by_store(db: Database, store: StoreRef) -> None:
    with db.write() as conn:
        populate(conn, store)
        request_id = data_request(conn, store, SUBJECT, now=NOW)
        create_store(conn, "elsewhere", account="acme")
        with pytest.raises(NotFoundError, match=f"no data request {request_id}"):
            get_export(conn, get_store(conn, "elsewhere"), request_id)


def test_redaction_leaves_no_personal_data_anywhere(db: Database, store: StoreRef,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "_CHUNK", 2)  # several pages of inbox rows
    with db.write() as conn:
        populate(conn, store)
        export_id = data_request(conn, store, SUBJECT, now=NOW)
        other_export = data_request(conn, store, Subject(email=OTHER_EMAIL), now=NOW)
        before = analytics(conn, store)
        bodies_before = bodies(conn, store)
        other_profile = profile_of(conn, store, f"email_hash:{email_hash(OTHER_EMAIL)}")
        subject_profile = profile_of(conn, store, f"customer_id:{CUSTOMER_ID}")
        text = everything(conn)
    assert EMAIL in text.lower() and ORDER_EMAIL in text.lower()
    assert all(value in text for value in PERSONAL)  # so the check below can fail

    with db.write() as conn:
        summary = redact_customer(conn, store, SUBJECT, reference="r-1", now=NOW)
    assert summary == {"profiles": 1, "identities": 5, "events": 5, "resources": 1,
                       "reviews": 1, "deliveries": len(MENTIONING), "exports": 1,
                       "review_photos": 0, "review_requests": 1,
                       "request": summary["request"]}

    with db.read() as conn:
        text = everything(conn)
        assert EMAIL not in text.lower() and ORDER_EMAIL not in text.lower()
        assert [value for value in PERSONAL if value in text] == []
        assert analytics(conn, store) == before
        after = bodies(conn, store)
        identities = list(conn.execute(select(t.identities.c.key).where(
            t.identities.c.profile_id == subject_profile)).scalars())
        events = {row.name: row for row in conn.execute(
            select(t.events).where(t.events.c.profile_id == subject_profile))}
        resource = conn.execute(select(t.resource_states.c.data).where(
            t.resource_states.c.resource_id == ORDER_ID)).scalar_one()
        other_viewed = conn.execute(select(t.events.c.identities, t.events.c.properties).where(
            t.events.c.profile_id == other_profile, t.events.c.name == "product_viewed")).one()
        request = conn.execute(select(t.privacy_requests).where(
            t.privacy_requests.c.id == summary["request"])).one()
        reviews = {row.profile_id: row for row in conn.execute(select(t.reviews))}
        with pytest.raises(NotFoundError, match="was deleted"):
            get_export(conn, store, export_id)
        assert get_export(conn, store, other_export)["subject"]["email_hash"] == email_hash(
            OTHER_EMAIL)

    assert identities == []
    assert {name: row.identities for name, row in events.items()} == {
        name: {} for name in ("order_placed", "order_cancelled", "product_viewed",
                              "product_added_to_cart", "order_paid")}
    assert events["product_viewed"].properties == {
        "product_id": "632910392", "first_name": REDACTED, "referrer": REDACTED}
    assert events["order_paid"].properties == {"total": "414.95", "currency": "USD",
                                               "contact_email": REDACTED}
    assert resource == {"total": "414.95", "currency": "USD", "contact_email": REDACTED}
    assert (request.kind, request.reference, request.completed_at, request.export) == (
        "redact_customer", "r-1", NOW, None)
    assert request.subject == {"customer_id": CUSTOMER_ID, "email_hash": email_hash(EMAIL),
                               "order_ids": [ORDER_ID]}

    # Deliveries: the others' byte for byte; the customer's as scrubbed JSON, or emptied.
    untouched = {key for key, *_ in DELIVERIES} - MENTIONING
    assert {key: after[key] for key in untouched} == {key: bodies_before[key] for key in untouched}
    order = json.loads(after["d-order"][0])
    sample = json.loads(ORDER_FIXTURE)
    assert (order["id"], order["name"], order["total_price"], order["line_items"]) == (
        int(ORDER_ID), "#9999", "404.95", sample["line_items"])  # what is not personal stays
    assert (order["email"], order["contact_email"], order["customer"]["first_name"],
            order["customer"]["id"], order["billing_address"]["phone"],
            order["customer"]["default_address"]["zip"], order["order_status_url"]) == (
        REDACTED, REDACTED, REDACTED, None, REDACTED, REDACTED, REDACTED)
    assert json.loads(after["d-fulfilment"][0]) == {
        "id": 4, "order_id": int(ORDER_ID), "tracking_number": REDACTED,
        "destination": {"first_name": REDACTED, "last_name": REDACTED, "city": REDACTED}}
    assert json.loads(after["d-customer"][0]) == {
        "id": int(CUSTOMER_ID), "first_name": REDACTED, "last_name": REDACTED,
        "state": "enabled"}
    assert json.loads(after["d-batch"][0])["events"][1] == {
        "name": "product_added_to_cart", "occurred_at": "2025-02-27T10:05:00+00:00",
        "identities": {"anonymous_id": REDACTED}, "properties": {"product_id": REDACTED}}
    assert after["d-mail"] == (b"", "body removed by a customer redaction (it was not JSON)")
    # The review stays published and counted, without what names its author.
    subject_review, other_review = reviews[subject_profile], reviews[other_profile]
    assert (subject_review.author, subject_review.body, subject_review.rating,
            subject_review.status) == (None, REDACTED, 2, "published")
    assert (other_review.author, other_review.body) == (
        "Marie", f"Write to me at {OTHER_EMAIL} for details")
    assert (other_viewed.identities, other_viewed.properties) == (
        {"email_hash": email_hash(OTHER_EMAIL), "anonymous_id": "anon-marie"},
        {"product_id": "632910392", "first_name": "Marie",
         "referrer": f"https://mail.example/read?from={OTHER_EMAIL.upper()}"})


def test_redaction_touches_no_other_store(db: Database, store: StoreRef) -> None:
    with db.write() as conn:
        create_store(conn, "elsewhere", account="acme")
        populate(conn, get_store(conn, "elsewhere"))
        before = everything(conn, but=t.privacy_requests)
        summary = redact_customer(conn, store, SUBJECT, now=NOW)
        assert everything(conn, but=t.privacy_requests) == before
    assert summary == {"profiles": 0, "identities": 0, "events": 0, "resources": 0, "reviews": 0,
                       "deliveries": 0, "exports": 0, "review_photos": 0, "review_requests": 0,
                       "request": summary["request"]}


def test_store_deletion_drops_credentials_now_and_data_when_due(
        db: Database, store: StoreRef) -> None:
    vault = Vault(generate_key())
    with db.write() as conn:
        create_store(conn, "kept", account="acme")
        kept = get_store(conn, "kept")
        for each in (store, kept):
            set_secret(conn, vault, each.id, f"secret-{each.key}", now=NOW)
            populate(conn, each)
            data_request(conn, each, SUBJECT, now=NOW)
            conn.execute(insert(t.store_facts).values(store_id=each.id, name="guest_checkout",
                                                      value=True, updated_at=NOW))
        schedule_store_deletion(conn, store.id, after=timedelta(days=30), now=NOW,
                                uninstalled=True)
        assert read_secrets(conn, vault, store.id, now=NOW) == []
        assert read_secrets(conn, vault, kept.id, now=NOW) == ["secret-kept"]
        # A later, longer schedule never postpones; a shorter one brings the date forward.
        later = (NOW + timedelta(days=1)).astimezone(timezone(timedelta(hours=2)))  # any zone
        schedule_store_deletion(conn, store.id, after=timedelta(days=60), now=later,
                                uninstalled=False)
        assert scheduled(conn, store) == (NOW, NOW + timedelta(days=30))
        schedule_store_deletion(conn, store.id, after=timedelta(days=2), now=later,
                                uninstalled=True)
        assert scheduled(conn, store) == (later, later + timedelta(days=2))
        with pytest.raises(NotFoundError):
            schedule_store_deletion(conn, 999_999, after=timedelta(0), now=NOW,
                                    uninstalled=True)
        kept_rows = rows_of(conn, kept.id)

    with db.write() as conn:
        early = purge_due(conn, now=later + timedelta(days=2) - timedelta(seconds=1))
        assert early["stores"] == 0 and rows_of(conn, store.id) > 0
        due = purge_due(conn, now=later + timedelta(days=2))
        assert due["stores"] == 1
        assert rows_of(conn, store.id) == 0
        assert conn.execute(select(t.stores.c.key)).scalars().all() == ["kept"]
        assert read_secrets(conn, vault, kept.id, now=NOW) == ["secret-kept"]
        assert rows_of(conn, kept.id) == kept_rows


def test_purge_keeps_recent_and_unfinished_deliveries(db: Database, store: StoreRef) -> None:
    month = timedelta(days=30)
    rows = (("old-done", store.id, "done", NOW - month - timedelta(seconds=1)),
            ("old-ping", store.id, "ping", NOW - 2 * month),
            ("old-orphan", None, "pending", NOW - 2 * month),
            ("old-pending", store.id, "pending", NOW - 2 * month),
            ("old-failed", store.id, "failed", NOW - 2 * month),
            ("edge-done", store.id, "done", NOW - month),
            ("recent-orphan", None, "pending", NOW - timedelta(days=1)))
    with db.write() as conn:
        for key, store_id, status, received_at in rows:
            receive(conn, store_id=store_id, source="shopify", topic="orders/create",
                    delivery_key=key, body=ORDER_FIXTURE, status=status, now=received_at)
        old = data_request(conn, store, SUBJECT, now=NOW - month - timedelta(days=1))
        recent = data_request(conn, store, SUBJECT, now=NOW - timedelta(days=1))
        assert purge_due(conn, now=NOW) == {"stores": 0, "deliveries": 3, "exports": 1}
        assert purge_due(conn, now=NOW) == {"stores": 0, "deliveries": 0, "exports": 0}
        left = set(conn.execute(select(t.inbox.c.delivery_key)).scalars())
        assert left == {"old-pending", "old-failed", "edge-done", "recent-orphan"}
        with pytest.raises(NotFoundError, match="was deleted"):
            get_export(conn, store, old)
        assert get_export(conn, store, recent)["store"] == store.key
        assert conn.execute(select(t.stores.c.key)).scalars().all() == [store.key]


def scheduled(conn: Connection, store: StoreRef) -> tuple[datetime | None, datetime | None]:
    row = conn.execute(select(t.stores.c.uninstalled_at, t.stores.c.delete_after)
                       .where(t.stores.c.id == store.id)).one()
    return row.uninstalled_at, row.delete_after


def rows_of(conn: Connection, store_id: int) -> int:
    """Rows held for a store in every table that names one (the store's own row included)."""
    total = 0
    for table in t.metadata.sorted_tables:
        column = table.c.id if table is t.stores else table.c.get("store_id")
        if column is not None:
            total += conn.execute(select(func.count()).select_from(table)
                                  .where(column == store_id)).scalar_one()
    return total
