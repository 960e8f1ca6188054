"""Signed webhook deliveries of three platforms, following shoppers through their journeys, for
`parcours bench scaleout`: deterministic for a seed, shuffled, with re-sent duplicates.

Shopify checkouts and orders move from pending to paid to delivered, WooCommerce orders from
pending (sometimes failed) to processing to completed, and custom shops send Standard Webhooks
batches of storefront and order events; three stores of each. Each resource gets several
snapshots, so that once shuffled they arrive in any order. A re-sent delivery is what platforms
re-send: Shopify and WooCommerce byte for byte; Standard Webhooks with the same `webhook-id`,
re-signed at the retry's time as that scheme requires (its timestamp must be within 5 minutes).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from parcours.adapters.base import adapter_for, lower_headers
from parcours.adapters.woocommerce.webhooks import sign as woocommerce_sign
from parcours.bench.ingest import shopify_headers, shopify_order
from parcours.standard_webhooks import sign as standard_sign

PLATFORMS = ("shopify", "woocommerce", "custom")
STORES_PER_PLATFORM = 3
DUPLICATE_SHARE = 0.1
APP_SECRET = "scaleout-app-secret"  # a throwaway Shopify app secret for the bench's servers
EPOCH = datetime(2026, 9, 1, tzinfo=UTC)
DAYS = 60  # shoppers start over this many days after EPOCH
WOO_AGENT = "WooCommerce/11.0.1 Hookshot (WordPress/7.1)"
SHOPPER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


@dataclass(frozen=True)
class Delivery:
    """One webhook as a platform sends it; custom ones are signed when sent (`headers_at`)."""

    platform: str
    store: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return "/webhooks/shopify" if self.platform == "shopify" \
            else f"/webhooks/{self.platform}/{self.store}"

    @property
    def key(self) -> str:
        """The inbox's delivery key, as the receiver computes it."""
        return adapter_for(self.platform).delivery_key(self.store, lower_headers(self.headers),
                                                       self.body)

    def headers_at(self, secrets: dict[str, str], now: float) -> dict[str, str]:
        if self.platform != "custom":
            return self.headers
        stamp = int(now)
        return {**self.headers, "webhook-timestamp": str(stamp), "webhook-signature":
                standard_sign(secrets[self.store], self.headers["webhook-id"], stamp, self.body)}


def store_keys() -> dict[str, list[str]]:
    return {platform: [f"{platform}-{n}" for n in range(1, STORES_PER_PLATFORM + 1)]
            for platform in PLATFORMS}


def _at(moment: datetime) -> str:
    return moment.isoformat()


def _shopify(store: str, n: int, start: datetime, rng: random.Random, secret: str
             ) -> list[Delivery]:
    """A checkout created then updated; most become an order, created pending then paid; some
    are fulfilled and delivered."""
    token, checkout_token = f"{store}-o{n:07d}", f"{store}-c{n:07d}"
    order = shopify_order(n, token=token, checkout_token=checkout_token,
                          created_at=_at(start + timedelta(minutes=6)),
                          updated_at=_at(start + timedelta(minutes=6)),
                          financial_status="pending")
    order["client_details"] = {"user_agent": SHOPPER_AGENT}
    checkout = {name: order[name] for name in ("email", "currency", "total_price",
                                                "subtotal_price", "line_items", "customer",
                                                "billing_address", "shipping_address")}
    snapshots: list[tuple[str, dict[str, Any]]] = [
        ("checkouts/create", {**checkout, "id": n, "token": checkout_token,
                              "cart_token": f"{store}-cart{n}", "created_at": _at(start),
                              "updated_at": _at(start)}),
        ("checkouts/update", {**checkout, "id": n, "token": checkout_token,
                              "cart_token": f"{store}-cart{n}", "created_at": _at(start),
                              "updated_at": _at(start + timedelta(minutes=4))})]
    if rng.random() < 0.7:
        snapshots.append(("orders/create", order))
        paid = {**order, "financial_status": "paid",
                "updated_at": _at(start + timedelta(minutes=7))}
        snapshots.append(("orders/paid", paid))
        if rng.random() < 0.4:
            shipped, arrived = start + timedelta(days=1), start + timedelta(days=3)
            snapshots.append(("orders/fulfilled", {
                **paid, "fulfillment_status": "fulfilled", "updated_at": _at(arrived),
                "fulfillments": [{"id": n, "order_id": order["id"], "status": "success",
                                  "shipment_status": "delivered", "created_at": _at(shipped),
                                  "updated_at": _at(arrived)}]}))
    shop = f"{store}.myshopify.com"
    deliveries = []
    for index, (topic, payload) in enumerate(snapshots):
        body = json.dumps(payload).encode()
        headers = shopify_headers(topic, body, secret, shop, f"{store}-{n}-{index}",
                                  triggered_at=str(payload["updated_at"]))
        deliveries.append(Delivery("shopify", store, headers, body))
    return deliveries


def _woo_order(store: str, n: int, start: datetime) -> dict[str, Any]:
    """An order shaped like WooCommerce 11's REST/webhook payload (tests/fixtures/woocommerce)."""
    created = start.strftime("%Y-%m-%dT%H:%M:%S")
    address = {"first_name": "Jane", "last_name": "Doe", "company": "", "address_1": "1 Test St",
               "address_2": "", "city": "Berlin", "state": "", "postcode": "10115",
               "country": "DE"}
    item = {"id": 1, "name": "Linen shirt", "product_id": 40 + n % 7, "variation_id": 0,
            "quantity": 1, "tax_class": "", "subtotal": "25.00", "subtotal_tax": "0.00",
            "total": "25.00", "total_tax": "0.00", "taxes": [], "meta_data": [],
            "sku": f"SHIRT-{n % 7}", "price": 25, "image": {"id": 0, "src": ""},
            "parent_name": None}
    return {"id": 1000 + n, "parent_id": 0, "status": "pending", "currency": "EUR",
            "version": "11.0.1", "prices_include_tax": False, "date_created": created,
            "date_modified": created, "discount_total": "0.00", "discount_tax": "0.00",
            "shipping_total": "4.90", "shipping_tax": "0.00", "cart_tax": "0.00",
            "total": "29.90", "total_tax": "0.00", "customer_id": 0 if n % 3 == 0 else 5000 + n,
            "order_key": f"wc_order_{store}{n}",
            "billing": {**address, "email": f"jane{n}@example.com", "phone": ""},
            "shipping": {**address, "phone": ""}, "payment_method": "bacs",
            "payment_method_title": "Direct bank transfer", "transaction_id": "",
            "customer_ip_address": "", "customer_user_agent": SHOPPER_AGENT,
            "created_via": "checkout", "customer_note": "", "date_completed": None,
            "date_paid": None, "cart_hash": "", "number": str(1000 + n), "meta_data": [],
            "line_items": [item], "tax_lines": [], "shipping_lines": [], "fee_lines": [],
            "coupon_lines": [], "refunds": [], "payment_url": "", "is_editable": True,
            "needs_payment": True, "needs_processing": True, "date_created_gmt": created,
            "date_modified_gmt": created, "date_completed_gmt": None, "date_paid_gmt": None,
            "currency_symbol": "€"}


def _woocommerce(store: str, n: int, start: datetime, rng: random.Random, secret: str
                 ) -> list[Delivery]:
    """An order created pending; some payments fail first; most are paid; some completed."""
    order = _woo_order(store, n, start)
    snapshots = [("order.created", order)]

    def then(minutes: float, status: str, **changes: Any) -> dict[str, Any]:
        moment = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")
        updated = {**snapshots[-1][1], "status": status, "date_modified": moment,
                   "date_modified_gmt": moment, **{k: v or moment for k, v in changes.items()}}
        snapshots.append(("order.updated", updated))
        return updated

    if rng.random() < 0.15:
        then(3, "failed")
    if rng.random() < 0.75:
        then(5, "processing", date_paid="", date_paid_gmt="", needs_payment=False)
        if rng.random() < 0.35:
            then(2 * 24 * 60, "completed", date_completed="", date_completed_gmt="")
    deliveries = []
    for index, (topic, payload) in enumerate(snapshots):
        body = json.dumps(payload).encode()
        webhook_id = "1" if topic == "order.created" else "2"
        delivery_id = hashlib.md5(f"{store}:{n}:{index}".encode()).hexdigest()
        headers = {"User-Agent": WOO_AGENT, "Content-Type": "application/json",
                   "X-WC-Webhook-Source": f"https://{store}.example/",
                   "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
                   "X-WC-Webhook-Event": topic.split(".")[1],
                   "X-WC-Webhook-Signature": woocommerce_sign(secret, body),
                   "X-WC-Webhook-ID": webhook_id, "X-WC-Webhook-Delivery-ID": delivery_id}
        deliveries.append(Delivery("woocommerce", store, headers, body))
    return deliveries


def _custom(store: str, n: int, start: datetime, rng: random.Random, secret: str
            ) -> list[Delivery]:
    """Storefront events of an anonymous visitor; most identify at checkout and some buy (an
    order resource, paid); a few orders are fulfilled days later, in a batch of their own."""
    visitor = {"anonymous_id": f"{store}-visitor-{n}"}
    product = {"product_id": f"p-{n % 11}"}

    def event(name: str, minutes: float, identities: dict[str, str],
              properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return {"name": name, "occurred_at": _at(start + timedelta(minutes=minutes)),
                "identities": identities, "properties": properties or {}, **extra}

    batches = [[event("page_viewed", 0, visitor, {"url": f"https://{store}.example/"}),
                event("product_viewed", 1, visitor, product),
                event("product_added_to_cart", 2, visitor, product)]]
    if rng.random() < 0.6:
        buyer = {**visitor, "customer_id": f"c-{n}"}
        batch = [event("checkout_started", 8, buyer, product)]
        if rng.random() < 0.8:
            order = {"order_id": f"{store}-{n}", **buyer}
            resource = {"type": "order", "id": order["order_id"],
                        "updated_at": _at(start + timedelta(minutes=10))}
            money = {"total": "42.50", "currency": "EUR"}
            batch += [event("order_placed", 10, order, money, resource=resource,
                            key=f"order:{order['order_id']}:placed"),
                      event("order_paid", 10, order, money, resource=resource,
                            key=f"order:{order['order_id']}:paid")]
            if rng.random() < 0.3:
                batches.append([event("order_fulfilled", 3 * 24 * 60,
                                      {"order_id": order["order_id"]},
                                      key=f"order:{order['order_id']}:fulfilled")])
        batches.insert(1, batch)
    return [Delivery("custom", store, {"Content-Type": "application/json",
                                       "webhook-id": f"msg_{store}_{n}_{index}"},
                     json.dumps({"events": batch}).encode())
            for index, batch in enumerate(batches)]


SHOPPERS = {"shopify": _shopify, "woocommerce": _woocommerce, "custom": _custom}


def generate(total: int, secrets: dict[str, str], seed: int = 1) -> tuple[list[Delivery], int]:
    """`total` deliveries to send, shuffled, of which a tenth re-send others; (them, unique)."""
    rng = random.Random(seed)
    duplicates = int(total * DUPLICATE_SHARE)
    unique: list[Delivery] = []
    stores = store_keys()
    for n in range(total):
        if len(unique) >= total - duplicates:
            break
        platform = PLATFORMS[n % len(PLATFORMS)]
        store = stores[platform][n // len(PLATFORMS) % STORES_PER_PLATFORM]
        start = EPOCH + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
        unique += SHOPPERS[platform](store, n, start, rng, secrets.get(store, APP_SECRET))
    unique = unique[:total - duplicates]
    sent = unique + rng.sample(unique, duplicates)
    rng.shuffle(sent)
    return sent, len(unique)
