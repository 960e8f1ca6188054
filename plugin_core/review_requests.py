"""Review requests as rows: created from orders, timed from the journey, cancelled when the
order is.

The inbox worker calls `save_contact` for every order snapshot's contact and `schedule` with
the batch's events, in the transaction that records them; both are idempotent (a redelivered
snapshot changes nothing). A request's first message (`review_messages`, kind "request") is
due when review_timing says; the sender job (review_sender.py) claims due messages, and adds
the reminder when the request went out. A cancelled, refunded or redacted order cancels the
messages not sent yet.

Request statuses: waiting (nothing says the order is on its way, or requests are off),
scheduled (its message is due at some time), sent, submitted, cancelled, skipped (the sender
decided not to send: unsubscribed, capped, no address, the platform asks itself).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from parcours import tables as t
from parcours.accounts import store_facts
from parcours.adapters.base import OrderContact
from parcours.db import chunks, upsert
from parcours.errors import NotFoundError, ValidationError
from parcours.events import JourneyEvent, email_hash
from parcours.review_timing import ReviewSettings, first_due

__all__ = ["ORDER_FACTS", "SETTINGS_FACT", "cancel_requests", "postpone", "retime",
           "review_settings", "save_contacts", "schedule"]

SETTINGS_FACT = "review_settings"
# The order facts that time a request (the earliest report of each counts) or cancel it.
ORDER_FACTS = {"order_placed": "placed_at", "order_fulfilled": "fulfilled_at",
               "order_delivered": "delivered_at", "order_cancelled": "cancelled_at",
               "order_refunded": "cancelled_at"}
OPEN = ("waiting", "scheduled")


def review_settings(conn: Connection, store_id: int) -> ReviewSettings:
    return ReviewSettings.from_dict(store_facts(conn, store_id, SETTINGS_FACT).get(SETTINGS_FACT))


def _ensure(conn: Connection, store_id: int, order_ids: Iterable[str], now: datetime
            ) -> dict[str, int]:
    """The request id of each order, created (waiting, no contact yet) where missing."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    upsert(conn, t.review_requests, [
        {"store_id": store_id, "order_id": order_id, "items": [], "status": "waiting",
         "nonce": secrets.token_hex(16), "created_at": now, "updated_at": now}
        for order_id in wanted], ["store_id", "order_id"])
    r = t.review_requests.c
    return {row.order_id: row.id for row in conn.execute(
        select(r.order_id, r.id).where(r.store_id == store_id, r.order_id.in_(wanted)))}


def save_contacts(conn: Connection, store_id: int, contacts: Iterable[OrderContact],
                  now: datetime) -> None:
    """Keep each order's newest contact on its request (an order may change its email); the
    last contact of an order in `contacts` wins. In bulk: this runs for every order snapshot."""
    newest = {contact.order_id: contact for contact in contacts}
    if not newest:
        return
    ids = _ensure(conn, store_id, newest, now)
    idt = t.identities.c
    profiles: dict[str, int] = {}
    for part in chunks([f"order_id:{order_id}" for order_id in newest]):
        profiles.update((key.partition(":")[2], pid) for key, pid in conn.execute(
            select(idt.key, idt.profile_id).where(idt.store_id == store_id, idt.key.in_(part))))
    rows = [{"b_id": ids[order_id], "b_email": contact.email, "b_name": contact.name,
             "b_locale": contact.locale,
             "b_key": email_hash(contact.email) if contact.email
             else f"customer:{contact.customer_id}" if contact.customer_id else None,
             "b_items": [asdict(item) for item in contact.items],
             "b_profile": profiles.get(order_id)}
            for order_id, contact in newest.items()]
    r = t.review_requests.c
    # A redacted request keeps no contact, whatever arrives later for its order.
    conn.execute(update(t.review_requests).where(
        r.id == bindparam("b_id"), r.reason.is_distinct_from("redacted")).values(
        email=bindparam("b_email"), name=bindparam("b_name"), locale=bindparam("b_locale"),
        customer_key=bindparam("b_key"), items=bindparam("b_items"),
        profile_id=func.coalesce(bindparam("b_profile"), r.profile_id), updated_at=now), rows)


def schedule(conn: Connection, store_id: int, events: Sequence[JourneyEvent], now: datetime
             ) -> None:
    """Apply a batch's order facts to their requests, then (re)time them (a few statements
    per batch, whatever its size: this runs in the inbox worker's transaction)."""
    facts: dict[str, dict[str, datetime]] = {}
    for event in events:
        column = ORDER_FACTS.get(event.name)
        order_id = event.identities.get("order_id")
        if column is None or not order_id or len(order_id) > 64:
            continue
        seen = facts.setdefault(order_id, {})
        if column not in seen or event.occurred_at < seen[column]:
            seen[column] = event.occurred_at
    if not facts:
        return
    ids = _ensure(conn, store_id, facts, now)
    r = t.review_requests.c
    columns = sorted(set(ORDER_FACTS.values()))
    stored = {row.id: row._asdict() for part in chunks(list(ids.values()))
              for row in conn.execute(select(r.id, *(r[c] for c in columns))
                                      .where(r.id.in_(part)))}
    changed = []
    for order_id, found in facts.items():
        row = stored[ids[order_id]]
        earliest = {column: min(at, row[column]) if row[column] else at
                    for column, at in found.items()}
        if any(row[column] != at for column, at in earliest.items()):
            changed.append({f"b_{c}": earliest.get(c, row[c]) for c in ("id", *columns)})
    if changed:
        conn.execute(update(t.review_requests).where(r.id == bindparam("b_id")).values(
            updated_at=now, **{c: bindparam(f"b_{c}") for c in columns}), changed)
    retime(conn, store_id, ids.values(), now)


def retime(conn: Connection, store_id: int, request_ids: Iterable[int], now: datetime) -> None:
    """Bring the open requests' first messages in line with their facts and the store's
    settings: cancel, create, move or drop them, in bulk."""
    ids = sorted(set(request_ids))
    if not ids:
        return
    settings = review_settings(conn, store_id)
    r, m = t.review_requests.c, t.review_messages.c
    first = t.review_requests.outerjoin(t.review_messages,
                                        and_(m.request_id == r.id, m.kind == "request"))
    cancelled: list[int] = []
    drops: list[int] = []
    inserts: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    for part in chunks(ids):
        for row in conn.execute(
                select(r.id, r.status, r.reason, r.cancelled_at, r.delivered_at,
                       r.fulfilled_at, r.postponed_until, m.id.label("message_id"),
                       m.status.label("message_status"), m.due_at)
                .select_from(first).where(r.id.in_(part), r.status.in_(OPEN))):
            if row.cancelled_at is not None:
                cancelled.append(row.id)
                continue
            due = first_due(settings, delivered_at=row.delivered_at,
                            fulfilled_at=row.fulfilled_at,
                            postponed_until=row.postponed_until) if settings.enabled else None
            if due is None:
                if row.message_status == "due":
                    drops.append(row.message_id)
                status, reason = "waiting", None if settings.enabled else "review requests are off"
            else:
                if row.message_id is None:
                    inserts.append({"request_id": row.id, "store_id": store_id,
                                    "kind": "request", "due_at": due, "status": "due",
                                    "attempts": 0})
                elif row.message_status == "due" and row.due_at != due:
                    moves.append({"b_id": row.message_id, "b_due": due})
                status, reason = "scheduled", None
            if (row.status, row.reason) != (status, reason):
                statuses.append({"b_id": row.id, "b_status": status, "b_reason": reason})
    _close(conn, cancelled, "cancelled", "the order was cancelled or refunded", now)
    for part in chunks(drops):
        conn.execute(delete(t.review_messages).where(m.id.in_(part)))
    if inserts:
        conn.execute(insert(t.review_messages), inserts)
    if moves:
        conn.execute(update(t.review_messages).where(m.id == bindparam("b_id"))
                     .values(due_at=bindparam("b_due")), moves)
    if statuses:
        conn.execute(update(t.review_requests).where(r.id == bindparam("b_id")).values(
            status=bindparam("b_status"), reason=bindparam("b_reason"), updated_at=now),
            statuses)


def _close(conn: Connection, request_ids: Sequence[int], status: str, reason: str,
           now: datetime) -> None:
    """End requests: their messages not handed to a channel yet are cancelled."""
    r, m = t.review_requests.c, t.review_messages.c
    for part in chunks(request_ids):
        conn.execute(update(t.review_messages).where(m.request_id.in_(part), m.status == "due")
                     .values(status="cancelled", reason=reason))
        conn.execute(update(t.review_requests).where(r.id.in_(part))
                     .values(status=status, reason=reason, updated_at=now))


def cancel_requests(conn: Connection, store_id: int, *, profile_ids: Sequence[int] = (),
                    order_ids: Sequence[str] = (), email_hashes: Sequence[str] = (),
                    reason: str, now: datetime, forget_contact: bool = False) -> int:
    """Stop asking these profiles, orders or addresses (redaction, unsubscribe): every message
    still due is cancelled (a sent request's reminder too) and open requests end. With
    `forget_contact` (redaction) the requests also lose their address and name. How many
    requests matched."""
    r, m = t.review_requests.c, t.review_messages.c
    matches = [clause for clause in (
        r.profile_id.in_(profile_ids) if profile_ids else None,
        r.order_id.in_(order_ids) if order_ids else None,
        r.customer_key.in_(email_hashes) if email_hashes else None) if clause is not None]
    if not matches:
        return 0
    rows = conn.execute(select(r.id, r.status).where(r.store_id == store_id, or_(*matches))).all()
    ids = [row.id for row in rows]
    _close(conn, [row.id for row in rows if row.status in OPEN], "cancelled", reason, now)
    for part in chunks(ids):
        conn.execute(update(t.review_messages).where(m.request_id.in_(part), m.status == "due")
                     .values(status="cancelled", reason=reason))
        if forget_contact:
            conn.execute(update(t.review_requests).where(r.id.in_(part))
                         .values(email=None, name=None, reason=reason, updated_at=now))
    return len(rows)


def postpone(conn: Connection, store_id: int, order_id: str, until: datetime, now: datetime
             ) -> datetime:
    """The merchant delays an order's request; when it is now due."""
    r, m = t.review_requests.c, t.review_messages.c
    row = conn.execute(select(r.id, r.status).where(r.store_id == store_id,
                                                   r.order_id == order_id)).first()
    if row is None:
        raise NotFoundError(f"no review request for order {order_id!r}")
    if row.status not in OPEN:
        raise ValidationError("the request cannot be postponed",
                              {"order_id": [f"its request is {row.status}"]})
    if until.tzinfo is None or until <= now:
        raise ValidationError("the request cannot be postponed",
                              {"until": ["a time in the future, with its zone"]})
    conn.execute(update(t.review_requests).where(r.id == row.id)
                 .values(postponed_until=until, updated_at=now))
    retime(conn, store_id, [row.id], now)
    due = conn.execute(select(m.due_at).where(m.request_id == row.id, m.kind == "request",
                                              m.status == "due")).scalar()
    return due or until

