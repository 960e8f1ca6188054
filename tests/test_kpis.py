"""KPIs on a hand-built dataset, recorded through the recorder, read back through the reports.

Every expected figure below is computed by hand in the comments, from the formulas in
metrics.py (docs/kpis.md): nothing is recomputed with the code under test.

The shoppers (all times UTC, 2024):

  S1 browser          Jan 10  page, widget shown, product                      -> no cart
  S2 cart leaver      Jan 10  page, product, add to cart                       -> leaves
  S9 cart leaver      Jan 11  page, product, add, remove                       -> leaves
  S3 checkout leaver  Jan 11  page, product, add, checkout started             -> leaves
  S4 EUR buyer        Jan 12  page 08:00 ... placed 09:50, paid 10:00 (50.00 EUR), then
                              fulfilled Jan 14, delivered Jan 16, review Jan 20
  S5 failed then paid Jan 15  page 12:00 ... payment failed 12:20, paid Jan 16 12:00 (80.00 EUR)
  S6 USD buyer        Jan 18  page 20:00 ... paid 20:30 (29.99 USD)
  S7 repeat buyer     Jan 20  page 07:00 ... paid 10:00 (20.00 EUR)
                      Feb  5  page 18:00 ... paid 18:10 (40.50 EUR)  -> second purchase: loyalty
  S8 failed twice     Jan 25  page, product, add, checkout, payment failed x2 -> leaves

Buyers are anonymous while browsing, known by a checkout token at checkout, and by email on
their order; post-purchase events carry the email only: the recorder stitches them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from parcours import reports
from parcours.db import Database
from parcours.events import JourneyEvent, load_event
from parcours.recorder import StoreRef, record
from parcours.reports import Period

ALL = Period(date(2024, 1, 1), date(2024, 2, 29))
JANUARY = Period(date(2024, 1, 1), date(2024, 1, 31))
FEBRUARY = Period(date(2024, 2, 1), date(2024, 2, 29))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


class Shopper:
    """Builds one shopper's events with the identities they would carry at each step."""

    def __init__(self, number: int) -> None:
        self.anon = f"anon-{number}"
        self.checkout = f"co-{number}"
        self.email = f"shopper{number}@example.org"
        self.events: list[dict[str, Any]] = []

    def _add(self, name: str, when: datetime, identities: dict[str, str],
             order: str | None = None, **properties: Any) -> Shopper:
        data: dict[str, Any] = {"name": name, "occurred_at": when.isoformat(),
                                "identities": identities, "properties": properties}
        if order is not None:
            data["resource"] = {"type": "order", "id": order}
        self.events.append(data)
        return self

    def browse(self, name: str, when: datetime) -> Shopper:
        return self._add(name, when, {"anonymous_id": self.anon})

    def checkout_started(self, when: datetime) -> Shopper:
        return self._add("checkout_started", when,
                         {"anonymous_id": self.anon, "checkout_token": self.checkout})

    def order(self, name: str, when: datetime, order: str, **properties: Any) -> Shopper:
        return self._add(name, when, {"checkout_token": self.checkout, "email": self.email},
                         order=order, **properties)

    def after_sale(self, name: str, when: datetime, order: str) -> Shopper:
        return self._add(name, when, {"email": self.email}, order=order)

    def visit(self, month: int, day: int, hour: int, steps: int) -> Shopper:
        """The usual start: page, product, add to cart, checkout, one minute apart."""
        names = ["page_viewed", "product_viewed", "product_added_to_cart"]
        for minute, name in enumerate(names[:steps]):
            self.browse(name, at(month, day, hour, minute))
        if steps > 3:
            self.checkout_started(at(month, day, hour, 3))
        return self


def dataset() -> list[dict[str, Any]]:
    s1 = (Shopper(1).browse("page_viewed", at(1, 10, 9, 0))
          .browse("widget_shown", at(1, 10, 9, 1)).browse("product_viewed", at(1, 10, 9, 2)))
    s2 = Shopper(2).visit(1, 10, 10, steps=3)
    s9 = Shopper(9).visit(1, 11, 15, steps=3).browse("product_removed_from_cart",
                                                       at(1, 11, 15, 4))
    s3 = Shopper(3).visit(1, 11, 10, steps=4)
    s4 = (Shopper(4).visit(1, 12, 8, steps=4)
          .order("order_placed", at(1, 12, 9, 50), "A4")
          .order("order_paid", at(1, 12, 10), "A4", total="50.00", currency="EUR")
          .after_sale("order_fulfilled", at(1, 14, 9), "A4")
          .after_sale("order_delivered", at(1, 16, 9), "A4")
          .after_sale("review_submitted", at(1, 20, 9), "A4"))
    s5 = (Shopper(5).visit(1, 15, 12, steps=4)
          .order("payment_failed", at(1, 15, 12, 20), "A5")
          .order("order_paid", at(1, 16, 12), "A5", total="80.00", currency="EUR"))
    s6 = (Shopper(6).visit(1, 18, 20, steps=4)
          .order("order_paid", at(1, 18, 20, 30), "A6", total="29.99", currency="usd"))
    s7 = (Shopper(7).visit(1, 20, 7, steps=4)
          .order("order_paid", at(1, 20, 10), "A7", total="20.00", currency="EUR")
          .visit(2, 5, 18, steps=4)
          .order("order_paid", at(2, 5, 18, 10), "B7", total="40.50", currency="EUR"))
    s8 = (Shopper(8).visit(1, 25, 11, steps=4)
          .order("payment_failed", at(1, 25, 11, 5), "A8")
          .order("payment_failed", at(1, 25, 11, 7), "A8"))
    return [e for s in (s1, s2, s9, s3, s4, s5, s6, s7, s8) for e in s.events]


@pytest.fixture
def recorded(db: Database, store: StoreRef) -> tuple[Database, StoreRef]:
    """The dataset as a stream: in time order, in batches of 7, one transaction each."""
    events: list[JourneyEvent] = sorted((load_event(store.key, e) for e in dataset()),
                                        key=lambda e: e.occurred_at)
    for start in range(0, len(events), 7):
        with db.write() as conn:
            record(conn, store, events[start:start + 7])
    return db, store


def read(recorded: tuple[Database, StoreRef], report: Any, period: Period) -> dict[str, Any]:
    db, store = recorded
    with db.read() as conn:
        result: dict[str, Any] = report(conn, store, period)
    return result


# -- the whole period (January and February) ------------------------------------------------------

def test_funnel(recorded: tuple[Database, StoreRef]) -> None:
    funnel = read(recorded, reports.funnel, ALL)
    # Journeys: S1 S2 S9 S3 S4 S5 S6 S7a S8 in January, S7b in February = 10.
    assert funnel["journeys"] == 10
    # Converted: S4 S5 S6 S7a S7b = 5 -> 5 / 10 = 0.5
    assert funnel["overall_conversion"] == 0.5
    steps = {s["stage"]: (s["journeys"], s["conversion"], s["drop_off"])
             for s in funnel["steps"]}
    assert steps == {
        "awareness": (10, None, None),          # every journey opens in awareness
        "research": (10, 1.0, 0.0),             # all ten view a product: 10/10
        "comparison": (9, 0.9, 0.1),            # all but S1 add to cart: 9/10
        "decision": (7, 0.7778, 0.2222),        # S3 S4 S5 S6 S7a S7b S8: 7/9 = 0.77777...
        "purchase": (5, 0.7143, 0.2857),        # S4 S5 S6 S7a S7b: 5/7 = 0.714285...
        "reception": (1, 0.2, 0.8),             # S4 fulfilled and delivered: 1/5
        "evaluation": (1, 1.0, 0.0),            # S4 reviewed: 1/1
        "loyalty": (1, 1.0, 0.0),               # S7b, a repeat purchase: 1/1
    }


def test_kpis(recorded: tuple[Database, StoreRef]) -> None:
    kpis = read(recorded, reports.kpis, ALL)
    assert kpis["journeys"] == 10
    assert kpis["conversion"] == {
        "overall": 0.5,  # 5 converted / 10 journeys
        "per_step": {"research": 1.0, "comparison": 0.9, "decision": 0.7778,
                     "purchase": 0.7143, "reception": 0.2, "evaluation": 1.0, "loyalty": 1.0},
    }
    # Journeys with a cart (added to cart): S2 S9 S3 S4 S5 S6 S7a S7b S8 = 9;
    # of these not converted: S2 S9 S3 S8 = 4 -> 4 / 9 = 0.4444...
    assert kpis["cart_abandonment"] == 0.4444
    # Journeys that started a checkout: S3 S4 S5 S6 S7a S7b S8 = 7; not converted: S3 S8 = 2
    # -> 2 / 7 = 0.285714...
    assert kpis["checkout_abandonment"] == 0.2857
    # payment_failed events: S5 once + S8 twice = 3; order_paid events: 5
    # -> 3 / (3 + 5) = 0.375
    assert kpis["payment_failure_rate"] == 0.375
    # EUR orders: S4 50.00 + S5 80.00 + S7a 20.00 + S7b 40.50 = 190.50 over 4 orders
    # USD orders: S6 29.99, one order (the lower-case "usd" is the same currency)
    assert kpis["orders"] == {"EUR": 4, "USD": 1}
    assert kpis["revenue"] == {"EUR": "190.50", "USD": "29.99"}
    # AOV: 190.50 / 4 = 47.625 -> 47.63 (half up); 29.99 / 1 = 29.99. Currencies never mixed.
    assert kpis["average_order_value"] == {"EUR": "47.63", "USD": "29.99"}
    # Customers whose first purchase is in the period: S4 S5 S6 S7 = 4; bought again: S7 = 1
    # -> 1 / 4 = 0.25
    assert kpis["repeat_purchase_rate"] == 0.25
    # CLV per first-purchase currency: EUR customers S4 S5 S7 = 3, their revenue
    # 50.00 + 80.00 + 20.00 + 40.50 = 190.50 -> 63.50; USD: S6 alone, 29.99 -> 29.99
    assert kpis["customer_lifetime_value"] == {"EUR": "63.50", "USD": "29.99"}
    # Time to convert (first event of the journey -> paid):
    #   S7b 18:00 -> 18:10 = 600 s;  S6 20:00 -> 20:30 = 1800 s;  S4 08:00 -> 10:00 = 7200 s;
    #   S7a 07:00 -> 10:00 = 10800 s;  S5 Jan 15 12:00 -> Jan 16 12:00 = 86400 s
    # Median of 5 sorted values = the 3rd = 7200 s; the histogram promises 5 %.
    median = kpis["median_time_to_convert_seconds"]
    assert abs(median - 7200) / 7200 <= 0.05
    # Profiles' current stage (their latest journey): S1 research; S2 S9 comparison;
    # S3 S8 decision; S5 S6 purchase; S4 evaluation; S7 loyalty = 9 profiles.
    assert kpis["stage_distribution"] == {
        "awareness": 0, "research": 1, "comparison": 2, "decision": 2, "purchase": 2,
        "reception": 0, "evaluation": 1, "loyalty": 1,
    }


def test_stages_and_flows(recorded: tuple[Database, StoreRef]) -> None:
    stages = read(recorded, reports.stages, ALL)
    assert sum(stages["profiles_now"].values()) == 9  # one profile per shopper, once stitched
    flows = {(f["from"], f["to"]): f["journeys"] for f in stages["flows"]}
    # Paths: S1 0-1; S2 S9 0-1-2; S3 S8 0-1-2-3; S5 S6 S7a 0-1-2-3-4; S4 0-1-2-3-4-5-6;
    # S7b 0-1-2-3-4-7. One move per consecutive pair, plus last stage -> end.
    assert flows == {
        ("awareness", "research"): 10,   # every path
        ("research", "end"): 1,          # S1
        ("research", "comparison"): 9,   # everyone else
        ("comparison", "end"): 2,        # S2 S9
        ("comparison", "decision"): 7,   # S3 S8 S4 S5 S6 S7a S7b
        ("decision", "end"): 2,          # S3 S8
        ("decision", "purchase"): 5,     # S4 S5 S6 S7a S7b
        ("purchase", "end"): 3,          # S5 S6 S7a
        ("purchase", "reception"): 1,    # S4
        ("reception", "evaluation"): 1,  # S4
        ("evaluation", "end"): 1,        # S4
        ("purchase", "loyalty"): 1,      # S7b
        ("loyalty", "end"): 1,           # S7b
    }
    # Flows come sorted by size, largest first.
    assert [f["journeys"] for f in stages["flows"]] == sorted(flows.values(), reverse=True)
    by_day = {d["day"]: d["events"] for d in stages["events_by_day"]}
    # Jan 10: S1 page, product (the widget moves no stage); S2 page, product, add to cart
    assert by_day["2024-01-10"] == {"awareness": 2, "research": 2, "comparison": 1}
    # Jan 12: S4 page, product, add, checkout, placed + paid (both purchase)
    assert by_day["2024-01-12"] == {"awareness": 1, "research": 1, "comparison": 1,
                                    "decision": 1, "purchase": 2}
    assert by_day["2024-01-14"] == {"reception": 1}  # S4's fulfilment
    # Jan 15: S5 page, product, add, checkout, payment failed (decision)
    assert by_day["2024-01-15"] == {"awareness": 1, "research": 1, "comparison": 1,
                                    "decision": 2}


# -- periods: journeys by opening day, orders by payment day, customers by first purchase ---------

def test_january_only(recorded: tuple[Database, StoreRef]) -> None:
    kpis = read(recorded, reports.kpis, JANUARY)
    # S7b opened on Feb 5: 9 journeys, 4 converted (S4 S5 S6 S7a) -> 4 / 9 = 0.4444...
    assert kpis["journeys"] == 9
    assert kpis["conversion"]["overall"] == 0.4444
    # Nothing in January reaches loyalty, evaluation has S4: 0 / 1 = 0
    assert kpis["conversion"]["per_step"]["loyalty"] == 0.0
    # Cart: 8 journeys, 4 left (S2 S9 S3 S8) -> 0.5; checkout: 6 journeys, 2 left -> 0.3333...
    assert kpis["cart_abandonment"] == 0.5
    assert kpis["checkout_abandonment"] == 0.3333
    # payment_failed 3, order_paid 4 (S7b's is in February) -> 3 / 7 = 0.428571...
    assert kpis["payment_failure_rate"] == 0.4286
    # EUR paid in January: 50.00 + 80.00 + 20.00 = 150.00 over 3 -> 50.00
    assert kpis["orders"] == {"EUR": 3, "USD": 1}
    assert kpis["average_order_value"] == {"EUR": "50.00", "USD": "29.99"}
    # The January cohort is still S4 S5 S6 S7, and S7 bought again (in February): 1 / 4
    assert kpis["repeat_purchase_rate"] == 0.25
    # Historical CLV counts everything the cohort spent since, February included:
    # EUR 190.50 / 3 = 63.50
    assert kpis["customer_lifetime_value"] == {"EUR": "63.50", "USD": "29.99"}
    # Durations 1800, 7200, 10800, 86400: even count -> (7200 + 10800) / 2 = 9000 s
    median = kpis["median_time_to_convert_seconds"]
    assert abs(median - 9000) / 9000 <= 0.05


def test_february_only(recorded: tuple[Database, StoreRef]) -> None:
    kpis = read(recorded, reports.kpis, FEBRUARY)
    # One journey (S7b), converted: 1 / 1; no cart left behind; no payment failure
    assert kpis["journeys"] == 1
    assert kpis["conversion"]["overall"] == 1.0
    assert kpis["cart_abandonment"] == 0.0
    assert kpis["payment_failure_rate"] == 0.0
    assert kpis["orders"] == {"EUR": 1}
    assert kpis["average_order_value"] == {"EUR": "40.50"}
    # Nobody's first purchase is in February: no cohort, so no rate rather than 0 %
    assert kpis["repeat_purchase_rate"] is None
    assert kpis["customer_lifetime_value"] == {}
    median = kpis["median_time_to_convert_seconds"]
    assert abs(median - 600) / 600 <= 0.05


def test_an_empty_period_has_no_rates(recorded: tuple[Database, StoreRef]) -> None:
    kpis = read(recorded, reports.kpis, Period(date(2023, 1, 1), date(2023, 12, 31)))
    assert kpis["journeys"] == 0
    assert kpis["conversion"]["overall"] is None
    assert set(kpis["conversion"]["per_step"].values()) == {None}
    assert kpis["cart_abandonment"] is None
    assert kpis["checkout_abandonment"] is None
    assert kpis["payment_failure_rate"] is None
    assert kpis["orders"] == {} and kpis["average_order_value"] == {}
    assert kpis["repeat_purchase_rate"] is None
    assert kpis["median_time_to_convert_seconds"] is None
    # the stage distribution is "now", whatever the period
    assert sum(kpis["stage_distribution"].values()) == 9
