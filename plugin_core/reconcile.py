"""Reconciliation: ask each platform what changed, to recover what webhooks missed.

WooCommerce never retries a failed delivery and Shopify gives up after its retries: polling is
the only way to recover. What an adapter's `reconcile` returns goes through the same inbox (so
the same dedupe keys) and the same normalizers as a webhook. Each store remembers up to when it
was reconciled; the next poll starts a little earlier (`overlap`) so that clock skew between the
platform and us cannot open a gap; the repeats are deduplicated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from parcours import tables as t
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ParcoursError
from parcours.inbox import receive

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(days=1)
OVERLAP = timedelta(minutes=5)


@dataclass
class ReconcileResult:
    stores: int = 0
    deliveries: int = 0
    new: int = 0
    errors: int = 0


def reconcile_stores(db: Database, vault: Vault, config: Mapping[str, Any],
                     now: datetime | None = None) -> ReconcileResult:
    """Poll every installed store once; a failing store is logged and retried next time."""
    moment = now or datetime.now(UTC)
    s = t.stores.c
    with db.read() as conn:
        stores = list(conn.execute(select(s.id, s.key, s.platform, s.reconciled_until)
                                   .where(s.uninstalled_at.is_(None)).order_by(s.id)))
    result = ReconcileResult()
    for store in stores:
        since = (store.reconciled_until or moment - FIRST_WINDOW) - OVERLAP
        try:  # outside any transaction: this may call the platform over the network
            access = StoreAccess(store.key, db, vault, config)
            deliveries = list(adapter_for(store.platform).reconcile(access, since))
        except ParcoursError as exc:  # expected: no token yet, platform down, access revoked
            log.warning("reconciliation of store %s failed (next run retries): %s",
                        store.key, exc)
            result.errors += 1
            continue
        except Exception:
            log.exception("reconciliation of store %s failed; next run retries", store.key)
            result.errors += 1
            continue
        with db.write() as conn:
            for delivery in deliveries:
                result.new += receive(
                    conn, store_id=store.id, source=store.platform, topic=delivery.topic,
                    delivery_key=delivery.key, body=delivery.body,
                    headers={"x-parcours-origin": "reconcile"}, now=moment)
            conn.execute(update(t.stores).where(s.id == store.id)
                         .values(reconciled_until=moment))
        result.stores += 1
        result.deliveries += len(deliveries)
    return result
