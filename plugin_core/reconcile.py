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

__all__ = ["ReconcileResult", "reconcile_store", "reconcile_stores"]

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(days=1)
OVERLAP = timedelta(minutes=5)


@dataclass
class ReconcileResult:
    stores: int = 0
    deliveries: int = 0
    new: int = 0
    errors: int = 0


def _installed(db: Database, key: str | None = None) -> list[Any]:
    s = t.stores.c
    query = select(s.id, s.key, s.platform, s.reconciled_until).where(s.uninstalled_at.is_(None))
    if key is not None:
        query = query.where(s.key == key)
    with db.read() as conn:
        return list(conn.execute(query.order_by(s.id)))


def _reconcile(db: Database, vault: Vault, config: Mapping[str, Any], store: Any,
               moment: datetime, result: ReconcileResult) -> None:
    since = (store.reconciled_until or moment - FIRST_WINDOW) - OVERLAP
    access = StoreAccess(store.key, db, vault, config)
    try:  # outside any transaction: this may call the platform over the network
        deliveries = list(adapter_for(store.platform).reconcile(access, since))
    except ParcoursError as exc:  # expected: no token yet, platform down, access revoked
        log.warning("reconciliation of store %s failed (next run retries): %s", store.key, exc)
        result.errors += 1
        return
    except Exception:
        log.exception("reconciliation of store %s failed; next run retries", store.key)
        result.errors += 1
        return
    with db.write() as conn:
        for delivery in deliveries:
            result.new += receive(
                conn, store_id=store.id, source=store.platform, topic=delivery.topic,
                delivery_key=delivery.key, body=delivery.body,
                headers={"x-parcours-origin": "reconcile"}, now=moment)
        conn.execute(update(t.stores).where(t.stores.c.id == store.id)
                     .values(reconciled_until=moment))
    result.stores += 1
    result.deliveries += len(deliveries)


def reconcile_stores(db: Database, vault: Vault, config: Mapping[str, Any],
                     now: datetime | None = None) -> ReconcileResult:
    """Poll every installed store once; a failing store is logged and retried next time."""
    moment = now or datetime.now(UTC)
    result = ReconcileResult()
    for store in _installed(db):
        _reconcile(db, vault, config, store, moment, result)
    return result


def reconcile_store(db: Database, vault: Vault, config: Mapping[str, Any], key: str,
                    now: datetime | None = None) -> ReconcileResult:
    """Poll one store now (after its webhooks were repaired, say)."""
    result = ReconcileResult()
    for store in _installed(db, key):
        _reconcile(db, vault, config, store, now or datetime.now(UTC), result)
    return result
