"""KPI formulas, computed from rollup sums (never from raw events). docs/kpis.md lists them.

Every rate is None when its denominator is zero: "no data" is not "0 %".
Journey-based figures count journeys *opened* in the period; order figures count orders *paid*
in the period; customer figures count customers whose *first* purchase is in the period (a
cohort), following what they did afterwards.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from parcours.events import EVENT_BITS
from parcours.journey import path_stages
from parcours.stages import Stage

# Durations are kept as a histogram with buckets 10 % wide: the median it gives is within 5 %.
_BUCKET_BASE = 1.1


def duration_bucket(seconds: float) -> int:
    return int(math.log(max(seconds, 0.0) + 1.0, _BUCKET_BASE))


def bucket_midpoint(bucket: int) -> float:
    """Geometric middle of a bucket, in seconds."""
    low, high = _BUCKET_BASE**bucket - 1.0, _BUCKET_BASE ** (bucket + 1) - 1.0
    return math.sqrt(max(low, 0.0) * high) if low > 0 else high / 2


@dataclass(frozen=True)
class JourneyRow:
    """One journeys rollup line summed over a period."""

    events_mask: int
    path: str
    converted: bool
    journeys: int

    def has(self, *names: str) -> bool:
        return any(self.events_mask & EVENT_BITS[name] for name in names)

    @property
    def stages(self) -> tuple[Stage, ...]:
        return path_stages(self.path)


@dataclass(frozen=True)
class FunnelStep:
    stage: Stage
    journeys: int
    conversion: float | None  # journeys(stage) / journeys(previous stage)
    drop_off: float | None  # 1 - conversion


def ratio(part: float, whole: float) -> float | None:
    return None if whole == 0 else part / whole


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A figure as reports show it (a rate to four decimals: a hundredth of a percent);
    None ("no data") kept."""
    return None if value is None else round(value, digits)


def funnel(rows: Iterable[JourneyRow]) -> list[FunnelStep]:
    """Journeys that reached each stage (a journey counts at every stage on its path).

    conversion(stage) = journeys(stage) / journeys(previous stage); drop_off = 1 - conversion.
    """
    reached: Counter[Stage] = Counter()
    for row in rows:
        for stage in row.stages:
            reached[stage] += row.journeys
    steps: list[FunnelStep] = []
    previous: int | None = None
    for stage in Stage:
        count = reached[stage]
        conversion = None if previous is None else ratio(count, previous)
        steps.append(FunnelStep(stage, count, conversion,
                                None if conversion is None else 1 - conversion))
        previous = count
    return steps


def flows(rows: Iterable[JourneyRow]) -> Counter[tuple[str, str]]:
    """Stage-to-stage moves: for each journey path a→b→c, one move a→b, b→c and c→end."""
    moves: Counter[tuple[str, str]] = Counter()
    for row in rows:
        stages = [stage.label for stage in row.stages]
        for origin, target in zip(stages, [*stages[1:], "end"], strict=True):
            moves[(origin, target)] += row.journeys
    return moves


def overall_conversion(rows: Iterable[JourneyRow]) -> float | None:
    """Converted journeys / journeys."""
    rows = list(rows)
    return ratio(sum(r.journeys for r in rows if r.converted), sum(r.journeys for r in rows))


def _abandonment(rows: Iterable[JourneyRow], *names: str) -> float | None:
    started = [r for r in rows if r.has(*names)]
    total = sum(r.journeys for r in started)
    return ratio(sum(r.journeys for r in started if not r.converted), total)


def cart_abandonment(rows: Iterable[JourneyRow]) -> float | None:
    """Journeys with a cart that did not convert / journeys with a cart.

    A journey has a cart when it added a product or updated a cart.
    """
    return _abandonment(rows, "product_added_to_cart", "cart_updated")


def checkout_abandonment(rows: Iterable[JourneyRow]) -> float | None:
    """Journeys that started a checkout and did not convert / journeys that started one."""
    return _abandonment(rows, "checkout_started", "checkout_updated")


def payment_failure_rate(failed: int, paid: int) -> float | None:
    """payment_failed events / (payment_failed + order_paid events): failures per attempt."""
    return ratio(failed, failed + paid)


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def average_order_value(orders: Mapping[str, tuple[int, Decimal]]) -> dict[str, Decimal]:
    """Per currency: revenue of paid orders / paid orders. Currencies are never mixed."""
    return {cur: money(revenue / count) for cur, (count, revenue) in orders.items() if count}


def repeat_purchase_rate(customers: int, repeaters: int) -> float | None:
    """Of customers whose first purchase is in the period, the share who bought again since."""
    return ratio(repeaters, customers)


def historical_clv(customers: Mapping[str, int], revenue: Mapping[str, Decimal]
                   ) -> dict[str, Decimal]:
    """Per currency: all revenue so far from the period's new customers / those customers."""
    return {cur: money(revenue.get(cur, Decimal(0)) / count)
            for cur, count in customers.items() if count}


def median_duration(histogram: Mapping[int, int]) -> float | None:
    """Median in seconds of a duration histogram (within 5 %, see `duration_bucket`)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    buckets = sorted(b for b, n in histogram.items() if n)
    seen = 0
    for position, bucket in enumerate(buckets):
        seen += histogram[bucket]
        if seen * 2 > total:
            return bucket_midpoint(bucket)
        if seen * 2 == total:  # even count split here: mean of the two middle values
            return (bucket_midpoint(bucket) + bucket_midpoint(buckets[position + 1])) / 2
    raise AssertionError("unreachable: the loop reaches the total")
