"""Reconciliation: the orders modified since T, as order.updated deliveries for the inbox.

WooCommerce never retries a delivery, so polling is the only way to recover a missed one. The
REST answer is the same order object a webhook carries, so it normalizes unchanged, and the facts
it implies dedupe against those already received. The delivery key holds the order's
`date_modified_gmt`: the same snapshot polled twice is stored once, a newer one is new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from parcours.adapters.base import Delivery, StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.keys import client_for

__all__ = ["poll_orders", "reconcile_store"]

TOPIC = "order.updated"


def poll_orders(client: WooClient, store_key: str, since: datetime) -> list[Delivery]:
    """Every order modified after `since`, oldest change first."""
    if since.tzinfo is None:
        raise ValueError("a naive datetime: reconciliation needs an aware one")
    after = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    deliveries = []
    for order in client.pages("orders", modified_after=after, dates_are_gmt="true",
                              orderby="modified", order="asc"):
        body = json.dumps(order, separators=(",", ":"), sort_keys=True).encode()
        key = f"woocommerce:{store_key}:reconcile:{order['id']}:{order.get('date_modified_gmt')}"
        deliveries.append(Delivery(topic=TOPIC, key=key[:255], body=body))
    return deliveries


def reconcile_store(store: StoreAccess, since: datetime) -> list[Delivery]:
    return poll_orders(client_for(store), store.key, since)
