"""Data subjects' rights, for every platform: export, redaction, store deletion and retention.

Shopify makes these mandatory (customers/data_request, customers/redact, shop/redact) and the
GDPR asks them of every shop, so they work on what Parcours holds whatever the platform.

What is held on a customer: the profiles their identity keys lead to (with those profiles'
identities, events, journeys and resource snapshots) and the raw deliveries in the inbox that
mention them. Deliveries are raw bytes, so "mention" is decided by a cheap bytes search for the
subject's email, phone and ids, then, for the few candidates, by reading the parsed JSON.

Redaction keeps the analytics true: profiles, events and journeys stay (rollups are aggregates
with no personal data, and deleting rows would make the counts drift) but nothing can lead from
them back to the person any more: the profiles' identities are deleted, the events' identities
emptied, and every personal value in events, snapshots and deliveries replaced. Requests are
recorded with pseudonymous keys only (customer id, email hash, order ids): the clear email and
phone given by the caller are used in memory and never stored.

Everything here runs on the caller's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Table,
    bindparam,
    case,
    delete,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)

from parcours import tables as t
from parcours.accounts import remove_store
from parcours.adapters.base import OrderContact, adapter_for
from parcours.credentials import drop_credentials
from parcours.db import chunks
from parcours.errors import NotFoundError, ParcoursError, ValidationError
from parcours.events import email_hash
from parcours.journey import path_stages
from parcours.recorder import StoreRef
from parcours.review_requests import cancel_requests
from parcours.stages import Stage

__all__ = ["PERSONAL_KEYS", "REDACTED", "Subject", "data_request", "get_export",
           "purge_due", "redact_customer", "schedule_store_deletion"]

REDACTED = "[redacted]"

# Keys whose whole value is personal data, wherever they appear in a payload (keys compared in
# lower case). A container under one of them (an address, the customer) is scrubbed leaf by leaf.
# `name` is not listed on its own: at the top of an order or in a line item it names the order or
# the product; the names of people sit under the customer and address keys, which are listed.
PERSONAL_KEYS = frozenset({
    # the person, their contact details and accounts
    "customer", "identities", "email", "contact_email", "customer_email", "email_hash",
    "phone", "sms_marketing_phone", "first_name", "last_name", "username", "display_name",
    "avatar_url", "birthday", "customer_id", "user_id", "anonymous_id", "multipass_identifier",
    "email_marketing_consent", "sms_marketing_consent",
    # where they live or receive parcels
    "billing_address", "shipping_address", "default_address", "addresses", "billing",
    "shipping", "destination", "company", "address1", "address2", "address_1", "address_2",
    "city", "zip", "postcode", "province", "latitude", "longitude",
    "tracking_number", "tracking_numbers", "tracking_url", "tracking_urls",
    # their device and connection
    "client_details", "browser_ip", "client_ip", "ip", "ip_address", "customer_ip_address",
    "user_agent", "customer_user_agent", "accept_language",
    # what they typed: notes, gift messages, line-item options, plugins' custom fields
    "note", "customer_note", "note_attributes", "properties", "meta_data",
    # links that open their order or checkout without logging in
    "order_status_url", "abandoned_checkout_url", "payment_url",
})

_CHUNK = 200  # inbox rows read at a time: bodies can be large, the inbox is the biggest table
_MIN_PHONE_DIGITS = 7  # a shorter "phone" would match unrelated numbers


@dataclass(frozen=True)
class Subject:
    """Whom a request is about. `email` and `phone` serve to find and scrub; never stored."""

    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    order_ids: tuple[str, ...] = ()

    def keys(self) -> tuple[str, ...]:
        """The identity keys as the recorder stores them in `identities.key`."""
        keys = [f"customer_id:{self.customer_id}"] if self.customer_id else []
        keys += [f"email_hash:{email_hash(self.email)}"] if self.email else []
        return (*keys, *(f"order_id:{order_id}" for order_id in self.order_ids))

    def pseudonymous(self) -> dict[str, Any]:
        """What a request row keeps of its subject: enough to match a later redaction."""
        return {"customer_id": self.customer_id,
                "email_hash": email_hash(self.email) if self.email else None,
                "order_ids": list(self.order_ids)}

    def same_person(self, stored: Mapping[str, Any]) -> bool:
        """Whether a stored `pseudonymous()` subject shares a key with this one."""
        mine = self.pseudonymous()
        return any(mine[k] is not None and mine[k] == stored.get(k)
                   for k in ("customer_id", "email_hash")) or bool(
            set(self.order_ids) & set(stored.get("order_ids") or ()))

    def check(self) -> None:
        """Refuse a subject with no identifier: it would match nothing, yet be recorded as done."""
        if not (self.customer_id or self.email or self.order_ids):
            raise ValidationError("name the customer", {
                "subject": ["give an email, a customer_id or order_ids"]})


class _Needles:
    """How the subject shows in text (email, phone) and in parsed payloads (their ids)."""

    def __init__(self, subject: Subject) -> None:
        phone = (subject.phone or "").strip().lower()
        digits = "".join(filter(str.isdigit, phone))
        usable = len(digits) >= _MIN_PHONE_DIGITS
        self.email = subject.email.strip().lower() if subject.email else None
        self.phone: str | None = phone if usable else None
        self.phone_digits: str | None = digits if usable else None
        self.customer_id = subject.customer_id
        self.order_ids = frozenset(subject.order_ids)
        # Bytes searched in lower-cased bodies: the texts prove a mention; the ids only make a
        # body worth parsing (a number can occur by chance, a parsed field cannot).
        self.texts = tuple(text.encode() for text in (self.email, self.phone) if text)
        self.candidates = self.texts + tuple(
            i.lower().encode() for i in (self.customer_id, *self.order_ids) if i)

    def in_text(self, text: str) -> bool:
        """The email (any case) or the phone (as written, or its digits) occurs in `text`."""
        lowered = text.lower()
        if any(needle in lowered for needle in (self.email, self.phone) if needle):
            return True
        return self.phone_digits is not None and self.phone_digits in "".join(
            filter(str.isdigit, text))

    def in_payload(self, topic: str, payload: Any) -> bool:
        """The payload is about the subject: its customer, or one of its orders.

        The top-level `id` is the customer's on a customer topic and the order's on an order
        topic ("customers/update", "order.updated"); elsewhere ids are named by their keys.
        """
        kind = topic.replace(".", "/").split("/")[0].lower().rstrip("s")
        if isinstance(payload, dict) and "id" in payload and (
                (kind == "customer" and _text(payload["id"]) == self.customer_id)
                or (kind == "order" and _text(payload["id"]) in self.order_ids)):
            return True
        for obj in _objects(payload):
            customer = obj.get("customer")
            customer_id = customer.get("id") if isinstance(customer, dict) else None
            if self.customer_id is not None and self.customer_id in (
                    _text(obj.get("customer_id")), _text(customer_id)):
                return True
            if _text(obj.get("order_id")) in self.order_ids:
                return True
        return False


def _text(value: Any) -> str | None:
    """An id as text, the way stored ids are (payloads send numbers or strings)."""
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a payload, depth first, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _scrub(value: Any, needles: _Needles, personal: bool = False) -> Any:
    """A copy of a JSON value with personal data replaced.

    Under a personal key every leaf goes: strings become REDACTED, other values null (a number
    cannot hold the marker, and null reads as "absent" to every normalizer, so a replayed body
    can never stitch redacted customers together through a shared placeholder id). Elsewhere a
    string goes when it contains the subject's email or phone (a URL, a free-text field).
    """
    if isinstance(value, dict):
        return {(REDACTED if needles.in_text(key) else key):
                _scrub(item, needles, personal or key.lower() in PERSONAL_KEYS)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, needles, personal) for item in value]
    if value is None or not (personal or (isinstance(value, str) and needles.in_text(value))):
        return value
    return REDACTED if isinstance(value, str) else None


@dataclass
class _Delivery:
    row: Any  # id, source, topic, status, received_at, error of the inbox row
    body: bytes
    payload: Any  # None when the body is not JSON
    parsed: bool


def _deliveries(conn: Connection, store_id: int, needles: _Needles
                ) -> Iterator[_Delivery]:
    """The store's inbox rows that mention the subject, read a chunk at a time by id.

    Keyset pages rather than one open cursor: the inbox is the biggest table, and redaction
    updates rows between pages. Rows of no store (a shop not yet added) belong to no one to ask
    about; `purge_due` deletes them after the retention.
    """
    c = t.inbox.c
    last = 0
    while True:
        rows = conn.execute(select(c.id, c.source, c.topic, c.status, c.received_at, c.body,
                                   c.error)
                            .where(c.store_id == store_id, c.id > last)
                            .order_by(c.id).limit(_CHUNK)).all()
        if not rows:
            return
        last = rows[-1].id
        for row in rows:
            body = bytes(row.body)
            lowered = body.lower()
            if not any(needle in lowered for needle in needles.candidates):
                continue
            try:
                payload, parsed = json.loads(body), True
            except (ValueError, RecursionError):
                payload, parsed = None, False
            if any(needle in lowered for needle in needles.texts) or (
                    parsed and needles.in_payload(row.topic, payload)):
                yield _Delivery(row, body, payload, parsed)


def _profile_ids(conn: Connection, store: StoreRef, subject: Subject) -> list[int]:
    idt = t.identities.c
    found = conn.execute(select(idt.profile_id).distinct()
                         .where(idt.store_id == store.id, idt.key.in_(subject.keys())))
    return sorted(found.scalars())


def _record_request(conn: Connection, store: StoreRef, kind: str, subject: Subject,
                    reference: str | None, now: datetime, export: dict[str, Any] | None = None
                    ) -> int:
    return int(conn.execute(insert(t.privacy_requests).values(
        store_id=store.id, kind=kind, reference=reference, subject=subject.pseudonymous(),
        requested_at=now, completed_at=now, export=null() if export is None else export,
    ).returning(t.privacy_requests.c.id)).scalar_one())


# -- export ---------------------------------------------------------------------------------------

def data_request(conn: Connection, store: StoreRef, subject: Subject, *,
                 reference: str | None = None, now: datetime) -> int:
    """Export everything held on the subject, keep it with the request, return the request id.

    The export is kept so the merchant can fetch it again (Shopify relays the request to the
    merchant, who answers the customer); it goes with the customer's redaction or the retention.
    """
    subject.check()
    export = {
        "store": store.key, "generated_at": now.isoformat(), "subject": subject.pseudonymous(),
        "profiles": _export_profiles(conn, _profile_ids(conn, store, subject)),
        "deliveries": [_export_delivery(d) for d in _deliveries(conn, store.id,
                                                                 _Needles(subject))],
    }
    return _record_request(conn, store, "data_request", subject, reference, now, export)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _export_profiles(conn: Connection, pids: list[int]) -> list[dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    row: Any  # each query below has its own columns
    p, i, e, j, r = (t.profiles.c, t.identities.c, t.events.c, t.journeys.c,
                     t.resource_states.c)
    for part in chunks(pids):
        for row in conn.execute(select(p.id, p.created_at, p.stage, p.last_event_at)
                                .where(p.id.in_(part)).order_by(p.id)):
            out[row.id] = {
                "id": row.id, "created_at": _iso(row.created_at),
                "stage": None if row.stage is None else Stage(row.stage).label,
                "last_event_at": _iso(row.last_event_at),
                "identities": [], "events": [], "journeys": [], "resources": [],
                "reviews": [], "review_requests": []}
        for row in conn.execute(select(i.profile_id, i.key).where(i.profile_id.in_(part))
                                .order_by(i.key)):
            kind, _, value = row.key.partition(":")
            out[row.profile_id]["identities"].append({"kind": kind, "value": value})
        for row in conn.execute(select(t.events).where(e.profile_id.in_(part))
                                .order_by(e.occurred_at, e.id)):
            resource = None if row.resource_type is None else {
                "type": row.resource_type, "id": row.resource_id,
                "updated_at": _iso(row.resource_updated_at)}
            out[row.profile_id]["events"].append({
                "name": row.name, "occurred_at": _iso(row.occurred_at), "source": row.source,
                "identities": row.identities, "properties": row.properties,
                "resource": resource})
        for row in conn.execute(select(t.journeys).where(j.profile_id.in_(part))
                                .order_by(j.idx)):
            out[row.profile_id]["journeys"].append({
                "index": row.idx, "opened_at": _iso(row.opened_at),
                "last_event_at": _iso(row.last_event_at),
                "converted_at": _iso(row.converted_at), "order_id": row.order_id,
                "stages": [stage.label for stage in path_stages(row.path)],
                "amount": None if row.amount_micros is None
                else str(t.from_micros(row.amount_micros)),
                "currency": row.currency, "device": row.device, "channel": row.channel,
                "country": row.country})
        for row in conn.execute(select(t.resource_states).where(r.profile_id.in_(part))
                                .order_by(r.type, r.resource_id)):
            out[row.profile_id]["resources"].append({
                "type": row.type, "id": row.resource_id, "updated_at": _iso(row.updated_at),
                "state": row.state, "data": row.data})
        for row in conn.execute(select(t.reviews).where(t.reviews.c.profile_id.in_(part))
                                .order_by(t.reviews.c.id)):
            out[row.profile_id]["reviews"].append({
                "product_id": row.product_id, "order_id": row.order_id, "rating": row.rating,
                "title": row.title, "body": row.body, "author": row.author,
                "created_at": _iso(row.created_at), "status": row.status})
        q = t.review_requests.c
        for row in conn.execute(select(t.review_requests).where(q.profile_id.in_(part))
                                .order_by(q.id)):
            out[row.profile_id]["review_requests"].append({
                "order_id": row.order_id, "email": row.email, "name": row.name,
                "locale": row.locale, "status": row.status,
                "items": row.items, "opened_at": _iso(row.opened_at),
                "submitted_at": _iso(row.submitted_at), "ces": row.ces, "nps": row.nps})
    return list(out.values())


def _export_delivery(delivery: _Delivery) -> dict[str, Any]:
    row = delivery.row
    return {"id": row.id, "source": row.source, "topic": row.topic, "status": row.status,
            "received_at": _iso(row.received_at),
            "body": delivery.payload if delivery.parsed
            else delivery.body.decode("utf-8", "replace")}


def get_export(conn: Connection, store: StoreRef, request_id: int) -> dict[str, Any]:
    """The export of one of this store's data requests (another store's is "not found")."""
    c = t.privacy_requests.c
    row = conn.execute(select(c.export).where(c.id == request_id, c.store_id == store.id,
                                              c.kind == "data_request")).first()
    if row is None:
        raise NotFoundError(f"no data request {request_id} for store {store.key!r}")
    if row.export is None:
        raise NotFoundError(f"the export of data request {request_id} was deleted "
                            "(the customer was redacted, or it passed its retention)")
    return dict(row.export)


# -- redaction ------------------------------------------------------------------------------------

def redact_customer(conn: Connection, store: StoreRef, subject: Subject, *,
                    reference: str | None = None, now: datetime) -> dict[str, int]:
    """Remove the subject's personal data from everything the store holds; counts of what changed.

    Not undoable. The profiles, events and journeys stay, unlinked and scrubbed, so the
    dashboard's numbers do not change; see the module docstring.
    """
    subject.check()
    needles = _Needles(subject)
    pids = _profile_ids(conn, store, subject)
    identities = 0
    for part in chunks(pids):
        identities += conn.execute(delete(t.identities).where(
            t.identities.c.store_id == store.id, t.identities.c.profile_id.in_(part))).rowcount
    deliveries, orders = _scrub_deliveries(conn, store, needles)
    summary = {
        "profiles": len(pids), "identities": identities,
        # Events keep their stored id, so a fact key naming the customer ("customer:<id>:
        # created") can go too; snapshots are the properties of their newest event.
        "events": _rewrite(conn, t.events, store, pids, ("id",), lambda row: {
            "identities": {}, "properties": _scrub(row["properties"], needles),
            "key": None if needles.customer_id in (row["key"] or "").split(":")
            else row["key"]}),
        "resources": _rewrite(conn, t.resource_states, store, pids, ("type", "resource_id"),
                              lambda row: {"data": _scrub(row["data"], needles)}),
        # A review stays published (its rating counts like any other), without its author's
        # name and with any email or phone in its text gone.
        # and published again so that the platforms' copies lose them too.
        "reviews": _rewrite(conn, t.reviews, store, pids, ("id",), lambda row: {
            "author": None, "title": _scrub(row["title"], needles),
            "body": _scrub(row["body"], needles), "sync_status": "pending",
            "sync_attempts": 0, "sync_error": None}),
        # Photos may show the person: they go with the name.
        "review_photos": _delete_photos(conn, store, pids),
        # Their requests stop and forget the address; nothing is mailed to them again.
        "review_requests": cancel_requests(
            conn, store.id, profile_ids=pids, order_ids=[*subject.order_ids, *orders],
            email_hashes=[email_hash(subject.email)] if subject.email else [], reason="redacted",
            now=now,
            forget_contact=True),
        "deliveries": deliveries,
        "exports": _drop_exports(conn, store, subject),
    }
    summary["request"] = _record_request(conn, store, "redact_customer", subject, reference, now)
    return summary


def _delete_photos(conn: Connection, store: StoreRef, pids: list[int]) -> int:
    deleted = 0
    for part in chunks(pids):
        reviews = select(t.reviews.c.id).where(t.reviews.c.store_id == store.id,
                                               t.reviews.c.profile_id.in_(part))
        deleted += conn.execute(delete(t.review_photos).where(
            t.review_photos.c.review_id.in_(reviews))).rowcount
    return deleted


def _rewrite(conn: Connection, table: Table, store: StoreRef, pids: list[int],
             key: tuple[str, ...], change: Callable[[RowMapping], dict[str, Any]]) -> int:
    """Give every row of the profiles in `table` the values `change` computes from it."""
    rows: list[dict[str, Any]] = []
    for part in chunks(pids):
        for row in conn.execute(select(table).where(
                table.c.store_id == store.id, table.c.profile_id.in_(part))).mappings():
            rows.append({**{f"k_{c}": row[c] for c in key},
                         **{f"v_{c}": value for c, value in change(row).items()}})
    if rows:
        conn.execute(update(table)
                     .where(table.c.store_id == store.id,
                            *(table.c[c] == bindparam(f"k_{c}") for c in key))
                     .values({name[2:]: bindparam(name) for name in rows[0]
                              if name.startswith("v_")}), rows)
    return len(rows)


def _scrub_deliveries(conn: Connection, store: StoreRef, needles: _Needles
                      ) -> tuple[int, set[str]]:
    """Rewrite each mentioning body as a scrubbed JSON copy; a body that is not JSON cannot be
    scrubbed field by field, so it is emptied and the row says why. Also the orders whose
    review-request contact a mentioning delivery gave (the order's email may not be the one
    the subject is known by)."""
    count, orders = 0, set()
    for delivery in _deliveries(conn, store.id, needles):
        error = delivery.row.error
        if delivery.parsed:
            with suppress(ParcoursError, LookupError):
                orders |= {action.order_id for action in adapter_for(delivery.row.source)
                           .normalize(store.key, delivery.row.topic, delivery.payload).actions
                           if isinstance(action, OrderContact)}
            body = json.dumps(_scrub(delivery.payload, needles), ensure_ascii=False).encode()
            error = REDACTED if error is not None and needles.in_text(error) else error
        else:
            body, error = b"", "body removed by a customer redaction (it was not JSON)"
        conn.execute(update(t.inbox).where(t.inbox.c.id == delivery.row.id)
                     .values(body=body, error=error))
        count += 1
    return count, orders


def _drop_exports(conn: Connection, store: StoreRef, subject: Subject) -> int:
    """Delete the exports made for the subject; the request rows stay (pseudonymous) as the
    record that the request was answered."""
    c = t.privacy_requests.c
    rows = conn.execute(select(c.id, c.subject).where(
        c.store_id == store.id, c.kind == "data_request", c.export.is_not(None)))
    ids = [row.id for row in rows if subject.same_person(row.subject)]
    for part in chunks(ids):
        conn.execute(update(t.privacy_requests).where(c.id.in_(part)).values(export=null()))
    return len(ids)


# -- store deletion and retention -----------------------------------------------------------------

def schedule_store_deletion(conn: Connection, store_id: int, *, after: timedelta,
                            now: datetime, uninstalled: bool) -> None:
    """Forget the store's credentials now and delete its data once `after` has passed.

    Credentials go at once: nothing may call the platform for a store that removed the app.
    The data waits (a merchant who reinstalls within the retention finds it again), and an
    earlier deadline already set, e.g. by shop/redact, is never pushed back.
    """
    s = t.stores.c
    due = literal(now + after, s.delete_after.type)  # typed: stored as UTC like the column
    values: dict[str, Any] = {"delete_after": case(
        (or_(s.delete_after.is_(None), s.delete_after > due), due), else_=s.delete_after)}
    if uninstalled:
        values["uninstalled_at"] = now
    if conn.execute(update(t.stores).where(s.id == store_id).values(values)).rowcount == 0:
        raise NotFoundError(f"no store with id {store_id}")
    drop_credentials(conn, store_id)


def purge_due(conn: Connection, *, now: datetime,
              inbox_retention: timedelta = timedelta(days=30),
              export_retention: timedelta = timedelta(days=30)) -> dict[str, int]:
    """Delete what is due; the periodic job runs it, and running it twice changes nothing.

    - stores past their `delete_after`, with everything held for them;
    - deliveries older than `inbox_retention` that are done, pings, or of no store: their bodies
      hold personal data and deduplication only needs recent keys (platforms retry for hours,
      not weeks). Pending and failed rows stay: they still await a worker or an operator;
    - exports older than `export_retention`: they are for answering a request, not an archive.
    """
    s, i, p = t.stores.c, t.inbox.c, t.privacy_requests.c
    keys = list(conn.execute(select(s.key).where(s.delete_after <= now)).scalars())
    for key in keys:
        remove_store(conn, key)
    deliveries = conn.execute(delete(t.inbox).where(
        i.received_at < now - inbox_retention,
        or_(i.store_id.is_(None), i.status.in_(("done", "ping"))))).rowcount
    exports = conn.execute(update(t.privacy_requests).where(
        p.kind == "data_request", p.export.is_not(None), p.requested_at < now - export_retention,
    ).values(export=null())).rowcount
    return {"stores": len(keys), "deliveries": deliveries, "exports": exports}
