"""Reports read from rollups only: funnel, stages and flows, KPIs; and one profile's history.

Every function takes a store and an inclusive period of days, sums a few rollup rows, and hands
the sums to the formulas in metrics.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from parcours import metrics
from parcours import tables as t
from parcours.errors import NotFoundError
from parcours.journey import journey_status, path_stages
from parcours.metrics import rounded
from parcours.recorder import StoreRef
from parcours.stages import Stage


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def journey_rows(conn: Connection, store: StoreRef, period: Period) -> list[metrics.JourneyRow]:
    """The journeys rollup lines of the journeys opened in the period, summed per key."""
    jr = t.journey_rollups
    total = func.sum(jr.c.journeys)
    query = (select(jr.c.events_mask, jr.c.path, jr.c.converted, total)
             .where(jr.c.store_id == store.id, jr.c.day.between(period.start, period.end))
             .group_by(jr.c.events_mask, jr.c.path, jr.c.converted).having(total > 0))
    return [metrics.JourneyRow(int(m), p, bool(c), int(n)) for m, p, c, n in conn.execute(query)]


def funnel(conn: Connection, store: StoreRef, period: Period) -> dict[str, Any]:
    rows = journey_rows(conn, store, period)
    steps = metrics.funnel(rows)
    return {
        "store": store.key, "period": period.as_dict(),
        "journeys": steps[0].journeys,
        "overall_conversion": rounded(metrics.overall_conversion(rows)),
        "steps": [{"stage": s.stage.label, "journeys": s.journeys,
                   "conversion": rounded(s.conversion), "drop_off": rounded(s.drop_off)}
                  for s in steps],
    }


def _profiles_now(conn: Connection, store: StoreRef) -> dict[str, int]:
    """Profiles whose latest journey stands at each stage."""
    sr = t.stage_rollups
    now = dict.fromkeys((s.label for s in Stage), 0)
    for stage, profiles in conn.execute(select(sr.c.stage, sr.c.profiles)
                                        .where(sr.c.store_id == store.id)):
        now[Stage(stage).label] = int(profiles)
    return now


def stages(conn: Connection, store: StoreRef, period: Period) -> dict[str, Any]:
    er = t.event_rollups
    by_day: defaultdict[str, dict[str, int]] = defaultdict(dict)
    query = (select(er.c.day, er.c.stage, func.sum(er.c.events))
             .where(er.c.store_id == store.id, er.c.stage >= 0,
                    er.c.day.between(period.start, period.end))
             .group_by(er.c.day, er.c.stage).order_by(er.c.day)
             # A fact reported earlier moves a day's count down to a zero row: none is shown,
             # or the report would depend on the order deliveries arrived in.
             .having(func.sum(er.c.events) != 0))
    for day, stage, events in conn.execute(query):
        by_day[day.isoformat()][Stage(stage).label] = int(events)
    flows = metrics.flows(journey_rows(conn, store, period))
    return {
        "store": store.key, "period": period.as_dict(),
        "profiles_now": _profiles_now(conn, store),
        "events_by_day": [{"day": d, "events": v} for d, v in by_day.items()],
        "flows": [{"from": a, "to": b, "journeys": n}
                  for (a, b), n in sorted(flows.items(), key=lambda kv: -kv[1])],
    }


def _money(micros: int) -> Decimal:
    return metrics.money(t.from_micros(int(micros)))


def kpis(conn: Connection, store: StoreRef, period: Period) -> dict[str, Any]:
    rows = journey_rows(conn, store, period)
    between = (period.start, period.end)
    er, orr, cr, ct = (t.event_rollups, t.order_rollups, t.customer_rollups,
                       t.conversion_time_rollups)
    events: dict[str, int] = dict(conn.execute(
        select(er.c.event, func.sum(er.c.events))
        .where(er.c.store_id == store.id, er.c.day.between(*between),
               er.c.event.in_(["payment_failed", "order_paid"]))
        .group_by(er.c.event)).all())
    orders = {cur: (int(n), t.from_micros(int(rev))) for cur, n, rev in conn.execute(
        select(orr.c.currency, func.sum(orr.c.orders), func.sum(orr.c.revenue_micros))
        .where(orr.c.store_id == store.id, orr.c.day.between(*between))
        .group_by(orr.c.currency))}
    cohort = list(conn.execute(
        select(cr.c.currency, func.sum(cr.c.customers), func.sum(cr.c.repeaters),
               func.sum(cr.c.revenue_micros))
        .where(cr.c.store_id == store.id, cr.c.day.between(*between))
        .group_by(cr.c.currency)))
    customers = {cur: int(n) for cur, n, _, _ in cohort if n}
    revenue = {cur: t.from_micros(int(rev)) for cur, _, _, rev in cohort}
    histogram: dict[int, int] = dict(conn.execute(
        select(ct.c.bucket, func.sum(ct.c.journeys))
        .where(ct.c.store_id == store.id, ct.c.day.between(*between))
        .group_by(ct.c.bucket)).all())
    steps = metrics.funnel(rows)
    median = metrics.median_duration({int(b): int(n) for b, n in histogram.items()})
    return {
        "store": store.key, "period": period.as_dict(),
        "journeys": steps[0].journeys,
        "conversion": {
            "overall": rounded(metrics.overall_conversion(rows)),
            "per_step": {s.stage.label: rounded(s.conversion) for s in steps[1:]},
        },
        "cart_abandonment": rounded(metrics.cart_abandonment(rows)),
        "checkout_abandonment": rounded(metrics.checkout_abandonment(rows)),
        "payment_failure_rate": rounded(metrics.payment_failure_rate(
            int(events.get("payment_failed", 0)), int(events.get("order_paid", 0)))),
        "orders": {cur: n for cur, (n, _) in orders.items()},
        "revenue": {cur: str(metrics.money(rev)) for cur, (_, rev) in orders.items()},
        "average_order_value": {c: str(v) for c, v in
                                metrics.average_order_value(orders).items()},
        "repeat_purchase_rate": rounded(metrics.repeat_purchase_rate(
            sum(customers.values()), sum(int(r) for _, _, r, _ in cohort))),
        "customer_lifetime_value": {c: str(v) for c, v in
                                    metrics.historical_clv(customers, revenue).items()},
        "median_time_to_convert_seconds": None if median is None else round(median),
        "stage_distribution": _profiles_now(conn, store),
    }


def profile(conn: Connection, store: StoreRef, profile_id: int, limit: int = 200
            ) -> dict[str, Any]:
    """One profile: its identities (kinds only for PII), journeys and events, newest first."""
    pt, jt, et, it = t.profiles, t.journeys, t.events, t.identities
    row = conn.execute(select(pt).where(pt.c.id == profile_id, pt.c.store_id == store.id)).first()
    if row is None:
        raise NotFoundError(f"no profile {profile_id} in store {store.key!r}")
    journeys = conn.execute(select(jt).where(jt.c.profile_id == profile_id)
                            .order_by(jt.c.idx.desc())).all()
    events = conn.execute(select(et.c.id, et.c.name, et.c.occurred_at, et.c.source,
                                 et.c.properties, et.c.resource_type, et.c.resource_id)
                          .where(et.c.store_id == store.id, et.c.profile_id == profile_id)
                          .order_by(et.c.occurred_at.desc(), et.c.id.desc())
                          .limit(limit)).all()
    identity_keys = conn.execute(select(it.c.key).where(it.c.store_id == store.id,
                                                        it.c.profile_id == profile_id)).scalars()

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    now = datetime.now(UTC)
    return {
        "id": row.id, "store": store.key,
        "stage": None if row.stage is None else Stage(row.stage).label,
        "identities": sorted({key.split(":", 1)[0] for key in identity_keys}),
        "journeys": [{
            "index": j.idx, "opened_at": iso(j.opened_at), "last_event_at": iso(j.last_event_at),
            "converted_at": iso(j.converted_at), "order_id": j.order_id,
            "status": journey_status(j.converted_at, j.last_event_at, now, store.rules),
            "stage": max(path_stages(j.path)).label,
            "path": [s.label for s in path_stages(j.path)],
        } for j in journeys],
        "events": [{
            "id": e.id, "name": e.name, "occurred_at": iso(e.occurred_at), "source": e.source,
            "properties": e.properties,
            "resource": None if e.resource_type is None
            else {"type": e.resource_type, "id": e.resource_id},
        } for e in events],
    }
