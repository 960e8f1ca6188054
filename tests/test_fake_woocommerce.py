"""The fake WooCommerce (tests/fake_woocommerce) behaves as the recorded WooCommerce 11.0.1 store
and WooCommerce's code: shapes equal to the recorded bodies, authentication in both modes of
the `woocommerce` library, WordPress' errors and pagination, signed deliveries with the
failure counter, the Store API cart and the wc-auth key flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from woocommerce import API
from woocommerce.oauth import OAuth

from tests.fake_woocommerce import (
    FakeWooCommerce,
    FakeWooStore,
    add_customer,
    add_key,
    add_product,
    failure_count,
    germany_zone,
    place_order,
    replay_envelope,
    running,
    shipping_method,
    shipping_zone,
    stripe_gateway,
    update_order,
    update_product,
    woopayments_gateway,
)
from tests.fake_woocommerce.receiver import Receiver, receiving
from tests.fake_woocommerce.state import FIXTURES, php_json, rebase

SECRET = 's3cr3t-&-"quote"-test'
PUBLIC = "https://parcours.example"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def local(stem: str) -> Any:
    return recorded(f"{stem}__local-wc11.0.1.json")


def lowered(headers: Any) -> list[str]:
    """Header names, lower-cased and sorted (WSGI does not keep their case)."""
    return sorted(name.lower() for name in headers)


def same_keys(actual: Any, expected: Any, path: str = "") -> None:
    """`actual` has exactly `expected`'s keys, recursively (lists: their first items, when
    both have one)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        assert list(actual) == list(expected), path
        for key, value in expected.items():
            same_keys(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        assert isinstance(actual, list), path
        if actual:
            same_keys(actual[0], expected[0], f"{path}[0]")


@pytest.fixture
def fake() -> Iterator[tuple[FakeWooStore, str]]:
    with running() as (store, base, _):
        yield store, base


@pytest.fixture
def hook() -> Iterator[tuple[Receiver, str]]:
    with receiving() as found:
        yield found


def api(store: FakeWooStore, base: str, permissions: str = "read_write") -> API:
    key = add_key(store, permissions=permissions)
    return API(url=base, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret,
               version="wc/v3", timeout=10)


def rfc5849(method: str, url: str, params: dict[str, str], secret: str, digest: Any) -> str:
    """An independent OAuth 1.0a signature (RFC 5849 section 3.4)."""
    def enc(value: str) -> str:
        return quote(value, safe="~")

    normalized = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v))
                                                          for k, v in params.items()))
    text = "&".join([method, enc(url), enc(normalized)])
    return base64.b64encode(hmac.new(f"{secret}&".encode(), text.encode(), digest).digest()
                            ).decode()


# -- shapes ------------------------------------------------------------------------------------

def test_php_json_writes_every_recorded_body_byte_for_byte() -> None:
    names = [p.name for p in FIXTURES.glob("*__local-wc11.0.1.json")
             if "_rest" in p.name or "_payload" in p.name or p.name.startswith("store_api")]
    assert len(names) == 18
    for name in names:
        raw = (FIXTURES / name).read_bytes()
        assert php_json(json.loads(raw)) == raw.rstrip(b"\n"), name


def test_seeded_objects_are_the_recorded_ones(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    wc = api(store, base)
    assert wc.get("products/11").json() == rebase(local("product_rest"), base)
    assert wc.get("customers/2").json() == rebase(local("customer_rest"), base)
    assert wc.get("payment_gateways/bacs").json() == rebase(local("payment_gateway_bacs_rest"),
                                                            base)
    assert FakeWooCommerce(store).app_network is store.app_network


def test_orders_have_the_recorded_shape(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    order = place_order(store, billing={"email": "sam@example.com"}, customer_id=0)
    answer = api(store, base).get(f"orders/{order['id']}")
    assert answer.status_code == 200
    body = answer.json()
    same_keys(body, {**local("order_rest"),
                     "_links": {k: v for k, v in local("order_rest")["_links"].items()
                                if k != "customer"}})  # a guest order has no customer link
    assert body["status"] == "processing" and body["billing"]["email"] == "sam@example.com"
    assert body["billing"]["first_name"] == "Jane" and body["version"] == "11.0.1"
    assert body["date_created_gmt"] == body["date_modified_gmt"] and body["date_paid"]
    assert body["date_completed"] is None and body["number"] == str(order["id"])
    assert body["_links"]["self"][0]["href"] == f"{base}/wp-json/wc/v3/orders/{order['id']}"
    assert api(store, base).get("orders/999999").json()["code"] == \
        "woocommerce_rest_shop_order_invalid_id"


# -- authentication ----------------------------------------------------------------------------

def test_plain_http_takes_oauth_only(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    key = add_key(store)
    url = f"{base}/wp-json/wc/v3/orders"
    for attempt in (requests.get(url, auth=(key.consumer_key, key.consumer_secret)),
                    requests.get(url, params={"consumer_key": key.consumer_key,
                                              "consumer_secret": key.consumer_secret}),
                    requests.get(url)):
        assert attempt.status_code == 401
        assert attempt.json() == {"code": "woocommerce_rest_cannot_view",
                                  "message": "Sorry, you cannot list resources.",
                                  "data": {"status": 401}}
    created = requests.post(f"{base}/wp-json/wc/v3/webhooks", json={})
    assert created.status_code == 400  # WordPress validates the arguments first
    created = requests.post(f"{base}/wp-json/wc/v3/webhooks",
                            json={"topic": "order.created", "delivery_url": "https://x.test"})
    assert (created.status_code, created.json()["code"]) == (401,
                                                             "woocommerce_rest_cannot_create")


def test_the_woocommerce_library_signs_in_oauth_mode(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    for _ in range(3):
        place_order(store)
    wc = api(store, base)
    answer = wc.get("orders", params={"per_page": 2, "order": "asc"})
    assert answer.status_code == 200, answer.text
    assert parse_qs(urlsplit(answer.url).query)["per_page"] == ["2", "2"]  # sent twice
    assert len(answer.json()) == 2 and answer.headers["X-WP-Total"] == "3"
    assert "oauth_signature" in answer.headers["Link"]  # WordPress echoes the query
    written = wc.post("webhooks", {"topic": "order.created",
                                   "delivery_url": "http://127.0.0.1:9/hook"})
    assert written.status_code == 201, written.text


def test_oauth_refusals(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    key = add_key(store)
    url = f"{base}/wp-json/wc/v3/orders"

    def signed(secret: str = key.consumer_secret, timestamp: int | None = None,
               consumer_key: str = key.consumer_key) -> str:
        return str(OAuth(url, consumer_key, secret, version="wc/v3", method="GET",
                         oauth_timestamp=timestamp or int(time.time())).get_oauth_url())

    def refusal(target: str) -> tuple[int, str, str]:
        answer = requests.get(target)
        return answer.status_code, answer.json()["code"], answer.json()["message"]

    good = signed()
    assert requests.get(good).status_code == 200
    assert refusal(good) == (401, "woocommerce_rest_authentication_error",
                             "Invalid nonce - nonce has already been used.")
    assert refusal(signed(secret="cs_wrong")) == (
        401, "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.")
    assert refusal(signed(timestamp=int(time.time()) - 16 * 60))[2] == "Invalid timestamp."
    assert refusal(signed(consumer_key="ck_unknown"))[2] == "Consumer key is invalid."
    assert refusal(f"{url}?oauth_consumer_key={key.consumer_key}") == (
        401, "woocommerce_rest_authentication_missing_parameter",
        "Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, "
        "oauth_signature_method")
    # HMAC-SHA1, signed independently of the fake and of the library
    params = {"oauth_consumer_key": key.consumer_key, "oauth_timestamp": str(int(time.time())),
              "oauth_nonce": "n0nce-sha1", "oauth_signature_method": "HMAC-SHA1",
              "status": "any"}
    params["oauth_signature"] = rfc5849("GET", url, params, key.consumer_secret, hashlib.sha1)
    assert requests.get(url, params=params).status_code == 200


def test_https_takes_basic_auth_and_the_ca_file(monkeypatch: pytest.MonkeyPatch) -> None:
    with running(https=True) as (store, base, ca_file):
        assert base.startswith("https://127.0.0.1:") and ca_file is not None
        key = add_key(store)
        wc = API(url=base, consumer_key=key.consumer_key, consumer_secret=key.consumer_secret,
                 version="wc/v3", verify_ssl=ca_file)
        assert wc.get("products").status_code == 200
        query = API(url=base, consumer_key=key.consumer_key,
                    consumer_secret=key.consumer_secret, version="wc/v3", verify_ssl=ca_file,
                    query_string_auth=True)
        assert query.get("products/11").json()["id"] == 11
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{base}/wp-json/wc/v3/products",
                         auth=(key.consumer_key, key.consumer_secret)).close()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        wrong = requests.get(f"{base}/wp-json/wc/v3/products", auth=(key.consumer_key, "cs_x"))
        assert (wrong.status_code, wrong.json()["message"]) == (401,
                                                                "Consumer secret is invalid.")
        unknown = requests.get(f"{base}/wp-json/wc/v3/products", auth=("ck_x", "cs_x"))
        assert unknown.json()["code"] == "woocommerce_rest_cannot_view"
        assert requests.get(f"{base}/wp-json/wc/v3/products",
                            auth=(key.consumer_key, key.consumer_secret)).status_code == 200


def test_a_read_key_may_not_write(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    wc = api(store, base, permissions="read")
    assert wc.get("webhooks").status_code == 200
    refused = wc.post("webhooks", {"topic": "order.created", "delivery_url": "https://x.test"})
    assert refused.status_code == 401
    assert refused.json()["message"] == "The API key provided does not have write permissions."
    assert store.webhooks == {}


def test_unknown_routes(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    wc = api(store, base)
    for answer in (wc.get("nothing/here"), wc.delete("orders")):
        assert (answer.status_code, answer.json()["code"]) == (404, "rest_no_route")


# -- pagination and arguments ------------------------------------------------------------------

def test_pagination_headers(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    ids = [place_order(store)["id"] for _ in range(12)]
    wc = api(store, base)
    answer = wc.get("orders", params={"per_page": 5, "page": 2, "orderby": "id",
                                      "order": "asc"})
    assert [o["id"] for o in answer.json()] == ids[5:10]
    assert (answer.headers["X-WP-Total"], answer.headers["X-WP-TotalPages"]) == ("12", "3")
    assert answer.links["prev"]["url"].startswith(f"{base}/wp-json/wc/v3/orders?")
    assert parse_qs(urlsplit(answer.links["prev"]["url"]).query)["page"] == ["1"]
    assert parse_qs(urlsplit(answer.links["next"]["url"]).query)["page"] == ["3"]
    last = wc.get("orders", params={"per_page": 5, "page": 3})
    assert "next" not in last.links and len(last.json()) == 2
    assert wc.get("orders").headers["X-WP-TotalPages"] == "2"  # per_page defaults to 10
    empty = wc.get("webhooks")
    assert (empty.json(), empty.headers["X-WP-TotalPages"]) == ([], "0")
    too_many = wc.get("orders", params={"per_page": 101})
    assert too_many.status_code == 400
    message = "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert too_many.json() == {
        "code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
        "data": {"status": 400, "params": {"per_page": message},
                 "details": {"per_page": {"code": "rest_out_of_bounds", "message": message,
                                          "data": None}}}}
    assert wc.get("orders", params={"page": 0}).json()["data"]["params"]["page"] == \
        "page must be greater than or equal to 1"
    assert wc.get("orders", params={"order": "up"}).json()["data"]["params"]["order"] == \
        "order is not one of asc and desc."


def test_orders_modified_after(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    moment = [1795344700.0]
    store.clock = lambda: moment[0]
    first = place_order(store)
    moment[0] += 60
    second = place_order(store)
    moment[0] += 60
    update_order(store, first["id"], status="completed")
    wc = api(store, base)
    after = first["date_created_gmt"]
    changed = wc.get("orders", params={"modified_after": after, "dates_are_gmt": "true",
                                       "orderby": "modified", "order": "asc"}).json()
    assert [(o["id"], o["status"]) for o in changed] == [(second["id"], "processing"),
                                                         (first["id"], "completed")]
    zulu = wc.get("orders", params={"modified_after": second["date_modified_gmt"] + "Z"})
    assert [o["id"] for o in zulu.json()] == [first["id"]]
    assert wc.get("orders", params={"modified_after": "yesterday"}).json()["data"]["details"][
        "modified_after"]["code"] == "rest_invalid_date"
    assert wc.get("orders", params={"status": "completed"}).json()[0]["date_completed"]


# -- webhooks over REST ------------------------------------------------------------------------

def test_webhook_create_read_update_delete(fake: tuple[FakeWooStore, str],
                                           hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    wc = api(store, base)
    created = wc.post("webhooks", {"name": "orders", "topic": "order.created", "status": "paused",
                                   "delivery_url": f"{origin}/hook", "secret": SECRET})
    assert created.status_code == 201
    body = created.json()
    same_keys(body, local("webhook_rest"))
    assert body["status"] == "active" and "secret" not in body
    assert body["hooks"] == ["woocommerce_new_order"]
    assert created.headers["Location"] == f"{base}/wp-json/wc/v3/webhooks/{body['id']}"
    ping_received = receiver.of("/hook")[0]
    assert ping_received["body"] == f"webhook_id={body['id']}".encode()
    assert ping_received["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert ping_received["headers"]["User-Agent"] == "WooCommerce/11.0.1 Hookshot (WordPress/7.1)"
    assert not [h for h in ping_received["headers"] if h.lower().startswith("x-wc")]
    assert store.webhook_meta[body["id"]].pending_delivery is False
    webhook_id = body["id"]
    assert wc.get(f"webhooks/{webhook_id}").json()["name"] == "orders"
    assert wc.put(f"webhooks/{webhook_id}", {"status": "paused"}).json()["status"] == "paused"
    assert wc.get("webhooks", params={"status": "active"}).json() == []
    bad = wc.put(f"webhooks/{webhook_id}", {"status": "sleeping"})
    assert bad.json()["data"]["params"]["status"] == \
        "status is not one of active, paused, and disabled."
    assert wc.delete(f"webhooks/{webhook_id}").status_code == 501
    assert wc.delete(f"webhooks/{webhook_id}", params={"force": "true"}).json()["id"] == webhook_id
    gone = wc.get(f"webhooks/{webhook_id}")
    assert (gone.status_code, gone.json()["code"]) == (404,
                                                       "woocommerce_rest_shop_webhook_invalid_id")
    assert wc.put(f"webhooks/{webhook_id}", {"name": "x"}).status_code == 400
    assert wc.delete(f"webhooks/{webhook_id}", params={"force": "true"}).status_code == 404


def test_webhook_create_validates(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    wc = api(store, base)
    missing = wc.post("webhooks", {"name": "x"}).json()
    assert (missing["code"], missing["message"]) == ("rest_missing_callback_param",
                                                     "Missing parameter(s): topic, delivery_url")
    topic = wc.post("webhooks", {"topic": "order.paid", "delivery_url": "https://x.test/h"})
    assert topic.json()["code"] == "woocommerce_rest_shop_webhook_invalid_topic"
    url = wc.post("webhooks", {"topic": "order.created", "delivery_url": "ftp://x.test/h"})
    assert url.json()["code"] == "woocommerce_rest_shop_webhook_invalid_delivery_url"
    action = wc.post("webhooks", {"topic": "action.woocommerce_order_status_completed",
                                  "delivery_url": "http://127.0.0.1:9/h"}).json()
    assert (action["resource"], action["event"], action["hooks"]) == (
        "action", "woocommerce_order_status_completed", ["woocommerce_order_status_completed"])
    assert wc.post("webhooks", {"topic": "action.login",
                                "delivery_url": "http://127.0.0.1:9/h"}).status_code == 400


# -- deliveries --------------------------------------------------------------------------------

def subscribe(store: FakeWooStore, base: str, origin: str, *topics: str) -> dict[str, int]:
    wc = api(store, base)
    ids = {}
    for topic in topics:
        answer = wc.post("webhooks", {"topic": topic, "delivery_url": f"{origin}/{topic}",
                                      "secret": SECRET})
        ids[topic] = answer.json()["id"]
    return ids


def test_deliveries_are_signed_like_the_recorded_ones(fake: tuple[FakeWooStore, str],
                                                      hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    ids = subscribe(store, base, origin, "order.created", "order.updated",
                    "action.woocommerce_order_status_completed", "customer.created",
                    "product.created", "product.updated")
    receiver.received.clear()
    order = place_order(store, status="completed")
    created, updated = receiver.of("/order.created"), receiver.of("/order.updated")
    assert len(created) == len(updated) == 1 and created[0]["body"] == updated[0]["body"]
    envelope = local("webhook_order_created_delivery_envelope")
    assert lowered(created[0]["headers"]) == lowered(envelope["headers"])
    headers = created[0]["headers"]
    assert headers["X-WC-Webhook-Source"] == base + "/"
    assert headers["X-WC-Webhook-ID"] == str(ids["order.created"])
    assert len(headers["X-WC-Webhook-Delivery-ID"]) == 32
    expected = base64.b64encode(hmac.new(SECRET.encode(), created[0]["body"],
                                         hashlib.sha256).digest()).decode()
    assert headers["X-WC-Webhook-Signature"] == expected
    assert created[0]["body"] == php_json(store.orders[order["id"]])
    same_keys(json.loads(created[0]["body"]), local("webhook_order_created_payload"))
    action = receiver.of("/action.woocommerce_order_status_completed")
    assert json.loads(action[0]["body"]) == {"action": "woocommerce_order_status_completed",
                                            "arg": order["id"]}
    assert lowered(action[0]["headers"]) == lowered(
        local("webhook_action_woocommerce_order_status_completed_delivery_envelope")["headers"])
    customer = add_customer(store, email="new@example.com")
    arrived = receiver.of("/customer.created")
    assert len(arrived) == 1  # three hooks, one argument: one delivery
    same_keys(json.loads(arrived[0]["body"]), local("webhook_customer_created_payload"))
    assert json.loads(arrived[0]["body"])["id"] == customer["id"]
    product = add_product(store, name="Tote", price="9.00")
    update_product(store, product["id"], price="11.00")
    assert json.loads(receiver.of("/product.created")[0]["body"])["id"] == product["id"]
    assert json.loads(receiver.of("/product.updated")[0]["body"])["price"] == "11.00"
    assert [d["status"] for d in store.deliveries] == [200] * len(store.deliveries)


def test_failure_counter_disables_at_the_seventh_failure(fake: tuple[FakeWooStore, str],
                                                         hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    webhook_id = subscribe(store, base, origin, "order.created")["order.created"]
    receiver.status = 500
    for count in range(1, 7):
        place_order(store)
        assert failure_count(store, webhook_id) == count
        assert store.webhooks[webhook_id]["status"] == "active"
    place_order(store)  # the 7th consecutive failure
    assert store.webhooks[webhook_id]["status"] == "disabled"
    assert failure_count(store, webhook_id) == 6
    sent = len(store.deliveries)
    place_order(store)
    assert len(store.deliveries) == sent  # a disabled webhook is not delivered
    wc = api(store, base)
    assert wc.put(f"webhooks/{webhook_id}", {"status": "active"}).json()["status"] == "active"
    assert failure_count(store, webhook_id) == 6  # re-activating does not reset the count
    place_order(store)
    assert store.webhooks[webhook_id]["status"] == "disabled"  # one more failure is enough
    wc.put(f"webhooks/{webhook_id}", {"status": "active"})
    receiver.status = 302  # 2xx, 301 and 302 count as successes
    place_order(store)
    assert failure_count(store, webhook_id) == 0
    receiver.status = 200
    store.drop_next = 1
    place_order(store)
    assert store.deliveries[-1]["status"] == "dropped" and failure_count(store, webhook_id) == 1
    place_order(store)
    assert failure_count(store, webhook_id) == 0


def test_draft_orders_are_not_delivered(fake: tuple[FakeWooStore, str],
                                        hook: tuple[Receiver, str]) -> None:
    store, base = fake
    _, origin = hook
    subscribe(store, base, origin, "order.created", "order.updated")
    draft = place_order(store, status="checkout-draft")
    assert store.deliveries == []
    update_order(store, draft["id"], status="processing")
    assert [d["topic"] for d in store.deliveries] == ["order.updated"]


def test_paused_webhooks_do_not_deliver(fake: tuple[FakeWooStore, str],
                                        hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    webhook_id = subscribe(store, base, origin, "order.created")["order.created"]
    api(store, base).put(f"webhooks/{webhook_id}", {"status": "paused"})
    receiver.received.clear()
    place_order(store)
    assert store.deliveries == [] and receiver.of("/order.created") == []


def test_app_network_maps_the_public_origin(fake: tuple[FakeWooStore, str],
                                            hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    store.app_network[PUBLIC] = origin
    api(store, base).post("webhooks", {"topic": "order.created",
                                       "delivery_url": f"{PUBLIC}/woocommerce/webhooks"})
    place_order(store)
    assert len(receiver.of("/woocommerce/webhooks")) == 2  # the ping, then the delivery
    assert store.deliveries[0]["delivery_url"] == f"{PUBLIC}/woocommerce/webhooks"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob(
    "webhook_*_delivery_envelope__local-wc11.0.1.json")))
def test_replay_envelope_byte_for_byte(hook: tuple[Receiver, str], name: str) -> None:
    receiver, origin = hook
    answer = replay_envelope(f"{origin}/replayed", FIXTURES / name)
    assert answer.status_code == 200
    envelope = recorded(name)
    got = receiver.of("/replayed")[0]
    assert got["body"] == envelope["body"].encode()
    for header, value in envelope["headers"].items():
        if header.lower() != "host":
            assert got["headers"][header] == value, header
    if "X-WC-Webhook-Signature" in envelope["headers"]:
        assert got["headers"]["X-WC-Webhook-Signature"] == base64.b64encode(hmac.new(
            SECRET.encode(), got["body"], hashlib.sha256).digest()).decode()


# -- settings and payment gateways -------------------------------------------------------------

def test_settings(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    wc = api(store, base)
    guest = wc.get("settings/account/woocommerce_enable_guest_checkout").json()
    assert guest == rebase(local("setting_option_guest_checkout_rest"), base)
    listed = wc.get("settings/account").json()
    assert [s["id"] for s in listed] == ["woocommerce_enable_guest_checkout",
                                         "woocommerce_enable_checkout_login_reminder"]
    assert all("group_id" not in s for s in listed)
    requires = wc.get("settings/shipping/woocommerce_shipping_cost_requires_address").json()
    same_keys(requires, local("setting_option_shipping_cost_requires_address_rest"))
    assert requires["value"] == "no"
    assert wc.put("settings/account/woocommerce_enable_guest_checkout",
                  {"value": "no"}).json()["value"] == "no"
    assert store.settings["account"]["woocommerce_enable_guest_checkout"]["value"] == "no"
    invalid = wc.put("settings/account/woocommerce_enable_guest_checkout", {"value": "maybe"})
    assert (invalid.status_code, invalid.json()) == (400, {
        "code": "rest_setting_value_invalid", "message": "An invalid setting value was passed.",
        "data": {"status": 400}})
    assert wc.put("settings/account/woocommerce_enable_guest_checkout",
                  {"value": ""}).json()["value"] == "yes"  # empty: the default
    assert wc.get("settings/nope").json()["code"] == "rest_setting_setting_group_invalid"
    assert wc.get("settings/account/nope").json()["code"] == "rest_setting_setting_invalid"
    review = wc.get("settings/email_customer_review_request").json()
    assert [(s["id"], s["type"], s["value"]) for s in review] == [
        ("enabled", "checkbox", "no"), ("delay", "number", "7")]


def test_the_review_request_email_needs_10_8() -> None:
    with running(version="10.7.2") as (store, base, _):
        wc = api(store, base)
        answer = wc.get("settings/email_customer_review_request")
        assert (answer.status_code, answer.json()["code"]) == (
            404, "rest_setting_setting_group_invalid")
        assert wc.get("system_status").json()["environment"]["version"] == "10.7.2"
    with running(version="10.8.0") as (store, base, _):
        assert api(store, base).get("settings/email_customer_review_request").status_code == 200


def test_payment_gateways(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    store.payment_gateways["stripe"] = stripe_gateway(store)
    store.payment_gateways["woocommerce_payments"] = woopayments_gateway(store,
                                                                         payment_request="yes")
    wc = api(store, base)
    listed = wc.get("payment_gateways").json()
    assert [g["id"] for g in listed] == ["bacs", "stripe", "woocommerce_payments"]
    for gateway in listed:
        same_keys({k: v for k, v in gateway.items() if k != "settings"},
                  {k: v for k, v in local("payment_gateway_bacs_rest").items()
                   if k != "settings"})
    stripe = wc.get("payment_gateways/stripe").json()["settings"]
    assert stripe["express_checkout"]["value"] == "no"
    assert stripe["express_checkout_button_locations"]["value"] == ["checkout"]
    changed = wc.put("payment_gateways/stripe", {"settings": {"express_checkout": "yes"}})
    assert changed.json()["settings"]["express_checkout"]["value"] == "yes"
    assert wc.get("payment_gateways/stripe").json()["settings"]["express_checkout"]["value"] \
        == "yes"
    assert wc.put("payment_gateways/stripe", {"settings": {"express_checkout": "on"}}
                  ).json()["code"] == "rest_setting_value_invalid"
    woo = wc.get("payment_gateways/woocommerce_payments").json()["settings"]
    assert woo["payment_request"]["value"] == "yes"
    assert woo["payment_request_button_locations"]["value"] == ["checkout"]
    missing = wc.get("payment_gateways/paypal")
    assert (missing.status_code, missing.json()["code"]) == (
        404, "woocommerce_rest_payment_gateway_invalid")


def test_shipping_zones_are_the_recorded_ones(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    germany_zone(store)
    wc = api(store, base)
    listed = wc.get("shipping/zones").json()
    assert [(z["id"], z["name"]) for z in listed] == [(0, "Rest of the World"), (2, "Germany")]
    assert wc.get("shipping/zones/2").json() == rebase(local("shipping_zone_rest"), base)
    assert wc.get("shipping/zones/2/locations").json() == rebase(
        local("shipping_zone_locations_rest"), base)
    assert wc.get("shipping/zones/2/methods").json() == [rebase(
        local("shipping_zone_method_rest"), base)]
    assert wc.get("shipping/zones/0/methods").json() == []
    assert wc.get("shipping/zones/7").json()["code"] == "woocommerce_rest_shipping_zone_invalid"


# -- reviews -----------------------------------------------------------------------------------

def test_reviews_are_verified_from_orders(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    place_order(store, status="completed")  # billed to jane.e2e@example.com, product 11
    wc = api(store, base)
    review = {"product_id": 11, "review": "Great mug, arrived fast.", "reviewer": "Jane Doe",
              "reviewer_email": "jane.e2e@example.com", "rating": 5}
    created = wc.post("products/reviews", review)
    assert created.status_code == 201
    body = created.json()
    assert body["verified"] is True and body["review"] == "Great mug, arrived fast."
    shown = wc.get(f"products/reviews/{body['id']}").json()
    expected = rebase(local("product_review_rest"), base)
    same_keys(shown, expected)
    assert {k: shown[k] for k in ("product_id", "product_name", "product_permalink", "status",
                                  "reviewer", "reviewer_email", "review", "rating", "verified",
                                  "reviewer_avatar_urls")} == \
        {k: expected[k] for k in ("product_id", "product_name", "product_permalink", "status",
                                  "reviewer", "reviewer_email", "review", "rating", "verified",
                                  "reviewer_avatar_urls")}
    assert wc.post("products/reviews", review).status_code == 409  # a duplicate
    stranger = wc.post("products/reviews", {**review, "reviewer_email": "who@example.com",
                                            "review": "Nice.", "rating": 9}).json()
    assert stranger["verified"] is False and stranger["rating"] == 9  # no range check in WC
    unknown = wc.post("products/reviews", {**review, "product_id": 999})
    assert (unknown.status_code, unknown.json()["code"]) == (
        404, "woocommerce_rest_product_invalid_id")
    assert wc.post("products/reviews", {"product_id": 11, "review": "x"}).json()["code"] == \
        "rest_missing_callback_param"
    assert wc.post("products/reviews", {**review, "reviewer_email": "nope"}).json()[
        "data"]["details"]["reviewer_email"]["code"] == "rest_invalid_email"
    listed = wc.get("products/reviews", params={"product": "11"})
    assert listed.headers["X-WP-Total"] == "2"


# -- Store API ---------------------------------------------------------------------------------

def test_store_api_cart_and_the_invalid_state_trap(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    germany_zone(store)
    url = f"{base}/wp-json/wc/store/v1"
    first = requests.get(f"{url}/cart")
    token = first.headers["Cart-Token"]
    assert first.status_code == 200 and first.json()["items"] == []
    assert {"Nonce", "Nonce-Timestamp", "User-ID"} <= set(first.headers)
    no_nonce = requests.post(f"{url}/cart/add-item", json={"id": 11, "quantity": 1})
    assert (no_nonce.status_code, no_nonce.json()["code"]) == (401,
                                                               "woocommerce_rest_missing_nonce")
    bad_nonce = requests.post(f"{url}/cart/add-item", json={"id": 11}, headers={"Nonce": "x"})
    assert bad_nonce.status_code == 403
    added = requests.post(f"{url}/cart/add-item", json={"id": 11, "quantity": 1},
                          headers={"Cart-Token": token})
    assert added.status_code == 201 and added.json()["items_count"] == 1
    invalid = requests.post(f"{url}/cart/add-item", json={"id": 5},
                            headers={"Cart-Token": token})
    assert invalid.json()["code"] == "woocommerce_rest_cart_invalid_product"
    berlin = {"country": "DE", "postcode": "10115", "city": "Berlin"}
    trapped = requests.post(f"{url}/cart/update-customer", json={"shipping_address": berlin},
                            headers={"Cart-Token": token})
    states = ("DE-BW, DE-BY, DE-BE, DE-BB, DE-HB, DE-HH, DE-HE, DE-MV, DE-NI, DE-NW, DE-RP, "
              "DE-SL, DE-SN, DE-ST, DE-SH, DE-TH")
    message = f"The provided state (CA) is not valid. Must be one of: {states}"
    assert trapped.status_code == 400
    assert trapped.json() == {
        "code": "rest_invalid_param", "message": "Invalid parameter(s): shipping_address",
        "data": {"status": 400, "params": {"shipping_address": message},
                 "details": {"shipping_address": {"code": "invalid_state", "message": message,
                                                  "data": None}}}}
    updated = requests.post(f"{url}/cart/update-customer",
                            json={"shipping_address": {**berlin, "state": ""}},
                            headers={"Cart-Token": token})
    assert updated.status_code == 200
    assert updated.json() == rebase(local("store_api_cart_after_update_customer"), base)
    documented = recorded("store_api_cart__wc-blocks-storeapi-docs.json")
    assert list(updated.json()) == list(documented)
    assert set(documented["items"][0]) <= set(updated.json()["items"][0])
    again = requests.get(f"{url}/cart", headers={"Cart-Token": updated.headers["Cart-Token"]})
    assert again.json()["shipping_rates"][0]["shipping_rates"][0]["rate_id"] == "flat_rate:2"


def test_store_api_hides_rates_until_an_address(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    germany_zone(store)
    store.settings["shipping"]["woocommerce_shipping_cost_requires_address"]["value"] = "yes"
    url = f"{base}/wp-json/wc/store/v1"
    token = requests.get(f"{url}/cart").headers["Cart-Token"]
    cart = requests.post(f"{url}/cart/add-item", json={"id": 11, "quantity": 2},
                         headers={"Cart-Token": token}).json()
    assert cart["has_calculated_shipping"] is False and cart["shipping_rates"] == []
    assert cart["totals"]["total_shipping"] is None and cart["totals"]["total_price"] == "5400"
    cart = requests.post(f"{url}/cart/update-customer", headers={"Cart-Token": token},
                         json={"shipping_address": {"country": "DE", "state": "Berlin",
                                                    "city": "Berlin", "postcode": "10115"}}
                         ).json()
    assert cart["shipping_address"]["state"] == "DE-BE"  # a state's name becomes its code
    assert cart["totals"]["total_shipping"] == "490" and cart["totals"]["total_price"] == "5890"


def test_store_api_rates_from_zones(fake: tuple[FakeWooStore, str]) -> None:
    store, base = fake
    shipping_zone(store, "Paris", [("FR", "country"), ("75*", "postcode")],
                  [shipping_method("flat_rate", cost="2 * [qty]"),
                   shipping_method("free_shipping", min_amount="50", order=2)])
    url = f"{base}/wp-json/wc/store/v1"
    token = requests.get(f"{url}/cart").headers["Cart-Token"]
    requests.post(f"{url}/cart/add-item", json={"id": 11, "quantity": 2},
                  headers={"Cart-Token": token})

    def rates(postcode: str) -> list[tuple[str, str]]:
        cart = requests.post(f"{url}/cart/update-customer", headers={"Cart-Token": token},
                             json={"shipping_address": {"country": "FR", "postcode": postcode,
                                                        "city": "X", "state": ""}}).json()
        return [(r["method_id"], r["price"]) for r in cart["shipping_rates"][0]["shipping_rates"]]

    assert rates("75001") == [("flat_rate", "400"), ("free_shipping", "0")]
    assert rates("69001") == []  # zone 0 has no method


# -- wc-auth -----------------------------------------------------------------------------------

def authorize(base: str, **params: str) -> requests.Response:
    query = {"app_name": "Parcours", "scope": "read_write", "user_id": "conn-42",
             "return_url": f"{PUBLIC}/woocommerce/return",
             "callback_url": f"{PUBLIC}/woocommerce/callback", **params}
    return requests.get(f"{base}/wc-auth/v1/authorize", params=query, allow_redirects=False)


def test_wc_auth_key_flow(fake: tuple[FakeWooStore, str], hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    store.app_network[PUBLIC] = origin
    answer = authorize(base)
    assert answer.status_code == 302
    assert answer.headers["Location"] == \
        f"{PUBLIC}/woocommerce/return?success=1&user_id=conn-42"
    posted = receiver.of("/woocommerce/callback")[0]
    assert posted["headers"]["Content-Type"] == "application/json;charset=UTF-8"
    consumer = json.loads(posted["body"])
    assert list(consumer) == ["key_id", "user_id", "consumer_key", "consumer_secret",
                              "key_permissions"]
    assert consumer["user_id"] == "conn-42" and isinstance(consumer["key_id"], int)
    assert consumer["key_permissions"] == "read_write"
    assert consumer["consumer_key"].startswith("ck_") and len(consumer["consumer_key"]) == 43
    key = store.keys[consumer["consumer_key"]]
    assert key.user_id == store.admin_user_id and key.description.startswith("Parcours - API (")
    wc = API(url=base, consumer_key=consumer["consumer_key"],
             consumer_secret=consumer["consumer_secret"], version="wc/v3")
    assert wc.get("system_status").json()["environment"]["version"] == "11.0.1"


def test_wc_auth_refusals(fake: tuple[FakeWooStore, str], hook: tuple[Receiver, str]) -> None:
    store, base = fake
    receiver, origin = hook
    store.app_network[PUBLIC] = origin
    receiver.status = 201  # anything but exactly 200 fails
    failed = authorize(base)
    assert failed.status_code == 401 and "Access denied" in failed.text
    assert "Error: An error occurred in the request and at the time were unable to send the " \
           "consumer data." in failed.text
    assert store.keys == {}  # the key was deleted again
    insecure = authorize(base, callback_url=f"{origin}/woocommerce/callback")
    assert insecure.status_code == 401
    assert "Error: The callback_url needs to be over SSL." in insecure.text
    assert "Error: Missing parameter scope." in authorize(base, scope="").text
    assert "Error: Invalid scope admin." in authorize(base, scope="admin").text
    denied = authorize(base, approve="0")
    assert denied.headers["Location"] == f"{PUBLIC}/woocommerce/return?success=0&user_id=conn-42"
    store.auto_approve = False
    assert "success=0" in authorize(base).headers["Location"]
    assert store.keys == {}


def test_fixture_readme_names_every_file() -> None:
    readme = (FIXTURES / "README.md").read_text()
    for path in FIXTURES.glob("*.json"):
        assert f"`{path.name}`" in readme, path.name
    assert Path(FIXTURES / "README.md").exists()
