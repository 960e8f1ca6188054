"""The Shopify adapter: signatures (golden vectors, rotation, hostile headers), delivery keys,
and the normalizer on Shopify's own sample payloads, their variants, and random payloads."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.adapters.base import (
    Normalized,
    OrderContact,
    PrivacyRequest,
    ReviewItem,
    StorefrontFact,
    Uninstalled,
    lower_headers,
)
from parcours.adapters.shopify import ShopifyAdapter
from parcours.adapters.shopify.normalize import normalize
from parcours.adapters.shopify.webhooks import sign
from parcours.errors import ValidationError
from parcours.events import JourneyEvent, email_hash, load_event

FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
TOPICS = {
    "app_uninstalled__shopifydev-webhooks-ref.json": "app/uninstalled",
    "carts_create__shopifydev-webhooks-ref.json": "carts/create",
    "carts_update__shopifydev-webhooks-ref.json": "carts/update",
    "checkouts_create__shopifydev-webhooks-ref.json": "checkouts/create",
    "checkouts_update__shopifydev-webhooks-ref.json": "checkouts/update",
    "customer_account_settings_update__shopifydev-webhooks-ref.json":
        "customer_account_settings/update",
    "customers_create__shopifydev-webhooks-ref.json": "customers/create",
    "customers_data_request__shopifydev-privacy-compliance.json": "customers/data_request",
    "customers_data_request__shopifydev-webhooks-ref.json": "customers/data_request",
    "customers_redact__shopifydev-privacy-compliance.json": "customers/redact",
    "customers_redact__shopifydev-webhooks-ref.json": "customers/redact",
    "fulfillments_create__shopifydev-webhooks-ref.json": "fulfillments/create",
    "orders_create__shopifydev-webhooks-ref.json": "orders/create",
    "refunds_create__shopifydev-webhooks-ref.json": "refunds/create",
    "shop_redact__shopifydev-privacy-compliance.json": "shop/redact",
}
ALL_TOPICS = sorted({*TOPICS.values(), "carts/update", "checkouts/update", "orders/updated",
                     "orders/paid", "orders/cancelled", "orders/fulfilled",
                     "orders/partially_fulfilled", "fulfillments/update", "customers/update"})
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid")

SECRET = "shpss_parcours-golden-secret"
GOLDEN_BODY = b'{"id":1001,"total_price":"42.50"}'
# Computed once with `openssl dgst -sha256 -hmac <SECRET> -binary | base64`.
GOLDEN_SIGNATURE = "0QAiz5KbEHvWas0SVVcaBXuS0jaU0EVX5CGpClY6D8k="
GOLDEN_FIXTURE_SIGNATURE = "EyvlfCboTosOOongtzvmBiDlmUlPBdQiE54F44lZHnw="

AT = datetime(2022, 1, 1, tzinfo=UTC)  # every sample's "2021-12-31T19:00:00-05:00", in UTC
ORDER = "820982911946154508"
ORDER_IDS = {"customer_id": "115310627314723954", "email_hash": email_hash("jon@example.com"),
             "order_id": ORDER}
# The sample is a web order without referrer or landing page (a direct visit), shipped to the US.
ORDER_PROPERTIES = {"total": "404.95", "currency": "USD", "gateway": "visa, bogus",
                    "product_ids": ["788032119674292922"], "channel": "direct", "country": "US"}
# Personal data in the samples: none of it may reach an event.
PII = ["jon@example.com", "john@example.com", "example@email.com", "bob@biller.com",
       "super@supertoys.com", "Bob", "Biller", "Steve", "Shipper", "John", "Smith",
       "555-555", "123-123-1234", "555-625-1199", "3213213210", "Shipping Street",
       "Elm St", "O'Connor", "Things were damaged", "ice cream"]

adapter = ShopifyAdapter()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_bytes())
    return data


def order(**changes: Any) -> dict[str, Any]:
    return fixture("orders_create__shopifydev-webhooks-ref.json") | changes


def fulfillment(**changes: Any) -> dict[str, Any]:
    return fixture("fulfillments_create__shopifydev-webhooks-ref.json") | changes


def refund(**changes: Any) -> dict[str, Any]:
    return fixture("refunds_create__shopifydev-webhooks-ref.json") | changes


def run(topic: str, payload: Any) -> list[JourneyEvent]:
    result = normalize("shop-1", topic, payload)
    # An order snapshot also says whom to ask for reviews; nothing else is an action.
    assert all(isinstance(action, OrderContact) for action in result.actions)
    assert len(result.actions) == topic.startswith("orders/")
    return result.events


def test_an_order_says_whom_to_ask_for_reviews() -> None:
    [contact] = normalize("shop-1", "orders/create", order()).actions
    assert contact == OrderContact(
        order_id="820982911946154508", email="jon@example.com", name="John", locale="en",
        customer_id="115310627314723954",
        items=(ReviewItem("788032119674292922", "Aviator sunglasses"),))
    # A placeholder address is no address; custom items (no product) are not reviewable.
    bare = order(email="none", contact_email=None, customer=None,
                 line_items=[{"product_id": None, "title": "Gift wrap"}])
    [contact] = normalize("shop-1", "orders/create", bare).actions
    assert contact.email is None and contact.items == ()


def summary(events: list[JourneyEvent]) -> list[tuple[str, str | None, datetime]]:
    return [(event.name, event.key, event.occurred_at) for event in events]


def signed(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return lower_headers({"X-Shopify-Hmac-Sha256": sign(secret, body), **extra})


def field_errors(topic: str, payload: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        normalize("shop-1", topic, payload)
    errors: dict[str, Any] = info.value.errors
    return errors


# -- signatures --------------------------------------------------------------------------------

def test_golden_vectors() -> None:
    assert sign(SECRET, GOLDEN_BODY) == GOLDEN_SIGNATURE
    headers = {"x-shopify-hmac-sha256": GOLDEN_SIGNATURE}
    assert adapter.verify(headers, GOLDEN_BODY, [SECRET]).ok
    body = (FIXTURES / "orders_create__shopifydev-webhooks-ref.json").read_bytes()
    assert adapter.verify({"x-shopify-hmac-sha256": GOLDEN_FIXTURE_SIGNATURE}, body, [SECRET]).ok


@settings(max_examples=200)
@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64),
       flip=st.integers(min_value=0))
def test_any_body_signed_with_the_secret_verifies_and_no_altered_one_does(
        body: bytes, secret: str, flip: int) -> None:
    expected = base64.b64encode(
        hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert sign(secret, body) == expected
    assert adapter.verify(signed(body, secret), body, [secret]).ok
    assert not adapter.verify(signed(body, secret), body + b" ", [secret]).ok
    if body:
        altered = bytearray(body)
        altered[flip % len(body)] ^= 1
        assert not adapter.verify(signed(body, secret), bytes(altered), [secret]).ok


def test_wrong_secret_is_refused() -> None:
    verdict = adapter.verify(signed(GOLDEN_BODY, "shpss_other"), GOLDEN_BODY, [SECRET])
    assert not verdict.ok
    assert "matches no" in verdict.reason


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing X-Shopify-Hmac-Sha256"),
    ({"x-shopify-hmac-sha256": "   "}, "missing X-Shopify-Hmac-Sha256"),
    ({"x-shopify-hmac-sha256": "not base64!"}, "not base64"),
    ({"x-shopify-hmac-sha256": "abc"}, "not base64"),  # bad padding
    ({"x-shopify-hmac-sha256": "é" * 44}, "not base64"),  # not even ASCII
])
def test_missing_or_malformed_header_is_refused_with_the_reason(
        headers: dict[str, str], reason: str) -> None:
    verdict = adapter.verify(headers, GOLDEN_BODY, [SECRET])
    assert not verdict.ok
    assert reason in verdict.reason


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_secret_refuses_everything(secrets: list[str]) -> None:
    # An empty key is one anybody can sign with: it must not count as a secret.
    verdict = adapter.verify(signed(GOLDEN_BODY, ""), GOLDEN_BODY, secrets)
    assert not verdict.ok
    assert "no Shopify API secret" in verdict.reason


def test_rotation_accepts_the_previous_secret_until_it_is_removed() -> None:
    old, new = "shpss_old", "shpss_new"
    assert adapter.verify(signed(GOLDEN_BODY, old), GOLDEN_BODY, [new, old]).ok
    assert adapter.verify(signed(GOLDEN_BODY, new), GOLDEN_BODY, [new, old]).ok
    assert not adapter.verify(signed(GOLDEN_BODY, old), GOLDEN_BODY, [new]).ok


def test_header_names_are_read_in_any_case_once_lowered() -> None:
    raw = {"X-SHOPIFY-HMAC-SHA256": GOLDEN_SIGNATURE, "x-Shopify-Topic": "orders/paid",
           "X-Shopify-Shop-Domain": "Shop-1.MyShopify.com", "X-Shopify-Webhook-Id": "w-1"}
    headers = lower_headers(raw)
    assert adapter.verify(headers, GOLDEN_BODY, [SECRET]).ok
    assert adapter.topic(headers) == "orders/paid"
    assert adapter.shop_domain(headers) == "shop-1.myshopify.com"
    assert adapter.delivery_key("", headers, GOLDEN_BODY) == "shopify:w-1"


@given(headers=st.dictionaries(st.sampled_from(["x-shopify-hmac-sha256", "x-shopify-topic",
                                                "other"]), st.text()),
       body=st.binary(max_size=64), secrets=st.lists(st.text(max_size=8), max_size=3))
def test_verify_never_raises(headers: dict[str, str], body: bytes, secrets: list[str]) -> None:
    verdict = adapter.verify(headers, body, secrets)
    assert verdict.ok is (bool(any(secrets)) and verdict.reason == "")
    if not verdict.ok:
        assert verdict.reason


# -- topic, delivery key, shop -----------------------------------------------------------------

def test_adapter_declares_its_contract() -> None:
    assert (adapter.name, adapter.app_signed) == ("shopify", True)
    assert adapter.kept_header_prefixes == ("x-shopify-",)
    assert adapter.topic({}) == ""
    assert adapter.shop_domain({}) is None
    payload = order()
    assert adapter.normalize("s", "orders/create", payload) == normalize("s", "orders/create",
                                                                        payload)


def test_delivery_key_is_the_webhook_id_whatever_the_store() -> None:
    headers = {"x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}
    key = adapter.delivery_key("store-a", headers, b"{}")
    assert key == "shopify:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert adapter.delivery_key("", headers, b"other body") == key


def test_delivery_key_without_webhook_id_is_topic_and_body_hash() -> None:
    headers = {"x-shopify-topic": "orders/paid"}
    digest = hashlib.sha256(GOLDEN_BODY).hexdigest()
    assert adapter.delivery_key("s", headers, GOLDEN_BODY) == f"shopify:orders/paid:{digest}"
    assert adapter.delivery_key("s", headers, b"{}") != f"shopify:orders/paid:{digest}"


def test_delivery_key_never_exceeds_255_characters() -> None:
    long_id = {"x-shopify-webhook-id": "w" * 400}
    long_topic = {"x-shopify-topic": "t" * 400}
    keys = [adapter.delivery_key("s", headers, b"{}") for headers in (long_id, long_topic)]
    assert all(key.startswith("shopify:") and len(key) <= 255 for key in keys)
    assert keys[0] != keys[1]
    assert adapter.delivery_key("s", long_id, b"{}") == keys[0]


# -- the samples -------------------------------------------------------------------------------

def test_samples_give_valid_events_without_personal_data() -> None:
    deliveries = [(topic, fixture(name)) for name, topic in TOPICS.items()] + [
        ("orders/updated", paid_order(fulfillments=[fulfillment(status="success")],
                                      refunds=[refund()])),
        ("fulfillments/update", fulfillment(status="success", shipment_status="delivered")),
    ]
    events = [event for topic, payload in deliveries for event in run_any(topic, payload)]
    assert len(events) == 14
    for event in events:
        assert load_event("shop-1", event.to_dict()) == event  # schema-valid as emitted
        assert event.source == "shopify" and event.occurred_at.tzinfo is UTC
        shown = json.dumps([event.identities, event.properties, event.key]).lower()
        assert not [pii for pii in PII if pii.lower() in shown], shown


def run_any(topic: str, payload: Any) -> list[JourneyEvent]:
    return normalize("shop-1", topic, payload).events


def test_orders_create_sample_is_placed_and_cancelled_not_paid() -> None:
    events = run("orders/create", order())
    assert summary(events) == [("order_placed", f"order:{ORDER}:placed", AT),
                               ("order_cancelled", f"order:{ORDER}:cancelled", AT)]
    placed, cancelled = events
    assert placed.identities == ORDER_IDS  # the order's email, not customer.email
    assert placed.properties == ORDER_PROPERTIES
    assert cancelled.properties == ORDER_PROPERTIES | {"reason": "customer"}
    assert {e.resource for e in events} == {placed.resource}
    assert placed.resource is not None
    assert (placed.resource.type, placed.resource.id, placed.resource.updated_at) == (
        "order", ORDER, AT)


def test_checkout_samples_start_a_checkout() -> None:
    for topic in ("checkouts/create", "checkouts/update"):
        name = topic.replace("/", "_") + "__shopifydev-webhooks-ref.json"
        [started] = run(topic, fixture(name))
        assert summary([started]) == [("checkout_started", "checkout:123123123:started", AT)]
        assert started.identities == {
            "checkout_token": "123123123", "cart_token": "eeafa272cebfd4b22385bc4b645e762c",
            "email_hash": email_hash("example@email.com"), "customer_id": "603851970716743426"}
        assert started.properties == {"total": "421.88", "currency": "USD",
                                      "product_ids": ["632910392"]}
        assert started.resource is not None and started.resource.id == "123123123"


def test_cart_samples_update_the_cart() -> None:
    for topic in ("carts/create", "carts/update"):
        [cart] = run(topic, fixture(topic.replace("/", "_") + "__shopifydev-webhooks-ref.json"))
        key = "cart:exampleCartId:updated:2022-01-01T00:00:00+00:00"
        assert summary([cart]) == [("cart_updated", key, AT)]
        assert cart.identities == {"cart_token": "exampleCartId"}
        assert cart.properties == {"item_count": 3, "product_ids": ["788032119674292922"]}
        assert cart.resource is not None and cart.resource.type == "cart"


def test_customer_sample_is_created() -> None:
    [created] = run("customers/create", fixture("customers_create__shopifydev-webhooks-ref.json"))
    key = "customer:706405506930370084:created"
    assert summary([created]) == [("customer_created", key, AT)]
    assert created.identities == {"customer_id": "706405506930370084",
                                  "email_hash": email_hash("bob@biller.com")}
    assert created.properties == {} and created.resource is None


def test_refund_sample_names_only_its_order() -> None:
    [refunded] = run("refunds/create", refund())
    assert summary([refunded]) == [("order_refunded", "refund:890088186047892319", AT)]
    assert refunded.identities == {"order_id": ORDER}
    # The sample's transactions state no currency: an amount without one is not given.
    assert refunded.properties == {} and refunded.resource is None


def test_fulfillment_sample_is_pending_so_nothing_shipped() -> None:
    assert run("fulfillments/create", fulfillment()) == []


@pytest.mark.parametrize("name", [n for n, t in TOPICS.items() if t == "customers/data_request"])
def test_data_request_samples(name: str) -> None:
    assert normalize("s", "customers/data_request", fixture(name)) == Normalized(actions=[
        PrivacyRequest("data_request", customer_id="191167", email="john@example.com",
                       phone="555-625-1199", order_ids=("299938", "280263", "220458"),
                       reference="9999")])


@pytest.mark.parametrize("name", [n for n, t in TOPICS.items() if t == "customers/redact"])
def test_customer_redact_samples(name: str) -> None:
    assert normalize("s", "customers/redact", fixture(name)) == Normalized(actions=[
        PrivacyRequest("redact_customer", customer_id="191167", email="john@example.com",
                       phone="555-625-1199", order_ids=("299938", "280263", "220458"))])


def test_shop_redact_uninstall_and_account_settings_samples() -> None:
    def actions(name: str) -> list[Any]:
        return normalize("s", TOPICS[name], fixture(name)).actions

    assert actions("shop_redact__shopifydev-privacy-compliance.json") == [
        PrivacyRequest("redact_shop")]
    assert actions("app_uninstalled__shopifydev-webhooks-ref.json") == [Uninstalled()]
    assert actions("customer_account_settings_update__shopifydev-webhooks-ref.json") == [
        StorefrontFact("customer_accounts", {
            "url": None, "customer_accounts_version": "classic",
            "login_required_at_checkout": True,
            "login_links_visible_on_storefront_and_checkout": True,
        }, None)]


# -- order snapshots ---------------------------------------------------------------------------

LATER = "2022-01-02T10:00:00+01:00"
LATER_UTC = datetime(2022, 1, 2, 9, tzinfo=UTC)


def paid_order(**changes: Any) -> dict[str, Any]:
    return order(financial_status="paid", cancelled_at=None, updated_at=LATER) | changes


@pytest.mark.parametrize("status", ["paid", "partially_refunded", "refunded"])
def test_a_paid_order_is_paid_at_its_snapshot_time(status: str) -> None:
    events = run("orders/paid", paid_order(financial_status=status))
    assert summary(events) == [("order_placed", f"order:{ORDER}:placed", AT),
                               ("order_paid", f"order:{ORDER}:paid", LATER_UTC)]
    assert events[1].amount() is not None


@pytest.mark.parametrize("status", ["pending", "authorized", "partially_paid", "voided",
                                    "expired", None])
def test_an_unpaid_order_is_not_paid(status: str | None) -> None:
    assert [e.name for e in run("orders/updated", paid_order(financial_status=status))] == [
        "order_placed"]


def test_the_same_snapshot_under_any_order_topic_is_the_same_events() -> None:
    payload = paid_order(refunds=[refund()])
    ids = [[event.id for event in run(topic, payload)] for topic in ORDER_TOPICS]
    assert ids[0] == ids[1] == ids[2] and len(ids[0]) == 3
    # A later snapshot reports the same facts: same ids, so storage keeps one of each.
    later = paid_order(refunds=[refund()], updated_at="2022-02-01T00:00:00Z")
    assert {e.id for e in run("orders/updated", later)} == set(ids[0])


def test_facts_reported_by_two_topics_are_identical_events() -> None:
    ordered = run("orders/updated", paid_order(refunds=[refund()], fulfillments=[
        fulfillment(status="success")]))
    alone = run("refunds/create", refund()) + run("fulfillments/create",
                                                  fulfillment(status="success"))
    by_key = {event.key: event for event in ordered}
    for event in alone:
        twin = by_key[event.key]
        assert (twin.id, twin.occurred_at, twin.properties, twin.resource) == (
            event.id, event.occurred_at, event.properties, event.resource)
        assert set(event.identities.items()) <= set(twin.identities.items())


def test_paid_order_without_amount_names_the_field() -> None:
    assert "total_price" in field_errors("orders/paid", paid_order(total_price=None))
    assert "currency" in field_errors("orders/paid", paid_order(currency=None))
    assert "total_price" in field_errors("orders/paid", paid_order(total_price="-1"))


def test_order_fulfilment_is_dated_by_its_fulfilments_when_listed() -> None:
    status_only = run("orders/fulfilled", paid_order(fulfillment_status="fulfilled"))
    assert ("order_fulfilled", f"order:{ORDER}:fulfilled", LATER_UTC) in summary(status_only)
    shipped = fulfillment(status="success", shipment_status="delivered", updated_at=LATER)
    listed = run("orders/partially_fulfilled",
                 paid_order(fulfillment_status="partial", fulfillments=[shipped]))
    assert summary(listed)[2:] == [("order_fulfilled", f"order:{ORDER}:fulfilled", AT),
                                   ("order_delivered", f"order:{ORDER}:delivered", LATER_UTC)]
    assert all(e.resource is None for e in listed[2:])


def test_guest_order_has_no_customer_id_and_keeps_its_tokens() -> None:
    payload = paid_order(customer=None, email=None, contact_email="Guest@Example.com",
                         checkout_token="ct-1", cart_token="cart-1")
    [placed, _] = run("orders/create", payload)
    assert placed.identities == {"email_hash": email_hash("guest@example.com"),
                                 "checkout_token": "ct-1", "cart_token": "cart-1",
                                 "order_id": ORDER}
    zero = paid_order(customer={"id": 0, "email": None}, email=None, contact_email=None)
    assert run("orders/create", zero)[0].identities == {"order_id": ORDER}


def test_missing_optional_fields_are_tolerated() -> None:
    bare = {"id": 7, "updated_at": "2022-01-01T00:00:00Z"}
    assert run("orders/updated", bare) == []  # no time of placement: nothing to say yet
    events = run("orders/updated", bare | {"created_at": "2022-01-01T00:00:00Z"})
    assert summary(events) == [("order_placed", "order:7:placed", AT)]
    assert events[0].properties == {"product_ids": []}  # no segment is guessed


# -- segments of an order (segments.py) ----------------------------------------------------------

# client_details, referring_site and landing_site as Shopify's Order resource documents them
# (the samples have them null); the user agent is a real iPhone Safari's.
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
CLIENT = {"accept_language": "fr-FR", "browser_height": 844, "browser_ip": "203.0.113.9",
          "browser_width": 390, "session_hash": None, "user_agent": IPHONE}


@pytest.mark.parametrize("changes, segments", [
    ({"client_details": CLIENT, "referring_site": "https://www.google.fr/",
      "landing_site": "/products/aviator"},
     {"device": "mobile", "channel": "organic_search", "country": "US"}),
    ({"referring_site": "https://l.instagram.com/",
      "landing_site": "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring"},
     {"channel": "email", "country": "US"}),
    ({"landing_site": "/products/aviator?utm_source=google&utm_medium=cpc&gclid=x"},
     {"channel": "paid_search", "country": "US"}),
    ({"referring_site": "https://jsmith.myshopify.com/collections/all"},  # the store itself
     {"channel": "direct", "country": "US"}),
    ({"referring_site": "https://blog.example.org/best-sunglasses",
      "shipping_address": None},  # no shipping address: the billing one's country
     {"channel": "referral", "country": "US"}),
    ({"source_name": "pos", "shipping_address": None, "billing_address": None}, {}),
    ({"source_name": "shopify_draft_order", "shipping_address": {"country_code": "fr"}},
     {"country": "FR"}),
])
def test_an_order_carries_its_segments(changes: dict[str, Any], segments: dict[str, str]
                                       ) -> None:
    events = run("orders/paid", paid_order(**changes))
    for event in events:
        assert {name: event.properties[name] for name in ("device", "channel", "country")
                if name in event.properties} == segments
        assert load_event("shop-1", event.to_dict()) == event
        assert "203.0.113.9" not in json.dumps(event.to_dict())  # only the device class goes


def test_an_order_without_referrer_and_landing_fields_has_no_channel() -> None:
    """`include_fields` may leave them out: the channel is then unknown, not "direct"."""
    payload = {key: value for key, value in paid_order().items()
               if key not in ("referring_site", "landing_site")}
    assert "channel" not in run("orders/paid", payload)[0].properties


# -- fulfilments, refunds, checkouts, customers ------------------------------------------------

def test_a_successful_fulfilment_fulfils_and_a_delivered_one_delivers() -> None:
    shipped = run("fulfillments/update", fulfillment(status="success"))
    assert summary(shipped) == [("order_fulfilled", f"order:{ORDER}:fulfilled", AT)]
    assert shipped[0].identities == {"order_id": ORDER, "email_hash": email_hash("jon@example.com")}
    delivered = run("fulfillments/update", fulfillment(
        status="success", shipment_status="delivered", updated_at=LATER))
    assert summary(delivered) == [("order_fulfilled", f"order:{ORDER}:fulfilled", AT),
                                  ("order_delivered", f"order:{ORDER}:delivered", LATER_UTC)]


@pytest.mark.parametrize("status", ["cancelled", "error", "failure", "open", "pending"])
def test_an_unshipped_fulfilment_says_nothing(status: str) -> None:
    in_transit = fulfillment(status=status, shipment_status="in_transit")
    assert run("fulfillments/update", in_transit) == []
    if status in ("cancelled", "error", "failure"):
        assert run("fulfillments/update",
                   fulfillment(status=status, shipment_status="delivered")) == []


def test_refund_amount_comes_from_its_successful_refund_transactions() -> None:
    payload = refund()
    for transaction in payload["transactions"]:
        transaction["currency"] = "usd"
    payload["transactions"].append(payload["transactions"][0] | {"status": "failure"})
    [refunded] = run("refunds/create", payload)
    assert refunded.properties == {"total": "85.00", "currency": "USD"}


def test_a_checkout_updated_later_is_started_and_updated() -> None:
    payload = fixture("checkouts_update__shopifydev-webhooks-ref.json") | {"updated_at": LATER}
    events = run("checkouts/update", payload)
    assert summary(events) == [
        ("checkout_started", "checkout:123123123:started", AT),
        ("checkout_updated", "checkout:123123123:updated:2022-01-02T09:00:00+00:00", LATER_UTC)]
    assert {e.resource for e in events} == {events[0].resource}
    assert events[0].resource is not None and events[0].resource.updated_at == LATER_UTC


def test_checkouts_delete_and_unknown_topics_say_nothing() -> None:
    assert normalize("s", "checkouts/delete", {"id": 1}) == Normalized()
    assert normalize("s", "products/update", {"id": 1}) == Normalized()
    assert normalize("s", "no/such", "not even an object") == Normalized()


def test_customer_without_email_or_creation_time() -> None:
    customer = fixture("customers_create__shopifydev-webhooks-ref.json")
    [created] = run("customers/update", customer | {"email": None})
    assert created.identities == {"customer_id": "706405506930370084"}
    assert run("customers/update", customer | {"created_at": None}) == []


# -- malformed payloads ------------------------------------------------------------------------

@pytest.mark.parametrize(("topic", "payload", "field"), [
    ("orders/create", order(id=None), "id"),
    ("orders/create", order(id=True), "id"),
    ("orders/create", order(id=-4), "id"),
    ("orders/create", order(updated_at="yesterday"), "updated_at"),
    ("orders/create", order(processed_at="2022-01-01T00:00:00"), "processed_at"),  # no offset
    ("orders/create", order(customer=["x"]), "customer"),
    ("orders/create", order(customer={"id": 1.5}), "customer.id"),
    ("orders/create", order(email=42), "email"),
    ("orders/create", order(line_items={"a": 1}), "line_items"),
    ("orders/create", order(refunds=[{"created_at": "2022-01-01T00:00:00Z"}]), "refunds.id"),
    ("orders/create", order(payment_gateway_names="visa"), "payment_gateway_names"),
    ("orders/create", order(currency="dollars"), "currency"),
    ("refunds/create", refund(order_id=None), "order_id"),
    ("refunds/create", refund(id=""), "id"),
    ("fulfillments/create", fulfillment(order_id=None), "order_id"),
    ("checkouts/create", {"updated_at": "2022-01-01T00:00:00Z"}, "token"),
    ("checkouts/create", {"token": "t"}, "updated_at"),
    ("carts/update", {"token": "t", "updated_at": "2022-01-01T00:00:00Z",
                      "line_items": [{"quantity": "3"}]}, "line_items.quantity"),
    ("customers/create", {"email": "a@b.c"}, "id"),
    ("customers/redact", {"customer": {}}, "customer"),
    ("customers/data_request", {"customer": {"id": 1}, "orders_requested": 5},
     "orders_requested"),
    ("customer_account_settings/update", {"login_required_at_checkout": "yes"},
     "login_required_at_checkout"),
    ("orders/create", [], "_schema"),
    ("app/uninstalled", "x", "_schema"),
])
def test_malformed_payloads_name_the_field(topic: str, payload: Any, field: str) -> None:
    assert field in field_errors(topic, payload)


# -- random payloads ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["2022-01-01T00:00:00Z", "paid", "success", "delivered", "refund", "USD",
                       "0001-01-01T00:00:00+01:00", "NaN", "1E+999999", "-0"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = sorted({key for name in TOPICS for key in fixture(name)} | {
    "fulfillments", "refunds", "financial_status", "fulfillment_status", "transactions"})


def checked(topic: str, payload: Any) -> None:
    """Normalizing may refuse the payload, naming a field, or give schema-valid events."""
    try:
        result = normalize("shop-1", topic, payload)
    except ValidationError as exc:
        assert exc.errors
        return
    for event in result.events:
        assert load_event("shop-1", event.to_dict()) == event


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(ALL_TOPICS),
       payload=st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), json_values,
                               max_size=8))
def test_random_payloads_raise_nothing_but_validation_errors(topic: str,
                                                             payload: dict[str, Any]) -> None:
    checked(topic, payload)


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (keys and indexes), the value's own included."""
    children: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        children = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return [path]
    return [path, *[p for key, child in children for p in leaf_paths(child, (*path, key))]]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_samples_with_random_fields_replaced_raise_nothing_but_validation_errors(
        data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(TOPICS)))
    payload = paid_order(fulfillments=[fulfillment()], refunds=[refund()]) if (
        name.startswith("orders")) else fixture(name)
    paths = [p for p in leaf_paths(payload) if p]
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=4)):
        target = payload
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):  # an earlier replacement removed the path
            continue
    for topic in {TOPICS[name], *(ORDER_TOPICS if name.startswith("orders") else ())}:
        checked(topic, copy.deepcopy(payload))
