"""`parcours bench reports` at a tiny scale: the JSON it prints, and that its correctness check
holds (the funnel from rollups equals the baseline's funnel over raw events). Timings are
printed, never asserted: they depend on the machine.

The baseline SQL is also checked on its own against the real engine (`record`), on a profile
built to hit each rule of a journey: a new journey after a paid order, post-purchase events of
an order landing in that order's journey after a new one opened, a lapse of more than 30 days,
and a repeat purchase (loyalty).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from parcours import reports
from parcours.bench.reports import (
    LOCK_KEY,
    PROFILES_PER_CHUNK,
    REPORTS,
    Workload,
    baseline_funnel,
    bucket,
    simulate_chunk,
)
from parcours.cli import main
from parcours.db import Database
from parcours.events import JourneyEvent, Resource
from parcours.recorder import StoreRef, record
from tests.conftest import PG_URL, fresh_postgres

PERIODS = ("last_30_days", "whole_range")


def test_the_workload_has_exactly_its_events_and_profiles_and_is_the_same_for_a_seed() -> None:
    workload = Workload(events=20_000, profiles=2_000, days=60, seed=7)
    first, again = simulate_chunk(workload, 0, 1), simulate_chunk(workload, 0, 1)
    assert len(first.events) == 20_000 and len(first.profiles) == 2_000
    assert [row[1] for row in first.events] == [row[1] for row in again.events]
    assert first.delta == again.delta
    assert len({row[1] for row in first.events}) == 20_000  # real, distinct event ids
    names = {row[3] for row in first.events}
    assert {"page_viewed", "widget_shown", "checkout_started", "order_paid",
            "order_delivered"} <= names
    start = datetime.combine(workload.start, datetime.min.time()).isoformat(" ")
    assert all(start <= row[4] < f"{workload.end + timedelta(days=1)}" for row in first.events)

    odd = Workload(events=3 * PROFILES_PER_CHUNK * 7 + 5, profiles=3 * PROFILES_PER_CHUNK - 1,
                   days=10)
    assert odd.chunks == 3
    assert sum(odd.chunk_events(i) for i in range(odd.chunks)) == odd.events


def test_experiment_arms_split_as_the_holdout_share() -> None:
    arms = [bucket(f"a{n}-0") for n in range(10_000)]
    assert 0.18 < arms.count("holdout") / len(arms) < 0.22
    assert bucket("a1-0") == bucket("a1-0")


def _event(store: StoreRef, name: str, at: datetime, order: str | None = None,
           **properties: Any) -> JourneyEvent:
    if order is None:
        return JourneyEvent(store.key, name, at, {"anonymous_id": "a"}, properties, "web_pixel")
    return JourneyEvent(store.key, name, at, {"anonymous_id": "a"}, properties, "shopify",
                        Resource("order", order, at), f"order:{order}:{name}")


def test_the_baseline_cuts_journeys_as_the_engine_does(db: Database, store: StoreRef) -> None:
    day = datetime(2025, 3, 1, 10, tzinfo=UTC)
    events = [
        _event(store, "page_viewed", day),
        _event(store, "product_viewed", day + timedelta(minutes=1)),
        _event(store, "product_added_to_cart", day + timedelta(minutes=2)),
        _event(store, "checkout_started", day + timedelta(minutes=3)),
        _event(store, "order_paid", day + timedelta(minutes=5), "o1", total="10", currency="EUR"),
        _event(store, "page_viewed", day + timedelta(hours=2)),  # after a paid order: journey 2
        _event(store, "order_fulfilled", day + timedelta(days=1), "o1"),  # still journey 1
        _event(store, "order_delivered", day + timedelta(days=2), "o1"),
        _event(store, "product_viewed", day + timedelta(days=2, hours=1)),  # journey 2
        _event(store, "review_submitted", day + timedelta(days=5), "o1", rating=5),  # journey 1
        _event(store, "page_viewed", day + timedelta(days=40)),  # 38 days idle: journey 3
        _event(store, "order_paid", day + timedelta(days=40, minutes=9), "o2", total="5",
               currency="EUR"),  # a repeat purchase: loyalty
        JourneyEvent(store.key, "page_viewed", day + timedelta(days=10), {"anonymous_id": "b"},
                     {}, "web_pixel"),
    ]
    with db.write() as conn:
        record(conn, store, events)
    whole = reports.Period(date(2025, 3, 1), date(2025, 4, 30))
    later = reports.Period(date(2025, 3, 4), date(2025, 4, 30))
    with db.read() as conn:
        for period, active, expected in ((whole, False, [4, 2, 1, 1, 2, 1, 1, 1]),
                                         (later, True, [2, 0, 0, 0, 1, 0, 0, 1])):
            rollups = [step["journeys"] for step in reports.funnel(conn, store, period)["steps"]]
            assert rollups == expected
            assert baseline_funnel(conn, store, period, active) == expected


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_options(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "sqlite":
        return ["--backend", "sqlite"]
    fresh_postgres()  # skips (or fails under CI=true) when the server is missing
    return ["--backend", "postgresql", "--database-url", PG_URL]


def test_bench_reports_prints_its_figures_and_its_check_holds(backend_options: list[str]
                                                              ) -> None:
    result = CliRunner().invoke(main, ["bench", "reports", "--events", "20000", "--scales",
                                       "10000,20000", "--days", "90", "--repeat", "3",
                                       "--workers", "0", "--json", *backend_options])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    backend = backend_options[1]
    assert report["benchmark"] == "reports" and list(report["backends"]) == [backend]
    assert set(report["periods"]) == set(PERIODS)
    entry = report["backends"][backend]
    assert set(entry["scales"]) == {"10000", "20000"}
    for scale, one in entry["scales"].items():
        assert one["events"] == one["rows"]["events"] == int(scale)
        assert one["profiles"] == one["rows"]["profiles"] == int(scale) // 10
        assert one["rows"]["journeys"] >= one["profiles"]
        assert one["rows"]["rollups"]["journey_rollups"] > 0
        assert 0 < one["rollup_rows_in_period"]["last_30_days"]["journey_rollups"] < (
            one["rollup_rows_in_period"]["whole_range"]["journey_rollups"])
        assert one["check"]["ok"], one["check"]
        for period in PERIODS:
            stages = one["check"]["periods"][period]["stages"]
            assert stages["awareness"]["baseline"] == stages["awareness"]["rollups"] > 0
            assert one["baseline"][period]["median_ms"] > 0
            assert set(one["reports"][period]) == set(REPORTS)
            for name, timed in one["reports"][period].items():
                assert timed["runs"] == 3 and 0 < timed["median_ms"] <= timed["p95_ms"], name
                assert one["speedup"][period][name] > 0
        assert one["generation"]["seconds"] > 0
    assert set(entry["flatness"]) == set(entry["flatness_fastest_runs"]) == set(PERIODS)
    assert entry["flatness_scales"] == [10_000, 20_000]
    assert entry["within_aim"]["check"] is True
    assert set(entry["within_aim"]) == {"check", "reports_under_ms", "speedup", "flat"}


def test_bad_options_are_refused() -> None:
    result = CliRunner().invoke(main, ["bench", "reports", "--scales", "1000,ten"])
    assert result.exit_code == 2
    assert "--scales" in result.output
    result = CliRunner().invoke(main, ["bench", "reports", "--events", "50", "--profiles", "60",
                                       "--backend", "sqlite"])
    assert result.exit_code == 2
    assert "one event per profile" in result.output


@pytest.mark.postgres
def test_a_second_run_on_the_same_postgresql_database_is_refused() -> None:
    """Each run empties the database: two at once would wreck each other's store."""
    fresh_postgres()
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": LOCK_KEY})
            result = CliRunner().invoke(main, ["bench", "reports", "--events", "2000",
                                               "--backend", "postgresql", "--database-url",
                                               PG_URL, "--json"])
            assert result.exit_code == 1, result.output
            assert "another `parcours bench reports` is using" in result.output
    finally:
        engine.dispose()
