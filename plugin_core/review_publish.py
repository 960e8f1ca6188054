"""Publishing reviews to the platforms: the periodic job that carries Parcours' canonical copy
of each review to its store's platform (adapter.publish_review / withdraw_review).

A review waits with `sync_status` "pending" (new, imported, moderated, replied to). The job
claims it with a compare-and-set to "publishing" (so two workers never both take it), calls the
platform outside any transaction, then records the outcome:

- "done", with the platform's id (`external_id`, None where the platform keeps no copy) and
  `synced_at`;
- a temporary failure (network, 429, 5xx: `adapter.retryable`) puts it back to "pending" with
  one more `sync_attempts`, tried again after a growing delay (`BACKOFF`); after
  `MAX_ATTEMPTS` it is "failed" with the last error in `sync_error`;
- a refusal that repeating cannot change (4xx, invalid product, revoked access) is "failed" at
  once, with the platform's reason.

While a review waits for a retry, `synced_at` holds the time of its last attempt; while it is
claimed, the time of the claim. A claim older than `CLAIM_TIMEOUT` belongs to a worker that
died: it is put back to "pending" (the platforms' duplicate checks make the repeat harmless).

What is published is every genuine review, whatever its rating. A review moderation rejected
(spam, abuse) is never published, and its published copy is withdrawn. A review still awaiting
moderation (status "pending") waits. If a review is moderated again while a worker publishes
it, the worker keeps the platform's id but leaves "pending" in place, so the next run applies
the newer decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update

from parcours import tables as t
from parcours.adapters.base import PublishedReview, StoreAccess, adapter_for
from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    pass

__all__ = ["BACKOFF", "CLAIM_TIMEOUT", "MAX_ATTEMPTS", "PublishReport",
           "publish_all", "publish_pending"]

log = logging.getLogger(__name__)

# The wait before attempt n+1 after n failed attempts; the last failure makes it "failed".
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2), timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
CLAIM_TIMEOUT = timedelta(minutes=15)
BATCH = 50
MAX_ERROR = 1000


@dataclass
class PublishReport:
    """What one run did, review by review counted once."""

    claimed: int = 0
    published: int = 0
    withdrawn: int = 0
    retried: int = 0
    failed: int = 0
    reclaimed: int = 0  # claims of dead workers put back

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _due(now: datetime) -> Any:
    """Pending reviews whose next attempt is due: never tried, or tried long enough ago."""
    r = t.reviews.c
    waits = [and_(r.sync_attempts == attempts, r.synced_at <= now - wait)
             for attempts, wait in enumerate(BACKOFF, start=1)]
    return and_(r.sync_status == "pending", r.status.in_(("published", "rejected")),
                or_(r.sync_attempts <= 0, r.synced_at.is_(None), *waits))


def _reclaim(db: Database, now: datetime) -> int:
    r = t.reviews.c
    with db.write() as conn:
        return int(conn.execute(update(t.reviews).where(
            r.sync_status == "publishing", r.synced_at < now - CLAIM_TIMEOUT).values(
            sync_status="pending", sync_attempts=r.sync_attempts + 1, synced_at=now,
            sync_error="the worker publishing it stopped; tried again")).rowcount)


def _claim(db: Database, now: datetime, limit: int) -> list[int]:
    """Take up to `limit` due reviews (compare-and-set, so each goes to one worker only)."""
    r = t.reviews.c
    claimed = []
    with db.write() as conn:
        ids = conn.execute(select(r.id).where(_due(now)).order_by(r.synced_at.is_not(None),
                                                                  r.id).limit(limit)).scalars()
        for review_id in list(ids):
            done = conn.execute(update(t.reviews).where(
                r.id == review_id, r.sync_status == "pending").values(
                sync_status="publishing", synced_at=now))
            if done.rowcount == 1:
                claimed.append(int(review_id))
    return claimed


def _load(db: Database, review_id: int) -> tuple[Any, PublishedReview, str]:
    """The review's store and the review as the platform gets it (with the request's email
    while Parcours holds it: only the request tied to the review, or to its order)."""
    r, q, s = t.reviews.c, t.review_requests.c, t.stores.c
    with db.read() as conn:
        row = conn.execute(select(t.reviews).where(r.id == review_id)).one()
        store = conn.execute(select(s.id, s.key, s.platform, s.uninstalled_at)
                             .where(s.id == row.store_id)).one()
        email = None
        if row.request_id is not None:
            email = conn.execute(select(q.email).where(q.id == row.request_id)).scalar()
        elif row.order_id is not None and row.source != "import":
            email = conn.execute(select(q.email).where(
                q.store_id == row.store_id, q.order_id == row.order_id)).scalar()
    review = PublishedReview(
        id=row.id, product_id=row.product_id, rating=row.rating, title=row.title,
        body=row.body, author=row.author, email=email, verified=row.verified,
        reply=row.reply, created_at=row.created_at, incentive=row.incentive,
        locale=row.locale, external_id=row.external_id)
    return store, review, row.status


def _finish(db: Database, review_id: int, now: datetime, **values: Any) -> None:
    """Record an outcome, unless the review changed meanwhile (moderated or replied to: it is
    "pending" again). The platform's id is kept in every case: it names the copy that exists."""
    r = t.reviews.c
    with db.write() as conn:
        if "external_id" in values:
            conn.execute(update(t.reviews).where(r.id == review_id)
                         .values(external_id=values.pop("external_id")))
        conn.execute(update(t.reviews).where(r.id == review_id, r.sync_status == "publishing")
                     .values(**values, synced_at=now))


def _failure(db: Database, review_id: int, now: datetime, error: str, retry: bool,
             report: PublishReport) -> None:
    r = t.reviews.c
    with db.read() as conn:
        attempts = int(conn.execute(select(r.sync_attempts).where(r.id == review_id))
                       .scalar_one()) + 1
    error = error[:MAX_ERROR]
    if retry and attempts < MAX_ATTEMPTS:
        _finish(db, review_id, now, sync_status="pending", sync_attempts=attempts,
                sync_error=error)
        report.retried += 1
        return
    if retry:
        error = f"gave up after {attempts} attempts: {error}"[:MAX_ERROR]
    _finish(db, review_id, now, sync_status="failed", sync_attempts=attempts, sync_error=error)
    report.failed += 1


def _publish_one(db: Database, vault: Vault, config: Mapping[str, Any], review_id: int,
                 now: datetime, report: PublishReport) -> None:
    store, review, status = _load(db, review_id)
    if store.uninstalled_at is not None:
        _failure(db, review_id, now, "the store uninstalled the app", False, report)
        return
    adapter = adapter_for(store.platform)
    access = StoreAccess(store.key, db, vault, config)
    try:  # outside any transaction: the platform may be slow
        if status == "rejected":
            adapter.withdraw_review(access, review)
            external_id = None
        else:
            external_id = adapter.publish_review(access, review)
    except Exception as exc:
        # Errors raised on purpose are the adapter's to classify; anything else is a bug or
        # an unforeseen answer: logged in full, and retried like a temporary failure.
        expected = isinstance(exc, ParcoursError | OSError)
        retry = adapter.retryable(exc) or not expected
        if not expected:
            log.exception("publishing review %s of store %s failed", review_id, store.key)
        log.warning("review %s of store %s not published (%s): %s", review_id, store.key,
                    "will retry" if retry else "refused", exc)
        _failure(db, review_id, now, str(exc) or type(exc).__name__, retry, report)
        return
    _finish(db, review_id, now, sync_status="done", sync_error=None, external_id=external_id)
    if status == "rejected":
        report.withdrawn += 1
    else:
        report.published += 1


def publish_pending(db: Database, vault: Vault, config: Mapping[str, Any],
                    now: datetime | None = None, *, limit: int = BATCH) -> PublishReport:
    """One run: put back dead workers' claims, claim up to `limit` due reviews and carry each
    to its platform. Safe to run on any number of workers at once."""
    moment = now or datetime.now(UTC)
    report = PublishReport(reclaimed=_reclaim(db, moment))
    claimed = _claim(db, moment, limit)
    report.claimed = len(claimed)
    for review_id in claimed:
        _publish_one(db, vault, config, review_id, moment, report)
    return report


def publish_all(db: Database, vault: Vault, config: Mapping[str, Any], *,
                max_batches: int = 20) -> PublishReport:
    """Runs until nothing is due (at most `max_batches` batches: the next tick goes on)."""
    total = PublishReport()
    for _ in range(max_batches):
        report = publish_pending(db, vault, config)
        for name, value in report.as_dict().items():
            setattr(total, name, getattr(total, name) + value)
        if report.claimed < BATCH:
            break
    return total

