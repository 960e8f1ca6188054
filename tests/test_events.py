"""The canonical event schema: what it admits, what it refuses (naming the field), and how."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.errors import ValidationError
from parcours.events import (
    EVENT_BITS,
    EVENT_NAMES,
    IDENTITY_KINDS,
    JourneyEvent,
    email_hash,
    load_event,
    load_events,
)

AT = "2024-03-01T10:00:00+00:00"


def record(**changes: Any) -> dict[str, Any]:
    """A valid record, with some fields changed (a value of None removes the field)."""
    data: dict[str, Any] = {
        "name": "product_viewed",
        "occurred_at": AT,
        "identities": {"anonymous_id": "anon-1"},
        "properties": {"product_id": "p-1"},
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def paid(**changes: Any) -> dict[str, Any]:
    base = record(name="order_paid", properties={"total": "42.50", "currency": "eur"},
                  resource={"type": "order", "id": "1001"})
    return base | changes


def errors_of(records: list[Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as info:
        load_events("shop", records)
    errors: dict[str, Any] = info.value.errors
    return errors


# -- what is admitted ---------------------------------------------------------------------------

def test_valid_record_becomes_an_event() -> None:
    event = load_event("shop", record())
    assert event.store == "shop"
    assert event.name == "product_viewed"
    assert event.occurred_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert event.identities == {"anonymous_id": "anon-1"}
    assert event.properties == {"product_id": "p-1"}
    assert event.source == "api"
    assert event.resource is None and event.key is None


def test_occurred_at_is_converted_to_utc() -> None:
    event = load_event("shop", record(occurred_at="2024-03-01T12:00:00+02:00"))
    assert event.occurred_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_order_paid_carries_its_amount_and_upper_cases_the_currency() -> None:
    event = load_event("shop", paid())
    assert event.properties["currency"] == "EUR"
    assert event.amount() == (Decimal("42.50"), "EUR")
    assert event.order_id == "1001"


def test_resource_updated_at_defaults_to_occurred_at() -> None:
    event = load_event("shop", paid())
    assert event.resource is not None
    assert event.resource.updated_at == event.occurred_at
    later = load_event("shop", paid(resource={"type": "order", "id": "1001",
                                              "updated_at": "2024-03-01T11:00:00Z"}))
    assert later.resource is not None
    assert later.resource.updated_at == datetime(2024, 3, 1, 11, tzinfo=UTC)


def test_order_id_only_for_order_resources() -> None:
    event = load_event("shop", record(name="checkout_updated",
                                      resource={"type": "checkout", "id": "c-9"}))
    assert event.order_id is None


def test_event_bits_are_distinct_single_bits() -> None:
    assert len(EVENT_BITS) == len(EVENT_NAMES) == len(set(EVENT_NAMES))
    bits = list(EVENT_BITS.values())
    assert all(bit & (bit - 1) == 0 for bit in bits)
    assert len(set(bits)) == len(bits)


# -- refusals name the record and the field ------------------------------------------------------

def test_unknown_event_name_is_named_in_the_message() -> None:
    with pytest.raises(ValidationError) as info:
        load_event("shop", record(name="page_view"))
    assert info.value.errors == {"name": ["unknown event name 'page_view'"]}
    assert "page_view" in str(info.value)


def test_missing_occurred_at_names_record_and_field() -> None:
    errors = errors_of([record(), record(occurred_at=None)])
    assert list(errors) == ["record 1"]
    assert list(errors["record 1"]) == ["occurred_at"]


def test_naive_datetime_is_refused() -> None:
    errors = errors_of([record(occurred_at="2024-03-01T10:00:00")])
    assert errors == {"record 0": {"occurred_at": ["Not a valid aware datetime."]}}


def test_no_identities_is_refused() -> None:
    errors = errors_of([record(identities={})])
    assert errors == {"record 0": {"identities": {
        "_schema": ["at least one identity is required"]}}}
    missing = errors_of([record(identities=None)])
    assert list(missing["record 0"]) == ["identities"]


def test_bad_identity_values_are_refused() -> None:
    errors = errors_of([
        record(identities={"email": "not-an-email"}),
        record(identities={"email_hash": "ABC"}),
        record(identities={"anonymous_id": "x" * 256}),
        record(identities={"phone": "+33"}),
    ])
    assert list(errors["record 0"]["identities"]) == ["email"]
    assert list(errors["record 1"]["identities"]) == ["email_hash"]
    assert list(errors["record 2"]["identities"]) == ["anonymous_id"]
    assert list(errors["record 3"]["identities"]) == ["phone"]


@pytest.mark.parametrize("currency", ["EURO", "E1R", 978, "", "€"])
def test_bad_currency_is_refused(currency: object) -> None:
    errors = errors_of([paid(properties={"total": "1.00", "currency": currency})])
    assert errors == {"record 0": {"properties": {"currency": [
        "must be an ISO 4217 code such as EUR"]}}}


@pytest.mark.parametrize("total", ["-1", "abc", "NaN", "Infinity", [1]])
def test_bad_total_is_refused(total: object) -> None:
    errors = errors_of([paid(properties={"total": total, "currency": "EUR"})])
    assert errors == {"record 0": {"properties": {"total": ["must be a non-negative decimal"]}}}


@pytest.mark.parametrize("properties", [{}, {"currency": "EUR"}, {"total": "10"}])
def test_order_paid_needs_total_and_currency(properties: dict[str, Any]) -> None:
    errors = errors_of([record(), paid(properties=properties)])
    assert list(errors) == ["record 1"]
    assert errors["record 1"] == {"properties": {"total": [
        "required for order_paid, with currency"]}}


def test_oversized_properties_are_refused() -> None:
    errors = errors_of([record(properties={"blob": "x" * 17_000})])
    assert list(errors["record 0"]) == ["properties"]
    assert "over the 16384 limit" in errors["record 0"]["properties"][0]


def test_bad_resource_is_refused() -> None:
    errors = errors_of([record(resource={"type": "invoice", "id": "1"}),
                        record(resource={"type": "order"})])
    assert list(errors["record 0"]["resource"]) == ["type"]
    assert list(errors["record 1"]["resource"]) == ["id"]


def test_every_bad_record_is_named_and_nothing_is_returned() -> None:
    with pytest.raises(ValidationError) as info:
        load_events("shop", [record(), record(name="nope"), record(),
                             paid(properties={"total": "1"})])
    assert set(info.value.errors) == {"record 1", "record 3"}
    assert str(info.value).startswith("2 invalid event(s), nothing was recorded")
    assert "record 1.name: unknown event name 'nope'" in str(info.value)


def test_non_object_record_is_refused() -> None:
    errors = errors_of([["page_viewed"]])
    assert errors == {"record 0": {"_schema": ["an event must be a JSON object"]}}


def test_unknown_top_level_key_refused_when_strict_dropped_otherwise() -> None:
    errors = errors_of([record(ocurred_at=AT)])
    assert list(errors["record 0"]) == ["ocurred_at"]
    event = load_event("shop", record(ocurred_at=AT), strict=False)
    assert event.name == "product_viewed"


# -- emails are hashed on the spot ---------------------------------------------------------------

def test_email_identity_is_hashed_never_kept_in_clear() -> None:
    clear = "Jane.Doe@Example.org"
    event = load_event("shop", record(identities={"email": clear,
                                                   "anonymous_id": "anon-1"}))
    assert "email" not in event.identities
    assert event.identities["email_hash"] == email_hash("jane.doe@example.org")
    assert len(event.identities["email_hash"]) == 64
    dumped = json.dumps(event.to_dict()) + repr(event) + event.id
    assert clear.lower() not in dumped.lower()
    assert "jane" not in dumped.lower()


def test_email_hash_is_stable_across_case_and_spaces() -> None:
    assert email_hash(" A@B.co ") == email_hash("a@b.co")
    one = load_event("shop", record(identities={"email": "A@b.co"}))
    two = load_event("shop", record(identities={"email_hash": email_hash("a@b.co")}))
    assert one.identities == two.identities
    assert one.id == two.id


# -- ids ------------------------------------------------------------------------------------------

def test_id_is_deterministic_and_content_based() -> None:
    assert load_event("shop", record()).id == load_event("shop", record()).id
    assert load_event("shop", record()).id != load_event("other", record()).id
    later = record(occurred_at="2024-03-01T10:00:01+00:00")
    assert load_event("shop", record()).id != load_event("shop", later).id


def test_keyed_event_id_ignores_time_and_payload() -> None:
    one = load_event("shop", paid(key="order:1001:paid"))
    two = load_event("shop", paid(key="order:1001:paid", occurred_at="2024-03-02T00:00:00Z",
                                  properties={"total": "43", "currency": "EUR"}))
    assert one.id == two.id
    assert one.id != load_event("shop", paid()).id


# -- property tests ------------------------------------------------------------------------------

# Text a database can store: no lone surrogate, no NUL (events.unstorable_text refuses both).
storable = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00")
identity_values = st.text(storable, min_size=1, max_size=20)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)),
                                                  timezone(timedelta(hours=5, minutes=30))]))


@st.composite
def valid_records(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(EVENT_NAMES))
    kinds = draw(st.lists(st.sampled_from([k for k in IDENTITY_KINDS if k != "email_hash"]),
                          min_size=1, max_size=3, unique=True))
    properties: dict[str, Any] = draw(st.dictionaries(
        st.sampled_from(["product_id", "quantity", "note"]),
        st.one_of(st.integers(0, 100), st.text(storable, max_size=10)), max_size=3))
    if name == "order_paid" or draw(st.booleans()):
        properties["total"] = str(draw(st.decimals(0, 10_000, places=2)))
        properties["currency"] = draw(st.sampled_from(["EUR", "USD", "GBP"]))
    data: dict[str, Any] = {
        "name": name,
        "occurred_at": draw(moments).isoformat(),
        "identities": {kind: draw(identity_values) for kind in kinds},
        "properties": properties,
        "source": draw(st.sampled_from(["api", "shopify", "beacon"])),
    }
    if draw(st.booleans()):
        data["resource"] = {"type": draw(st.sampled_from(["order", "checkout", "cart"])),
                            "id": draw(identity_values),
                            "updated_at": draw(moments).isoformat()}
    if draw(st.booleans()):
        data["key"] = draw(identity_values)
    return data


@settings(max_examples=100)
@given(valid_records())
def test_to_dict_round_trips(data: dict[str, Any]) -> None:
    event = load_event("shop", data)
    again = load_event("shop", event.to_dict())
    assert again == event
    assert again.id == event.id
    assert again.occurred_at.tzinfo is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)


@settings(max_examples=100)
@given(st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {"name": st.sampled_from([*EVENT_NAMES[:3], "bogus"]), "occurred_at": st.text(max_size=30),
     "identities": json_values, "properties": json_values}))))
def test_arbitrary_json_gives_events_or_a_validation_error(records: list[Any]) -> None:
    """The schema is the only gate for outside input: it never fails with anything else."""
    try:
        events = load_events("shop", records)
    except ValidationError as exc:
        assert exc.errors
        assert all(key.startswith("record ") for key in exc.errors)
    else:
        assert len(events) == len(records)
        assert all(isinstance(event, JourneyEvent) for event in events)
