"""Fuzzing the ingest path (SQLite and PostgreSQL): every webhook receiver and `/collect`, with
random and garbled bodies, JSON of the wrong shape, and headers missing, duplicated, huge or
non-ASCII; and correctly signed garbage, which the platforms' own retries make the hardest case.

Whatever arrives, the answer is a documented status, never a 5xx nor a logged traceback; an
unsigned delivery stores nothing; a signed one is stored and then settles as done or failed with
its reason, never left pending or rolling back its batch (docs/webhooks.md). The budget is
PARCOURS_FUZZ_EXAMPLES (tests/security_support.py).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from parcours import tables as t
from parcours.adapters.woocommerce.webhooks import sign as wc_sign
from parcours.standard_webhooks import sign as sw_sign
from tests.security_support import (
    STORE_ORIGIN,
    Hostile,
    assert_handled,
    assert_no_error_logged,
    fuzz_settings,
    hostile,
    settle,
)
from tests.test_webhooks import CUSTOM_SECRET, SHOP, WC_SECRET, fixture, shopify_headers

__all__ = ["hostile"]  # the fixture, used by name

# What an HTTP server hands the app in a header value: visible ASCII, space, tab, and bytes
# 0x80-0xFF (read as Latin-1, as WSGI does for UTF-8 sent by a client). Control characters
# are refused by the server (gunicorn) before the app sees them.
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)) | st.just("\t"),
                      max_size=40)
HUGE = st.integers(1000, 12_000).map(lambda n: "é" * n)
SIGNATURE_NAMES = ("x-shopify-hmac-sha256", "x-wc-webhook-signature", "webhook-signature",
                   "webhook-id", "webhook-timestamp", "x-shopify-topic", "x-shopify-shop-domain",
                   "x-shopify-webhook-id", "x-wc-webhook-topic", "x-wc-webhook-id",
                   "x-wc-webhook-delivery-id", "content-type", "user-agent", "origin")
HEADER_NAMES = st.sampled_from(SIGNATURE_NAMES) | st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,30}\Z")
# A header list, not a dict: a name may come twice, in any case.
HEADERS = st.lists(st.tuples(HEADER_NAMES.map(lambda n: n.upper() if len(n) % 2 else n),
                             HEADER_TEXT | HUGE | st.sampled_from(["²", "١٢٣", "v1,", "-1",
                                                                   "99999999999999999999"])),
                   max_size=8)

# Text as JSON may carry it: NUL and lone surrogates included (PostgreSQL stores neither).
TEXT = st.text(max_size=30) | st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff x", "é" * 300,
                                               "1e999", "-0", "0" * 40])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=20)


def _wrong_shapes() -> st.SearchStrategy[Any]:
    """Recorded payloads with one value replaced: the shape a normalizer must refuse or read."""
    payloads = [json.loads(fixture("shopify/orders_create__shopifydev-webhooks-ref.json")),
                json.loads(fixture(
                    "woocommerce/webhook_order_created_payload__local-wc11.0.1.json"))]

    def mutate(payload: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
        return {**payload, key: value}

    return st.sampled_from(payloads).flatmap(lambda p: st.builds(
        mutate, st.just(p), st.sampled_from(sorted(p)), JSON))


# Mostly valid events with hostile text in them, so that fuzzing reaches the worker's recording
# rather than stopping at the schema; JSON anywhere for the rest.
VALID_EVENT = st.fixed_dictionaries({
    "name": st.sampled_from(["page_viewed", "product_viewed", "order_paid", "checkout_started"]),
    "occurred_at": st.just("2026-11-20T10:00:00Z"),
    "identities": st.dictionaries(st.sampled_from(["anonymous_id", "email", "customer_id",
                                                   "order_id"]), TEXT, min_size=1, max_size=3)},
    optional={"properties": st.dictionaries(st.sampled_from(["title", "url", "currency",
                                                             "total", "product_id", "x"]),
                                            TEXT | JSON, max_size=3),
              "resource": st.fixed_dictionaries({"type": st.just("order"), "id": TEXT}),
              "key": TEXT, "source": TEXT})
EVENT = VALID_EVENT | st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["page_viewed", "order_paid", "nope"]) | JSON,
    "occurred_at": st.sampled_from(["2026-11-20T10:00:00Z", "2026-13-40T99:00:00Z"]) | JSON,
    "identities": JSON, "properties": JSON, "resource": JSON, "key": JSON, "source": JSON})
EVENTS_BODY = st.fixed_dictionaries({"events": st.lists(EVENT, max_size=4)},
                                    optional={"contacts": JSON, "type": JSON, "data": JSON})
BODIES = (st.binary(max_size=2000)
          | JSON.map(lambda v: json.dumps(v).encode())
          | _wrong_shapes().map(lambda v: json.dumps(v).encode())
          | EVENTS_BODY.map(lambda v: json.dumps(v).encode())
          | st.sampled_from([b"", b"null", b"[]", b"{", b"\xff\xfe", b'{"a": NaN}',
                             b'"\\u0000"', b'{"events": [{"name": "\\ud800"}]}',
                             b"webhook_id=1", b"webhook_id=99999999999999999999"]))
PATHS = {"shopify": "/webhooks/shopify", "woocommerce": "/webhooks/woocommerce/woo",
         "custom": "/webhooks/custom/own"}


def _inbox_count(hostile: Hostile, *statuses: str) -> int:
    with hostile.db.read() as conn:
        query = select(func.count()).select_from(t.inbox)
        if statuses:
            query = query.where(t.inbox.c.status.in_(statuses))
        return int(conn.execute(query).scalar_one())


def _signed(platform: str, body: bytes, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The platform's signature over `body`, with the fuzzed headers after it (a duplicated
    signature header is read as the last one, so those are left out)."""
    kept = [(k, v) for k, v in extra if k.lower() not in SIGNATURE_NAMES[:5]]
    if platform == "shopify":
        return [*shopify_headers(body).items(), *kept]
    if platform == "woocommerce":
        return [("X-WC-Webhook-Signature", wc_sign(WC_SECRET, body)),
                ("X-WC-Webhook-Topic", "order.updated"), *kept]
    msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    return [("webhook-id", msg_id), ("webhook-timestamp", str(stamp)),
            ("webhook-signature", sw_sign(CUSTOM_SECRET, msg_id, stamp, body)), *kept]


SHOPIFY_TOPICS = st.sampled_from(["orders/create", "orders/paid", "checkouts/update",
                                  "customers/redact", "customers/data_request", "shop/update",
                                  "app/uninstalled", "refunds/create", "fulfillments/create",
                                  "carts/update", "nonsense"])
WC_TOPICS = st.sampled_from(["order.created", "order.updated", "order.deleted",
                             "customer.created", "product.updated", "action.woocommerce_x",
                             "nonsense"])


@st.composite
def signed_deliveries(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], bytes]:
    platform = draw(st.sampled_from(sorted(PATHS)))
    # Half of a custom shop's deliveries are event batches: the shape its worker path reads.
    custom_events = platform == "custom" and draw(st.booleans())
    body = draw(EVENTS_BODY.map(lambda v: json.dumps(v).encode()) if custom_events else BODIES)
    headers = _signed(platform, body, draw(HEADERS))
    if platform == "shopify":  # a topic and a shop the receiver reads, else the fuzzed ones
        topic, shop = draw(SHOPIFY_TOPICS), draw(st.sampled_from([SHOP, "unknown.myshopify.com"]))
        headers = [(k, topic if k == "X-Shopify-Topic" else shop if k == "X-Shopify-Shop-Domain"
                    else v) for k, v in headers
                   if k.lower() not in ("x-shopify-topic", "x-shopify-shop-domain")
                   or k in ("X-Shopify-Topic", "X-Shopify-Shop-Domain")]
    elif platform == "woocommerce":
        topic = draw(WC_TOPICS)
        headers = [(k, topic if k == "X-WC-Webhook-Topic" else v) for k, v in headers
                   if k.lower() != "x-wc-webhook-topic" or k == "X-WC-Webhook-Topic"]
    return platform, headers, body


MUTATIONS = st.lists(st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(SIGNATURE_NAMES[:5]), st.just("")),
    st.tuples(st.just("replace"), st.sampled_from(SIGNATURE_NAMES[:5]), HEADER_TEXT | HUGE),
    st.tuples(st.just("append"), HEADER_NAMES, HEADER_TEXT | HUGE
              | st.sampled_from(["²", "١٢٣", "v1,", "-1", "99999999999999999999", "v1a,AAAA"])),
    st.tuples(st.just("replace"), st.just("webhook-timestamp"),
              st.sampled_from(["²", "١٢٣", " 1", "+1", "1_000", "99999999999999999999"])),
    st.tuples(st.just("truncate"), st.sampled_from(SIGNATURE_NAMES[:5]), st.just("")),
    st.tuples(st.just("body"), st.just(""), st.just(""))), min_size=1, max_size=4)


def _mutate(headers: list[tuple[str, str]], body: bytes,
            mutations: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str]], bytes]:
    """A signed delivery after an attacker's edits: headers dropped, replaced, added again
    (a second value under the same name), cut short, or the body changed under its signature."""
    for kind, name, value in mutations:
        if kind == "drop":
            headers = [(k, v) for k, v in headers if k.lower() != name]
        elif kind == "replace":
            headers = [(k, value if k.lower() == name else v) for k, v in headers]
        elif kind == "truncate":
            headers = [(k, v[:len(v) // 2] if k.lower() == name else v) for k, v in headers]
        elif kind == "append":
            headers = [*headers, (name, value)]
        else:
            body += b" "
    return headers, body


def test_unsigned_or_garbled_deliveries_are_refused_and_store_nothing(
        hostile: Hostile, caplog: pytest.LogCaptureFixture) -> None:
    client = hostile.app.test_client()

    @fuzz_settings()
    @given(target=st.sampled_from([*PATHS.values(), "/webhooks/custom/nope",
                                   "/webhooks/woocommerce", "/webhooks/other/own"]),
           body=BODIES, mutations=MUTATIONS, garbage=HEADERS)
    def check(target: str, body: bytes, mutations: list[tuple[str, str, str]],
              garbage: list[tuple[str, str]]) -> None:
        platform = next((p for p, path in PATHS.items() if path == target), "custom")
        headers, sent = _mutate(_signed(platform, body, garbage), body, mutations)
        before = _inbox_count(hostile, "pending", "done", "failed")
        answer = client.post(target, data=sent, headers=headers)
        # 200: WooCommerce's unsigned creation ping, or an edit the signature does not cover
        # (a header it does not sign): then the delivery must settle like any other.
        assert_handled(answer, 200, 401, 404, 413)
        if answer.status_code != 200:
            assert _inbox_count(hostile, "pending", "done", "failed") == before
        settle(hostile.db)

    check()
    assert_no_error_logged(caplog)


def test_signed_garbage_is_acknowledged_stored_then_fails_cleanly(
        hostile: Hostile, caplog: pytest.LogCaptureFixture) -> None:
    client = hostile.app.test_client()

    @fuzz_settings(1.5)
    @given(delivery=signed_deliveries())
    def check(delivery: tuple[str, list[tuple[str, str]], bytes]) -> None:
        platform, headers, body = delivery
        answer = client.post(PATHS[platform], data=body, headers=headers)
        assert_handled(answer, 200)
        assert answer.get_json()["ok"] is True
        settle(hostile.db)

    check()
    assert _inbox_count(hostile) > 0
    assert_no_error_logged(caplog)


COLLECT_BODIES = (BODIES | st.fixed_dictionaries(
    {"key": st.sampled_from(["own", "walled", "nope", ""]) | JSON,
     "events": st.lists(EVENT, min_size=1, max_size=5) | JSON}).map(
    lambda v: json.dumps(v).encode()))
ORIGINS = st.none() | st.sampled_from([STORE_ORIGIN, "null", "http://[", "https://[::1",
                                       "https://evil.example", "", "//", "http://a:b:c"]) \
    | HEADER_TEXT


def test_collect_answers_every_batch_as_documented(
        hostile: Hostile, caplog: pytest.LogCaptureFixture) -> None:
    client = hostile.app.test_client()

    @fuzz_settings(1.5)
    @given(body=COLLECT_BODIES, headers=HEADERS, origin=ORIGINS)
    def check(body: bytes, headers: list[tuple[str, str]], origin: str | None) -> None:
        sent = [(k, v) for k, v in headers if k.lower() != "origin"]
        if origin is not None:
            sent.append(("Origin", origin))
        answer = client.post("/collect", data=body, headers=sent)
        assert_handled(answer, 202, 400, 403, 404, 413)
        settle(hostile.db)

    check()
    assert_no_error_logged(caplog)
