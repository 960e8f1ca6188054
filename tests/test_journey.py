"""The pure journey fold: how a profile's events become purchase cycles, in any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.events import EVENT_BITS, EVENT_NAMES, JourneyEvent, Resource
from parcours.journey import (
    ProfileJourneys,
    event_key,
    fold,
    path_code,
    path_stages,
)
from parcours.rules import DEFAULT_RULES, JourneyRules
from parcours.stages import Stage

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
ORDER_EVENTS = frozenset({"order_placed", "order_paid", "payment_failed", "order_fulfilled",
                          "order_delivered", "order_cancelled", "order_refunded",
                          "review_requested", "review_submitted"})


def ev(name: str, at: timedelta, order: str | None = None, total: str = "10.00",
       currency: str = "EUR", anon: str = "a1", **extra: Any) -> JourneyEvent:
    properties: dict[str, Any] = dict(extra)
    if name == "order_paid":
        properties |= {"total": total, "currency": currency}
    moment = T0 + at
    return JourneyEvent(
        store="shop", name=name, occurred_at=moment, identities={"anonymous_id": anon},
        properties=properties,
        resource=None if order is None else Resource("order", order, moment),
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def purchase(start: timedelta, order: str, total: str = "10.00") -> list[JourneyEvent]:
    return [ev("page_viewed", start), ev("product_viewed", start + minutes(1)),
            ev("product_added_to_cart", start + minutes(2)),
            ev("checkout_started", start + minutes(3)),
            ev("order_paid", start + minutes(4), order=order, total=total)]


# -- unit rules ----------------------------------------------------------------------------------

def test_no_events_no_journey() -> None:
    state = fold([], DEFAULT_RULES)
    assert state.journeys == [] and state.stage is None and state.last_key is None


def test_first_event_opens_a_journey_in_awareness() -> None:
    state = fold([ev("widget_shown", minutes(0))], DEFAULT_RULES)
    (journey,) = state.journeys
    assert journey.path == (Stage.AWARENESS,)
    assert journey.stage is Stage.AWARENESS
    assert journey.opened_at == journey.last_event_at == T0
    assert journey.events_mask == EVENT_BITS["widget_shown"]
    assert not journey.converted


def test_a_first_event_of_a_later_stage_still_opens_in_awareness() -> None:
    state = fold([ev("product_viewed", minutes(0))], DEFAULT_RULES)
    assert state.journeys[0].path == (Stage.AWARENESS, Stage.RESEARCH)
    assert state.stage is Stage.RESEARCH


def test_path_lists_stages_in_order_of_first_reach() -> None:
    events = [ev("page_viewed", minutes(0)), ev("product_added_to_cart", minutes(1)),
              ev("product_viewed", minutes(2)), ev("cart_viewed", minutes(3)),
              ev("checkout_started", minutes(4)), ev("product_viewed", minutes(5))]
    (journey,) = fold(events, DEFAULT_RULES).journeys
    assert journey.path == (Stage.AWARENESS, Stage.COMPARISON, Stage.RESEARCH, Stage.DECISION)
    assert path_code(journey.path) == "0213"
    assert path_stages("0213") == journey.path
    assert journey.stage is Stage.DECISION
    assert journey.last_event_at == T0 + minutes(5)


def test_converts_on_order_paid_not_order_placed() -> None:
    events = [*purchase(minutes(0), "1001", total="59.90")[:-1],
              ev("order_placed", minutes(4), order="1001")]
    state = fold(events, DEFAULT_RULES)
    assert not state.journeys[0].converted
    state = fold([*events, ev("order_paid", minutes(5), order="1001", total="59.90")],
                 DEFAULT_RULES)
    (journey,) = state.journeys
    assert journey.converted and journey.converted_at == T0 + minutes(5)
    assert journey.order_id == "1001"
    assert (journey.amount, journey.currency) == (Decimal("59.90"), "EUR")
    assert journey.stage is Stage.PURCHASE
    assert journey.status(T0 + days(400), DEFAULT_RULES) == "converted"


def test_next_event_after_a_conversion_opens_a_new_journey() -> None:
    events = [*purchase(minutes(0), "1001"), ev("page_viewed", minutes(10))]
    first, second = fold(events, DEFAULT_RULES).journeys
    assert first.converted and not second.converted
    assert (second.index, second.opened_at, second.path) == (1, T0 + minutes(10),
                                                             (Stage.AWARENESS,))


def test_post_purchase_events_attach_to_the_converted_journey() -> None:
    events = [*purchase(minutes(0), "1001"),
              ev("page_viewed", days(1)),  # a new journey opens
              ev("product_viewed", days(1) + minutes(1)),
              ev("order_fulfilled", days(2), order="1001"),
              ev("order_delivered", days(4), order="1001"),
              ev("review_submitted", days(9), order="1001")]
    state = fold(events, DEFAULT_RULES)
    first, second = state.journeys
    assert first.path[-2:] == (Stage.RECEPTION, Stage.EVALUATION)
    assert first.stage is Stage.EVALUATION
    assert first.last_event_at == T0 + days(9)
    assert first.events_mask & EVENT_BITS["order_delivered"]
    assert second.path == (Stage.AWARENESS, Stage.RESEARCH)
    assert second.last_event_at == T0 + days(1) + minutes(1)
    assert not second.events_mask & EVENT_BITS["order_fulfilled"]
    assert state.stage is Stage.RESEARCH  # where the shopper is now: the latest journey


def test_facts_naming_only_their_order_attach_to_its_journey() -> None:
    """A refund or a fulfilment webhook names its order by id, with no order resource."""
    refund = JourneyEvent(store="shop", name="order_refunded", occurred_at=T0 + days(3),
                          identities={"order_id": "1001"})
    state = fold([*purchase(minutes(0), "1001"), refund], DEFAULT_RULES)
    (journey,) = state.journeys
    assert journey.events_mask & EVENT_BITS["order_refunded"]
    assert refund.order_id == "1001"


def test_post_purchase_event_does_not_keep_the_new_journey_alive() -> None:
    """A delivery 40 days later belongs to the old order, not to the browsing journey."""
    events = [*purchase(minutes(0), "1001"), ev("page_viewed", days(1)),
              ev("order_delivered", days(40), order="1001"), ev("page_viewed", days(45))]
    journeys = fold(events, DEFAULT_RULES).journeys
    assert len(journeys) == 3
    assert journeys[0].last_event_at == T0 + days(40)
    assert journeys[2].opened_at == T0 + days(45)


def test_thirty_days_of_inactivity_open_a_new_journey() -> None:
    exactly = fold([ev("page_viewed", days(0)), ev("product_viewed", days(30))], DEFAULT_RULES)
    assert len(exactly.journeys) == 1  # the window is "more than 30 days"
    events = [ev("page_viewed", days(0)), ev("product_viewed", days(30) + minutes(1))]
    first, second = fold(events, DEFAULT_RULES).journeys
    assert first.path == (Stage.AWARENESS,) and not first.converted
    assert second.opened_at == T0 + days(30) + minutes(1)
    assert second.path == (Stage.AWARENESS, Stage.RESEARCH)
    assert first.status(second.opened_at, DEFAULT_RULES) == "abandoned"
    assert second.status(second.opened_at + days(30), DEFAULT_RULES) == "open"
    assert second.status(second.opened_at + days(31), DEFAULT_RULES) == "abandoned"


def test_the_window_comes_from_the_rules() -> None:
    weekly = JourneyRules.from_dict({**DEFAULT_RULES.to_dict(), "abandon_after_days": 7})
    events = [ev("page_viewed", days(0)), ev("page_viewed", days(8))]
    assert len(fold(events, DEFAULT_RULES).journeys) == 1
    assert len(fold(events, weekly).journeys) == 2


def test_a_second_converted_journey_reaches_loyalty() -> None:
    events = [*purchase(days(0), "1001"), *purchase(days(3), "1002", total="20.00")]
    state = fold(events, DEFAULT_RULES)
    first, second = state.journeys
    assert first.stage is Stage.PURCHASE and Stage.LOYALTY not in first.path
    assert second.path[-2:] == (Stage.PURCHASE, Stage.LOYALTY)
    assert second.stage is Stage.LOYALTY and state.stage is Stage.LOYALTY
    assert (second.order_id, second.amount) == ("1002", Decimal("20.00"))


def test_unconverted_journey_between_purchases_is_not_loyalty() -> None:
    events = [*purchase(days(0), "1"), ev("page_viewed", days(1)),
              *purchase(days(40), "2")]
    journeys = fold(events, DEFAULT_RULES).journeys
    assert [j.stage for j in journeys] == [Stage.PURCHASE, Stage.AWARENESS, Stage.LOYALTY]


def test_repeated_payment_of_the_same_order_does_not_convert_again() -> None:
    events = [*purchase(minutes(0), "1001"),
              ev("order_paid", minutes(30), order="1001", total="10.00")]  # a redelivery
    (journey,) = fold(events, DEFAULT_RULES).journeys
    assert journey.converted_at == T0 + minutes(4)
    assert Stage.LOYALTY not in journey.path


def test_equal_times_are_ordered_by_id() -> None:
    events = [ev("page_viewed", minutes(0)), ev("product_viewed", minutes(0)),
              ev("cart_viewed", minutes(0))]
    ordered = sorted(events, key=event_key)
    state = fold(events, DEFAULT_RULES)
    assert state.last_key == event_key(ordered[-1])
    assert state.journeys[0].path == (Stage.AWARENESS, *(
        DEFAULT_RULES.stage_of(e.name) for e in ordered if e.name != "page_viewed"))


def test_accepts_in_order() -> None:
    state = fold([ev("page_viewed", minutes(5))], DEFAULT_RULES)
    assert state.accepts_in_order(ev("product_viewed", minutes(6)))
    assert not state.accepts_in_order(ev("product_viewed", minutes(4)))
    assert ProfileJourneys().accepts_in_order(ev("product_viewed", minutes(4)))


# -- segments, stage times, exposures -------------------------------------------------------------

def test_device_and_channel_come_from_the_first_event_that_has_one_country_from_the_latest(
) -> None:
    events = [ev("widget_shown", minutes(0)),  # no segment at all
              ev("page_viewed", minutes(1), channel="social", device="phone"),  # not a device
              ev("product_viewed", minutes(2), device="mobile", country="fr"),
              ev("page_viewed", minutes(3), channel="email", device="desktop", country="DE"),
              ev("cart_viewed", minutes(4), country="Atlantis")]  # not a country
    (journey,) = fold(events, DEFAULT_RULES).journeys
    assert (journey.device, journey.channel, journey.country) == ("mobile", "social", "DE")
    bare = fold([ev("page_viewed", minutes(0))], DEFAULT_RULES).journeys[0]
    assert (bare.device, bare.channel, bare.country) == (None, None, None)


def test_each_journey_has_its_own_segments() -> None:
    events = [*purchase(minutes(0), "1001"),
              ev("page_viewed", minutes(0), channel="paid_search", device="desktop"),
              ev("page_viewed", days(2), channel="email", device="mobile")]
    first, second = fold(events, DEFAULT_RULES).journeys
    assert (first.channel, first.device) == ("paid_search", "desktop")
    assert (second.channel, second.device) == ("email", "mobile")


def test_reached_times_each_stage_from_the_opening() -> None:
    events = [ev("page_viewed", minutes(0)), ev("product_viewed", minutes(2)),
              ev("product_viewed", minutes(3)),  # research again: the first reach counts
              ev("product_added_to_cart", minutes(10)),
              ev("order_paid", minutes(70), order="1"),
              ev("order_delivered", days(3), order="1")]
    (journey,) = fold(events, DEFAULT_RULES).journeys
    assert journey.path == (Stage.AWARENESS, Stage.RESEARCH, Stage.COMPARISON, Stage.PURCHASE,
                            Stage.RECEPTION)
    assert journey.reached == (0, 120, 600, 4200, 259_200)
    second = fold([*events, *purchase(days(5), "2")], DEFAULT_RULES).journeys[1]
    assert second.path[-2:] == (Stage.PURCHASE, Stage.LOYALTY)
    assert second.reached[-2:] == (240, 240)  # loyalty is reached by the conversion itself


def shown(at: timedelta, widget: str = "express_pay", **properties: Any) -> JourneyEvent:
    return ev("widget_shown", at, widget=widget, **properties)


def test_exposures_keep_the_first_arm_shown_per_widget_and_experiment() -> None:
    events = [shown(minutes(0), bucket="exposed", experiment="s1"),
              shown(minutes(5), bucket="holdout", experiment="s1"),  # later: not kept
              shown(minutes(6), bucket="holdout"),  # no experiment: ""
              shown(minutes(7), widget="guest_checkout", bucket="exposed", experiment="s1"),
              shown(minutes(8), widget="shipping_estimate", bucket="control"),  # not an arm
              shown(minutes(9), widget="x:y", bucket="exposed"),  # not a widget name
              shown(minutes(10), widget="w" * 33, bucket="exposed"),  # too long for rollups
              ev("page_viewed", minutes(11), widget="review_list", bucket="exposed")]
    (journey,) = fold(events, DEFAULT_RULES).journeys
    assert journey.exposures == {
        "express_pay:s1": ("exposed", T0),
        "express_pay:": ("holdout", T0 + minutes(6)),
        "guest_checkout:s1": ("exposed", T0 + minutes(7)),
    }


# -- properties ----------------------------------------------------------------------------------

GAPS = st.one_of(st.just(0), st.integers(1, 3600), st.integers(3600, 86_400 * 3),
                 st.integers(86_400 * 29, 86_400 * 32))


SEGMENTS = st.fixed_dictionaries({}, optional={
    "device": st.sampled_from(["mobile", "desktop", "tablet", "phone"]),
    "channel": st.sampled_from(["direct", "email", "social", "tv"]),
    "country": st.sampled_from(["FR", "de", "XX"])})
EXPOSURES = st.fixed_dictionaries({"widget": st.sampled_from(["express_pay", "guest_checkout"]),
                                   "bucket": st.sampled_from(["exposed", "holdout", "other"])},
                                  optional={"experiment": st.sampled_from(["s1", "s2"])})


@st.composite
def profile_events(draw: st.DrawFn) -> list[JourneyEvent]:
    """One shopper's events: a mix of browsing and orders, with gaps around the 30-day window."""
    count = draw(st.integers(1, 25))
    at = 0
    events: dict[str, JourneyEvent] = {}
    for _ in range(count):
        at += draw(GAPS)
        name = draw(st.sampled_from(EVENT_NAMES))
        order = draw(st.sampled_from(["1", "2", "3"])) if name in ORDER_EVENTS else None
        total = draw(st.sampled_from(["10.00", "25.50", "99.99"]))
        extra = draw(SEGMENTS)
        if name == "widget_shown":
            extra |= draw(EXPOSURES)
        event = ev(name, timedelta(seconds=at), order=order, total=total, **extra)
        events[event.id] = event
    return list(events.values())


def check_invariants(state: ProfileJourneys, events: list[JourneyEvent]) -> None:
    assert [j.index for j in state.journeys] == list(range(len(state.journeys)))
    mask = 0
    converted = 0
    for journey in state.journeys:
        assert journey.path[0] is Stage.AWARENESS
        assert len(set(journey.path)) == len(journey.path)
        assert journey.stage == max(journey.path)
        assert journey.opened_at <= journey.last_event_at
        assert len(journey.reached) == len(journey.path) and journey.reached[0] == 0
        assert list(journey.reached) == sorted(journey.reached)
        assert journey.opened_at + timedelta(seconds=journey.reached[-1]) <= (
            journey.last_event_at)
        assert all(arm in ("exposed", "holdout") and journey.opened_at <= moment
                   for arm, moment in journey.exposures.values())
        mask |= journey.events_mask
        if journey.converted:
            assert journey.converted_at is not None
            assert journey.opened_at <= journey.converted_at <= journey.last_event_at
            assert (Stage.LOYALTY in journey.path) == (converted > 0)
            converted += 1
        else:
            assert Stage.LOYALTY not in journey.path
    assert mask == sum({EVENT_BITS[e.name] for e in events})
    opened = [j.opened_at for j in state.journeys]
    assert opened == sorted(opened)


@settings(max_examples=100)
@given(profile_events(), st.randoms(use_true_random=False))
def test_any_permutation_folds_to_the_same_journeys(events: list[JourneyEvent],
                                                    rnd: random.Random) -> None:
    expected = fold(events, DEFAULT_RULES)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    state = fold(shuffled, DEFAULT_RULES)
    assert state == expected
    assert state.stage == expected.stage
    check_invariants(state, events)


@settings(max_examples=100)
@given(profile_events(), st.randoms(use_true_random=False))
def test_incremental_apply_with_refold_matches_fold(events: list[JourneyEvent],
                                                    rnd: random.Random) -> None:
    """What storage does: apply an event that comes after everything seen, else refold."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    state = ProfileJourneys()
    seen: list[JourneyEvent] = []
    for event in shuffled:
        seen.append(event)
        if state.accepts_in_order(event):
            state.apply(event, DEFAULT_RULES)
        else:
            state = fold(seen, DEFAULT_RULES)
    expected = fold(events, DEFAULT_RULES)
    assert state == expected
    assert state.stage == expected.stage


@settings(max_examples=100)
@given(profile_events(), st.data())
def test_fold_of_a_prefix_then_apply_matches_fold(events: list[JourneyEvent],
                                                  data: st.DataObject) -> None:
    ordered = sorted(events, key=event_key)
    cut = data.draw(st.integers(0, len(ordered)))
    state = fold(ordered[:cut], DEFAULT_RULES)
    for event in ordered[cut:]:
        assert state.accepts_in_order(event)
        state.apply(event, DEFAULT_RULES)
    assert state == fold(events, DEFAULT_RULES)
