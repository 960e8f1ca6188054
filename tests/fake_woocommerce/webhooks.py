"""Webhook deliveries as WooCommerce 11 makes them (includes/class-wc-webhook.php).

- A webhook listens to the hooks of its topic (WC_Webhook::get_default_topic_hooks, e.g.
  order.created <- woocommerce_new_order; customer.created <- user_register,
  woocommerce_created_customer, woocommerce_new_customer); an `action.<hook>` topic listens to
  `<hook>` itself and sends `{"action": "<hook>", "arg": <first hook argument>}`. `fire()` plays
  a request in which hooks ran: each active webhook is queued once per argument (the
  `processed` list), and the queue is delivered at the end (wc_webhook_execute_queue at
  shutdown), so every body is built when its delivery runs: order.created can show the status
  an order reached later in the same request. Orders in a draft status and auto-draft
  products are not delivered (is_valid_resource).
- A delivery is a POST of the resource as GET /wc/v3/<resource>s/<id> shows it, encoded by
  wp_json_encode, with `User-Agent: WooCommerce/<version> Hookshot (WordPress/<version>)`,
  `X-WC-Webhook-Source` (home_url('/')), `-Topic`, `-Resource`, `-Event`, `-Signature`
  (base64 HMAC-SHA256 of the raw body with the secret), `-ID` and `-Delivery-ID`
  (wp_hash(id . time()): the same for two deliveries of one webhook in the same second).
- Outcome (WC_Webhook::log_delivery): an answer from 200 to 302 resets the failure count to 0;
  anything else, or no answer, is a failure: `failed_delivery()` disables the webhook when the
  count is already above 5, else adds one. So the 7th consecutive failure disables it (the
  count stays at 6). Every outcome saves the webhook (date_modified moves). No retries.
  Re-activating a disabled webhook does not reset its count (nothing in WooCommerce does).
- The ping sent on creation (WC_Webhook::deliver_ping): form-encoded `webhook_id=<id>`, no
  X-WC-* headers; only a 200 clears `pending_delivery`; its failure is not counted.

Differences: deliveries are synchronous (WooCommerce runs them from Action Scheduler), with a
5-second timeout (WooCommerce: 60 s), and `store.drop_next` fails the next attempts without
sending them. The app's public origin is mapped to its local one through `store.app_network`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from tests.fake_woocommerce.state import FakeWooStore, php_json, wc_date

TIMEOUT = 5.0
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures
TOPIC_HOOKS: dict[str, list[str]] = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer",
                         "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    # 11.2 added woocommerce_delete_order_refund; 11.0.1 has these two.
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
INVALID_TOPICS = ("action.woocommerce_login_credentials",
                  "action.woocommerce_product_csv_importer_check_import_file_path",
                  "action.woocommerce_webhook_should_deliver")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")


def valid_topic(topic: str) -> bool:
    """wc_is_webhook_valid_topic()."""
    if topic in INVALID_TOPICS:
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    parts = topic.split(".")
    return len(parts) >= 2 and parts[0] in RESOURCES and parts[1] in EVENTS


def hooks_of(topic: str) -> list[str]:
    """WC_Webhook::get_hooks()."""
    resource, _, event = topic.partition(".")
    return [event] if resource == "action" else list(TOPIC_HOOKS.get(topic, []))


def local_url(store: FakeWooStore, url: str) -> str:
    """`url` as reachable from here: its public origin swapped for the local one."""
    for public, local in store.app_network.items():
        base = public.rstrip("/")
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return local.rstrip("/") + url[len(base):]
    return url


def user_agent(store: FakeWooStore) -> str:
    return f"WooCommerce/{store.version} Hookshot (WordPress/{store.wp_version})"


def signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64(HMAC-SHA256(raw body, secret))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def failure_count(store: FakeWooStore, webhook_id: int) -> int:
    return store.webhook_meta[webhook_id].failure_count


def touch(store: FakeWooStore, webhook_id: int) -> None:
    """WC_Webhook::save(): the data store writes date_modified on every save."""
    webhook = store.webhooks.get(webhook_id)
    if webhook is not None:
        now = wc_date(store.now())
        webhook["date_modified"] = webhook["date_modified_gmt"] = now


# -- payloads ----------------------------------------------------------------------------------

def payload(store: FakeWooStore, topic: str, arg: Any) -> Any:
    """WC_Webhook::build_payload() for API version 3."""
    resource, _, event = topic.partition(".")
    if resource == "action":
        return {"action": event, "arg": arg}
    if event == "deleted":
        return {"id": arg}
    table = {"order": store.orders, "product": store.products, "customer": store.customers}
    found = table.get(resource, {}).get(int(arg))
    if found is None:  # what get_endpoint_data() returns for a missing resource
        return {"code": f"woocommerce_rest_{resource}_invalid_id", "message": "Invalid ID.",
                "data": {"status": 404}}
    return found


# -- delivery ----------------------------------------------------------------------------------

def deliver(store: FakeWooStore, webhook_id: int, arg: Any) -> dict[str, Any]:
    """WC_Webhook::deliver(): one attempt, logged in `store.deliveries`; returns the entry."""
    with store.lock:
        webhook = dict(store.webhooks[webhook_id])
        meta = store.webhook_meta[webhook_id]
        body = php_json(payload(store, webhook["topic"], arg))
        now = store.now()
        delivery_id = hmac.new(store.salt.encode(), f"{webhook_id}{int(now)}".encode(),
                               hashlib.md5).hexdigest()
        headers = {
            "User-Agent": user_agent(store), "Accept": "*/*",
            "Accept-Encoding": "deflate, gzip, br, zstd", "Content-Type": "application/json",
            "X-WC-Webhook-Source": store.home, "X-WC-Webhook-Topic": webhook["topic"],
            "X-WC-Webhook-Resource": webhook["resource"],
            "X-WC-Webhook-Event": webhook["event"],
            "X-WC-Webhook-Signature": signature(meta.secret, body),
            "X-WC-Webhook-ID": str(webhook_id), "X-WC-Webhook-Delivery-ID": delivery_id,
            "Connection": "close"}
        dropped = store.drop_next > 0
        if dropped:
            store.drop_next -= 1
    entry: dict[str, Any] = {"webhook_id": webhook_id, "topic": webhook["topic"], "arg": arg,
                             "delivery_url": webhook["delivery_url"], "body": body,
                             "headers": headers, "delivery_id": delivery_id, "at": now}
    code = 0
    if dropped:
        entry["status"] = "dropped"
    else:
        try:
            answer = requests.post(local_url(store, webhook["delivery_url"]), data=body,
                                   headers=headers, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            entry["status"] = "error"
            entry["error"] = str(exc)
        else:
            code = answer.status_code
            entry["status"] = code
            entry["answer"] = answer.text[:2000]
    with store.lock:
        store.deliveries.append(entry)
        if webhook_id in store.webhook_meta:
            meta = store.webhook_meta[webhook_id]
            if 200 <= code < 303:
                meta.failure_count = 0
            elif meta.failure_count > MAX_FAILURES:
                store.webhooks[webhook_id]["status"] = "disabled"
            else:
                meta.failure_count += 1
            touch(store, webhook_id)
    return entry


def valid_resource(store: FakeWooStore, resource: str, arg: Any) -> bool:
    """WC_Webhook::is_valid_resource(): no deliveries for draft orders or auto-draft products."""
    table = {"order": store.orders, "product": store.products}.get(resource)
    if table is None or not isinstance(arg, int) or arg not in table:
        return True
    drafts = ("draft", "auto-draft", "checkout-draft", "new") if resource == "order" \
        else ("auto-draft", "new")
    return table[arg]["status"] not in drafts


def fire(store: FakeWooStore, hooks: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    """A request in which `hooks` ran (each a (hook name, first argument) pair): queue every
    active webhook listening to one of them, once per argument, then deliver the queue."""
    queue: list[tuple[int, Any]] = []
    with store.lock:
        for hook, arg in hooks:
            for webhook_id, webhook in sorted(store.webhooks.items()):
                if webhook["status"] != "active" or not valid_topic(webhook["topic"]):
                    continue
                if hook in webhook["hooks"] and (webhook_id, arg) not in queue \
                        and valid_resource(store, webhook["resource"], arg):
                    queue.append((webhook_id, arg))
    return [deliver(store, webhook_id, arg) for webhook_id, arg in queue]


def ping(store: FakeWooStore, webhook_id: int) -> dict[str, Any]:
    """WC_Webhook::deliver_ping(), logged in `store.pings`."""
    with store.lock:
        url = store.webhooks[webhook_id]["delivery_url"]
    body = f"webhook_id={webhook_id}".encode()
    headers = {"User-Agent": user_agent(store), "Accept": "*/*",
               "Accept-Encoding": "deflate, gzip, br, zstd", "Connection": "close",
               "Content-Type": "application/x-www-form-urlencoded"}
    entry: dict[str, Any] = {"webhook_id": webhook_id, "delivery_url": url, "body": body,
                             "headers": headers}
    try:
        answer = requests.post(local_url(store, url), data=body, headers=headers,
                               timeout=TIMEOUT)
    except requests.RequestException as exc:
        entry["status"] = "error"
        entry["error"] = f"Error: Delivery URL cannot be reached: {exc}"
    else:
        entry["status"] = answer.status_code
        if answer.status_code == 200:
            with store.lock:
                if webhook_id in store.webhook_meta:
                    store.webhook_meta[webhook_id].pending_delivery = False
                    touch(store, webhook_id)
        else:
            entry["error"] = f"Error: Delivery URL returned response code: {answer.status_code}"
    with store.lock:
        store.pings.append(entry)
    return entry


def replay_envelope(url: str, envelope_path: str | Path) -> requests.Response:
    """POST a recorded delivery envelope to `url` byte for byte: its body exactly and its
    headers verbatim, except Host and Content-Length, which `requests` sets for the target
    (Content-Length to the same value). Its signature verifies with the fixtures' secret."""
    envelope = json.loads(Path(envelope_path).read_text())
    headers = {name: value for name, value in envelope["headers"].items()
               if name.lower() not in ("host", "content-length")}
    return requests.post(url, data=envelope["body"].encode(), headers=headers, timeout=TIMEOUT)
