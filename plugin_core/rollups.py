"""What each profile adds to the rollup tables, so reports never scan raw events.

Rollups are sums of contributions. A profile's contribution is a pure function of its journeys;
when the engine changes a profile (new events, a refold, a merge) it writes the difference between
the contribution after and before. Counting an event twice or refolding a profile therefore can
never drift the totals, and the same rows give the same rollups whatever the arrival order.

Keys (the store id is added by storage):
- journeys:        (opened day, reported mask, path, converted) -> journeys
- orders:          (converted day, currency)                  -> orders, revenue
- conversion_time: (converted day, duration bucket)           -> journeys
- customers:       (first-purchase day, currency)             -> customers, repeaters, revenue
- stage_now:       (stage of the latest journey,)             -> profiles
- segments:        (opened day, dimension, value, reported mask, converted) -> journeys, one line
                   per dimension: "returning" (value "returning" when an earlier journey of the
                   profile converted, else "new"), "device", "channel", "country" (value
                   "unknown" when the journey does not know it)
- stage_times:     (opened day, stage, duration bucket)       -> journeys: for each stage of a
                   journey's path followed by another, the time from reaching it to reaching
                   the next one (metrics.duration_bucket)
- experiments:     (first exposure day, widget, experiment, arm) -> shoppers, conversions: per
                   profile and experiment, one shopper in the arm of its first exposure, and
                   one conversion when any of its journeys converted at or after that exposure
                   (a profile, not a journey: the arm is the shopper's, and an experiment's
                   question is whether its shoppers buy, whichever journey they buy in)
Event counts per (day, stage, event) are added per new event, not per profile (see storage).

The *reported mask* is a journey's events mask reduced to the events reports read: those that
mark the funnel steps (friction_schema.STEPS, which include the cart, checkout and paid events
of the KPIs). The other events (page views, widget events, cancellations...) would only split
the same counts over more rows: with them, rollup rows kept growing with the number of
journeys (15.7 k rows at 1 M events, 49.6 k at 10 M); without them they level off, and so does
report time. Every report reads the mask through these events only, so its sums are the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

from parcours.events import EVENT_BITS
from parcours.friction_schema import STEPS
from parcours.journey import Journey, ProfileJourneys, path_code
from parcours.metrics import duration_bucket

RollupKey = tuple[str, tuple[object, ...], str]
Contribution = dict[RollupKey, int | Decimal]
SEGMENT_DIMENSIONS = ("returning", "device", "channel", "country")
UNKNOWN = "unknown"
REPORTED_MASK = sum({EVENT_BITS[name] for names in STEPS.values() for name in names})


def contribution(state: ProfileJourneys) -> Contribution:
    out: defaultdict[RollupKey, int | Decimal] = defaultdict(int)
    if not state.journeys:
        return out
    out[("stage_now", (int(state.journeys[-1].stage),), "profiles")] += 1
    converted = [j for j in state.journeys if j.converted_at is not None]
    bought_before = False
    for journey in state.journeys:
        day, mask = journey.opened_at.date(), journey.events_mask & REPORTED_MASK
        key = (day, mask, path_code(journey.path), journey.converted)
        out[("journeys", key, "journeys")] += 1
        for dimension, value in _segments(journey, bought_before).items():
            out[("segments", (day, dimension, value, mask, journey.converted),
                 "journeys")] += 1
        for stage, (start, end) in zip(journey.path[:-1], pairwise(journey.reached),
                                       strict=True):
            out[("stage_times", (day, int(stage), duration_bucket(end - start)), "journeys")] += 1
        bought_before = bought_before or journey.converted
    _experiments(state, out)
    for journey in converted:
        assert journey.converted_at is not None
        day = journey.converted_at.date()
        currency = journey.currency or ""
        out[("orders", (day, currency), "orders")] += 1
        out[("orders", (day, currency), "revenue")] += journey.amount or Decimal(0)
        seconds = (journey.converted_at - journey.opened_at).total_seconds()
        out[("conversion_time", (day, duration_bucket(seconds)), "journeys")] += 1
    if converted:
        first = converted[0]
        assert first.converted_at is not None
        cohort: date = first.converted_at.date()
        out[("customers", (cohort, first.currency or ""), "customers")] += 1
        if len(converted) > 1:
            out[("customers", (cohort, first.currency or ""), "repeaters")] += 1
        for journey in converted:
            out[("customers", (cohort, journey.currency or ""), "revenue")] += (
                journey.amount or Decimal(0)
            )
    return out


def _segments(journey: Journey, bought_before: bool) -> dict[str, str]:
    values = ("returning" if bought_before else "new", journey.device, journey.channel,
              journey.country)
    return {dimension: value or UNKNOWN
            for dimension, value in zip(SEGMENT_DIMENSIONS, values, strict=True)}


def _experiments(state: ProfileJourneys, out: defaultdict[RollupKey, int | Decimal]) -> None:
    first: dict[str, tuple[datetime, str]] = {}  # experiment -> (first exposure, its arm)
    for journey in state.journeys:
        for key, (arm, at) in journey.exposures.items():
            if key not in first or at < first[key][0]:
                first[key] = (at, arm)
    converted = [j.converted_at for j in state.journeys if j.converted_at is not None]
    for key, (at, arm) in first.items():
        widget, _, experiment = key.partition(":")
        row = (at.date(), widget, experiment, arm)
        out[("experiments", row, "shoppers")] += 1
        if any(moment >= at for moment in converted):
            out[("experiments", row, "conversions")] += 1


def difference(after: Mapping[RollupKey, int | Decimal],
               before: Mapping[RollupKey, int | Decimal]) -> Contribution:
    """after - before, keeping negative deltas and dropping zeros."""
    delta: dict[RollupKey, int | Decimal] = dict(after)
    for key, value in before.items():
        delta[key] = delta.get(key, 0) - value
    return {key: value for key, value in delta.items() if value != 0}
