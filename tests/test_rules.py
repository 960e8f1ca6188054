"""Journey rules as data: the defaults, and validation of a store's own rules."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from parcours.errors import ValidationError
from parcours.events import EVENT_NAMES
from parcours.rules import DEFAULT_RULES, DEFAULT_RULES_DATA, JourneyRules
from parcours.stages import STAGES, Stage


def rules_errors(data: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        JourneyRules.from_dict(data)
    assert str(info.value).startswith("invalid journey rules")
    errors: dict[str, Any] = info.value.errors
    return errors


def test_defaults_map_every_event_name() -> None:
    assert set(DEFAULT_RULES.stages) == set(EVENT_NAMES)


def test_defaults_follow_the_stage_descriptions() -> None:
    stage_of = DEFAULT_RULES.stage_of
    assert stage_of("page_viewed") is Stage.AWARENESS
    assert stage_of("product_viewed") is Stage.RESEARCH
    assert stage_of("product_added_to_cart") is Stage.COMPARISON
    assert stage_of("shipping_estimate_requested") is Stage.COMPARISON
    assert stage_of("checkout_started") is Stage.DECISION
    assert stage_of("payment_failed") is Stage.DECISION
    assert stage_of("order_paid") is Stage.PURCHASE
    assert stage_of("order_delivered") is Stage.RECEPTION
    assert stage_of("review_submitted") is Stage.EVALUATION
    assert stage_of("widget_shown") is None
    assert stage_of("order_cancelled") is None
    # loyalty is reached by a repeat purchase, never by an event name
    assert Stage.LOYALTY not in set(DEFAULT_RULES.stages.values())
    assert DEFAULT_RULES.conversion == frozenset({"order_paid"})
    assert DEFAULT_RULES.abandon_after == timedelta(days=30)


def test_stages_are_ordered_and_parse_by_label() -> None:
    assert [s.label for s in STAGES] == ["awareness", "research", "comparison", "decision",
                                         "purchase", "reception", "evaluation", "loyalty"]
    assert sorted(STAGES, reverse=True)[0] is Stage.LOYALTY
    assert Stage.parse("decision") is Stage.DECISION
    with pytest.raises(ValueError, match=r"unknown stage 'checkout'.*awareness"):
        Stage.parse("checkout")


def test_to_dict_round_trips() -> None:
    assert JourneyRules.from_dict(DEFAULT_RULES.to_dict()) == DEFAULT_RULES
    assert DEFAULT_RULES.to_dict() == DEFAULT_RULES_DATA


def test_a_store_can_change_the_rules() -> None:
    data = copy.deepcopy(DEFAULT_RULES_DATA)
    data["stages"]["widget_engaged"] = "comparison"
    data["conversion"] = ["order_placed", "order_paid"]
    data["abandon_after_days"] = 7
    rules = JourneyRules.from_dict(data)
    assert rules.stage_of("widget_engaged") is Stage.COMPARISON
    assert rules.conversion == frozenset({"order_placed", "order_paid"})
    assert rules.abandon_after == timedelta(days=7)


def test_missing_keys_take_defaults_for_conversion_and_window() -> None:
    rules = JourneyRules.from_dict({"stages": {"page_viewed": "awareness"}})
    assert rules.conversion == frozenset({"order_paid"})
    assert rules.abandon_after == timedelta(days=30)
    assert rules.stage_of("product_viewed") is None  # the given stages replace the defaults


def test_every_bad_key_is_named_at_once() -> None:
    errors = rules_errors({
        "stages": {"page_view": "awareness", "cart_viewed": "shopping", "order_paid": None},
        "conversion": ["order_paid", "paid", "refunded"],
        "abandon_after_days": 0,
        "window": 3,
    })
    assert errors["_schema"] == ["unknown key(s): window"]
    assert errors["stages.page_view"] == ["unknown event name"]
    assert errors["stages.cart_viewed"][0].startswith("unknown stage 'shopping' (expected one of:")
    assert "stages.order_paid" not in errors  # null: the event moves no stage
    assert errors["conversion"] == ["unknown event name 'paid'", "unknown event name 'refunded'"]
    assert errors["abandon_after_days"] == ["must be a whole number of days from 1 to 365"]


@pytest.mark.parametrize("days", [0, 366, -1, "30", 30.0, True, None])
def test_abandon_window_must_be_whole_days_in_range(days: object) -> None:
    assert list(rules_errors({"abandon_after_days": days})) == ["abandon_after_days"]


@pytest.mark.parametrize("days", [1, 365])
def test_abandon_window_bounds_are_accepted(days: int) -> None:
    assert JourneyRules.from_dict({"abandon_after_days": days}).abandon_after.days == days


@pytest.mark.parametrize("stages", [["page_viewed"], "page_viewed", 3])
def test_stages_must_be_an_object(stages: object) -> None:
    assert rules_errors({"stages": stages}) == {
        "stages": ["must be an object mapping event names to stages"]}


@pytest.mark.parametrize("conversion", ["order_paid", 5, [], None])
def test_conversion_must_be_a_non_empty_list(conversion: object) -> None:
    assert rules_errors({"conversion": conversion}) == {
        "conversion": ["must be a non-empty list of event names"]}


@pytest.mark.parametrize("data", [[], "rules", None])
def test_rules_must_be_an_object(data: object) -> None:
    assert rules_errors(data) == {"_schema": ["rules must be an object"]}
