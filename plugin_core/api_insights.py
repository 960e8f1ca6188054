"""JSON API v1, insights: the step funnel, segment breakdowns, time per stage, widget
experiments, friction findings and the shoppers who dropped at a step (insights.py). Routes on
`api_v1` declared with `api.route`/`api.report_route`: same key, tenant rule and document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from parcours import insights
from parcours.accounts import store_facts
from parcours.api import _db, report_route, route
from parcours.api_insight_schemas import (
    DroppedPage,
    DroppedQuery,
    ExperimentsReport,
    FrictionReport,
    SegmentsReport,
    StageTimesReport,
    StepFunnelReport,
)
from parcours.api_schemas import PeriodQuery
from parcours.recorder import StoreRef
from parcours.widgets.routes import config_for

report_route("steps", insights.step_funnel, StepFunnelReport,
             "Journeys that reached each step (product, cart, checkout steps, paid, received, "
             "reviewed, repeat), with conversion and drop-off.")
report_route("stage_times", insights.stage_times, StageTimesReport,
             "How long journeys stay in each stage before the next (median seconds).")


def widgets(conn: Connection, store: StoreRef) -> dict[str, Any]:
    """The store's effective widget settings (defaults included), as its storefront has them."""
    return config_for(conn, store.key, "")["widgets"]  # type: ignore[no-any-return]


@route("GET", "/stores/<store>/segments/<dimension>", "reports", query=PeriodQuery,
       answer=SegmentsReport)
def segments(store: StoreRef, dimension: str, query: dict[str, Any]) -> Any:
    """Journeys, conversion and step funnel for each value of one dimension.

    Dimensions: returning (new or returning shopper), device, channel, country."""
    with _db().read() as conn:
        return insights.segments(conn, store, query["period"], dimension)


@route("GET", "/stores/<store>/experiments", "reports", query=PeriodQuery,
       answer=ExperimentsReport)
def experiments(store: StoreRef, query: dict[str, Any]) -> Any:
    """Exposed vs holdout conversion of each widget experiment, with its fixed-horizon state.

    Shoppers count in the period of their first exposure. No verdict before the planned sample
    (docs/experiments.md)."""
    with _db().read() as conn:
        return insights.experiments(conn, store, query["period"], widgets(conn, store))


@route("GET", "/stores/<store>/friction", "reports", query=PeriodQuery, answer=FrictionReport)
def friction(store: StoreRef, query: dict[str, Any]) -> Any:
    """The frictions the period's funnel shows, with their fix and evidence.

    Rules that cannot judge yet are listed with what they lack (docs/friction.md)."""
    with _db().read() as conn:
        return insights.friction(conn, store, query["period"],
                                 facts=store_facts(conn, store.id),
                                 widgets=widgets(conn, store))


@route("GET", "/stores/<store>/dropped", "reports", query=DroppedQuery, answer=DroppedPage)
def dropped(store: StoreRef, query: dict[str, Any]) -> Any:
    """Shoppers who reached a step, went no further and have been idle since: for follow-up.

    Newest activity first, paginated; each one's timeline is its profile."""
    with _db().read() as conn:
        return insights.dropped(conn, store, query["period"], query["step"],
                                now=datetime.now(UTC),
                                idle=timedelta(hours=query["idle_hours"]), page=query["page"])
