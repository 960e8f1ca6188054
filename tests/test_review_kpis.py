"""Review KPIs on a hand-computed dataset: the formulas (pure), then the report from the
database (SQLite and PostgreSQL). Every expected number below is worked out in a comment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection

from parcours import tables as t
from parcours.accounts import create_store
from parcours.db import Database
from parcours.errors import ValidationError
from parcours.review_kpis import (
    Answer,
    Rating,
    SentRequest,
    average_rating,
    ces,
    csat,
    kpis,
    monthly,
    nps,
    response_rate,
)
from parcours.review_reports import ReviewPeriod, review_report

# -- the formulas ------------------------------------------------------------------------------


def test_the_formulas_on_hand_computed_numbers() -> None:
    ratings = {5: 3, 4: 1, 3: 1, 1: 2}  # 7 reviews, 15 + 4 + 3 + 2 = 24 stars
    assert average_rating(ratings) == pytest.approx(24 / 7)
    assert csat(ratings) == pytest.approx(4 / 7)  # the three 5s and the 4
    # 10, 9, 10 promote; 6 and 0 detract; 8 and 7 only count as answers: 100 x (3 - 2) / 7
    assert nps({10: 2, 9: 1, 8: 1, 7: 1, 6: 1, 0: 1}) == pytest.approx(100 / 7)
    assert nps({10: 1, 0: 1}) == 0
    assert nps({6: 4}) == -100 and nps({9: 1}) == 100
    assert ces({7: 1, 5: 1, 6: 1, 2: 1}) == 5.0  # 20 / 4
    assert response_rate(3, 8) == 0.375


def test_no_data_is_none_not_zero() -> None:
    assert average_rating({}) is None and csat({}) is None
    assert nps({}) is None and ces({}) is None
    assert response_rate(0, 0) is None
    empty = kpis([], [], [])
    assert (empty["requests_sent"], empty["response_rate"], empty["average_rating"],
            empty["nps"], empty["ces"]) == (0, None, None, None, None)
    assert monthly([], [], []) == []


def test_a_rating_counts_the_same_whatever_it_is() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    result = kpis([], [Rating(at, "p", 1), Rating(at, "p", 5)], [])
    assert (result["average_rating"], result["csat"], result["ratings"]) == (
        3.0, 0.5, {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1})


def test_per_product_a_request_is_answered_when_it_brought_that_products_review() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    both = SentRequest(at, opened=True, submitted=True, products=frozenset({"a", "b"}),
                       reviewed=frozenset({"a"}))
    assert kpis([both], [], [])["response_rate"] == 1.0
    assert kpis([both], [], [], "a")["response_rate"] == 1.0
    assert kpis([both], [], [], "b")["response_rate"] == 0.0
    assert kpis([both], [], [], "c")["requests_sent"] == 0
    answer = Answer(at, nps=10, ces=None, products=frozenset({"a"}))
    assert kpis([], [], [answer], "a")["nps"] == 100.0
    assert kpis([], [], [answer], "b")["nps_answers"] == 0


# -- the report from the database --------------------------------------------------------------

def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def _request(conn: Connection, store_id: int, order: str, products: list[str], *,
             sent: str | None, opened: bool = False, submitted: str | None = None,
             nps: int | None = None, ces: int | None = None) -> int:
    request_id = int(conn.execute(t.review_requests.insert().values(
        store_id=store_id, order_id=order, email=f"{order}@example.com",
        items=[{"product_id": p, "title": p.upper(), "image": None} for p in products],
        status="submitted" if submitted else "sent" if sent else "scheduled",
        nonce=order.ljust(32, "0"), opened_at=at(sent, 12) if opened and sent else None,
        submitted_at=at(submitted) if submitted else None, nps=nps, ces=ces,
        created_at=at("2025-12-01"), updated_at=at("2025-12-01"))
        .returning(t.review_requests.c.id)).scalar_one())
    conn.execute(t.review_messages.insert().values(
        request_id=request_id, store_id=store_id, kind="request", channel="email",
        due_at=at(sent or "2026-03-01"), status="sent" if sent else "due", attempts=0,
        sent_at=at(sent) if sent else None))
    if sent and not submitted:  # a reminder went too: still one request
        conn.execute(t.review_messages.insert().values(
            request_id=request_id, store_id=store_id, kind="reminder", channel="email",
            due_at=at("2026-02-20"), status="sent", attempts=0, sent_at=at("2026-02-20")))
    return request_id


def _review(conn: Connection, store_id: int, product: str, rating: int, day: str, *,
            request_id: int | None = None, source: str = "request",
            status: str = "published") -> None:
    conn.execute(t.reviews.insert().values(
        store_id=store_id, product_id=product, rating=rating, body="text", status=status,
        created_at=at(day), source=source, request_id=request_id, verified=source != "import",
        sync_attempts=0))


@pytest.fixture
def store_id(db: Database) -> int:
    """The dataset (period studied: 2026-01-01 .. 2026-02-28):

    R1 [A, B] sent 01-10, opened, answered 01-12 (NPS 10, CES 7): reviews A 5*, B 2*
    R2 [A]    sent 01-20, opened, not answered (a reminder went)
    R3 [B]    sent 02-03, opened, answered 02-05 (NPS 6, CES 4): review B 4*
    R4 [A]    sent 02-10, never opened
    R5 [A]    not sent yet: not counted
    R6 [A]    sent 2025-12-30 (before the period), answered 01-02 (NPS 9): review A 3*
    other reviews: A 1* imported 01-15; B 5* from the storefront 02-20; A 1* rejected as spam
    01-16 (not counted); A 5* on 03-05 (after the period); and another store's review.
    """
    with db.write() as conn:
        sid = create_store(conn, "shop", account="acme").id
        other = create_store(conn, "other", account="acme").id
        r1 = _request(conn, sid, "r1", ["p-a", "p-b"], sent="2026-01-10", opened=True,
                      submitted="2026-01-12", nps=10, ces=7)
        _request(conn, sid, "r2", ["p-a"], sent="2026-01-20", opened=True)
        r3 = _request(conn, sid, "r3", ["p-b"], sent="2026-02-03", opened=True,
                      submitted="2026-02-05", nps=6, ces=4)
        _request(conn, sid, "r4", ["p-a"], sent="2026-02-10")
        _request(conn, sid, "r5", ["p-a"], sent=None)
        r6 = _request(conn, sid, "r6", ["p-a"], sent="2025-12-30", opened=True,
                      submitted="2026-01-02", nps=9)
        _review(conn, sid, "p-a", 5, "2026-01-12", request_id=r1)
        _review(conn, sid, "p-b", 2, "2026-01-12", request_id=r1)
        _review(conn, sid, "p-b", 4, "2026-02-05", request_id=r3)
        _review(conn, sid, "p-a", 3, "2026-01-02", request_id=r6)
        _review(conn, sid, "p-a", 1, "2026-01-15", source="import")
        _review(conn, sid, "p-b", 5, "2026-02-20", source="storefront")
        _review(conn, sid, "p-a", 1, "2026-01-16", source="storefront", status="rejected")
        _review(conn, sid, "p-a", 5, "2026-03-05")
        _review(conn, other, "p-a", 1, "2026-01-20")
        return sid


PERIOD = ReviewPeriod(date(2026, 1, 1), date(2026, 2, 28))


def _pick(values: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(values[name] for name in names)


NAMES = ("requests_sent", "requests_opened", "requests_submitted", "open_rate",
         "response_rate", "reviews", "average_rating", "csat", "nps_answers", "nps",
         "ces_answers", "ces")


def test_store_totals(db: Database, store_id: int) -> None:
    with db.read() as conn:
        report = review_report(conn, store_id, PERIOD)
    assert (report["since"], report["until"], report["product"]) == ("2026-01-01",
                                                                     "2026-02-28", None)
    # sent R1-R4; opened R1-R3; answered R1, R3. Reviews: 5, 2, 4, 3, 1, 5 = 20 stars / 6;
    # 4-5 stars: 3 of 6. NPS: 10 and 9 promote, 6 detracts: 100 x (2 - 1) / 3. CES (7 + 4) / 2.
    assert _pick(report["totals"], *NAMES) == (4, 3, 2, 0.75, 0.5, 6, 3.33, 0.5, 3, 33.3, 2,
                                               5.5)
    assert report["totals"]["ratings"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 2}


def test_per_month(db: Database, store_id: int) -> None:
    with db.read() as conn:
        months = review_report(conn, store_id, PERIOD)["months"]
    assert [m["month"] for m in months] == ["2026-01", "2026-02"]
    # January: sent R1, R2; answered R1; reviews 5, 2, 3, 1 = 11 / 4, one of 4-5 stars;
    # NPS 10 and 9; CES 7.
    assert _pick(months[0], *NAMES) == (2, 2, 1, 1.0, 0.5, 4, 2.75, 0.25, 2, 100.0, 1, 7.0)
    # February: sent R3, R4; opened and answered R3; reviews 4, 5; NPS 6; CES 4.
    assert _pick(months[1], *NAMES) == (2, 1, 1, 0.5, 0.5, 2, 4.5, 1.0, 1, -100.0, 1, 4.0)


def test_per_product(db: Database, store_id: int) -> None:
    with db.read() as conn:
        report = review_report(conn, store_id, PERIOD)
        only_a = review_report(conn, store_id, PERIOD, "p-a")
    a, b = report["products"]
    # A: sent R1, R2, R4; opened R1, R2; only R1 brought a review of A. Reviews 5, 3, 1 (9/3),
    # one of 4-5 stars. Answers of orders with A: R1 (10, 7), R6 (9, -).
    assert a["product_id"] == "p-a"
    assert _pick(a, *NAMES) == (3, 2, 1, 0.6667, 0.3333, 3, 3.0, 0.3333, 2, 100.0, 1, 7.0)
    # B: sent R1, R3, both opened and both brought a review of B. Reviews 2, 4, 5 (11/3), two
    # of 4-5 stars. Answers: R1 (10, 7), R3 (6, 4): 100 x (1 - 1) / 2; CES 11 / 2.
    assert b["product_id"] == "p-b"
    assert _pick(b, *NAMES) == (2, 2, 2, 1.0, 1.0, 3, 3.67, 0.6667, 2, 0.0, 2, 5.5)
    assert only_a["totals"] == {key: value for key, value in a.items() if key != "product_id"}
    assert "products" not in only_a
    # A in February: R4 only, unopened; no review, no answer.
    assert _pick(only_a["months"][1], *NAMES) == (1, 0, 0, 0.0, 0.0, 0, None, None, 0, None,
                                                  0, None)


def test_periods_are_checked() -> None:
    today = date(2026, 3, 31)
    assert ReviewPeriod.of(None, None, today) == ReviewPeriod(date(2026, 3, 2), today)
    assert ReviewPeriod.of(date(2026, 1, 1), None) == ReviewPeriod(date(2026, 1, 1),
                                                                   date(2026, 1, 30))
    with pytest.raises(ValidationError) as reversed_:
        ReviewPeriod.of(date(2026, 2, 1), date(2026, 1, 1))
    assert "since" in reversed_.value.errors
    with pytest.raises(ValidationError):
        ReviewPeriod.of(date(2020, 1, 1), date(2026, 1, 1))
