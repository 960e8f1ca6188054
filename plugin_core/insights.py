"""Reports that answer "where do shoppers leave, why, and what did each widget change?".

Like reports.py, each function sums a few rollup rows for one store and one inclusive period of
days (journeys by the day they opened, experiment shoppers by the day of their first exposure)
and hands the sums to the pure formulas (metrics, friction, experiments). Only `dropped` reads
the journeys table, one indexed page at a time: it lists shoppers, which no rollup can.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.engine import Row

from parcours import tables as t
from parcours.errors import ValidationError
from parcours.events import EVENT_BITS
from parcours.experiments import Analysis, Arm, Plan, analyze, compare
from parcours.friction import (
    DEFAULT_FRICTION_RULES,
    Evidence,
    FrictionRules,
    assess,
    diagnose,
    step_counts,
)
from parcours.friction_schema import DEVICES, STEPS
from parcours.journey import path_stages
from parcours.metrics import median_duration, ratio, rounded
from parcours.pagination import Keyset, PageRequest, paginate
from parcours.recorder import StoreRef
from parcours.reports import Period, journey_rows
from parcours.stages import Stage

__all__ = ["DIMENSIONS", "ExperimentSettings", "Segment", "dropped", "experiments", "friction",
           "segments", "stage_times", "step_funnel"]

DIMENSIONS = ("returning", "device", "channel", "country")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Segment:
    """One value of one dimension, e.g. device = mobile: a filter on journeys."""

    dimension: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Segment:
        """'device:mobile' -> Segment; a clear error naming `segment` otherwise."""
        dimension, _, value = text.partition(":")
        if dimension not in DIMENSIONS or not value or len(value) > 32:
            raise ValidationError("invalid segment", {"segment": [
                f"DIMENSION:VALUE with a dimension among {', '.join(DIMENSIONS)}, "
                "e.g. device:mobile"]})
        return cls(dimension, value)

    def as_dict(self) -> dict[str, str]:
        return {"dimension": self.dimension, "value": self.value}


@dataclass(frozen=True)
class _MaskRow:
    """A rollup line reduced to what step counts read (friction's `_Journeys`)."""

    events_mask: int
    journeys: int


def _segment_rows(conn: Connection, store: StoreRef, period: Period, dimension: str,
                  value: str | None = None) -> dict[str, list[_MaskRow]]:
    """value -> its (events mask, journeys) lines over the period."""
    sr = t.segment_rollups
    total = func.sum(sr.c.journeys)
    query = (select(sr.c.value, sr.c.events_mask, total)
             .where(sr.c.store_id == store.id, sr.c.dimension == dimension,
                    sr.c.day.between(period.start, period.end))
             .group_by(sr.c.value, sr.c.events_mask).having(total > 0))
    if value is not None:
        query = query.where(sr.c.value == value)
    out: defaultdict[str, list[_MaskRow]] = defaultdict(list)
    for name, mask, journeys in conn.execute(query):
        out[name].append(_MaskRow(int(mask), int(journeys)))
    return out


def _rows(conn: Connection, store: StoreRef, period: Period, segment: Segment | None
          ) -> list[_MaskRow]:
    if segment is None:
        return [_MaskRow(r.events_mask, r.journeys) for r in journey_rows(conn, store, period)]
    return _segment_rows(conn, store, period, segment.dimension, segment.value).get(
        segment.value, [])


def _steps(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Tracked steps in order, each with its conversion from the previous tracked step (for
    `repeat`: from `paid`, the share of paid journeys that were a shopper's second or later)."""
    out: list[dict[str, Any]] = []
    previous: int | None = None
    for step, journeys in counts.items():
        base = counts.get("paid") if step == "repeat" else previous
        conversion = None if base is None else ratio(journeys, base)
        out.append({"step": step, "journeys": journeys, "conversion": rounded(conversion),
                    "drop_off": None if conversion is None else rounded(1 - conversion)})
        previous = journeys
    return out


_REPEAT = str(int(Stage.LOYALTY))


def step_funnel(conn: Connection, store: StoreRef, period: Period,
                segment: Segment | None = None) -> dict[str, Any]:
    """Drop-off per step: product, cart, checkout steps, paid, received, reviewed, repeat.

    `repeat` counts the paid journeys that were a shopper's second purchase or later (the
    loyalty stage), so it needs paths: it is given for the whole store, not per segment.
    """
    rows = _rows(conn, store, period, segment)
    counts: dict[str, int] = dict(step_counts(rows))
    if segment is None:
        counts["repeat"] = sum(r.journeys for r in journey_rows(conn, store, period)
                               if r.converted and _REPEAT in r.path)
    return {"store": store.key, "period": period.as_dict(),
            "segment": None if segment is None else segment.as_dict(),
            "journeys": sum(r.journeys for r in rows), "steps": _steps(counts)}


def segments(conn: Connection, store: StoreRef, period: Period, dimension: str
             ) -> dict[str, Any]:
    """One dimension's values, largest first: journeys, conversion and the step funnel."""
    if dimension not in DIMENSIONS:
        raise ValidationError("invalid dimension",
                              {"dimension": [f"one of {', '.join(DIMENSIONS)}"]})
    values: list[dict[str, Any]] = []
    for value, rows in _segment_rows(conn, store, period, dimension).items():
        journeys = sum(r.journeys for r in rows)
        paid = sum(r.journeys for r in rows if r.events_mask & EVENT_BITS["order_paid"])
        values.append({"value": value, "journeys": journeys,
                       "conversion": rounded(ratio(paid, journeys)),
                       "steps": _steps(step_counts(rows))})
    values.sort(key=lambda v: (-v["journeys"], v["value"]))
    return {"store": store.key, "period": period.as_dict(), "dimension": dimension,
            "values": values}


def stage_times(conn: Connection, store: StoreRef, period: Period) -> dict[str, Any]:
    """How long shoppers stay in each stage before reaching the next one (median, seconds)."""
    st = t.stage_time_rollups
    histograms: defaultdict[int, dict[int, int]] = defaultdict(dict)
    query = (select(st.c.stage, st.c.bucket, func.sum(st.c.journeys))
             .where(st.c.store_id == store.id, st.c.day.between(period.start, period.end))
             .group_by(st.c.stage, st.c.bucket))
    for stage, bucket, journeys in conn.execute(query):
        if journeys:
            histograms[int(stage)][int(bucket)] = int(journeys)
    out = []
    for stage in Stage:
        histogram = histograms.get(int(stage), {})
        median = median_duration(histogram)
        out.append({"stage": stage.label, "journeys": sum(histogram.values()),
                    "median_seconds": None if median is None else round(median)})
    return {"store": store.key, "period": period.as_dict(), "stages": out}


# -- experiments -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ExperimentSettings:
    """How experiments are planned (docs/experiments.md, "The plan").

    The baseline is the holdout arm's conversion over its first `pilot_shoppers` shoppers (an
    internal pilot: the control arm says what conversion to expect without the widget, and
    the exposed arm is never looked at to fix the plan). `relative_effect` is the smallest
    uplift worth detecting, relative to that baseline.
    """

    relative_effect: float = 0.10
    pilot_shoppers: int = 200
    alpha: float = 0.05
    power: float = 0.8


_ARMS = ("exposed", "holdout")


def _pilot_baseline(daily: list[tuple[Any, int, int]], pilot: int) -> float | None:
    """The holdout's conversion over its first days, up to the day it reached `pilot`."""
    shoppers = conversions = 0
    for _, n, converted in daily:
        shoppers, conversions = shoppers + n, conversions + converted
        if shoppers >= pilot:
            return conversions / shoppers
    return None


def experiments(conn: Connection, store: StoreRef, period: Period,
                widgets: Mapping[str, Mapping[str, Any]],
                settings: ExperimentSettings = ExperimentSettings()) -> dict[str, Any]:
    """Exposed vs holdout conversion per widget experiment whose shoppers arrived in the period.

    `widgets`: the store's effective widget settings (their holdout share and salt say which
    experiment is running). An experiment is a widget and its salt: changing the salt starts a
    new one, counted apart.
    """
    er = t.experiment_rollups
    query = (select(er.c.widget, er.c.experiment, er.c.arm, er.c.day,
                    func.sum(er.c.shoppers), func.sum(er.c.conversions))
             .where(er.c.store_id == store.id, er.c.day <= period.end)
             .group_by(er.c.widget, er.c.experiment, er.c.arm, er.c.day)
             .order_by(er.c.day))
    found: defaultdict[tuple[str, str], dict[str, list[tuple[Any, int, int]]]] = defaultdict(
        lambda: {arm: [] for arm in _ARMS})
    for widget, experiment, arm, day, shoppers, conversions in conn.execute(query):
        if arm in _ARMS:
            found[(widget, experiment)][arm].append((day, int(shoppers), int(conversions)))
    out = []
    for (widget, experiment), arms in sorted(found.items()):
        in_period = {arm: [d for d in daily if d[0] >= period.start] for arm, daily in arms.items()}
        if not any(in_period.values()):
            continue
        out.append(_experiment(widget, experiment, arms, in_period,
                               widgets.get(widget, {}), settings))
    return {"store": store.key, "period": period.as_dict(), "experiments": out}


def _experiment(widget: str, experiment: str, arms: Mapping[str, list[tuple[Any, int, int]]],
                in_period: Mapping[str, list[tuple[Any, int, int]]],
                setting: Mapping[str, Any], settings: ExperimentSettings) -> dict[str, Any]:
    exposed, holdout = (Arm(sum(d[1] for d in in_period[arm]), sum(d[2] for d in in_period[arm]))
                        for arm in _ARMS)
    running = bool(setting.get("enabled")) and (setting.get("salt") or "") == experiment
    share = float(setting.get("holdout") or 0) if running else 0.0
    if not 0 < share < 1:  # an ended experiment: its arms' actual split stands for the share
        total = exposed.shoppers + holdout.shoppers
        share = holdout.shoppers / total if total and holdout.shoppers else 0.0
    baseline = _pilot_baseline(arms["holdout"], settings.pilot_shoppers)
    item: dict[str, Any] = {
        "widget": widget, "experiment": experiment, "running": running,
        "holdout_share": rounded(share),
        "exposed": {"shoppers": exposed.shoppers, "conversions": exposed.conversions,
                    "conversion": rounded(exposed.rate)},
        "holdout": {"shoppers": holdout.shoppers, "conversions": holdout.conversions,
                    "conversion": rounded(holdout.rate)},
    }
    if baseline is None or not 0 < share < 1 or not 0 < baseline < 1:
        # No plan yet: the figures are shown, the verdict waits (never a premature "winner").
        need = max(0, settings.pilot_shoppers - sum(d[1] for d in arms["holdout"]))
        return item | {"state": "planning", "plan": None, "pilot_shoppers_needed": need,
                       **_figures(None, exposed, holdout, settings.alpha)}
    effect = min(baseline * settings.relative_effect, (1 - baseline) / 2)
    plan = Plan(baseline, effect, alpha=settings.alpha, power=settings.power,
                holdout_share=share)
    analysis = analyze(exposed, holdout, plan)
    return item | {
        "state": analysis.state.value,
        "plan": {"baseline": rounded(baseline), "minimum_effect": rounded(effect),
                 "alpha": plan.alpha, "power": plan.power,
                 "required": {"exposed": analysis.required.exposed,
                              "holdout": analysis.required.holdout},
                 "progress": rounded(analysis.progress)},
        **_figures(analysis, exposed, holdout, settings.alpha),
    }


def _figures(analysis: Analysis | None, exposed: Arm, holdout: Arm, alpha: float
             ) -> dict[str, Any]:
    comparison = analysis.comparison if analysis is not None else compare(
        exposed, holdout, confidence=1 - alpha)
    interval = comparison.interval
    return {
        "uplift": {"absolute": rounded(comparison.difference),
                   "relative": rounded(comparison.relative_uplift),
                   "interval": None if interval is None else {
                       "low": rounded(interval.low), "high": rounded(interval.high),
                       "level": interval.level}},
        "p_value": rounded(comparison.p_value, 6),
    }


# -- friction --------------------------------------------------------------------------------

def friction(conn: Connection, store: StoreRef, period: Period, *, facts: Mapping[str, Any],
             widgets: Mapping[str, Mapping[str, Any]],
             rules: FrictionRules = DEFAULT_FRICTION_RULES) -> dict[str, Any]:
    """The frictions the period shows (most severe first, with their fix and numbers), and the
    rules that could not judge yet with what they lack. `facts` and `widgets` as in
    `friction.Evidence`; silent rules are left out (nothing to show)."""
    funnel = step_counts(_rows(conn, store, period, None))
    by_device = {device: step_counts(rows) for device, rows in
                 _segment_rows(conn, store, period, "device").items() if device in DEVICES}
    evidence = Evidence(funnel=funnel, by_device=by_device, facts=facts, widgets=widgets,
                        platform=store.platform)
    return {"store": store.key, "period": period.as_dict(), "funnel": funnel,
            "findings": [finding.as_dict() for finding in diagnose(evidence, rules)],
            "unknown": [{"rule": v.rule, "evidence": [o.as_dict() for o in v.evidence]}
                        for v in assess(evidence, rules) if v.state == "unknown"]}


# -- who dropped -----------------------------------------------------------------------------

def _step_mask(step: str) -> int:
    return sum(EVENT_BITS[name] for name in STEPS[step])


FIRST_PAGE = PageRequest()
DROPPED = Keyset("dropped", (t.journeys.c.last_event_at, t.journeys.c.profile_id,
                             t.journeys.c.idx))


def dropped(conn: Connection, store: StoreRef, period: Period, step: str, *,
            now: datetime, idle: timedelta = timedelta(hours=24),
            page: PageRequest = FIRST_PAGE) -> dict[str, Any]:
    """Journeys opened in the period that reached `step`, went no further, did not convert and
    have been idle for `idle`: the shoppers to follow up, newest activity first, one page
    (`pagination.paginate`) at a time; each profile's timeline is `reports.profile`."""
    steps = list(STEPS)
    if step not in steps or step == steps[-1]:
        raise ValidationError("invalid step", {"step": [
            f"one of {', '.join(steps[:-1])} (a step followed by another)"]})
    jt = t.journeys
    later = sum(_step_mask(s) for s in steps[steps.index(step) + 1:])
    start = datetime.combine(period.start, datetime.min.time(), tzinfo=now.tzinfo)
    end = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    query = (select(jt.c.profile_id, jt.c.idx, jt.c.opened_at, jt.c.last_event_at, jt.c.path,
                    jt.c.device, jt.c.channel, jt.c.country)
             .where(jt.c.store_id == store.id, jt.c.opened_at >= start, jt.c.opened_at < end,
                    jt.c.converted_at.is_(None), jt.c.last_event_at <= now - idle,
                    jt.c.events_mask.op("&")(_step_mask(step)) != 0,
                    jt.c.events_mask.op("&")(later) == 0))

    def item(row: Row[Any]) -> dict[str, Any]:
        return {"profile_id": row.profile_id, "journey": row.idx,
                "opened_at": row.opened_at.isoformat(),
                "last_event_at": row.last_event_at.isoformat(),
                "stage": max(path_stages(row.path)).label,
                "device": row.device or UNKNOWN, "channel": row.channel or UNKNOWN,
                "country": row.country or UNKNOWN}

    return {"store": store.key, "period": period.as_dict(), "step": step,
            **paginate(conn, query, DROPPED, page, item)}
