"""Reconciliation: orders updated since T, read through GraphQL, as orders/updated deliveries.

Shopify stops retrying a webhook after a while, so the periodic reconciliation polls the orders
that changed and feeds each one to the inbox as if Shopify had sent it: the body has the
REST-style keys of the orders/updated payload that the normalizer reads, so it normalizes
unchanged and a fact already received by webhook dedupes by its key. The delivery key holds
the order's `updatedAt`: the same snapshot polled twice is stored once, a newer one is new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from parcours.adapters.base import Delivery, StoreAccess
from parcours.adapters.shopify.client import ShopifyClient
from parcours.adapters.shopify.install import Token, shop_client

__all__ = ["ORDERS_QUERY", "order_payload", "poll_orders", "reconcile_store"]

TOPIC = "orders/updated"
FULFILMENT_STATUSES = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial",
                       "RESTOCKED": "restocked"}  # others are null in the REST payload
SHIPMENT_STATUSES = frozenset({"ATTEMPTED_DELIVERY", "CONFIRMED", "DELIVERED", "FAILURE",
                               "IN_TRANSIT", "LABEL_PRINTED", "LABEL_PURCHASED",
                               "OUT_FOR_DELIVERY", "READY_FOR_PICKUP"})

# Ten orders a page: each brings its line items, fulfilments and refunds (the query cost).
ORDERS_QUERY = """query ParcoursReconcile($query: String!, $after: String) {
  orders(first: 10, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId email createdAt updatedAt processedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus currencyCode paymentGatewayNames
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { legacyResourceId defaultEmailAddress { emailAddress } }
      lineItems(first: 20) { nodes { product { legacyResourceId } } }
      fulfillments(first: 5) { legacyResourceId createdAt updatedAt status displayStatus }
      refunds(first: 5) {
        legacyResourceId createdAt
        transactions(first: 5) {
          nodes { kind status amountSet { shopMoney { amount currencyCode } } }
        }
      }
    }
  }
}"""


def _id(value: Any) -> int | None:
    """REST payloads carry numeric ids; GraphQL's legacyResourceId is their text."""
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _shop_money(value: Any) -> Mapping[str, Any]:
    return ((value or {}).get("shopMoney") or {}) if isinstance(value, dict) else {}


def order_payload(node: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL order as the orders/updated webhook payload shows it (the keys Parcours
    reads). Amounts are in the shop's currency, like the payload's `total_price`."""
    customer = node.get("customer") or {}
    total = _shop_money(node.get("totalPriceSet"))
    return {
        "id": _id(node.get("legacyResourceId")),
        "email": node.get("email"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": _lower(node.get("cancelReason")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "fulfillment_status": FULFILMENT_STATUSES.get(str(node.get("displayFulfillmentStatus"))),
        "currency": total.get("currencyCode") or node.get("currencyCode"),
        "total_price": total.get("amount"),
        "payment_gateway_names": node.get("paymentGatewayNames") or [],
        "customer": {
            "id": _id(customer.get("legacyResourceId")),
            "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
        } if customer else None,
        "line_items": [
            {"product_id": _id((item.get("product") or {}).get("legacyResourceId"))}
            for item in (node.get("lineItems") or {}).get("nodes") or []],
        "fulfillments": [{
            "id": _id(fulfillment.get("legacyResourceId")),
            "order_id": _id(node.get("legacyResourceId")),
            "status": _lower(fulfillment.get("status")),
            "shipment_status": _lower(fulfillment.get("displayStatus"))
            if fulfillment.get("displayStatus") in SHIPMENT_STATUSES else None,
            "created_at": fulfillment.get("createdAt"),
            "updated_at": fulfillment.get("updatedAt"),
        } for fulfillment in node.get("fulfillments") or []],
        "refunds": [{
            "id": _id(refund.get("legacyResourceId")),
            "order_id": _id(node.get("legacyResourceId")),
            "created_at": refund.get("createdAt"),
            "transactions": [{
                "kind": _lower(transaction.get("kind")),
                "status": _lower(transaction.get("status")),
                "amount": _shop_money(transaction.get("amountSet")).get("amount"),
                "currency": _shop_money(transaction.get("amountSet")).get("currencyCode"),
            } for transaction in (refund.get("transactions") or {}).get("nodes") or []],
        } for refund in node.get("refunds") or []],
    }


def _search_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime: reconciliation needs an aware one")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poll_orders(client: ShopifyClient, since: datetime) -> list[Delivery]:
    """Every order updated after `since`, oldest change first, as deliveries for the inbox."""
    search = f"updated_at:>'{_search_time(since)}'"
    deliveries: list[Delivery] = []
    after: str | None = None
    while True:
        page = client.graphql(ORDERS_QUERY, {"query": search, "after": after})["orders"]
        for node in page["nodes"]:
            payload = order_payload(node)
            body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
            key = f"shopify:reconcile:{node['legacyResourceId']}:{node['updatedAt']}"
            deliveries.append(Delivery(topic=TOPIC, key=key[:255], body=body))
        if not page["pageInfo"]["hasNextPage"]:
            return deliveries
        after = page["pageInfo"]["endCursor"]


def reconcile_store(store: StoreAccess, since: datetime, *, token: Token | None = None
                    ) -> list[Delivery]:
    """`poll_orders` for a stored store, with its token: `ShopifyAdapter.reconcile`."""
    with shop_client(store.db, store.vault, store.config, store.key, token=token) as client:
        return poll_orders(client, since)
