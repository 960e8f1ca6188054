"""Product reviews as storefronts read them: the published ones, their average and count.

Parcours keeps the canonical copy of every review (the platforms get a published copy). What a
storefront sees is every published review whatever its rating: a 1-star review is listed and
counted like a 5-star one. Review text is the shopper's, untrusted: it is stored as written and
every page or script that shows it must render it as text.

The merchant's controls are narrow on purpose (consumer-protection rules on reviews): moderation
may only publish a review or reject it for one of `REJECTION_REASONS` (spam, abuse, personal
data, off topic), never for its rating; a reply is shown with the review. Both mark the review
for publication again (`sync_status` "pending"), which review_publish.py carries to the
platform. Reviews from non-buyers (source "storefront") are never marked verified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from parcours import tables as t
from parcours.errors import NotFoundError, ValidationError
from parcours.pagination import Keyset, PageRequest, paginate
from parcours.review_photos import photo_ids, photo_path

__all__ = ["MAX_PER_PAGE", "REJECTION_REASONS", "SOURCES", "ReviewInput", "add_review",
           "list_reviews", "moderate", "product_rating", "product_reviews", "reply",
           "requeue_failed", "review_page", "review_row"]

log = logging.getLogger(__name__)

MAX_PER_PAGE = 20
STATUSES = ("published", "pending", "rejected")
SOURCES = ("request", "import", "storefront")
# Why a review may be rejected: spam and abuse only. A low rating is never a reason.
REJECTION_REASONS = ("spam", "abuse", "personal_data", "off_topic")
LIMITS = {"product_id": 64, "order_id": 64, "title": 200, "body": 5000, "author": 100,
          "locale": 16, "reply": 5000, "incentive": 200}
MAX_LIST_PAGE = 100


@dataclass(frozen=True)
class ReviewInput:
    product_id: str
    rating: int
    body: str
    created_at: datetime
    title: str | None = None
    author: str | None = None
    locale: str | None = None
    order_id: str | None = None
    profile_id: int | None = None
    verified: bool = False
    status: str = "published"
    reply: str | None = None
    source: str | None = None  # request, import, storefront (None: added by code, e.g. a demo)
    request_id: int | None = None
    incentive: str | None = None

    def check(self) -> None:
        """ValidationError naming each bad field; nothing is written for a bad review."""
        errors: dict[str, list[str]] = {}
        if isinstance(self.rating, bool) or self.rating not in range(1, 6):
            errors["rating"] = ["a whole number of stars from 1 to 5"]
        if not self.product_id.strip():
            errors["product_id"] = ["required"]
        if not self.body.strip():
            errors["body"] = ["required"]
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                errors[name] = [f"at most {limit} characters"]
        if self.status not in STATUSES:
            errors["status"] = [f"one of {', '.join(STATUSES)}"]
        if self.source is not None and self.source not in SOURCES:
            errors["source"] = [f"one of {', '.join(SOURCES)}"]
        if self.created_at.tzinfo is None:
            errors["created_at"] = ["a time with its zone"]
        if errors:
            raise ValidationError("invalid review", errors)


def add_review(conn: Connection, store_id: int, review: ReviewInput) -> int:
    """Store one review; its id. A published review is marked for publication to the platform
    (sync_status "pending"); a storefront review (from someone Parcours cannot tie to an order)
    is never stored as verified, whatever the caller says."""
    review.check()
    row = {name: getattr(review, name) for name in ReviewInput.__dataclass_fields__}
    if review.source == "storefront":
        row["verified"] = False
    return int(conn.execute(t.reviews.insert().values(
        store_id=store_id, **row, sync_attempts=0,
        sync_status="pending" if review.status == "published" else None)
        .returning(t.reviews.c.id)).scalar_one())


def product_rating(conn: Connection, store_id: int, product_id: str) -> tuple[Decimal, int]:
    """A product's exact average over all its published reviews, and their count ((0, 0)
    without reviews): what platforms show as the product's stars."""
    r = t.reviews.c
    count, total = conn.execute(select(func.count(), func.sum(r.rating)).where(
        r.store_id == store_id, r.product_id == product_id, r.status == "published")).one()
    if not count:
        return Decimal(0), 0
    return Decimal(int(total)) / Decimal(int(count)), int(count)


_COLUMNS = ("id", "product_id", "rating", "title", "body", "author", "verified", "status",
            "moderation_reason", "source", "reply", "locale", "order_id", "incentive",
            "created_at", "sync_status", "sync_error", "external_id", "synced_at")


def review_row(row: Any) -> dict[str, Any]:
    """A review as the merchant's API and exports show it (never the request's email)."""
    out = {name: getattr(row, name) for name in _COLUMNS}
    for name in ("created_at", "synced_at"):
        out[name] = out[name].isoformat() if out[name] is not None else None
    return out


def _find(conn: Connection, store_id: int, review_id: int) -> Any:
    r = t.reviews.c
    row = conn.execute(select(t.reviews).where(r.store_id == store_id, r.id == review_id)).first()
    if row is None:
        raise NotFoundError(f"no review {review_id}")
    return row


def _republish(conn: Connection, review_id: int, **values: Any) -> None:
    """Apply `values` and mark the review for publication again (a fresh round of attempts)."""
    conn.execute(update(t.reviews).where(t.reviews.c.id == review_id).values(
        **values, sync_status="pending", sync_attempts=0, sync_error=None))


def moderate(conn: Connection, store_id: int, review_id: int, status: str,
             reason: str | None = None) -> dict[str, Any]:
    """Publish a review, or reject it for one of REJECTION_REASONS; the review as it is now.

    Rejection withdraws the platform's copy; publishing (a pending review, or one rejected by
    mistake) publishes it. Only spam and abuse are grounds: there is deliberately no reason
    that a rating could hide behind.
    """
    errors: dict[str, list[str]] = {}
    if status not in ("published", "rejected"):
        errors["status"] = ["published or rejected"]
    elif status == "rejected" and reason not in REJECTION_REASONS:
        errors["reason"] = [f"required to reject: one of {', '.join(REJECTION_REASONS)} "
                            f"(a review is never rejected for its rating)"]
    elif status == "published" and reason is not None and reason not in REJECTION_REASONS:
        errors["reason"] = [f"one of {', '.join(REJECTION_REASONS)}, or none"]
    if errors:
        raise ValidationError("invalid moderation", errors)
    row = _find(conn, store_id, review_id)
    if row.status != status:
        _republish(conn, review_id, status=status,
                   moderation_reason=reason if status == "rejected" else None)
        log.info("review %s of store %s moderated: %s -> %s (%s)", review_id, store_id,
                 row.status, status, reason or "no reason")
    return review_row(_find(conn, store_id, review_id))


def reply(conn: Connection, store_id: int, review_id: int, text: str | None
          ) -> dict[str, Any]:
    """Set the merchant's public reply to a review (None removes it); the review as it is now.
    The reply is stored as written (plain text) and shown with the review."""
    if text is not None:
        text = text.strip()
        if not text:
            raise ValidationError("invalid reply", {"text": ["required (null removes the reply)"]})
        if len(text) > LIMITS["reply"]:
            raise ValidationError("invalid reply",
                                  {"text": [f"at most {LIMITS['reply']} characters"]})
    row = _find(conn, store_id, review_id)
    if row.reply != text:
        _republish(conn, review_id, reply=text)
    return review_row(_find(conn, store_id, review_id))


def requeue_failed(conn: Connection, store_id: int) -> int:
    """Give reviews whose publication failed a fresh round of attempts (after the merchant
    reconnected the store, say); how many."""
    r = t.reviews.c
    return int(conn.execute(update(t.reviews).where(
        r.store_id == store_id, r.sync_status == "failed").values(
        sync_status="pending", sync_attempts=0, sync_error=None)).rowcount)


def _merchant_filters(store_id: int, product_id: str | None, status: str | None,
                      rating: int | None) -> list[ColumnElement[bool]]:
    r = t.reviews.c
    where = [r.store_id == store_id]
    if product_id is not None:
        where.append(r.product_id == product_id)
    if status is not None:
        where.append(r.status == status)
    if rating is not None:
        where.append(r.rating == rating)
    return where


# The merchant's list, newest first; the id breaks ties between reviews of the same second.
REVIEW_ORDER = Keyset("reviews", (t.reviews.c.created_at, t.reviews.c.id))


def review_page(conn: Connection, store_id: int, page: PageRequest, *,
                product_id: str | None = None, status: str | None = None,
                rating: int | None = None) -> dict[str, Any]:
    """A page of a store's reviews for the merchant (every status), newest first, as
    `{"items", "next_cursor"}` (keyset pages: pagination.py), which the JSON API serves."""
    query = select(t.reviews).where(*_merchant_filters(store_id, product_id, status, rating))
    return paginate(conn, query, REVIEW_ORDER, page, review_row)


def list_reviews(conn: Connection, store_id: int, *, product_id: str | None = None,
                 status: str | None = None, rating: int | None = None, page: int = 1,
                 per_page: int = 20) -> dict[str, Any]:
    """A numbered page of a store's reviews for the merchant (every status), newest first,
    with the total: for screens that show page numbers (the API walks `review_page`)."""
    r = t.reviews.c
    where = _merchant_filters(store_id, product_id, status, rating)
    total = int(conn.execute(select(func.count()).select_from(t.reviews).where(*where))
                .scalar_one())
    per_page = max(1, min(per_page, MAX_LIST_PAGE))
    pages = max(1, -(-total // per_page))
    page = max(1, page)
    rows = conn.execute(select(t.reviews).where(*where)
                        .order_by(r.created_at.desc(), r.id.desc())
                        .limit(per_page).offset((page - 1) * per_page))
    return {"page": page, "pages": pages, "per_page": per_page, "total": total,
            "reviews": [review_row(row) for row in rows]}


def product_reviews(conn: Connection, store_id: int, product_id: str, *, page: int = 1,
                    per_page: int = 5) -> dict[str, Any]:
    """A page of a product's published reviews, newest first, with the rating over all of
    them (average to two decimals; None without reviews)."""
    r = t.reviews.c
    published = (r.store_id == store_id, r.product_id == product_id, r.status == "published")
    count, total = conn.execute(select(func.count(), func.sum(r.rating))
                                .where(*published)).one()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    pages = max(1, -(-count // per_page))
    page = max(1, min(page, pages))
    rows = conn.execute(select(r.id, r.rating, r.title, r.body, r.author, r.verified, r.reply,
                               r.created_at, r.locale, r.incentive)
                        .where(*published).order_by(r.created_at.desc(), r.id.desc())
                        .limit(per_page).offset((page - 1) * per_page)).all()
    photos = photo_ids(conn, [row.id for row in rows])
    return {
        "product_id": product_id,
        "rating": {"average": round(total / count, 2) if count else None, "count": count,
                   "best": 5, "worst": 1},
        "page": page, "pages": pages, "per_page": per_page,
        "reviews": [_public(row, photos.get(row.id, [])) for row in rows],
    }


def _public(row: Any, photos: list[int]) -> dict[str, Any]:
    """A published review as storefronts get it. `incentive` is there only for a review whose
    author was offered one, which the storefront must then disclose with it. `photos` are
    paths on Parcours' origin (`/r/photos/<id>.jpg`), oldest first."""
    out = {"id": row.id, "rating": row.rating, "title": row.title, "body": row.body,
           "author": row.author, "verified": row.verified, "reply": row.reply,
           "locale": row.locale, "created_at": row.created_at.isoformat(),
           "photos": [photo_path(photo) for photo in photos]}
    if row.incentive:
        out["incentive"] = row.incentive
    return out
