"""The durable inbox: every delivery is a row before it is acknowledged; workers drain it.

The database is the source of truth and the queue only wakes workers: `process_pending` claims
due rows itself, so a lost queue message or a killed worker loses nothing (its transaction rolls
back and the rows are claimed again). Rows are normalized by their platform's adapter, recorded,
and marked done in one transaction; event ids are deterministic, so processing a row twice
never records an event twice.

Row statuses: pending (to do, maybe after a backoff), done, failed (parked with the reason: an
invalid body, or too many attempts; `replay` puts it back), ping (a platform's creation ping,
kept as evidence, never an event).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from parcours import tables as t
from parcours.accounts import get_store, store_hosts
from parcours.actions import apply_actions
from parcours.adapters.base import Action, Normalized, StorefrontFact, adapter_for
from parcours.db import Database
from parcours.errors import NotFoundError, ParcoursError, ValidationError
from parcours.events import JourneyEvent, unstorable_text
from parcours.recorder import StoreRef, record
from parcours.review_requests import schedule as schedule_reviews
from parcours.segments import with_segments

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
_STORE_CANDIDATES = 200  # stores looked at per claim (oldest due rows first)
# New and replayed rows are due this long before their receipt: workers on other machines may
# run minutes behind the receiving server (the signatures' window tolerates five), and a row
# due "in the future" by their clock would wait that long for its first claim.
CLOCK_SKEW = timedelta(minutes=5)
STATUSES = ("pending", "done", "failed", "ping")
# Storefront batches (`POST /collect`) keep their request's User-Agent under this header name:
# their events' segments are derived from it here, where they are normalized.
COLLECT_TOPIC = "collect"
USER_AGENT = "user-agent"


def receive(conn: Connection, *, store_id: int | None, source: str, topic: str,
            delivery_key: str, body: bytes, headers: Mapping[str, str] | None = None,
            status: str = "pending", now: datetime | None = None) -> bool:
    """Insert one delivery; False when its key was already received (nothing is stored)."""
    moment = now or datetime.now(UTC)
    row = {"store_id": store_id, "source": source, "topic": topic,
           "delivery_key": delivery_key, "headers": dict(headers or {}), "body": body,
           "received_at": moment, "status": status, "attempts": 0,
           "next_attempt_at": moment - CLOCK_SKEW}
    return conn.execute(_insert_once(conn.dialect.name), row).first() is not None


def receive_events(conn: Connection, store_id: int, key: str,
                   events: Sequence[Mapping[str, Any]], now: datetime | None = None) -> bool:
    """Parcours' own journey events (a review request sent, a form opened or submitted) as one
    delivery of the custom adapter's shape, recorded by the worker like every event. `key`
    makes it once-only: False when that delivery was already received."""
    body = json.dumps({"events": list(events)}, separators=(",", ":"), default=str).encode()
    return receive(conn, store_id=store_id, source="custom", topic="events",
                   delivery_key=f"parcours:{key}"[:255], body=body, now=now)


def receive_order_fact(conn: Connection, store_id: int, order_id: str, name: str,
                       at: datetime, properties: Mapping[str, Any] | None = None,
                       email_hash: str | None = None) -> bool:
    """One fact of an order that Parcours itself observed (a review requested, a review form
    opened or submitted), keyed "order:<id>:<name>" so that it is recorded once."""
    key = f"order:{order_id}:{name}"
    identities = {"order_id": order_id, **({"email_hash": email_hash} if email_hash else {})}
    return receive_events(conn, store_id, key, [{
        "name": name, "occurred_at": at.isoformat(), "identities": identities,
        "properties": dict(properties or {}), "source": "parcours", "key": key}], now=at)


@cache
def _insert_once(dialect_name: str) -> Insert:
    """Built once per dialect: this runs on every acknowledged delivery."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    stmt: Insert = (insert(t.inbox).on_conflict_do_nothing(index_elements=["delivery_key"])
                    .returning(t.inbox.c.id))
    return stmt


def normalize_body(source: str, store_key: str, topic: str, body: bytes) -> Normalized:
    """Parse a stored body and normalize it with its platform's adapter (pure)."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", {"body": [str(exc)]}) from None
    where = unstorable_text(payload)
    if where:
        raise ValidationError("the body holds text no database can store", {where: [
            "the NUL character or a lone surrogate"]})
    return adapter_for(source).normalize(store_key, topic, payload)


@dataclass
class DrainResult:
    done: int = 0
    failed: int = 0
    retried: int = 0
    events: int = 0


@dataclass
class _Row:
    id: int
    store_id: int | None
    source: str
    topic: str
    headers: dict[str, str]
    body: bytes
    attempts: int
    received_at: datetime


@dataclass
class _StoreWork:
    events: list[JourneyEvent] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    done: list[int] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts * 5, 3600))


def _free_stores(conn: Connection, limit: int, now: datetime) -> list[int]:
    """PostgreSQL: stores with due rows (oldest first) whose lock this transaction could take
    without waiting, enough of them for `limit` rows; 0 stands for rows of no known store.

    Each store's profiles have one writer at a time (its advisory lock). When every batch took
    the oldest rows of every store, workers queued on each other's locks and a third worker
    added nothing (bench scaleout: 5 of 6 busy sessions waiting); a worker now takes the
    stores no other worker is recording, and the others get the rest."""
    c = t.inbox.c
    store = func.coalesce(c.store_id, 0)
    due = (select(store.label("store"), func.count().label("rows"))
           .where(c.status == "pending", c.next_attempt_at <= now)
           .group_by(store).order_by(func.min(c.id)).limit(_STORE_CANDIDATES))
    free, rows = [], 0
    for candidate in conn.execute(due):
        if conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                        {"k": candidate.store}).scalar():
            free.append(int(candidate.store))
            rows += int(candidate.rows)
            if rows >= limit:
                break
    return free


def _claim(conn: Connection, limit: int, now: datetime) -> list[_Row]:
    c = t.inbox.c
    query = (select(c.id, c.store_id, c.source, c.topic, c.headers, c.body, c.attempts,
                    c.received_at)
             .where(c.status == "pending", c.next_attempt_at <= now)
             .order_by(c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        free = _free_stores(conn, limit, now)
        if not free:
            return []
        query = query.where(func.coalesce(c.store_id, 0).in_(free)).with_for_update(
            skip_locked=True)
    return [_Row(r.id, r.store_id, r.source, r.topic, dict(r.headers), bytes(r.body), r.attempts,
                 r.received_at) for r in conn.execute(query)]


def process_pending(db: Database, limit: int = 200, now: datetime | None = None, *,
                    uninstall_retention: timedelta = timedelta(days=30)) -> DrainResult:
    """Claim up to `limit` due rows, record their events, mark them done, in one transaction.

    A row whose body is invalid is marked failed with the reason (it would fail forever);
    an unexpected error rolls everything back and schedules the rows again with backoff.
    """
    moment = now or datetime.now(UTC)
    result = DrainResult()
    claimed: list[_Row] = []
    try:
        with db.write() as conn:
            claimed = _claim(conn, limit, moment)
            by_store: defaultdict[int, list[_Row]] = defaultdict(list)
            for row in _resolve_stores(conn, claimed, moment, result):
                by_store[row.store_id or 0].append(row)
            for store_id in sorted(by_store):
                if conn.dialect.name == "postgresql":  # one writer per store's profiles (held
                    # already for the claimed stores; a row resolved to a store now waits)
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": store_id})
                _process_store(conn, store_id, by_store[store_id], moment, result,
                               uninstall_retention)
    except Exception as exc:
        if not claimed:
            raise
        log.exception("inbox batch failed; rows rescheduled")
        _reschedule(db, claimed, f"{type(exc).__name__}: {exc}", moment, result)
    return result


def _resolve_stores(conn: Connection, rows: list[_Row], now: datetime,
                    result: DrainResult) -> list[_Row]:
    """Give rows received for a not-yet-known store (a Shopify domain) their store, if it exists.

    A row whose store still does not exist fails with the reason (replay it once the store is
    added), except privacy and uninstall notices, which have nothing to act on: done.
    """
    ready = []
    for row in rows:
        if row.store_id is None:
            domain = adapter_for(row.source).shop_domain(row.headers) or ""
            row.store_id = conn.execute(select(t.stores.c.id).where(
                t.stores.c.platform == row.source, t.stores.c.domain == domain)).scalar()
            if row.store_id is not None:
                conn.execute(update(t.inbox).where(t.inbox.c.id == row.id)
                             .values(store_id=row.store_id))
        if row.store_id is not None:
            ready.append(row)
            continue
        try:
            normalized = normalize_body(row.source, "", row.topic, row.body)
            unknown = normalized.events or not normalized.actions
        except ParcoursError:
            unknown = True
        if unknown:
            _fail(conn, row, f"no {row.source} store for domain {domain!r}: add the store, "
                             "then `parcours inbox replay`", now, result)
        else:
            _mark_done(conn, [row.id], now, "no such store: nothing held, nothing to do")
            result.done += 1
    return ready


def _process_store(conn: Connection, store_id: int, rows: list[_Row], now: datetime,
                   result: DrainResult, uninstall_retention: timedelta) -> None:
    key = conn.execute(select(t.stores.c.key).where(t.stores.c.id == store_id)).scalar_one()
    store: StoreRef = get_store(conn, key)
    work = _StoreWork()
    hosts: set[str] | None = None
    for row in rows:
        try:
            normalized = normalize_body(row.source, store.key, row.topic, row.body)
        except ParcoursError as exc:
            _fail(conn, row, str(exc) + _fields(exc), now, result)
            continue
        if row.topic == COLLECT_TOPIC:
            hosts = store_hosts(conn, store.id) if hosts is None else hosts
            normalized = replace(normalized, events=with_segments(
                normalized.events, row.headers.get(USER_AGENT), hosts))
        work.events.extend(normalized.events)
        work.actions.extend(_dated(action, row.received_at) for action in normalized.actions)
        work.done.append(row.id)
    result.events += record(conn, store, work.events, now).recorded
    if work.done:
        _mark_done(conn, work.done, now)
        result.done += len(work.done)
    # After the rows are done: a redaction also scrubs the bodies of this very batch.
    apply_actions(conn, store, work.actions, now=now, uninstall_retention=uninstall_retention)
    schedule_reviews(conn, store.id, work.events, now)  # after the contacts the actions saved


def _dated(action: Action, received_at: datetime) -> Action:
    """A storefront fact whose payload has no time is as new as its delivery."""
    if isinstance(action, StorefrontFact) and action.updated_at is None:
        return replace(action, updated_at=received_at)
    return action


def _fields(exc: ParcoursError) -> str:
    if isinstance(exc, ValidationError) and exc.errors:
        return " " + json.dumps(exc.errors, sort_keys=True, default=str)[:1500]
    return ""


def _mark_done(conn: Connection, ids: Sequence[int], now: datetime, note: str | None = None
               ) -> None:
    conn.execute(update(t.inbox).where(t.inbox.c.id.in_(ids)).values(
        status="done", error=note, attempts=t.inbox.c.attempts + 1, processed_at=now))


def _fail(conn: Connection, row: _Row, error: str, now: datetime, result: DrainResult) -> None:
    conn.execute(update(t.inbox).where(t.inbox.c.id == row.id).values(
        status="failed", error=error[:2000], attempts=row.attempts + 1, processed_at=now))
    result.failed += 1


def _reschedule(db: Database, rows: list[_Row], error: str, now: datetime,
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


# -- operators' view: list and replay ----------------------------------------------------------
@dataclass(frozen=True)
class InboxEntry:
    id: int
    store: str | None
    source: str
    topic: str
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    processed_at: datetime | None
    delivery_key: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "received_at": self.received_at.isoformat(),
                "processed_at": self.processed_at and self.processed_at.isoformat()}


def list_entries(conn: Connection, *, store: str | None = None, status: str | None = None,
                 limit: int = 100) -> list[InboxEntry]:
    """The newest deliveries first, optionally of one store and one status."""
    i, s = t.inbox.c, t.stores.c
    query = (select(i.id, s.key.label("store"), i.source, i.topic, i.status, i.attempts, i.error,
                    i.received_at, i.processed_at, i.delivery_key)
             .select_from(t.inbox.outerjoin(t.stores, s.id == i.store_id))
             .order_by(i.id.desc()).limit(limit))
    if store is not None:
        query = query.where(s.key == store)
    if status is not None:
        if status not in STATUSES:
            raise ValidationError("invalid status", {"status": [f"one of {', '.join(STATUSES)}"]})
        query = query.where(i.status == status)
    return [InboxEntry(**row._asdict()) for row in conn.execute(query)]


def replay(conn: Connection, *, ids: Sequence[int] = (), failed: bool = False,
           store: str | None = None, now: datetime | None = None) -> int:
    """Put rows back to pending (now, attempts reset); harmless on done rows (idempotent)."""
    if not ids and not failed:
        raise ValidationError("nothing to replay", {"ids": ["give row ids or --failed"]})
    i = t.inbox.c
    query = update(t.inbox).where(i.status != "ping")
    if ids:
        found = set(conn.execute(select(i.id).where(i.id.in_(ids))).scalars())
        missing = sorted(set(ids) - found)
        if missing:
            raise NotFoundError(f"no inbox row {', '.join(map(str, missing))}")
        query = query.where(i.id.in_(ids))
    if failed:
        query = query.where(i.status == "failed")
    if store is not None:
        query = query.where(i.store_id == get_store(conn, store).id)
    moment = now or datetime.now(UTC)
    return conn.execute(query.values(status="pending", attempts=0, error=None,
                                     next_attempt_at=moment - CLOCK_SKEW,
                                     processed_at=None)).rowcount
