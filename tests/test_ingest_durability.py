"""Nothing acknowledged is lost or counted twice: a worker killed mid-batch, replays, and
deliveries of one order's snapshots in any order (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from parcours import tables as t
from parcours.accounts import create_store, get_store, remove_store
from parcours.db import Database
from parcours.inbox import pending_count, process_pending, receive, replay

FIXTURES = Path(__file__).parent / "fixtures"


def _count(db: Database, table: t.Table, *where: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())


def _shopper_body(number: int) -> bytes:
    events = [{"name": name, "occurred_at": f"2026-11-20T10:0{i}:00Z",
               "identities": {"anonymous_id": f"shopper-{number}"}}
              for i, name in enumerate(("page_viewed", "product_viewed", "product_added_to_cart"))]
    return json.dumps({"events": events}).encode()


def test_worker_killed_mid_batch_loses_and_doubles_nothing(db: Database, database_url: str,
                                                           tmp_path: Path) -> None:
    deliveries = 3000
    with db.write() as conn:
        store = create_store(conn, "shop", account="acme")
        for number in range(deliveries):  # what the receiver's ack path inserts
            receive(conn, store_id=store.id, source="custom", topic="events",
                    delivery_key=f"custom:shop:msg-{number}", body=_shopper_body(number))
    env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
           "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"), "PARCOURS_INBOX_BATCH": "40"}
    env.pop("PARCOURS_REDIS_URL", None)
    command = [sys.executable, "-m", "parcours.cli", "worker", "--workers", "1"]

    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _count(db, t.inbox, t.inbox.c.status == "done") == 0:
        assert time.monotonic() < deadline, "the worker processed nothing"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    done_at_kill = _count(db, t.inbox, t.inbox.c.status == "done")
    assert 0 < done_at_kill < deliveries, "the kill did not land mid-run: use more deliveries"

    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while pending_count(db):
            assert time.monotonic() < deadline, "the restarted worker did not drain the inbox"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert _count(db, t.inbox, t.inbox.c.status == "done") == deliveries
    assert _count(db, t.events) == 3 * deliveries
    assert _count(db, t.journeys) == deliveries
    with db.read() as conn:  # rollups are additive: a batch applied twice would show here
        counted = conn.execute(select(func.sum(t.event_rollups.c.events))).scalar_one()
    assert counted == 3 * deliveries


def test_replaying_done_deliveries_changes_nothing(db: Database) -> None:
    with db.write() as conn:
        store = create_store(conn, "shop", account="acme")
        for number in range(20):
            receive(conn, store_id=store.id, source="custom", topic="events",
                    delivery_key=f"custom:shop:{number}", body=_shopper_body(number))
    process_pending(db)
    with db.read() as conn:
        before = sorted(map(tuple, conn.execute(select(t.event_rollups))))
    with db.write() as conn:
        assert replay(conn, ids=list(range(1, 21))) == 20
    assert process_pending(db).done == 20
    with db.read() as conn:
        assert sorted(map(tuple, conn.execute(select(t.event_rollups)))) == before
    assert _count(db, t.events) == 60


# -- one order's snapshots, delivered in any order ---------------------------------------------
def _snapshots() -> list[tuple[str, bytes]]:
    """The recorded WooCommerce order at successive statuses (bodies are built at delivery)."""
    envelope = json.loads((FIXTURES / "woocommerce" /
                           "webhook_order_created_delivery_envelope__local-wc11.0.1.json")
                          .read_bytes())
    order = json.loads(envelope["body"])
    steps = [("pending", "2026-11-22T10:40:00", None, None),
             ("processing", "2026-11-22T10:45:00", "2026-11-22T10:45:00", None),
             ("completed", "2026-11-22T10:51:40", "2026-11-22T10:45:00", "2026-11-22T10:51:40"),
             ("refunded", "2026-11-23T09:00:00", "2026-11-22T10:45:00", "2026-11-22T10:51:40")]
    out = []
    for status, modified, paid, completed in steps:
        snapshot = {**order, "status": status, "date_modified_gmt": modified,
                    "date_paid_gmt": paid, "date_completed_gmt": completed}
        out.append(("order.updated", json.dumps(snapshot).encode()))
    return out


SNAPSHOTS = _snapshots()


def _final_state(db: Database, store_id: int) -> dict[str, Any]:
    with db.read() as conn:
        def of(table: t.Table, *columns: str) -> list[tuple[Any, ...]]:
            chosen = [table.c[c] for c in columns]
            found = conn.execute(select(*chosen).where(table.c.store_id == store_id))
            return sorted(tuple(row) for row in found if row[-1] != 0)  # a zero count is none
        return {
            "events": of(t.events, "name", "occurred_at", "key"),
            "resource": of(t.resource_states, "type", "resource_id", "state", "updated_at"),
            "journeys": of(t.journeys, "idx", "opened_at", "converted_at", "path",
                           "events_mask", "amount_micros"),
            "orders": of(t.order_rollups, "day", "currency", "orders", "revenue_micros"),
            "stages": of(t.stage_rollups, "stage", "profiles"),
        }


def _deliver(db: Database, order: list[int], batch: int) -> dict[str, Any]:
    """The final state after delivering the snapshots in `order`, `batch` per worker run.

    The store is removed afterwards, so the next run uses the same store key, hence the same
    event ids (which order events of the same instant).
    """
    key = "order-store"
    with db.write() as conn:
        create_store(conn, key, account="acme", platform="woocommerce")
        store = get_store(conn, key)
    for start in range(0, len(order), batch):
        with db.write() as conn:
            for index in order[start:start + batch]:
                topic, body = SNAPSHOTS[index]
                receive(conn, store_id=store.id, source="woocommerce", topic=topic,
                        delivery_key=f"woocommerce:{key}:{index}", body=body)
        process_pending(db)
    state = _final_state(db, store.id)
    with db.write() as conn:
        remove_store(conn, key)
    return state


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(SNAPSHOTS))), batch=st.integers(1, len(SNAPSHOTS)))
def test_order_snapshots_in_any_order_end_in_the_same_state(db: Database, order: list[int],
                                                            batch: int) -> None:
    expected = _deliver(db, list(range(len(SNAPSHOTS))), len(SNAPSHOTS))
    got = _deliver(db, order, batch)
    assert got == expected
    assert [row[2] for row in got["resource"]] == ["order_refunded"]
    assert {row[0] for row in got["events"]} >= {"order_placed", "order_paid",
                                                  "order_fulfilled", "order_refunded"}
