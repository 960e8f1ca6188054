"""The review-request sender: claims due messages and hands them to their store's channel.

A Huey periodic task calls `send_due` every minute, on every worker: the database decides what
is sent, and any number of workers may run it at once. The rules, in the store's time zone:

- nothing goes out in the quiet hours (what fell due waits, its due time unchanged), nor past
  the store's `daily_limit` for the local day, nor while the store's requests are off;
- a message is skipped (and its request, with the reason) when the request is no longer open,
  has no address (email), the address unsubscribed, the platform sends its own request
  (WooCommerce 10.8+: never ask twice), or the customer was asked for another order within
  `customer_cap_days` (reminders do not count for that cap);
- a reminder goes out only while the request is still "sent" (no review came).

Never twice, even when a worker is killed: a message moves due -> sending (committed before
any connection) -> handing (committed right before the channel's point of no return) -> sent.
The claim is a compare-and-set UPDATE in its own short transaction, fenced by `attempts`: a
worker whose claim was taken back after the lease cannot move the message on. A message left
"sending" past the lease was never handed over and is put back to due; one left "handing" may
have gone: it becomes "unconfirmed" and is never resent (the merchant sees it).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from hashlib import sha256
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, CursorResult, func, select, update
from sqlalchemy.engine import Row

from parcours import tables as t
from parcours.accounts import store_facts
from parcours.credentials import Vault
from parcours.db import Database, advisory_lock, upsert
from parcours.errors import ConfigError, ParcoursError
from parcours.events import email_hash
from parcours.inbox import receive_order_fact
from parcours.review_channels import CHANNELS, Channel, ChannelContext, ChannelError
from parcours.review_links import form_token, unsubscribe_token
from parcours.review_mail import OutgoingRequest, mail_locale, parse_items
from parcours.review_requests import OPEN, review_settings
from parcours.review_timing import (
    ReviewSettings,
    outside_quiet_hours,
    reminder_due,
    store_zone,
)

__all__ = ["LEASE", "MAX_ATTEMPTS", "SendReport", "recover", "send_due"]

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # longer than any channel's timeouts put together
MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=5)  # times 2**attempts
PLATFORM_FACT = "platform_review_requests"
# Messages that count for the daily limit and the per-customer cap: sent or possibly sent.
COUNTED = ("sending", "handing", "sent", "unconfirmed")
MESSAGE_KEY_SALT = "parcours.review-message-id"


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    retried: int = 0  # temporary failure: due again after a backoff
    failed: int = 0
    unconfirmed: int = 0  # may have gone: never resent
    released: int = 0  # claimed by a worker that stopped before handing it over: due again
    deferred: int = 0  # left due for now: quiet hours, daily limit, channel not configured
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Store:
    id: int
    key: str
    name: str
    zone: ZoneInfo
    settings: ReviewSettings
    platform_sends: bool


@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int  # the fence: this claim's value; a later claim has a higher one


class _Limit(Exception):
    """The store reached its daily limit: roll the claim back."""


class _LostClaim(ParcoursError):
    """The message is no longer this worker's claim (the lease expired and it was taken back)."""


def send_due(db: Database, vault: Vault, config: Mapping[str, Any],
             now: datetime | None = None, limit: int = 200,
             wake: Callable[[], None] | None = None) -> SendReport:
    """Send up to `limit` due messages. `now` freezes the clock (tests); `wake` asks a worker
    to drain the inbox, where the `review_requested` events were journaled."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else (
        lambda: datetime.now(UTC))
    report = recover(db, clock())
    stores = _stores_with_due(db, clock())
    if not stores:
        return report
    public_url = str(config.get("PUBLIC_URL") or "").rstrip("/")
    if not public_url:
        raise ConfigError("PARCOURS_PUBLIC_URL is not set: review emails link to the review "
                          "form there")
    run = _Run(db, vault, config, public_url, clock, report)
    try:
        for store_id, store_key, name, zone in stores:
            if limit <= 0:
                break
            limit -= run.store(store_id, store_key, name, zone, limit)
    finally:
        run.close()
    if run.journaled and wake is not None:
        try:
            wake()
        except Exception:  # the periodic sweep drains the inbox anyway
            log.exception("could not wake the inbox drain")
    return report


def recover(db: Database, now: datetime) -> SendReport:
    """Settle claims whose worker stopped: back to due if nothing was handed over, else
    unconfirmed (the message may have gone; resending could ask twice)."""
    report = SendReport()
    m = t.review_messages.c
    cutoff = now - LEASE
    with db.write() as conn:
        report.failed = _rowcount(conn.execute(
            update(t.review_messages)
            .where(m.status == "sending", m.claimed_at < cutoff, m.attempts >= MAX_ATTEMPTS)
            .values(status="failed", reason=f"{MAX_ATTEMPTS} attempts, the last one stopped "
                                             "before handing it over")))
        report.released = _rowcount(conn.execute(
            update(t.review_messages).where(m.status == "sending", m.claimed_at < cutoff)
            .values(status="due")))
        stale = conn.execute(select(m.id, m.store_id).where(
            m.status == "handing", m.claimed_at < cutoff)).all()
        if stale:
            conn.execute(update(t.review_messages)
                         .where(m.id.in_([row.id for row in stale]), m.status == "handing")
                         .values(status="unconfirmed",
                                 reason="the worker stopped while handing it to the channel: "
                                        "it may have gone, so it is not resent"))
    for row in stale:
        log.warning("review message %s of store %s is unconfirmed: its worker stopped while "
                    "handing it over", row.id, row.store_id)
    report.unconfirmed = len(stale)
    if report.released:
        log.info("%s review message(s) put back to due after their worker stopped",
                 report.released)
    return report


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _stores_with_due(db: Database, now: datetime) -> list[tuple[int, str, str, str | None]]:
    """Stores with due messages, the longest-waiting first: each store is worked on its own,
    so one in its quiet hours or at its limit never starves the others."""
    m, s = t.review_messages.c, t.stores.c
    with db.read() as conn:
        return [(row.id, row.key, row.name, row.timezone) for row in conn.execute(
            select(s.id, s.key, s.name, s.timezone)
            .join(t.review_messages, m.store_id == s.id)
            .where(m.status == "due", m.due_at <= now, s.uninstalled_at.is_(None))
            .group_by(s.id, s.key, s.name, s.timezone)
            .order_by(func.min(m.due_at), s.id))]


def message_key(vault: Vault, message_id: int) -> str:
    """A message's stable, unguessable id (Message-ID, webhook-id): the same on every retry,
    different across installations sharing a sending domain."""
    key = vault.signing_keys(MESSAGE_KEY_SALT)[-1]
    return "prc" + hmac.new(key, str(message_id).encode(), sha256).hexdigest()[:29]


class _Run:
    """One `send_due` call: its channels (opened on first use, closed at the end)."""

    def __init__(self, db: Database, vault: Vault, config: Mapping[str, Any], public_url: str,
                 clock: Callable[[], datetime], report: SendReport) -> None:
        self.db, self.vault, self.public_url = db, vault, public_url
        self.clock, self.report = clock, report
        self.context = ChannelContext(db, vault, config)
        self.channels: dict[str, Channel] = {}
        self.broken: dict[str, str] = {}  # channel name -> configuration error, for this run
        self.journaled = False

    def close(self) -> None:
        for channel in self.channels.values():
            try:
                channel.close()
            except Exception:
                log.exception("closing the %s channel failed", channel.name)

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            factory = CHANNELS.get(name)
            if factory is None:
                raise ConfigError(f"no review channel {name!r}")
            self.channels[name] = factory(self.context)
        return self.channels[name]

    # -- one store ----------------------------------------------------------------------------

    def store(self, store_id: int, key: str, name: str, zone_name: str | None,
              budget: int) -> int:
        """Work on one store's due messages; how many were taken out of the budget."""
        m = t.review_messages.c
        with self.db.read() as conn:
            try:
                settings = review_settings(conn, store_id)
            except ParcoursError as exc:
                self.report.errors.append(f"store {key}: {exc}")
                log.error("review requests of store %s are not sent: %s", key, exc)
                return 0
            platform = store_facts(conn, store_id, PLATFORM_FACT).get(PLATFORM_FACT)
            rows = conn.execute(
                select(m.id, m.kind, m.request_id)
                .where(m.store_id == store_id, m.status == "due", m.due_at <= self.clock())
                .order_by(m.due_at, m.id).limit(budget)).all()
        store = _Store(store_id, key, settings.sender_name or name, store_zone(zone_name),
                       settings, isinstance(platform, dict) and platform.get("enabled") is True)
        moment = self.clock()
        if (not settings.enabled or settings.channel in self.broken
                or outside_quiet_hours(moment, settings, store.zone) > moment):
            self.report.deferred += len(rows)
            return 0
        for done, row in enumerate(rows):
            if settings.channel in self.broken:
                self.report.deferred += len(rows) - done
                break
            try:
                self.one(store, row.id, row.kind, row.request_id)
            except _Limit:
                self.report.deferred += len(rows) - done
                break
        return len(rows)

    # -- one message --------------------------------------------------------------------------

    def one(self, store: _Store, message_id: int, kind: str, request_id: int) -> None:
        try:
            channel = self.channel(store.settings.channel)
        except ConfigError as exc:
            self._broken(store.settings.channel, exc)
            self.report.deferred += 1
            return
        claimed = self._claim(store, message_id, kind, request_id, channel)
        if claimed is None:
            return
        claim, outgoing = claimed
        handed = False

        def handing() -> None:
            nonlocal handed
            self._move(claim, ("sending",), status="handing")
            handed = True

        try:
            sent_as = channel.send(outgoing, handing)
        except _LostClaim:
            log.warning("review message %s was taken back before it was handed over", claim.id)
        except ConfigError as exc:
            if handed:  # configuration is checked before any handover; be safe all the same
                self._failure(claim, outgoing, ChannelError(str(exc), temporary=False,
                                                            uncertain=True))
            else:
                self._release(claim)
            self._broken(channel.name, exc)
        except ChannelError as exc:
            self._failure(claim, outgoing, exc)
        except Exception as exc:  # a bug or the database: the outcome follows what was done
            log.exception("sending review message %s failed", claim.id)
            self._failure(claim, outgoing, ChannelError(
                f"unexpected error: {type(exc).__name__}", temporary=True, uncertain=handed))
        else:
            self._sent(store, claim, outgoing, sent_as)

    def _claim(self, store: _Store, message_id: int, kind: str, request_id: int,
               channel: Channel) -> tuple[_Claim, OutgoingRequest] | None:
        """Take the message (compare-and-set) and decide whether it goes, in one short
        transaction; None when another worker has it or it was skipped. _Limit when the
        store already sent its daily limit (nothing is changed then)."""
        m, r = t.review_messages.c, t.review_requests.c
        moment = self.clock()
        with self.db.write() as conn:
            # Claims of a store are serialised (SQLite's writer lock does it already), so that
            # the daily limit and the customer cap see every other worker's claims.
            advisory_lock(conn, f"review-send:{store.id}")
            taken = _rowcount(conn.execute(
                update(t.review_messages)
                .where(m.id == message_id, m.status == "due", m.due_at <= moment)
                .values(status="sending", claimed_at=moment, attempts=m.attempts + 1,
                        channel=channel.name, reason=None)))
            if not taken:
                return None  # another worker has it, or it changed meanwhile
            attempts = int(conn.execute(select(m.attempts).where(m.id == message_id)).scalar_one())
            request = conn.execute(select(t.review_requests).where(r.id == request_id)).one()
            reason, close_request = _skip_reason(conn, store, kind, request, channel, moment)
            if reason is not None:
                conn.execute(update(t.review_messages).where(m.id == message_id)
                             .values(status="skipped", reason=reason))
                if close_request and kind == "request":
                    conn.execute(update(t.review_requests)
                                 .where(r.id == request.id, r.status.in_(OPEN))
                                 .values(status="skipped", reason=reason, updated_at=moment))
                self.report.skipped += 1
                return None
            if _sent_today(conn, store, message_id, moment) >= store.settings.daily_limit:
                raise _Limit()  # rolls the claim back: the message stays due as it was
            # Built before the claim commits: if it cannot be (no PARCOURS_SECRET_KEYS to
            # sign the links), the claim rolls back with the error.
            outgoing = self._outgoing(store, message_id, kind, request)
        return _Claim(message_id, attempts), outgoing

    def _outgoing(self, store: _Store, message_id: int, kind: str, request: Row[Any]
                  ) -> OutgoingRequest:
        email: str | None = request.email
        unsubscribe = (f"{self.public_url}/r/unsubscribe/"
                       f"{unsubscribe_token(self.vault, store.id, email_hash(email))}"
                       if email else None)
        return OutgoingRequest(
            message_id=message_id, key=message_key(self.vault, message_id), kind=kind,
            request_id=request.id, order_id=request.order_id, store_id=store.id,
            store_key=store.key, store_name=store.name,
            locale=mail_locale(request.locale, store.settings.default_locale),
            email=email, name=request.name, items=parse_items(request.items),
            form_url=f"{self.public_url}/r/{form_token(self.vault, request.id, request.nonce)}",
            unsubscribe_url=unsubscribe, settings=store.settings)

    def _move(self, claim: _Claim, statuses: Sequence[str], **values: Any) -> None:
        """Move this claim's message on; _LostClaim when it is no longer ours."""
        m = t.review_messages.c
        with self.db.write() as conn:
            moved = _rowcount(conn.execute(
                update(t.review_messages)
                .where(m.id == claim.id, m.status.in_(statuses), m.attempts == claim.attempts)
                .values(**values)))
        if not moved:
            raise _LostClaim(f"review message {claim.id} is no longer this worker's")

    def _sent(self, store: _Store, claim: _Claim, outgoing: OutgoingRequest, sent_as: str
              ) -> None:
        """Record the message as sent; for a request, the request too, its reminder and the
        journey event, all in one transaction."""
        m, r = t.review_messages.c, t.review_requests.c
        sent_at = self.clock()
        with self.db.write() as conn:
            # "unconfirmed" too: a slow handover another worker gave up on did go out.
            moved = _rowcount(conn.execute(
                update(t.review_messages)
                .where(m.id == claim.id, m.status.in_(("handing", "unconfirmed")),
                       m.attempts == claim.attempts)
                .values(status="sent", sent_at=sent_at, message_id=sent_as[:255], reason=None)))
            if not moved:
                log.error("review message %s went out but its row was changed meanwhile",
                          claim.id)
            if outgoing.kind == "request":
                opened = _rowcount(conn.execute(
                    update(t.review_requests).where(r.id == outgoing.request_id,
                                                    r.status.in_(OPEN))
                    .values(status="sent", reason=None, updated_at=sent_at)))
                due = reminder_due(store.settings, sent_at)
                if opened and due is not None:
                    upsert(conn, t.review_messages, [{
                        "request_id": outgoing.request_id, "store_id": store.id,
                        "kind": "reminder", "due_at": due, "status": "due", "attempts": 0}],
                        ["request_id", "kind"])
                self.journaled |= self._journal(conn, store, outgoing, sent_at)
        self.report.sent += 1

    def _journal(self, conn: Connection, store: _Store, outgoing: OutgoingRequest,
                 sent_at: datetime) -> bool:
        return receive_order_fact(
            conn, store.id, outgoing.order_id, "review_requested", sent_at,
            {"channel": store.settings.channel, "locale": outgoing.locale,
             "items": len(outgoing.items)},
            email_hash(outgoing.email) if outgoing.email else None)

    def _failure(self, claim: _Claim, outgoing: OutgoingRequest, exc: ChannelError) -> None:
        reason = str(exc)[:500]
        statuses = ("sending", "handing")
        try:
            if exc.uncertain:
                self._move(claim, statuses, status="unconfirmed",
                           reason=f"may have gone: {reason}"[:500])
                self.report.unconfirmed += 1
                log.warning("review message %s is unconfirmed: %s", claim.id, reason)
            elif exc.temporary and claim.attempts < MAX_ATTEMPTS:
                self._move(claim, statuses, status="due", reason=reason,
                           due_at=self.clock() + BACKOFF * 2 ** claim.attempts)
                self.report.retried += 1
                log.info("review message %s will be retried: %s", claim.id, reason)
            else:
                self._move(claim, statuses, status="failed", reason=reason)
                self.report.failed += 1
                log.warning("review message %s failed: %s", claim.id, reason)
                if outgoing.kind == "request":
                    r = t.review_requests.c
                    with self.db.write() as conn:
                        conn.execute(update(t.review_requests)
                                     .where(r.id == outgoing.request_id, r.status.in_(OPEN))
                                     .values(status="skipped", updated_at=self.clock(),
                                             reason=f"could not be sent: {reason}"[:200]))
        except _LostClaim:
            log.warning("review message %s was taken back meanwhile", claim.id)

    def _release(self, claim: _Claim) -> None:
        """A configuration problem is no message's fault: due again, the attempt not counted."""
        try:
            self._move(claim, ("sending",), status="due", attempts=claim.attempts - 1,
                       claimed_at=None)
        except _LostClaim:
            return
        self.report.deferred += 1

    def _broken(self, name: str, exc: ConfigError) -> None:
        if name not in self.broken:
            self.broken[name] = str(exc)
            self.report.errors.append(str(exc))
            log.error("review requests by %s are not sent: %s", name, exc)


def _skip_reason(conn: Connection, store: _Store, kind: str, request: Row[Any],
                 channel: Channel, now: datetime) -> tuple[str | None, bool]:
    """Why the message must not go, if so, and whether that ends the request too (a reason
    about the request itself: no address, unsubscribed, capped, the platform asks)."""
    if kind == "request" and request.status not in OPEN:
        return f"the request is {request.status}", False
    if kind == "reminder":
        if request.status == "submitted":
            return "a review came", False
        if request.status != "sent":
            return f"the request is {request.status}", False
        if not store.settings.reminder:
            return "reminders are off", False
    if store.platform_sends:
        return "the platform sends its own review request", True
    if request.email is None and channel.needs_address:
        return "no email address", True
    if request.email is not None and conn.execute(select(t.review_unsubscribes.c.email_hash).where(
            t.review_unsubscribes.c.store_id == store.id,
            t.review_unsubscribes.c.email_hash == email_hash(request.email))).first():
        return "the address unsubscribed", True
    cap = store.settings.customer_cap_days
    if kind == "request" and cap and request.customer_key:
        other_r, other_m = t.review_requests.alias("other_r"), t.review_messages.alias("other_m")
        if conn.execute(
                select(other_m.c.id).join(other_r, other_r.c.id == other_m.c.request_id)
                .where(other_r.c.store_id == store.id,
                       other_r.c.customer_key == request.customer_key,
                       other_r.c.id != request.id, other_m.c.kind == "request",
                       other_m.c.status.in_(COUNTED),
                       func.coalesce(other_m.c.sent_at, other_m.c.claimed_at)
                       >= now - timedelta(days=cap)).limit(1)).first():
            return f"the customer was asked for another order in the last {cap} days", True
    return None, False


def _sent_today(conn: Connection, store: _Store, message_id: int, now: datetime) -> int:
    """Messages of the store sent (or being sent) this local day, this one apart."""
    m = t.review_messages.c
    day = now.astimezone(store.zone).date()
    start = datetime.combine(day, time(0), tzinfo=store.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=store.zone)
    return int(conn.execute(select(func.count()).where(
        m.store_id == store.id, m.id != message_id, m.status.in_(COUNTED),
        m.claimed_at >= start, m.claimed_at < end)).scalar_one())
