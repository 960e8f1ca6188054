"""What each profile adds to the rollup tables, so reports never scan raw events.

Rollups are sums of contributions. A profile's contribution is a pure function of its journeys;
when the engine changes a profile (new events, a refold, a merge) it writes the difference between
the contribution after and before. Counting an event twice or refolding a profile therefore can
never drift the totals, and the same rows give the same rollups whatever the arrival order.

Keys (the store id is added by storage):
- journeys:        (opened day, events mask, path, converted) -> journeys
- orders:          (converted day, currency)                  -> orders, revenue
- conversion_time: (converted day, duration bucket)           -> journeys
- customers:       (first-purchase day, currency)             -> customers, repeaters, revenue
- stage_now:       (stage of the latest journey,)             -> profiles
Event counts per (day, stage, event) are added per new event, not per profile (see storage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from parcours.journey import ProfileJourneys, path_code
from parcours.metrics import duration_bucket

RollupKey = tuple[str, tuple[object, ...], str]
Contribution = dict[RollupKey, int | Decimal]


def contribution(state: ProfileJourneys) -> Contribution:
    out: defaultdict[RollupKey, int | Decimal] = defaultdict(int)
    if not state.journeys:
        return out
    out[("stage_now", (int(state.journeys[-1].stage),), "profiles")] += 1
    converted = [j for j in state.journeys if j.converted_at is not None]
    for journey in state.journeys:
        key = (journey.opened_at.date(), journey.events_mask, path_code(journey.path),
               journey.converted)
        out[("journeys", key, "journeys")] += 1
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


def difference(after: Mapping[RollupKey, int | Decimal],
               before: Mapping[RollupKey, int | Decimal]) -> Contribution:
    """after - before, keeping negative deltas and dropping zeros."""
    delta: dict[RollupKey, int | Decimal] = dict(after)
    for key, value in before.items():
        delta[key] = delta.get(key, 0) - value
    return {key: value for key, value in delta.items() if value != 0}
