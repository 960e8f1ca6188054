"""Insights (segments, step funnel, stage times, experiments, friction, who dropped) on a
hand-built dataset recorded through the recorder and read back from the rollups.

Every expected figure is worked out by hand in the comments. The shoppers (2024, UTC); each
visit is page :00, widget shown :01, product :02, add to cart :03, checkout :04, paid :10, as far
as the shopper goes ("-> cart" stops after adding to cart):

  S1 mobile, organic search  Jan 10 09h  shipping widget exposed     -> cart
  S2 desktop, direct         Jan 10 10h  shipping widget holdout     -> checkout
  S3 desktop, direct         Jan 11 11h  shipping widget exposed     -> paid 50 EUR, ships to FR
  S4 mobile, social          Jan 12 12h  shipping widget holdout     -> paid 30 EUR, ships to DE
                             Feb  1 08h  (second journey, returning) -> paid 20 EUR, to DE
  S5 no device, no channel   Jan 13 13h                              -> product
  S6 mobile, email           Jan 14 10h                              -> cart
  S7 mobile, email           Jan 14 11h                              -> cart
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from parcours import insights
from parcours.db import Database
from parcours.errors import ValidationError
from parcours.events import load_event
from parcours.insights import ExperimentSettings, Segment
from parcours.pagination import PageRequest
from parcours.recorder import StoreRef, record
from parcours.reports import Period

ALL = Period(date(2024, 1, 1), date(2024, 2, 29))
NOW = datetime(2024, 3, 1, tzinfo=UTC)
STEPS = ("page_viewed", "widget_shown", "product_viewed", "product_added_to_cart",
         "checkout_started", "order_paid")


def visit(n: int, month: int, day: int, hour: int, last: str, *, journey: str = "",
          context: dict[str, str] | None = None, arm: str | None = None,
          paid: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    ids = {"anonymous_id": f"anon-{n}"}
    events = []
    for minute, name in zip((0, 1, 2, 3, 4, 10), STEPS, strict=True):
        props: dict[str, Any] = {}
        if name == "page_viewed":
            props = dict(context or {})
        elif name == "widget_shown":
            if arm is None:
                continue
            props = {"widget": "shipping_estimate", "bucket": arm, "experiment": "e1"}
        elif name == "order_paid":
            assert paid is not None
            props = {"total": paid[0], "currency": "EUR", "country": paid[1]}
        event: dict[str, Any] = {
            "name": name, "identities": ids, "properties": props,
            "occurred_at": datetime(2024, month, day, hour, minute, tzinfo=UTC).isoformat()}
        if name == "order_paid":
            event["resource"] = {"type": "order", "id": f"O{n}{journey}"}
        events.append(event)
        if name == last:
            break
    return events


def dataset() -> list[dict[str, Any]]:
    mobile = {"device": "mobile"}
    return [
        *visit(1, 1, 10, 9, "product_added_to_cart", arm="exposed",
               context=mobile | {"channel": "organic_search"}),
        *visit(2, 1, 10, 10, "checkout_started", arm="holdout",
               context={"device": "desktop", "channel": "direct"}),
        *visit(3, 1, 11, 11, "order_paid", arm="exposed", paid=("50.00", "FR"),
               context={"device": "desktop", "channel": "direct"}),
        *visit(4, 1, 12, 12, "order_paid", arm="holdout", paid=("30.00", "DE"),
               context=mobile | {"channel": "social"}),
        *visit(4, 2, 1, 8, "order_paid", journey="b", paid=("20.00", "DE"), context=mobile),
        *visit(5, 1, 13, 13, "product_viewed"),
        *visit(6, 1, 14, 10, "product_added_to_cart", context=mobile | {"channel": "email"}),
        *visit(7, 1, 14, 11, "product_added_to_cart", context=mobile | {"channel": "email"}),
    ]


@pytest.fixture
def recorded(db: Database, store: StoreRef) -> tuple[Database, StoreRef]:
    events = [load_event(store.key, e) for e in dataset()]
    for start in range(0, len(events), 5):  # several transactions, out of time order
        with db.write() as conn:
            record(conn, store, events[start:start + 5][::-1])
    return db, store


def read(recorded: tuple[Database, StoreRef], report: Any, *args: Any, **kwargs: Any
         ) -> dict[str, Any]:
    db, store = recorded
    with db.read() as conn:
        result: dict[str, Any] = report(conn, store, *args, **kwargs)
    return result


def steps(report: dict[str, Any]) -> dict[str, tuple[int, float | None]]:
    return {s["step"]: (s["journeys"], s["conversion"]) for s in report["steps"]}


def test_step_funnel(recorded: tuple[Database, StoreRef]) -> None:
    funnel = read(recorded, insights.step_funnel, ALL)
    # Journeys: S1 S2 S3 S4a S4b S5 S6 S7 = 8, all viewed a product.
    assert funnel["journeys"] == 8
    assert steps(funnel) == {
        "product": (8, None),
        "cart": (7, 0.875),         # all but S5: 7/8
        "checkout": (4, 0.5714),    # S2 S3 S4a S4b: 4/7 = 0.571428...
        # contact, address, shipping, payment: no journey reported them: not tracked, absent
        "paid": (3, 0.75),          # S3 S4a S4b: 3/4
        "received": (0, 0.0),       # a server step: a real zero, 0/3
        "reviewed": (0, None),      # 0/0: no data, not 0 %
        "repeat": (1, 0.3333),      # S4b, a second purchase, of the 3 paid journeys
    }


def test_step_funnel_of_one_segment(recorded: tuple[Database, StoreRef]) -> None:
    funnel = read(recorded, insights.step_funnel, ALL, Segment("device", "mobile"))
    # Mobile journeys: S1 S4a S4b S6 S7 = 5; carts: all 5; checkout and paid: S4a S4b.
    assert funnel["segment"] == {"dimension": "device", "value": "mobile"}
    assert steps(funnel) == {"product": (5, None), "cart": (5, 1.0), "checkout": (2, 0.4),
                             "paid": (2, 1.0), "received": (0, 0.0), "reviewed": (0, None)}


def values(report: dict[str, Any]) -> dict[str, tuple[int, float | None]]:
    return {v["value"]: (v["journeys"], v["conversion"]) for v in report["values"]}


def test_segments(recorded: tuple[Database, StoreRef]) -> None:
    # Returning: S4b opened after S4's first purchase; the 7 others are new. Paid: S3 S4a of
    # the new (2/7 = 0.2857), S4b of the returning (1/1).
    assert values(read(recorded, insights.segments, ALL, "returning")) == {
        "new": (7, 0.2857), "returning": (1, 1.0)}
    # Device of the first event that has one: mobile S1 S4a S4b S6 S7 (paid S4a S4b: 2/5);
    # desktop S2 S3 (1/2); S5 unknown (0/1).
    device = read(recorded, insights.segments, ALL, "device")
    assert values(device) == {"mobile": (5, 0.4), "desktop": (2, 0.5), "unknown": (1, 0.0)}
    assert [v["value"] for v in device["values"]] == ["mobile", "desktop", "unknown"]
    # Channel: S4b's page names none: unknown with S5.
    assert values(read(recorded, insights.segments, ALL, "channel")) == {
        "direct": (2, 0.5), "email": (2, 0.0), "organic_search": (1, 0.0),
        "social": (1, 1.0), "unknown": (2, 0.5)}
    # Country from the order: FR S3, DE S4a S4b; the rest unknown.
    assert values(read(recorded, insights.segments, ALL, "country")) == {
        "DE": (2, 1.0), "FR": (1, 1.0), "unknown": (5, 0.0)}


def test_a_bad_dimension_or_segment_is_named(recorded: tuple[Database, StoreRef]) -> None:
    with pytest.raises(ValidationError) as raised:
        read(recorded, insights.segments, ALL, "browser")
    assert "dimension" in raised.value.errors
    for text in ("device", "device:", "colour:red", "device:" + "x" * 40):
        with pytest.raises(ValidationError) as raised:
            Segment.parse(text)
        assert "segment" in raised.value.errors
    assert Segment.parse("country:FR") == Segment("country", "FR")


def test_stage_times(recorded: tuple[Database, StoreRef]) -> None:
    times = {s["stage"]: (s["journeys"], s["median_seconds"])
             for s in read(recorded, insights.stage_times, ALL)["stages"]}
    # Time in a stage = from reaching it to reaching the next one; the last stage a journey
    # reached is not counted (it is still there, or left from it).
    # awareness -> research: page :00 to product :02 = 120 s, all 8 journeys.
    # research -> comparison: :02 to cart :03 = 60 s: all but S5 (7).
    # comparison -> decision: :03 to checkout :04 = 60 s: S2 S3 S4a S4b (4).
    # decision -> purchase: :04 to paid :10 = 360 s: S3 S4a S4b (3).
    # purchase -> loyalty: S4b reaches both with the same payment: 0 s (1).
    expected = {"awareness": (8, 120), "research": (7, 60), "comparison": (4, 60),
                "decision": (3, 360), "purchase": (1, 0)}
    for stage, (journeys, median) in expected.items():
        assert times[stage][0] == journeys
        assert abs(times[stage][1] - median) <= 0.05 * median  # the histogram's 5 %
    assert times["reception"] == (0, None)


WIDGETS = {"shipping_estimate": {"enabled": True, "holdout": 0.5, "salt": "e1"}}


def test_experiment_waits_for_its_pilot(recorded: tuple[Database, StoreRef]) -> None:
    report = read(recorded, insights.experiments, ALL, WIDGETS)
    [experiment] = report["experiments"]
    # Exposed: S1 (no order), S3 (paid) = 1/2; holdout: S2 (no), S4 (paid) = 1/2.
    assert experiment["exposed"] == {"shoppers": 2, "conversions": 1, "conversion": 0.5}
    assert experiment["holdout"] == {"shoppers": 2, "conversions": 1, "conversion": 0.5}
    assert (experiment["widget"], experiment["experiment"], experiment["running"]) == (
        "shipping_estimate", "e1", True)
    # No plan before the holdout has 200 shoppers: 198 to go; no verdict, figures shown.
    assert experiment["state"] == "planning"
    assert experiment["plan"] is None
    assert experiment["pilot_shoppers_needed"] == 198
    assert experiment["uplift"]["absolute"] == 0.0
    assert experiment["p_value"] == 1.0


def test_experiment_plan_and_fixed_horizon(recorded: tuple[Database, StoreRef]) -> None:
    report = read(recorded, insights.experiments, ALL, WIDGETS,
                  ExperimentSettings(pilot_shoppers=2))
    [experiment] = report["experiments"]
    # Pilot: the holdout's first 2 shoppers (S2 Jan 10, S4 Jan 12): 1/2 = 0.5. Minimum effect:
    # 10 % of it = 0.05. Equal arms need far more than 2 shoppers: still collecting.
    assert experiment["plan"]["baseline"] == 0.5
    assert experiment["plan"]["minimum_effect"] == 0.05
    assert experiment["plan"]["required"]["exposed"] > 2
    assert experiment["state"] == "collecting"


def test_experiments_count_shoppers_by_their_first_exposure(
        recorded: tuple[Database, StoreRef]) -> None:
    # Only S3 (exposed) and S4 (holdout) were first shown the widget on Jan 11-12.
    report = read(recorded, insights.experiments, Period(date(2024, 1, 11), date(2024, 1, 12)),
                  WIDGETS)
    [experiment] = report["experiments"]
    assert experiment["exposed"]["shoppers"] == 1 and experiment["holdout"]["shoppers"] == 1
    # February: nobody new was exposed: no experiment in the period.
    assert read(recorded, insights.experiments, Period(date(2024, 2, 1), date(2024, 2, 29)),
                WIDGETS)["experiments"] == []


def test_friction_reads_the_funnel_and_says_what_it_cannot_judge(
        recorded: tuple[Database, StoreRef]) -> None:
    report = read(recorded, insights.friction, ALL, facts={}, widgets=WIDGETS)
    assert report["funnel"] == {"product": 8, "cart": 7, "checkout": 4, "paid": 3,
                                "received": 0, "reviewed": 0}
    # Eight journeys are too few for any rule: nothing fires, and each rule says so.
    assert report["findings"] == []
    assert report["unknown"]
    assert all(item["evidence"] for item in report["unknown"])


def test_dropped_lists_idle_shoppers_page_by_page(recorded: tuple[Database, StoreRef]) -> None:
    # Reached the cart, not the checkout, no order: S1 (Jan 10 09:03), S6 (Jan 14 10:03),
    # S7 (Jan 14 11:03); newest activity first.
    first = read(recorded, insights.dropped, ALL, "cart", now=NOW, page=PageRequest(2))
    assert [(i["device"], i["channel"], i["last_event_at"][:16]) for i in first["items"]] == [
        ("mobile", "email", "2024-01-14T11:03"), ("mobile", "email", "2024-01-14T10:03")]
    assert first["next_cursor"] is not None
    second = read(recorded, insights.dropped, ALL, "cart", now=NOW,
                  page=PageRequest(2, first["next_cursor"]))
    assert [i["last_event_at"][:16] for i in second["items"]] == ["2024-01-10T09:03"]
    assert second["next_cursor"] is None
    # Product but no cart: S5; checkout but not paid: S2.
    assert [i["country"] for i in read(recorded, insights.dropped, ALL, "product",
                                       now=NOW)["items"]] == ["unknown"]
    [s2] = read(recorded, insights.dropped, ALL, "checkout", now=NOW)["items"]
    assert (s2["stage"], s2["device"]) == ("decision", "desktop")
    # Still active within the idle time: not listed yet.
    assert read(recorded, insights.dropped, ALL, "cart", now=datetime(
        2024, 1, 14, 12, tzinfo=UTC), idle=timedelta(hours=6))["items"][0]["last_event_at"][
            :16] == "2024-01-10T09:03"
    with pytest.raises(ValidationError) as raised:
        read(recorded, insights.dropped, ALL, "reviewed", now=NOW)
    assert "step" in raised.value.errors
