"""WooCommerce adapter: golden signature vectors from a real store, the creation ping, delivery
keys, and the normalizer on every recorded payload (concrete expected events) and on random ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.adapters.base import (
    Normalized,
    OrderContact,
    ReviewItem,
    StorefrontFact,
    Verification,
    lower_headers,
)
from parcours.adapters.woocommerce import WooCommerceAdapter
from parcours.adapters.woocommerce.normalize import normalize
from parcours.adapters.woocommerce.webhooks import sign
from parcours.errors import ValidationError
from parcours.events import JourneyEvent, Resource, email_hash, load_event

FIXTURES = Path(__file__).parent / "fixtures" / "woocommerce"
SECRET = 's3cr3t-&-"quote"-test'  # the secret of the recorded deliveries (fixtures README)
STORE = "shop-1"
ADAPTER = WooCommerceAdapter()


def local(stem: str) -> str:
    """The name of a fixture recorded from the local WooCommerce 11.0.1 store."""
    return f"webhook_{stem}__local-wc11.0.1.json"


PING = local("ping_delivery_envelope")
ENVELOPES = sorted(p.name for p in FIXTURES.glob(local("*_delivery_envelope")) if p.name != PING)
ORDER_CREATED = local("order_created_delivery_envelope")
ORDER_UPDATED = local("order_updated_delivery_envelope")
ORDER_TOPICS = ("order.created", "order.updated", "order.restored")
STATUSES = ("checkout-draft", "pending", "on-hold", "processing", "completed", "failed",
            "cancelled", "refunded")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def envelope(name: str) -> tuple[dict[str, str], bytes]:
    """A recorded delivery as the receiver sees it: lower-cased headers and the raw body."""
    data = load(name)
    return lower_headers(data["headers"]), data["body"].encode()


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def summary(events: list[JourneyEvent]) -> list[tuple[Any, ...]]:
    return [(e.name, e.key, e.occurred_at, dict(e.identities), dict(e.properties))
            for e in events]


# ---------------------------------------------------------------------------------- signatures

@pytest.mark.parametrize("name", ENVELOPES)
def test_every_recorded_delivery_verifies_with_the_store_secret(name: str) -> None:
    headers, body = envelope(name)
    assert ADAPTER.verify(headers, body, [SECRET]) == Verification(True)
    assert sign(SECRET, body) == headers["x-wc-webhook-signature"]


@pytest.mark.parametrize("name", ENVELOPES)
def test_a_wrong_secret_fails_and_any_secret_of_a_rotation_list_passes(name: str) -> None:
    headers, body = envelope(name)
    wrong = ADAPTER.verify(headers, body, ["s3cr3t-&amp;-&quot;quote&quot;-test"])
    assert not wrong.ok and "matches no secret" in wrong.reason
    assert not ADAPTER.verify(headers, body + b" ", [SECRET]).ok  # a changed body
    assert ADAPTER.verify(headers, body, ["old-secret", SECRET]).ok
    assert ADAPTER.verify(headers, body, [SECRET, "old-secret"]).ok


@pytest.mark.parametrize("signature, reason", [
    (None, "missing x-wc-webhook-signature header"),
    ("", "missing x-wc-webhook-signature header"),
    ("not base64!", "not a base64 HMAC-SHA256"),
    ("é" * 44, "not a base64 HMAC-SHA256"),
    (base64.b64encode(b"short").decode(), "not a base64 HMAC-SHA256"),
    (base64.b64encode(hashlib.sha1(b"x").digest()).decode(), "not a base64 HMAC-SHA256"),
])
def test_a_missing_or_malformed_signature_fails_naming_the_problem(
        signature: str | None, reason: str) -> None:
    headers, body = envelope(ORDER_CREATED)
    headers.pop("x-wc-webhook-signature")
    if signature is not None:
        headers["x-wc-webhook-signature"] = signature
    result = ADAPTER.verify(headers, body, [SECRET])
    assert not result.ok and reason in result.reason


@pytest.mark.parametrize("secrets", [[], [""]])
def test_without_a_secret_nothing_verifies(secrets: list[str]) -> None:
    headers, body = envelope(ORDER_CREATED)
    assert ADAPTER.verify(headers, body, secrets) == Verification(False, "no secret is set")


@given(headers=st.dictionaries(st.sampled_from(["x-wc-webhook-signature", "x-wc-webhook-id",
                                                "content-type"]), st.text(max_size=60)),
       body=st.binary(max_size=200), secrets=st.lists(st.text(max_size=20), max_size=3))
def test_verify_never_raises(headers: dict[str, str], body: bytes, secrets: list[str]) -> None:
    assert isinstance(ADAPTER.verify(headers, body, secrets), Verification)


def test_header_names_are_case_insensitive_through_lower_headers() -> None:
    data = load(ORDER_CREATED)
    body = data["body"].encode()
    for case in (str.upper, str.lower, str.title):
        headers = lower_headers({case(name): value for name, value in data["headers"].items()})
        assert ADAPTER.verify(headers, body, [SECRET]).ok
        assert ADAPTER.topic(headers) == "order.created"


# ---------------------------------------------------------------------------------------- ping

def test_the_creation_ping_is_recognised_and_is_unsigned() -> None:
    headers, body = envelope(PING)
    assert body == b"webhook_id=1"
    assert not any(name.startswith("x-wc-webhook-") for name in headers)
    assert ADAPTER.ping_id(headers, body) == "1"
    assert not ADAPTER.verify(headers, body, [SECRET]).ok


@pytest.mark.parametrize("body", [
    b"webhook_id=1&topic=order.created", b"webhook_id=", b"webhook_id=abc", b"webhook_id=01",
    b"webhook_id=0", b"webhook_id=-1", b"webhook_id=1\n", b" webhook_id=1", b"webhook_id=1.5",
    b"webhook_id=" + b"9" * 20, b"webhook=1", b'{"webhook_id": 1}', b"",
])
def test_other_form_bodies_are_not_pings(body: bytes) -> None:
    headers, _ = envelope(PING)
    assert ADAPTER.ping_id(headers, body) is None


def test_a_signed_body_is_never_a_ping() -> None:
    headers, body = envelope(PING)
    headers["x-wc-webhook-signature"] = sign(SECRET, body)
    assert ADAPTER.ping_id(headers, body) is None
    for name in ENVELOPES:
        assert ADAPTER.ping_id(*envelope(name)) is None


# ------------------------------------------------------------------------ topics, delivery keys

@pytest.mark.parametrize("name", ENVELOPES)
def test_the_topic_is_the_webhook_topic_header(name: str) -> None:
    headers, _ = envelope(name)
    assert ADAPTER.topic(headers) == load(name)["headers"]["X-WC-Webhook-Topic"]
    assert ADAPTER.topic({}) == ""
    assert (ADAPTER.name, ADAPTER.app_signed) == ("woocommerce", False)
    assert ADAPTER.kept_header_prefixes == ("x-wc-webhook-",)


def test_the_delivery_key_names_webhook_delivery_and_body() -> None:
    headers, body = envelope(ORDER_CREATED)
    assert ADAPTER.delivery_key(STORE, headers, body) == (
        f"woocommerce:{STORE}:1:ab209b2cf30de5d94b62a4383c41cc0d:"
        + hashlib.sha256(body).hexdigest()
    )
    assert ADAPTER.delivery_key(STORE, headers, body) == ADAPTER.delivery_key(
        STORE, dict(headers), bytes(body))


def test_delivery_keys_differ_where_the_delivery_id_does_not() -> None:
    created, updated = envelope(ORDER_CREATED), envelope(ORDER_UPDATED)
    assert created[1] == updated[1]  # the same body, sent by two webhooks
    assert ADAPTER.delivery_key(STORE, *created) != ADAPTER.delivery_key(STORE, *updated)
    headers, body = created  # the same webhook in the same second: one delivery id, two bodies
    assert ADAPTER.delivery_key(STORE, headers, body) != ADAPTER.delivery_key(
        STORE, headers, body.replace(b'"total":"29.90"', b'"total":"30.90"'))
    assert ADAPTER.delivery_key(STORE, headers, body) != ADAPTER.delivery_key(
        "shop-2", headers, body)


def test_delivery_keys_fit_in_255_characters_whatever_the_headers() -> None:
    headers = {"x-wc-webhook-id": "9" * 500, "x-wc-webhook-delivery-id": "f" * 500}
    assert len(ADAPTER.delivery_key("s" * 63, headers, b"{}")) <= 255


# -------------------------------------------------------------- normalizer: recorded payloads

Fact = tuple[str, str, datetime, dict[str, str], dict[str, Any]]
JANE = email_hash("jane.e2e@example.com")
JOHN = email_hash("john.doe@example.com")


def order_facts(ids: dict[str, str], props: dict[str, Any], *facts: tuple[str, str, str],
                ) -> list[Fact]:
    """Expected facts of one order: (event, key, when) with the order's identities and props."""
    return [(name, key, at(when), ids, props) for name, key, when in facts]


ORDER_12 = order_facts(  # completed and paid in the same second: the store's recorded order
    {"customer_id": "2", "email_hash": JANE, "order_id": "12"},
    {"total": "29.90", "currency": "USD", "product_ids": ["11"], "payment_method": "bacs",
     "country": "DE"},
    ("order_placed", "order:12:placed", "2026-11-22T10:51:40"),
    ("order_paid", "order:12:paid", "2026-11-22T10:51:40"),
    ("order_fulfilled", "order:12:fulfilled", "2026-11-22T10:51:40"),
)
ORDER_727 = order_facts(  # a guest order (customer_id 0): identified by its email
    {"email_hash": JOHN, "order_id": "727"},
    {"total": "29.35", "currency": "USD", "product_ids": ["93", "22"], "payment_method": "bacs",
     "country": "US"},
    ("order_placed", "order:727:placed", "2017-03-22T19:28:02"),
    ("order_paid", "order:727:paid", "2017-03-22T19:28:08"),
)
ORDER_723_IDS = {"customer_id": "26", "email_hash": email_hash("joao.silva@example.com"),
                 "order_id": "723"}
ORDER_723 = order_facts(  # completed, no date_paid, two partial refunds dated by the snapshot
    ORDER_723_IDS,
    {"total": "39.00", "currency": "USD", "product_ids": ["87", "34"], "payment_method": "bacs",
     "device": "desktop", "country": "BR"},  # its customer_user_agent: Firefox on Ubuntu
    ("order_placed", "order:723:placed", "2017-03-21T19:16:00"),
    ("order_fulfilled", "order:723:fulfilled", "2017-03-21T19:54:51"),
) + [("order_refunded", f"refund:{refund}", at("2017-03-21T19:54:51"), ORDER_723_IDS,
      {"total": total, "currency": "USD"}) for refund, total in (("726", "10.00"), ("724", "9.00"))]
CUSTOMER_2: list[Fact] = [("customer_created", "customer:2:created", at("2026-11-22T10:51:39"),
                           {"customer_id": "2", "email_hash": JANE}, {})]
CUSTOMER_25: list[Fact] = [("customer_created", "customer:25:created",
                            at("2017-03-21T19:09:28"), {"customer_id": "25", "email_hash": JOHN},
                            {})]
MUG = {"id": "11", "parent_id": None, "name": "E2E Mug",
       "permalink": "http://127.0.0.1:8088/product/e2e-mug/", "status": "publish", "image": None,
       "average_rating": "0.00", "rating_count": 0, "reviews_allowed": True}
PREMIUM = {"id": "794", "parent_id": None, "name": "Premium Quality",
           "permalink": "https://example.com/product/premium-quality-19/", "status": "publish",
           "image": "https://example.com/wp-content/uploads/2017/03/T_2_front-4.jpg",
           "average_rating": "0.00", "rating_count": 0, "reviews_allowed": True}


def _body(name: str, topic: str | None, index: int | None) -> tuple[str, Any]:
    if "delivery_envelope" in name:
        headers, body = envelope(name)
        return ADAPTER.topic(headers), json.loads(body)
    assert topic is not None
    data = load(name)
    return topic, data if index is None else data[index]


MUG_11 = StorefrontFact("product:11", MUG, at("2026-11-22T10:51:40"))
MUG_11_LATER = StorefrontFact("product:11", MUG, at("2026-11-22T10:52:15"))
COMPLETED_ACTION = "action.woocommerce_order_status_completed"
# (fixture, topic when it is a bare payload, list index, expected events or product fact)
RECORDED: list[tuple[str, str | None, int | None, Any]] = [
    (ORDER_CREATED, None, None, ORDER_12),
    (ORDER_UPDATED, None, None, ORDER_12),
    (local("order_created_payload"), "order.created", None, ORDER_12),
    (local("order_updated_payload"), "order.updated", None, ORDER_12),
    (local("customer_created_delivery_envelope"), None, None, CUSTOMER_2),
    (local("customer_created_payload"), "customer.created", None, CUSTOMER_2),
    (local("action_woocommerce_order_status_completed_delivery_envelope"), None, None, []),
    (local("action_woocommerce_order_status_completed_payload"), COMPLETED_ACTION, None, []),
    (local("product_created_delivery_envelope"), None, None, MUG_11),
    (local("product_created_payload"), "product.created", None, MUG_11),
    (local("product_updated_delivery_envelope"), None, None, MUG_11_LATER),
    (local("product_updated_payload"), "product.updated", None, MUG_11_LATER),
    # The same order, customer and product read back over the REST API (their webhook shape).
    ("order_rest__local-wc11.0.1.json", "order.updated", None, ORDER_12),
    ("customer_rest__local-wc11.0.1.json", "customer.updated", None, CUSTOMER_2),
    ("product_rest__local-wc11.0.1.json", "product.updated", None, MUG_11_LATER),
    ("order__restdocs-v3.json", "order.updated", None, ORDER_727),
    ("orders_list__restdocs-v3.json", "order.updated", 0, ORDER_727),
    ("orders_list__restdocs-v3.json", "order.updated", 1, ORDER_723),
    ("customer__restdocs-v3.json", "customer.updated", None, CUSTOMER_25),
    ("product__restdocs-v3.json", "product.updated", None,
     StorefrontFact("product:794", PREMIUM, at("2017-03-23T20:01:14"))),
]


# The fixtures a normalizer reads: deliveries, and the resources they carry. Settings, zones,
# gateways, reviews, Store API answers and webhook objects are for the fake store.
NORMALIZED = re.compile(r"(webhook_(order|customer|product|action|ping)|order|customer|product"
                        r"(__|_rest))")


def test_every_payload_fixture_has_expected_events() -> None:
    covered = {name for name, *_ in RECORDED} | {PING}
    assert covered == {path.name for path in FIXTURES.glob("*.json")
                       if NORMALIZED.match(path.name)}


@pytest.mark.parametrize("name, topic, index, expected", RECORDED)
def test_recorded_payloads_give_the_expected_facts(
        name: str, topic: str | None, index: int | None, expected: Any) -> None:
    result = normalize(STORE, *_body(name, topic, index))
    if isinstance(expected, StorefrontFact):
        assert result == Normalized(actions=[expected])
        return
    # An order also says whom to ask for reviews (test below); nothing else is an action.
    assert all(isinstance(action, OrderContact) for action in result.actions)
    assert summary(result.events) == expected
    for event in result.events:
        assert (event.store, event.source) == (STORE, "woocommerce")
        assert event.occurred_at.tzinfo is UTC
        assert event.resource is None or event.resource.type == "order"
        assert load_event(STORE, event.to_dict()) == event  # admitted by the canonical schema


def test_order_created_and_updated_give_the_same_facts() -> None:
    created = normalize(STORE, *_body(ORDER_CREATED, None, None)).events
    updated = normalize(STORE, *_body(ORDER_UPDATED, None, None)).events
    assert [(e.name, e.key, e.id) for e in created] == [(e.name, e.key, e.id) for e in updated]
    assert len({e.id for e in created}) == len(created) == 3
    # The order resource at its modification date: the newest snapshot wins in storage.
    assert {e.resource for e in created} == {Resource("order", "12", at("2026-11-22T10:51:40"))}


def test_a_guest_order_is_identified_by_its_email_hash() -> None:
    payload = load(local("order_created_payload")) | {"customer_id": 0}
    for event in normalize(STORE, "order.created", payload).events:
        assert dict(event.identities) == {"email_hash": JANE, "order_id": "12"}


PII_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city",
              "postcode", "email", "phone", "username", "customer_ip_address",
              "customer_user_agent", "customer_note")


def _pii(data: Any) -> set[str]:
    """Every personal value of a fixture: contact fields, at any depth."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in PII_FIELDS and isinstance(value, str) and value:
                found.add(value.lower())
            found |= _pii(value)
    elif isinstance(data, list):
        for item in data:
            found |= _pii(item)
    return found


def test_no_personal_data_leaves_the_normalizer() -> None:
    bodies = [_body(name, topic, index) for name, topic, index, _ in RECORDED]
    personal = set().union(*(_pii(payload) for _, payload in bodies))
    assert {"jane.e2e@example.com", "doe", "1 test st", "(555) 555-5555"} <= personal
    for result in (normalize(STORE, *body) for body in bodies):
        dumped = json.dumps([[dict(e.identities), dict(e.properties)] for e in result.events])
        assert not [value for value in personal if value in dumped.lower()]


# ---------------------------------------------------------------- normalizer: status mapping

CREATED, PAID, MODIFIED = "2026-01-05T10:00:00", "2026-01-05T10:05:00", "2026-01-06T09:00:00"


def order(status: str, **changes: Any) -> dict[str, Any]:
    """The recorded order 12 moved to `status`, with distinct dates."""
    payload: dict[str, Any] = load(local("order_updated_payload"))
    payload.update(status=status, date_created_gmt=CREATED, date_paid_gmt=None,
                   date_completed_gmt=None, date_modified_gmt=MODIFIED)
    payload.update(changes)
    return payload


def facts(payload: dict[str, Any]) -> list[tuple[str, str | None, datetime]]:
    """The facts of an order snapshot, the same whichever order topic brings it."""
    results = [normalize(STORE, topic, payload) for topic in ORDER_TOPICS]
    assert results[1:] == results[:-1]
    return [(e.name, e.key, e.occurred_at) for e in results[0].events]


PLACED = ("order_placed", "order:12:placed", at(CREATED))
PAID_FACT = ("order_paid", "order:12:paid", at(PAID))


@pytest.mark.parametrize("payload, expected", [
    (order("checkout-draft"), [("checkout_started", "order:12:checkout_started", at(CREATED))]),
    (order("pending"), [("checkout_started", "order:12:checkout_started", at(CREATED))]),
    (order("on-hold"), [PLACED]),
    (order("processing", date_paid_gmt=PAID), [PLACED, PAID_FACT]),
    (order("completed", date_paid_gmt=PAID, date_completed_gmt="2026-01-05T18:00:00"),
     [PLACED, PAID_FACT, ("order_fulfilled", "order:12:fulfilled", at("2026-01-05T18:00:00"))]),
    (order("completed"), [PLACED, ("order_fulfilled", "order:12:fulfilled", at(MODIFIED))]),
    (order("failed"),
     [("payment_failed", "order:12:payment_failed:2026-01-06T09:00:00", at(MODIFIED))]),
    (order("cancelled"), [("order_cancelled", "order:12:cancelled", at(MODIFIED))]),
    (order("cancelled", date_paid_gmt=PAID),
     [PLACED, PAID_FACT, ("order_cancelled", "order:12:cancelled", at(MODIFIED))]),
    (order("refunded", date_paid_gmt=PAID),
     [PLACED, PAID_FACT, ("order_refunded", "order:12:refunded", at(MODIFIED))]),
    (order("refunded", date_paid_gmt=PAID, refunds=[{"id": 14, "total": "-29.90"}]),
     [PLACED, PAID_FACT, ("order_refunded", "refund:14", at(MODIFIED))]),
    (order("processing", date_paid_gmt=PAID, refunds=[{"id": 14, "reason": "", "total": "-5"}]),
     [PLACED, PAID_FACT, ("order_refunded", "refund:14", at(MODIFIED))]),
    (order("shipped-by-a-plugin"), []),
    (order("shipped-by-a-plugin", date_paid_gmt=PAID), [PLACED, PAID_FACT]),
    (order("processing", date_paid_gmt="2026-01-05T10:05:00+02:00"),
     [PLACED, ("order_paid", "order:12:paid", at("2026-01-05T08:05:00"))]),
])
def test_each_status_gives_the_facts_it_implies(
        payload: dict[str, Any], expected: list[Any]) -> None:
    assert facts(payload) == expected


# -------------------------------------------------------------- normalizer: segments

# The recorded orders were made over the REST API: no user agent, no attribution. A storefront
# checkout adds WooCommerce's order attribution meta (8.5+, `_wc_order_attribution_*`, values
# as WooCommerce writes them) and the shopper's user agent (a real Android phone's Chrome).
PIXEL = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36")


def attributed(**meta: str) -> list[dict[str, Any]]:
    return [{"id": 900 + n, "key": f"_wc_order_attribution_{key}", "value": value}
            for n, (key, value) in enumerate(meta.items())]


@pytest.mark.parametrize("changes, segments", [
    ({}, {"country": "DE"}),  # the recorded order: shipped to Germany
    ({"customer_user_agent": PIXEL, "meta_data": attributed(source_type="typein",
                                                            utm_source="(direct)")},
     {"device": "mobile", "channel": "direct", "country": "DE"}),
    ({"meta_data": attributed(source_type="organic", referrer="https://www.google.com/",
                              utm_source="google", utm_medium="organic",
                              device_type="Desktop")},
     {"device": "desktop", "channel": "organic_search", "country": "DE"}),
    ({"meta_data": attributed(source_type="referral", referrer="https://l.facebook.com/",
                              utm_source="l.facebook.com", device_type="Tablet")},
     {"device": "tablet", "channel": "social", "country": "DE"}),
    ({"meta_data": attributed(source_type="utm", utm_source="google", utm_medium="cpc")},
     {"channel": "paid_search", "country": "DE"}),
    ({"meta_data": attributed(source_type="utm", utm_source="spring-mailing",
                              utm_medium="email")}, {"channel": "email", "country": "DE"}),
    ({"meta_data": attributed(source_type="admin"), "shipping": {"country": ""}},
     {"country": "DE"}),  # made in the admin: no visit; no shipping country: the billing one
    ({"meta_data": attributed(source_type="mobile_app", utm_source="(direct)",
                              device_type="Mobile"), "shipping": {}, "billing": {}},
     {"device": "mobile"}),
])
def test_an_order_carries_its_segments(changes: dict[str, Any], segments: dict[str, str]
                                       ) -> None:
    for event in normalize(STORE, "order.updated", order("processing", date_paid_gmt=PAID,
                                                         **changes)).events:
        assert {name: event.properties[name] for name in ("device", "channel", "country")
                if name in event.properties} == segments
        assert load_event(STORE, event.to_dict()) == event
        assert PIXEL not in json.dumps(event.to_dict())  # only the device class goes


def test_refund_facts_carry_the_refunded_amount() -> None:
    payload = order("refunded", date_paid_gmt=PAID, refunds=[{"id": 14, "total": "-29.90"}])
    refund = normalize(STORE, "order.updated", payload).events[-1]
    assert dict(refund.properties) == {"total": "29.90", "currency": "USD"}
    assert refund.order_id == "12" and refund.identities["order_id"] == "12"


@pytest.mark.parametrize("topic, payload", [
    ("order.deleted", {"id": 12}), ("order.deleted", {"id": "12"}),
    ("customer.deleted", {"id": 2}), ("product.deleted", {"id": 11}),
    (COMPLETED_ACTION, {"action": "woocommerce_order_status_completed", "arg": 13}),
])
def test_deletions_and_actions_give_nothing(topic: str, payload: Any) -> None:
    assert normalize(STORE, topic, payload) == Normalized()


@pytest.mark.parametrize("topic", ["coupon.created", "order.paid", "", "action.other_plugin",
                                   "orders/create"])
def test_unknown_topics_give_nothing_whatever_the_body(topic: str) -> None:
    assert normalize(STORE, topic, "not even an object") == Normalized()
    assert normalize(STORE, topic, order("processing")) == Normalized()


@pytest.mark.parametrize("changes, field", [
    ({"id": None}, "id"), ({"id": "abc"}, "id"), ({"id": -3}, "id"), ({"id": True}, "id"),
    ({"id": 2**64}, "id"), ({"status": ""}, "status"), ({"status": 3}, "status"),
    ({"date_modified_gmt": None}, "date_modified_gmt"), ({"total": "NaN"}, "total"),
    ({"date_created_gmt": "yesterday"}, "date_created_gmt"), ({"total": "-5.00"}, "total"),
    ({"date_created_gmt": None}, "date_created_gmt"), ({"currency": "US"}, "currency"),
    ({"date_paid_gmt": "2026-13-01T00:00:00"}, "date_paid_gmt"),
    ({"date_paid_gmt": PAID, "total": None}, "total"),
    ({"date_paid_gmt": PAID, "currency": ""}, "currency"),
    ({"customer_id": "x"}, "customer_id"), ({"refunds": {"id": 1}}, "refunds"),
    ({"refunds": [{"total": "-1"}]}, "refunds"),
    ({"refunds": [{"id": 1, "total": "ten"}]}, "refunds"),
])
def test_malformed_orders_are_refused_naming_the_field(changes: dict[str, Any],
                                                       field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalize(STORE, "order.created", order("processing") | changes)
    assert field in caught.value.errors


@pytest.mark.parametrize("topic, payload, field", [
    ("order.created", [], "_schema"), ("customer.created", None, "_schema"),
    ("customer.created", {"date_created_gmt": CREATED}, "id"),
    ("customer.updated", {"id": 2}, "date_created_gmt"),
    ("product.updated", {"id": 11}, "date_modified_gmt"),
    ("product.updated", {"id": 11, "date_modified_gmt": MODIFIED, "average_rating": "x"},
     "average_rating"),
    ("order.deleted", {}, "id"), ("product.deleted", {"id": 0}, "id"),
    (COMPLETED_ACTION, {"arg": 13}, "action"),
])
def test_malformed_payloads_are_refused_naming_the_field(
        topic: str, payload: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalize(STORE, topic, payload)
    assert field in caught.value.errors


# -------------------------------------------------------------- normalizer: random payloads

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8,
)
DATES = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"))
IDS = st.integers(-2, 2**64) | st.from_regex(r"\A[0-9]{1,25}\Z")
AMOUNTS = st.decimals(-1000, 1000, places=2).map(str) | JSON
FIELDS = {
    "id": IDS | JSON, "status": st.sampled_from(STATUSES) | JSON,
    "date_created_gmt": DATES | JSON, "date_modified_gmt": DATES | JSON,
    "date_paid_gmt": st.none() | DATES | JSON, "date_completed_gmt": DATES | JSON,
    "total": AMOUNTS, "currency": st.sampled_from(["USD", "eur", "XX"]) | JSON,
    "customer_id": IDS | JSON, "payment_method": st.text(max_size=20) | JSON,
    "billing": st.fixed_dictionaries({}, optional={"email": st.emails() | JSON}) | JSON,
    "email": st.emails() | JSON,
    "line_items": st.lists(st.fixed_dictionaries({}, optional={"product_id": IDS | JSON}),
                           max_size=3) | JSON,
    "refunds": st.lists(st.fixed_dictionaries({}, optional={"id": IDS, "total": AMOUNTS}),
                        max_size=3) | JSON,
    "images": st.lists(st.fixed_dictionaries({}, optional={"src": st.text() | JSON}),
                       max_size=2) | JSON,
    "parent_id": IDS | JSON, "average_rating": AMOUNTS, "rating_count": IDS | JSON,
    "name": st.text(max_size=20) | JSON, "action": st.text(max_size=20) | JSON,
}
TOPICS = (*ORDER_TOPICS, "order.deleted", "customer.created", "customer.updated",
          "customer.deleted", "product.created", "product.updated", "product.restored",
          "product.deleted", COMPLETED_ACTION)
BASES = [
    *(order(status, date_paid_gmt=paid) for status in STATUSES for paid in (None, PAID)),
    load(local("customer_created_payload")), load("product__restdocs-v3.json"),
    load(local("action_woocommerce_order_status_completed_payload")),
]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A real payload with a few fields dropped or replaced by random JSON."""
    payload = dict(draw(st.sampled_from(BASES)))
    for key in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4, unique=True)):
        if draw(st.booleans()):
            payload.pop(key, None)
        else:
            payload[key] = draw(FIELDS[key])
    return payload


@settings(max_examples=500)
@given(topic=st.sampled_from(TOPICS),
       payload=mutated() | st.fixed_dictionaries({}, optional=FIELDS) | JSON)
def test_random_payloads_give_valid_events_or_a_validation_error(topic: str, payload: Any) -> None:
    try:
        result = normalize(STORE, topic, payload)
    except ValidationError as exc:
        assert exc.errors  # names what is wrong
        return
    for event in result.events:
        assert event.identities
        assert load_event(STORE, event.to_dict()) == event


def lifecycle(statuses: list[str], refund_at: list[bool]) -> list[dict[str, Any]]:
    """Snapshots of one order going through `statuses`, dated the way WooCommerce dates them."""
    paid: str | None = None
    completed: str | None = None
    refunds: list[dict[str, Any]] = []
    snapshots = []
    for step, status in enumerate(statuses, start=1):
        modified = (at(CREATED) + timedelta(minutes=step)).strftime("%Y-%m-%dT%H:%M:%S")
        if status in ("processing", "completed"):
            paid = paid or modified
        if status == "completed":
            completed = completed or modified
        if status == "refunded" or refund_at[step - 1]:
            refunds = [{"id": 100 + step, "reason": "", "total": "-1.00"}, *refunds]
        snapshots.append(order(status, date_modified_gmt=modified, date_paid_gmt=paid,
                               date_completed_gmt=completed, refunds=refunds))
    return snapshots


def final_state(deliveries: list[tuple[str, dict[str, Any]]]) -> Any:
    """What storage keeps: per fact key its name and earliest time; the newest snapshot."""
    kept: dict[str | None, tuple[str, datetime]] = {}
    newest: set[datetime] = set()
    for topic, payload in deliveries:
        for event in normalize(STORE, topic, payload).events:
            name, first = kept.setdefault(event.key, (event.name, event.occurred_at))
            assert name == event.name  # a key always names the same fact
            kept[event.key] = (name, min(first, event.occurred_at))
            assert event.resource is not None
            newest.add(event.resource.updated_at)
    return kept, max(newest, default=None)


STABLE = ("checkout_started", "order_placed", "order_paid", "order_fulfilled")


@given(data=st.data(), statuses=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=6))
def test_snapshots_in_any_order_give_the_same_facts(data: st.DataObject,
                                                    statuses: list[str]) -> None:
    refund_at = data.draw(st.lists(st.booleans(), min_size=len(statuses),
                                   max_size=len(statuses)))
    snapshots = lifecycle(statuses, refund_at)
    in_order = final_state([("order.updated", s) for s in snapshots])
    shuffled = data.draw(st.permutations(snapshots))
    topics = data.draw(st.lists(st.sampled_from(ORDER_TOPICS), min_size=len(snapshots),
                                max_size=len(snapshots)))
    assert final_state(list(zip(topics, shuffled, strict=True))) == in_order

    kept, _ = in_order
    if any(s in ("processing", "completed") for s in statuses):
        assert {"order:12:placed", "order:12:paid"} <= set(kept)
    # Lifecycle facts are dated by their own date: every snapshot tells the same time.
    for snapshot in snapshots:
        for event in normalize(STORE, "order.updated", snapshot).events:
            if event.name in STABLE:
                assert event.occurred_at == kept[event.key][1]


def test_an_order_says_whom_to_ask_for_reviews() -> None:
    topic, payload = _body(ORDER_CREATED, None, None)
    [contact] = normalize(STORE, topic, payload).actions
    # The recorded order's image has an empty src: no picture rather than a broken one.
    assert contact == OrderContact(order_id="12", email="jane.e2e@example.com", name="Jane",
                                   locale=None, customer_id=contact.customer_id,
                                   items=(ReviewItem("11", "E2E Mug", None),))
