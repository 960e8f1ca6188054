"""The durable inbox: every delivery is a row before it is acknowledged; workers drain it.

The database is the source of truth and the queue only wakes workers: `process_pending` claims
due rows itself, so a lost queue message or a killed worker loses nothing (its transaction rolls
back and the rows are claimed again). A row is processed and marked done in one transaction.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from parcours import tables as t
from parcours.accounts import get_store
from parcours.db import Database
from parcours.errors import ParcoursError, ValidationError
from parcours.events import JourneyEvent, load_events
from parcours.recorder import StoreRef, record

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A source's normalizer turns one delivery body into canonical events (pure; adapters add theirs).
Normalizer = Callable[[str, str, bytes], list[JourneyEvent]]


def canonical_events(store_key: str, topic: str, body: bytes) -> list[JourneyEvent]:
    """Bodies of the API and SDK: {"events": [canonical event, ...]}."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("body is not JSON", {"body": [str(exc)]}) from None
    records = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(records, list):
        raise ValidationError("invalid body", {"events": ["a list of events is required"]})
    return load_events(store_key, records)


NORMALIZERS: dict[str, Normalizer] = {"api": canonical_events}


def receive(conn: Connection, *, store_id: int | None, source: str, topic: str,
            delivery_key: str, body: bytes, headers: Mapping[str, str] | None = None,
            status: str = "pending", now: datetime | None = None) -> bool:
    """Insert one delivery; False when its key was already received (nothing is stored)."""
    moment = now or datetime.now(UTC)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t.inbox).values(
        store_id=store_id, source=source, topic=topic, delivery_key=delivery_key,
        headers=dict(headers or {}), body=body, received_at=moment, status=status,
        attempts=0, next_attempt_at=moment,
    ).on_conflict_do_nothing(index_elements=["delivery_key"]).returning(t.inbox.c.id)
    return conn.execute(stmt).first() is not None


@dataclass
class DrainResult:
    done: int = 0
    failed: int = 0
    retried: int = 0
    events: int = 0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts * 5, 3600))


def _claim(conn: Connection, limit: int, now: datetime) -> list[Any]:
    query = (select(t.inbox.c.id, t.inbox.c.store_id, t.inbox.c.source, t.inbox.c.topic,
                    t.inbox.c.body, t.inbox.c.attempts)
             .where(t.inbox.c.status == "pending", t.inbox.c.next_attempt_at <= now)
             .order_by(t.inbox.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query))


def process_pending(db: Database, limit: int = 200, now: datetime | None = None) -> DrainResult:
    """Claim up to `limit` due rows, record their events, mark them done, in one transaction.

    A row whose body is invalid is marked failed with the reason (it would fail forever);
    an unexpected error rolls everything back and schedules the rows again with backoff.
    """
    moment = now or datetime.now(UTC)
    result = DrainResult()
    claimed: list[Any] = []
    try:
        with db.write() as conn:
            claimed = _claim(conn, limit, moment)
            by_store: defaultdict[int, list[Any]] = defaultdict(list)
            for row in claimed:
                by_store[row.store_id].append(row)
            for store_id in sorted(by_store):
                if conn.dialect.name == "postgresql":  # one writer per store's profiles
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": store_id})
                _process_store(conn, store_id, by_store[store_id], moment, result)
    except Exception as exc:
        if not claimed:
            raise
        log.exception("inbox batch failed; rows rescheduled")
        _reschedule(db, claimed, f"{type(exc).__name__}: {exc}", moment, result)
    return result


def _process_store(conn: Connection, store_id: int, rows: list[Any], now: datetime,
                   result: DrainResult) -> None:
    key = conn.execute(select(t.stores.c.key).where(t.stores.c.id == store_id)).scalar_one()
    store: StoreRef = get_store(conn, key)
    events: list[JourneyEvent] = []
    done: list[int] = []
    for row in rows:
        normalize = NORMALIZERS.get(row.source)
        try:
            if normalize is None:
                raise ValidationError(f"no normalizer for source {row.source!r}")
            events.extend(normalize(store.key, row.topic, bytes(row.body)))
            done.append(row.id)
        except ParcoursError as exc:
            conn.execute(update(t.inbox).where(t.inbox.c.id == row.id).values(
                status="failed", error=str(exc), attempts=row.attempts + 1, processed_at=now))
            result.failed += 1
    result.events += record(conn, store, events, now).recorded
    if done:
        conn.execute(update(t.inbox).where(t.inbox.c.id.in_(done)).values(
            status="done", error=None, attempts=t.inbox.c.attempts + 1, processed_at=now))
        result.done += len(done)


def _reschedule(db: Database, rows: list[Any], error: str, now: datetime,
                result: DrainResult) -> None:
    with db.write() as conn:
        for row in rows:
            attempts = row.attempts + 1
            parked = attempts >= MAX_ATTEMPTS
            conn.execute(update(t.inbox).where(t.inbox.c.id == row.id).values(
                attempts=attempts, error=error[:2000], status="failed" if parked else "pending",
                next_attempt_at=now + _backoff(attempts)))
            result.failed += parked
            result.retried += not parked


def pending_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.inbox)
                                .where(t.inbox.c.status == "pending")).scalar_one())
