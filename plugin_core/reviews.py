"""Product reviews as storefronts read them: the published ones, their average and count.

Parcours keeps the canonical copy of every review (the platforms get a published copy). What a
storefront sees is every published review whatever its rating: a 1-star review is listed and
counted like a 5-star one. Review text is the shopper's, untrusted: it is stored as written and
every page or script that shows it must render it as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from parcours import tables as t
from parcours.errors import ValidationError

__all__ = ["MAX_PER_PAGE", "ReviewInput", "add_review", "product_reviews"]

MAX_PER_PAGE = 20
STATUSES = ("published", "pending", "rejected")
LIMITS = {"product_id": 64, "order_id": 64, "title": 200, "body": 5000, "author": 100,
          "locale": 16}


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
        if self.created_at.tzinfo is None:
            errors["created_at"] = ["a time with its zone"]
        if errors:
            raise ValidationError("invalid review", errors)


def add_review(conn: Connection, store_id: int, review: ReviewInput) -> int:
    """Store one review; its id."""
    review.check()
    row = {name: getattr(review, name) for name in ReviewInput.__dataclass_fields__}
    return int(conn.execute(t.reviews.insert().values(store_id=store_id, **row)
                            .returning(t.reviews.c.id)).scalar_one())


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
                               r.created_at, r.locale)
                        .where(*published).order_by(r.created_at.desc(), r.id.desc())
                        .limit(per_page).offset((page - 1) * per_page))
    return {
        "product_id": product_id,
        "rating": {"average": round(total / count, 2) if count else None, "count": count,
                   "best": 5, "worst": 1},
        "page": page, "pages": pages, "per_page": per_page,
        "reviews": [{"id": row.id, "rating": row.rating, "title": row.title, "body": row.body,
                     "author": row.author, "verified": row.verified, "reply": row.reply,
                     "locale": row.locale, "created_at": row.created_at.isoformat()}
                    for row in rows],
    }
