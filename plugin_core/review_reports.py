"""Review KPIs of a store, from its review requests, messages and reviews (the DB side of
review_kpis.py, whose docstring says which records count where).

One report covers a period of whole UTC days (both ends included): the totals, the same per
calendar month, and per product (or one product's only). Records are read once, as a few narrow
rows each, and aggregated in Python: the per-product split needs the products of each order,
which are JSON, and a store's review traffic is small next to its events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.db import chunks
from parcours.errors import ValidationError
from parcours.review_kpis import Answer, Rating, SentRequest, kpis, monthly

__all__ = ["MAX_PERIOD_DAYS", "ReviewPeriod", "review_report"]

MAX_PERIOD_DAYS = 731


@dataclass(frozen=True)
class ReviewPeriod:
    since: date
    until: date  # included

    @classmethod
    def of(cls, since: date | None, until: date | None, today: date | None = None
           ) -> ReviewPeriod:
        """The period asked for; by default the 30 days up to today (UTC). ValidationError
        naming `since` when the period is reversed or too long."""
        end = until or (since + timedelta(days=29) if since else (today or
                                                                   datetime.now(UTC).date()))
        start = since or end - timedelta(days=29)
        if start > end:
            raise ValidationError("invalid period", {"since": ["must not be after 'until'"]})
        if (end - start).days > MAX_PERIOD_DAYS:
            raise ValidationError("invalid period", {
                "since": [f"the period is limited to {MAX_PERIOD_DAYS} days"]})
        return cls(start, end)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return (datetime.combine(self.since, time(), UTC),
                datetime.combine(self.until + timedelta(days=1), time(), UTC))


def _products(items: Any) -> frozenset[str]:
    if not isinstance(items, list):
        return frozenset()
    return frozenset(str(item["product_id"]) for item in items
                     if isinstance(item, dict) and item.get("product_id") is not None)


def _sent(conn: Connection, store_id: int, start: datetime, end: datetime
          ) -> list[SentRequest]:
    r, m, v = t.review_requests.c, t.review_messages.c, t.reviews.c
    rows = conn.execute(select(r.id, r["items"], m.sent_at, r.opened_at, r.submitted_at).join(
        t.review_messages, (m.request_id == r.id) & (m.kind == "request")).where(
        r.store_id == store_id, m.sent_at >= start, m.sent_at < end)).all()
    reviewed: dict[int, set[str]] = defaultdict(set)
    for part in chunks([row.id for row in rows]):
        for request_id, product_id in conn.execute(select(v.request_id, v.product_id).where(
                v.store_id == store_id, v.request_id.in_(part), v.status != "rejected")):
            reviewed[request_id].add(product_id)
    return [SentRequest(sent_at=row.sent_at, opened=row.opened_at is not None,
                        submitted=row.submitted_at is not None,
                        products=_products(row._mapping["items"]),
                        reviewed=frozenset(reviewed.get(row.id, ())))
            for row in rows]


def _ratings(conn: Connection, store_id: int, start: datetime, end: datetime,
             product: str | None) -> list[Rating]:
    v = t.reviews.c
    query = select(v.created_at, v.product_id, v.rating).where(
        v.store_id == store_id, v.created_at >= start, v.created_at < end,
        v.status != "rejected")
    if product is not None:
        query = query.where(v.product_id == product)
    return [Rating(row.created_at, row.product_id, row.rating) for row in conn.execute(query)]


def _answers(conn: Connection, store_id: int, start: datetime, end: datetime) -> list[Answer]:
    r = t.review_requests.c
    rows = conn.execute(select(r.submitted_at, r.nps, r.ces, r["items"]).where(
        r.store_id == store_id, r.submitted_at >= start, r.submitted_at < end,
        (r.nps.is_not(None)) | (r.ces.is_not(None))))
    return [Answer(row.submitted_at, row.nps, row.ces, _products(row._mapping["items"]))
            for row in rows]


def review_report(conn: Connection, store_id: int, period: ReviewPeriod,
                  product: str | None = None) -> dict[str, Any]:
    """Requests sent, opened and submitted, response rate, reviews, average rating, CSAT, NPS
    and CES of the store (or of one product): over the period, per month, and per product."""
    start, end = period.bounds
    requests = _sent(conn, store_id, start, end)
    ratings = _ratings(conn, store_id, start, end, product)
    answers = _answers(conn, store_id, start, end)
    report: dict[str, Any] = {
        "since": period.since.isoformat(), "until": period.until.isoformat(),
        "product": product,
        "totals": kpis(requests, ratings, answers, product),
        "months": monthly(requests, ratings, answers, product),
    }
    if product is None:
        report["products"] = _per_product(requests, ratings, answers)
    return report


def _per_product(requests: list[SentRequest], ratings: list[Rating], answers: list[Answer]
                 ) -> list[dict[str, Any]]:
    """Each product's KPIs, the most reviewed first."""
    groups: dict[str, tuple[list[SentRequest], list[Rating], list[Answer]]] = defaultdict(
        lambda: ([], [], []))
    for request in requests:
        for product in request.products:
            groups[product][0].append(request)
    for rating in ratings:
        groups[rating.product_id][1].append(rating)
    for answer in answers:
        for product in answer.products:
            groups[product][2].append(answer)
    rows = [{"product_id": product, **kpis(*records, product)}
            for product, records in groups.items()]
    return sorted(rows, key=lambda row: (-row["reviews"], -row["requests_sent"],
                                         row["product_id"]))
