"""What happens in the store outside the REST API: keys, orders, customers, products.

Each helper changes the state and then runs the hooks WooCommerce runs for that change
(webhooks.fire), so the webhooks listening to them deliver, synchronously:

- `place_order`: the order is saved (woocommerce_new_order), its status moves from "pending"
  (woocommerce_order_status_pending_to_<status>, woocommerce_order_status_<status>,
  woocommerce_order_status_changed) and it is saved again (woocommerce_update_order). The
  recorded store sent order.created AND order.updated, with the same body, for an order it
  created (webhook_order_updated_delivery_envelope).
- `update_order`: woocommerce_update_order, then the status hooks if the status changed.
- `add_customer`: user_register, woocommerce_created_customer, woocommerce_new_customer (one
  customer.created delivery: the three hooks share the argument).
- `add_product` / `update_product`: woocommerce_new_product / woocommerce_update_product.

Dates are whole seconds in UTC (the fake's site timezone), from `store.clock`.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from typing import Any

from tests.fake_woocommerce.state import (
    ALL_METHODS,
    ApiKey,
    FakeWooStore,
    links,
    local_fixture,
    rebase,
    wc_date,
)
from tests.fake_woocommerce.webhooks import fire

PAID_STATUSES = ("processing", "completed")  # wc_get_is_paid_statuses()
NEEDS_PAYMENT = ("pending", "failed")  # wc_get_order_statuses_that_need_payment... when total>0
EDITABLE = ("pending", "on-hold", "auto-draft", "checkout-draft")


def rand_hash() -> str:
    """wc_rand_hash(): 40 hex characters."""
    return secrets.token_hex(20)


def add_key(store: FakeWooStore, user_id: int = 1, permissions: str = "read_write",
            description: str = "Parcours - API (test)") -> ApiKey:
    """An API key as WooCommerce > Settings > Advanced > REST API makes one."""
    key = ApiKey(key_id=store.next_id("key"), user_id=user_id, description=description,
                 permissions=permissions, consumer_key="ck_" + rand_hash(),
                 consumer_secret="cs_" + rand_hash())
    with store.lock:
        store.keys[key.consumer_key] = key
    return key


def delete_key(store: FakeWooStore, key_id: int) -> None:
    with store.lock:
        for consumer_key, key in list(store.keys.items()):
            if key.key_id == key_id:
                del store.keys[consumer_key]


# -- orders ------------------------------------------------------------------------------------

def _order_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "wc_order_" + "".join(secrets.choice(alphabet) for _ in range(13))


def _order_links(store: FakeWooStore, order: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"email_templates": [{
        "embeddable": True,
        "href": store.rest_url(f"wc/v3/orders/{order['id']}/actions/email_templates")}]}
    if order.get("customer_id"):
        extra["customer"] = [{"href": store.rest_url(f"wc/v3/customers/{order['customer_id']}")}]
    return links(store, "orders", order["id"], ALL_METHODS, **extra)


def _set_status_dates(order: dict[str, Any], old: str, new: str, now: str) -> None:
    order["status"] = new
    if new == "completed" and old != "completed":
        order["date_completed"] = order["date_completed_gmt"] = now
    if new in PAID_STATUSES and not order.get("date_paid"):
        order["date_paid"] = order["date_paid_gmt"] = now
    order["needs_payment"] = new in NEEDS_PAYMENT and float(order.get("total") or 0) > 0
    order["is_editable"] = new in EDITABLE


def _status_hooks(order_id: int, old: str, new: str) -> list[tuple[str, Any]]:
    if old == new:
        return []
    return [(f"woocommerce_order_status_{old}_to_{new}", order_id),
            (f"woocommerce_order_status_{new}", order_id),
            ("woocommerce_order_status_changed", order_id)]


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    """Apply `changes`: "billing" and "shipping" dicts are merged field by field, anything
    else replaces the value."""
    for name, value in changes.items():
        if name in ("billing", "shipping") and isinstance(value, dict):
            target[name] = {**target.get(name, {}), **value}
        else:
            target[name] = value


def place_order(store: FakeWooStore, **changes: Any) -> dict[str, Any]:
    """A new order, in the shape of order_rest__local-wc11.0.1.json (the recorded order 12
    with a new id, number, key and dates), status "processing" unless `status` says otherwise,
    then the hooks of its creation. `billing={"email": ...}` changes only that field;
    `customer_id=0` makes a guest order."""
    status = changes.pop("status", "processing")
    with store.lock:
        order: dict[str, Any] = rebase(local_fixture("order_rest"), store.base_url)
        order_id = store.next_id("post")
        now = wc_date(store.now())
        order.update({"id": order_id, "status": "pending", "version": store.version,
                      "currency": store.currency, "currency_symbol": store.currency_symbol,
                      "order_key": _order_key(), "number": str(order_id),
                      "date_created": now, "date_modified": now, "date_created_gmt": now,
                      "date_modified_gmt": now, "date_completed": None, "date_paid": None,
                      "date_completed_gmt": None, "date_paid_gmt": None})
        _merge(order, changes)
        order["payment_url"] = (f"{store.base_url}/checkout/order-pay/{order_id}/"
                                f"?pay_for_order=true&key={order['order_key']}")
        _set_status_dates(order, "pending", status, now)
        order["_links"] = _order_links(store, order)
        store.orders[order_id] = order
    fire(store, [("woocommerce_new_order", order_id), *_status_hooks(order_id, "pending", status),
                 ("woocommerce_update_order", order_id)])
    return order


def update_order(store: FakeWooStore, order_id: int, **changes: Any) -> dict[str, Any]:
    """Change an order (e.g. `status="completed"`), move date_modified, run its hooks."""
    with store.lock:
        order = store.orders[order_id]
        old = order["status"]
        new = changes.pop("status", old)
        now = wc_date(store.now())
        _merge(order, changes)
        _set_status_dates(order, old, new, now)
        order["date_modified"] = order["date_modified_gmt"] = now
        order["_links"] = _order_links(store, order)
    fire(store, [("woocommerce_update_order", order_id), *_status_hooks(order_id, old, new)])
    return order


def bought(store: FakeWooStore, email: str, product_id: int) -> bool:
    """wc_customer_bought_product() for a guest reviewer: a paid order (processing,
    completed) billed to `email` with a line of `product_id` (or its variation)."""
    email = email.strip().lower()
    for order in store.orders.values():
        if order["status"] not in PAID_STATUSES:
            continue
        if str(order.get("billing", {}).get("email", "")).strip().lower() != email:
            continue
        if any(product_id in (line.get("product_id"), line.get("variation_id"))
               for line in order.get("line_items", [])):
            return True
    return False


# -- customers and products --------------------------------------------------------------------

def add_customer(store: FakeWooStore, **changes: Any) -> dict[str, Any]:
    """A customer in the shape of customer_rest__local-wc11.0.1.json, then customer.created."""
    with store.lock:
        customer: dict[str, Any] = rebase(local_fixture("customer_rest"), store.base_url)
        customer_id = store.next_id("user")
        now = wc_date(store.now())
        customer.update({"id": customer_id, "date_created": now, "date_created_gmt": now,
                         "date_modified": now, "date_modified_gmt": now, "meta_data": [],
                         "is_paying_customer": False})
        _merge(customer, changes)
        customer["_links"] = links(store, "customers", customer_id, ALL_METHODS)
        store.customers[customer_id] = customer
    fire(store, [("user_register", customer_id), ("woocommerce_created_customer", customer_id),
                 ("woocommerce_new_customer", customer_id)])
    return customer


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def add_product(store: FakeWooStore, **changes: Any) -> dict[str, Any]:
    """A simple product in the shape of product_rest__local-wc11.0.1.json, then
    product.created. `price="12.00"` sets price and regular_price."""
    with store.lock:
        product: dict[str, Any] = rebase(local_fixture("product_rest"), store.base_url)
        product_id = store.next_id("post")
        now = wc_date(store.now())
        name = changes.get("name", product["name"])
        slug = changes.pop("slug", _slug(name))
        product.update({"id": product_id, "slug": slug, "total_sales": 0,
                        "permalink": f"{store.base_url}/product/{slug}/",
                        "date_created": now, "date_created_gmt": now, "date_modified": now,
                        "date_modified_gmt": now})
        _apply_product(store, product, changes)
        product["_links"] = links(store, "products", product_id, ALL_METHODS)
        store.products[product_id] = product
    fire(store, [("woocommerce_new_product", product_id)])
    return product


def _apply_product(store: FakeWooStore, product: dict[str, Any], changes: dict[str, Any]
                   ) -> None:
    changes = dict(changes)
    if "price" in changes:
        price = changes.pop("price")
        product["price"] = product["regular_price"] = price
        product["price_html"] = (
            '<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-'
            f'Price-currencySymbol" translate="no">&#36;</span>{price}</bdi></span>')
    product.update(copy.deepcopy(changes))


def update_product(store: FakeWooStore, product_id: int, **changes: Any) -> dict[str, Any]:
    """Change a product, move date_modified, then product.updated."""
    with store.lock:
        product = store.products[product_id]
        _apply_product(store, product, changes)
        product["date_modified"] = product["date_modified_gmt"] = wc_date(store.now())
    fire(store, [("woocommerce_update_product", product_id)])
    return product
