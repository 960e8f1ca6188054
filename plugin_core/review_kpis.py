"""Review KPIs: the formulas, and their aggregation over simple records (pure: no I/O).

docs/reviews.md ("KPIs") states the same formulas. Every rate is None when its denominator is
zero: "no data" is not "0 %". Distributions are histograms (value -> how many), which is what a
GROUP BY gives and what the formulas need.

Which records count (review_reports.py reads them):
- a request counts as *sent* in the period its first message (kind "request") was sent in; it
  is *opened* / *submitted* if the shopper opened the form / sent it, whenever that was (the
  cohort of the sending);
- a review counts in the period it was written in, whatever its source, unless moderation
  rejected it (spam and abuse are not opinions); a review awaiting moderation counts;
- a survey answer (NPS, CES) counts in the period the form was sent back in.
Per product: the requests whose order had the product; such a request is *submitted* for the
product when it brought a review of that product.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parcours.metrics import ratio, rounded

__all__ = ["Answer", "Rating", "SentRequest", "average_rating", "ces", "csat", "kpis",
           "monthly", "nps", "open_rate", "response_rate"]


def response_rate(submitted: int, sent: int) -> float | None:
    """response rate = requests answered with the form / requests sent.

    "Sent": the request's first message went out (a reminder does not make a second request).
    """
    return ratio(submitted, sent)


def open_rate(opened: int, sent: int) -> float | None:
    """open rate = requests whose form was opened / requests sent."""
    return ratio(opened, sent)


def _count(histogram: Mapping[int, int]) -> int:
    return sum(histogram.values())


def average_rating(ratings: Mapping[int, int]) -> float | None:
    """average rating = sum of stars / number of reviews (1 to 5 stars each)."""
    count = _count(ratings)
    return sum(stars * n for stars, n in ratings.items()) / count if count else None


def csat(ratings: Mapping[int, int]) -> float | None:
    """CSAT = reviews of 4 or 5 stars / reviews (a share from 0 to 1)."""
    return ratio(sum(n for stars, n in ratings.items() if stars >= 4), _count(ratings))


def nps(scores: Mapping[int, int]) -> float | None:
    """NPS = 100 x (promoters - detractors) / answers, on the 0-10 "would you recommend us?"
    scale: promoters answer 9 or 10, detractors 0 to 6 (7 and 8 count only in the answers).
    From -100 to 100."""
    count = _count(scores)
    if not count:
        return None
    promoters = sum(n for score, n in scores.items() if score >= 9)
    detractors = sum(n for score, n in scores.items() if score <= 6)
    return 100 * (promoters - detractors) / count


def ces(scores: Mapping[int, int]) -> float | None:
    """CES = average answer to "how easy was buying?", from 1 (very hard) to 7 (very easy)."""
    return average_rating(scores)


@dataclass(frozen=True)
class SentRequest:
    """A review request whose first message went out, and what became of it."""

    sent_at: datetime
    opened: bool
    submitted: bool
    products: frozenset[str] = frozenset()
    reviewed: frozenset[str] = frozenset()  # products it brought a review of


@dataclass(frozen=True)
class Rating:
    """A review that counts (not rejected)."""

    created_at: datetime
    product_id: str
    rating: int


@dataclass(frozen=True)
class Answer:
    """A sent-back survey (either answer may be missing)."""

    submitted_at: datetime
    nps: int | None
    ces: int | None
    products: frozenset[str] = frozenset()


def _of(product: str | None, requests: Iterable[SentRequest], ratings: Iterable[Rating],
        answers: Iterable[Answer]) -> tuple[list[SentRequest], list[Rating], list[Answer]]:
    """The records that concern `product` (all of them when None)."""
    if product is None:
        return list(requests), list(ratings), list(answers)
    return ([r for r in requests if product in r.products],
            [r for r in ratings if r.product_id == product],
            [a for a in answers if product in a.products])


def kpis(requests: Iterable[SentRequest], ratings: Iterable[Rating], answers: Iterable[Answer],
         product: str | None = None) -> dict[str, Any]:
    """The KPIs of these records (of one product when `product` is given): counts, then rates
    rounded to 4 decimals, averages to 2 and the NPS to 1."""
    requests, ratings, answers = _of(product, requests, ratings, answers)
    sent, opened, submitted = len(requests), sum(r.opened for r in requests), sum(
        r.submitted if product is None else product in r.reviewed for r in requests)
    stars = Counter(r.rating for r in ratings)
    promoters = Counter(a.nps for a in answers if a.nps is not None)
    ease = Counter(a.ces for a in answers if a.ces is not None)
    return {
        "requests_sent": sent, "requests_opened": opened, "requests_submitted": submitted,
        "open_rate": rounded(open_rate(opened, sent), 4),
        "response_rate": rounded(response_rate(submitted, sent), 4),
        "reviews": _count(stars),
        "ratings": {str(n): stars.get(n, 0) for n in range(1, 6)},
        "average_rating": rounded(average_rating(stars), 2),
        "csat": rounded(csat(stars), 4),
        "nps_answers": _count(promoters), "nps": rounded(nps(promoters), 1),
        "ces_answers": _count(ease), "ces": rounded(ces(ease), 2),
    }


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


@dataclass
class _Bucket:
    requests: list[SentRequest] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


def monthly(requests: Iterable[SentRequest], ratings: Iterable[Rating],
            answers: Iterable[Answer], product: str | None = None) -> list[dict[str, Any]]:
    """`kpis` per calendar month (UTC) of each record's own time, oldest first; months without
    any record are left out."""
    requests, ratings, answers = _of(product, requests, ratings, answers)
    buckets: dict[str, _Bucket] = {}
    for request in requests:
        buckets.setdefault(_month(request.sent_at), _Bucket()).requests.append(request)
    for rating in ratings:
        buckets.setdefault(_month(rating.created_at), _Bucket()).ratings.append(rating)
    for answer in answers:
        buckets.setdefault(_month(answer.submitted_at), _Bucket()).answers.append(answer)
    return [{"month": month, **kpis(bucket.requests, bucket.ratings, bucket.answers, product)}
            for month, bucket in sorted(buckets.items())]
