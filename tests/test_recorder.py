"""The recorder on a real database (SQLite and PostgreSQL): duplicates, late and out-of-order
deliveries, identity stitching and merges, and rollups that never drift."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import event as tally
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, func, select, update

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.db import Database
from parcours.events import EVENT_BITS, JourneyEvent, email_hash, load_event
from parcours.journey import fold
from parcours.recorder import (
    StoreRef,
    event_from_row,
    legacy_profiles,
    profile_ids,
    record,
    refold,
    write_rollups,
)
from parcours.rollups import contribution

T0 = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
_store_numbers = itertools.count(1)

ROLLUPS: dict[str, tuple[t.Table, tuple[str, ...]]] = {
    "journeys": (t.journey_rollups, ("day", "events_mask", "path", "converted")),
    "orders": (t.order_rollups, ("day", "currency")),
    "conversion_time": (t.conversion_time_rollups, ("day", "bucket")),
    "customers": (t.customer_rollups, ("day", "currency")),
    "stage_now": (t.stage_rollups, ("stage",)),
    "segments": (t.segment_rollups, ("day", "dimension", "value", "events_mask", "converted")),
    "stage_times": (t.stage_time_rollups, ("day", "stage", "bucket")),
    "experiments": (t.experiment_rollups, ("day", "widget", "experiment", "arm")),
}


def new_store(db: Database) -> StoreRef:
    """A fresh store per scenario (hypothesis examples share one database)."""
    key = f"store-{next(_store_numbers)}"
    with db.write() as conn:
        create_store(conn, key, account="acme", platform="custom")
        return get_store(conn, key)


def ev(store: StoreRef | str, name: str, at: timedelta, *, anon: str | None = None,
       checkout: str | None = None, email: str | None = None, order: str | None = None,
       total: str = "10.00", currency: str = "EUR", key: str | None = None,
       updated_at: timedelta | None = None, **properties: Any) -> JourneyEvent:
    identities = {k: v for k, v in (("anonymous_id", anon), ("checkout_token", checkout),
                                    ("email", email)) if v is not None}
    props: dict[str, Any] = dict(properties)
    if name == "order_paid":
        props |= {"total": total, "currency": currency}
    data: dict[str, Any] = {"name": name, "occurred_at": (T0 + at).isoformat(),
                            "identities": identities, "properties": props}
    if order is not None:
        data["resource"] = {"type": "order", "id": order}
        if updated_at is not None:
            data["resource"]["updated_at"] = (T0 + updated_at).isoformat()
    if key is not None:
        data["key"] = key
    return load_event(store if isinstance(store, str) else store.key, data)


def write(db: Database, store: StoreRef, events: Sequence[JourneyEvent]) -> Any:
    with db.write() as conn:
        return record(conn, store, events)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


# -- reading the state back ----------------------------------------------------------------------

def rollup_values(conn: Connection, store: StoreRef) -> dict[tuple[Any, ...], Any]:
    """Every non-zero counter of the profile rollups, as {(rollup, key, counter): value}."""
    out: dict[tuple[Any, ...], Any] = {}
    for name, (table, keys) in ROLLUPS.items():
        for row in conn.execute(select(table).where(table.c.store_id == store.id)).mappings():
            key = tuple(row[k] for k in keys)
            for column in table.c:
                if column.name in ("store_id", *keys) or row[column.name] == 0:
                    continue
                value = row[column.name]
                if column.name == "revenue_micros":
                    out[(name, key, "revenue")] = t.from_micros(value)
                else:
                    out[(name, key, column.name)] = int(value)
    return out


def event_rollup_values(conn: Connection, store: StoreRef) -> Counter[tuple[date, int, str]]:
    er = t.event_rollups
    rows = conn.execute(select(er.c.day, er.c.stage, er.c.event, er.c.events)
                        .where(er.c.store_id == store.id, er.c.events != 0))
    return Counter({(day, stage, event): int(n) for day, stage, event, n in rows})


def profiles_content(conn: Connection, store: StoreRef) -> list[tuple[Any, ...]]:
    """Each profile's stage, journeys, identities, events and resources, without its id."""
    out = []
    pids = conn.execute(select(t.profiles.c.id, t.profiles.c.stage, t.profiles.c.last_event_at)
                        .where(t.profiles.c.store_id == store.id)).all()
    for pid, stage, last_event_at in pids:
        jt, it, et, rt = t.journeys, t.identities, t.events, t.resource_states
        journeys = tuple(
            tuple(row[c.name] for c in jt.c if c.name not in ("profile_id", "store_id"))
            for row in conn.execute(select(jt).where(jt.c.profile_id == pid)
                                    .order_by(jt.c.idx)).mappings())
        identities = frozenset(conn.execute(select(it.c.key).where(it.c.profile_id == pid))
                               .scalars())
        events = tuple(sorted(conn.execute(select(et.c.name, et.c.occurred_at)
                                           .where(et.c.profile_id == pid))))
        resources = tuple(sorted(conn.execute(
            select(rt.c.type, rt.c.resource_id, rt.c.updated_at, rt.c.state)
            .where(rt.c.profile_id == pid))))
        out.append((stage, last_event_at, journeys, identities, events, resources))
    return sorted(out, key=repr)


@dataclass
class Snapshot:
    profiles: list[tuple[Any, ...]]
    rollups: dict[tuple[Any, ...], Any]
    event_rollups: Counter[tuple[date, int, str]]


def snapshot(db: Database, store: StoreRef) -> Snapshot:
    with db.read() as conn:
        return Snapshot(profiles_content(conn, store), rollup_values(conn, store),
                        event_rollup_values(conn, store))


def expected_rollups(store: StoreRef, events: Iterable[JourneyEvent]
                     ) -> tuple[dict[tuple[Any, ...], Any], Counter[tuple[date, int, str]]]:
    """The oracle: stitch identities in memory, fold each shopper, sum the contributions."""
    unique: dict[str, JourneyEvent] = {}
    for event in events:  # the earliest report of a fact wins
        if event.id not in unique or event.occurred_at < unique[event.id].occurred_at:
            unique[event.id] = event
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            key = parent[key]
        return key

    for event in unique.values():
        keys = [f"{k}:{v}" for k, v in event.identities.items()]
        for other in keys[1:]:
            parent[root(other)] = root(keys[0])
    shoppers: dict[str, list[JourneyEvent]] = {}
    for event in unique.values():
        kind, value = next(iter(event.identities.items()))
        shoppers.setdefault(root(f"{kind}:{value}"), []).append(event)
    totals: dict[tuple[Any, ...], Any] = {}
    for shopper_events in shoppers.values():
        for key, value in contribution(fold(shopper_events, store.rules)).items():
            totals[key] = totals.get(key, 0) + value
    per_event: Counter[tuple[date, int, str]] = Counter()
    for event in unique.values():
        stage = store.rules.stage_of(event.name)
        per_event[(event.occurred_at.date(), -1 if stage is None else int(stage), event.name)] += 1
    return {k: v for k, v in totals.items() if v != 0}, per_event


def rollups_of_stored_events(db: Database, store: StoreRef) -> dict[tuple[Any, ...], Any]:
    """The oracle applied to what is stored: what the rollups must say about these events."""
    with db.read() as conn:
        rows = conn.execute(select(t.events).where(t.events.c.store_id == store.id)).all()
    return expected_rollups(store, [event_from_row(store.key, row) for row in rows])[0]


# -- duplicates ----------------------------------------------------------------------------------

def test_same_batch_twice_records_nothing_the_second_time(db: Database) -> None:
    store = new_store(db)
    batch = [ev(store, "page_viewed", minutes(0), anon="a"),
             ev(store, "product_added_to_cart", minutes(1), anon="a"),
             ev(store, "order_paid", minutes(5), anon="a", order="1", total="12.30")]
    first = write(db, store, batch)
    assert (first.recorded, first.duplicates, first.profiles_created) == (3, 0, 1)
    before = snapshot(db, store)
    second = write(db, store, batch)
    assert (second.recorded, second.duplicates, second.profiles_created) == (0, 3, 0)
    assert snapshot(db, store) == before
    assert before.rollups[("orders", (T0.date(), "EUR"), "revenue")] == Decimal("12.30")


def test_a_fact_reported_again_later_never_outdates_its_resource(db: Database) -> None:
    """An order's snapshots share one updated_at: the latest fact to occur wins (the review).
    The placed fact reported again, later, keeps its first time, in its own batch or in the
    same batch as the first report alike (found by the arrival-order property below)."""
    def facts(store: StoreRef) -> list[JourneyEvent]:
        common = {"email": "a@example.org", "order": "7", "updated_at": minutes(0)}
        return [ev(store, "order_placed", minutes(1), key="order:7:placed", **common),
                ev(store, "review_submitted", minutes(60), **common),
                ev(store, "order_placed", minutes(90), key="order:7:placed", **common)]

    apart, together = new_store(db), new_store(db)
    first, review, again = facts(apart)
    write(db, apart, [first, review])
    write(db, apart, [again])
    write(db, together, facts(together))
    states = []
    for store in (apart, together):
        with db.read() as conn:
            states.append(conn.execute(select(t.resource_states.c.state).where(
                t.resource_states.c.store_id == store.id)).scalar_one())
    assert states == ["review_submitted", "review_submitted"]


def test_duplicates_inside_one_batch_count_once(db: Database) -> None:
    store = new_store(db)
    page = ev(store, "page_viewed", minutes(0), anon="a")
    result = write(db, store, [page, page, page])
    assert result.recorded == 1
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.events)
                            .where(t.events.c.store_id == store.id)).scalar() == 1
        assert event_rollup_values(conn, store) == Counter({(T0.date(), 0, "page_viewed"): 1})


def test_empty_batch_changes_nothing(db: Database) -> None:
    store = new_store(db)
    assert write(db, store, []).recorded == 0
    assert snapshot(db, store) == Snapshot([], {}, Counter())


# -- resources: the newest snapshot wins ----------------------------------------------------------

def test_resource_state_keeps_the_newest_snapshot_in_any_arrival_order(db: Database) -> None:
    snapshots = [("order_placed", 10), ("order_paid", 11), ("order_fulfilled", 12)]
    for order in itertools.permutations(snapshots):
        store = new_store(db)
        for name, hour in order:  # each delivery in its own transaction
            write(db, store, [ev(store, name, timedelta(hours=hour), email="e@x.org",
                                 order="1001", updated_at=timedelta(hours=hour),
                                 note=name)])
        with db.read() as conn:
            (state,) = conn.execute(select(t.resource_states)
                                    .where(t.resource_states.c.store_id == store.id)).all()
        assert (state.type, state.resource_id, state.state) == ("order", "1001",
                                                                "order_fulfilled"), order
        assert state.updated_at == T0 + timedelta(hours=12)
        assert state.data == {"note": "order_fulfilled"}


def test_resource_state_newest_wins_inside_one_batch(db: Database) -> None:
    store = new_store(db)
    write(db, store, [
        ev(store, "order_fulfilled", minutes(30), email="e@x.org", order="7",
           updated_at=minutes(30)),
        ev(store, "order_placed", minutes(0), email="e@x.org", order="7", updated_at=minutes(0)),
    ])
    write(db, store, [ev(store, "order_paid", minutes(10), email="e@x.org", order="7",
                         updated_at=minutes(10))])
    with db.read() as conn:
        state = conn.execute(select(t.resource_states.c.state, t.resource_states.c.updated_at)
                             .where(t.resource_states.c.store_id == store.id)).one()
    assert tuple(state) == ("order_fulfilled", T0 + minutes(30))


def test_newer_snapshot_of_a_keyed_fact_is_not_lost(db: Database) -> None:
    """A fact reported twice (webhook, then reconcile) with two snapshots of its order: the
    resource state must be the newest snapshot whatever the arrival order."""
    states = []
    for reports in ([0, 1], [1, 0]):
        store = new_store(db)
        versions = [
            ev(store, "order_paid", minutes(5), email="e@x.org", order="9", key="order:9:paid",
               updated_at=minutes(5)),
            ev(store, "order_paid", minutes(5), email="e@x.org", order="9", key="order:9:paid",
               updated_at=minutes(50)),
        ]
        for index in reports:
            write(db, store, [versions[index]])
        with db.read() as conn:
            states.append(conn.execute(
                select(t.resource_states.c.updated_at)
                .where(t.resource_states.c.store_id == store.id)).scalar_one())
    assert states == [T0 + minutes(50), T0 + minutes(50)]


# -- a known fact reported with an earlier time ---------------------------------------------------

def test_keyed_event_reported_earlier_moves_to_the_earlier_time(db: Database) -> None:
    store = new_store(db)
    late, early = timedelta(days=1, hours=2), timedelta(hours=1)

    def paid(at: timedelta) -> JourneyEvent:
        return ev(store, "order_paid", at, email="e@x.org", order="1", key="order:1:paid",
                  total="30.00", updated_at=timedelta(0))

    write(db, store, [ev(store, "page_viewed", timedelta(0), email="e@x.org")])
    write(db, store, [paid(late)])
    result = write(db, store, [paid(early)])
    assert (result.recorded, result.duplicates) == (0, 1)
    with db.read() as conn:
        (occurred_at,) = conn.execute(select(t.events.c.occurred_at).where(
            t.events.c.store_id == store.id, t.events.c.name == "order_paid")).scalars()
        (journey,) = conn.execute(select(t.journeys)
                                  .where(t.journeys.c.store_id == store.id)).all()
        events = event_rollup_values(conn, store)
        rollups = rollup_values(conn, store)
    assert occurred_at == T0 + early
    assert journey.converted_at == T0 + early
    day0, day1 = T0.date(), (T0 + late).date()
    assert events == Counter({(day0, 0, "page_viewed"): 1, (day0, 4, "order_paid"): 1})
    assert rollups[("orders", (day0, "EUR"), "orders")] == 1
    assert ("orders", (day1, "EUR"), "orders") not in rollups

    # a later report again changes nothing; the state is as if only the earliest had come
    assert write(db, store, [paid(late)]).duplicates == 1
    reference = new_store(db)
    write(db, reference, [ev(reference, "page_viewed", timedelta(0), email="e@x.org")])
    write(db, reference, [ev(reference, "order_paid", early, email="e@x.org", order="1",
                             key="order:1:paid", total="30.00", updated_at=timedelta(0))])
    got, want = snapshot(db, store), snapshot(db, reference)
    assert (got.profiles, got.rollups, got.event_rollups) == (want.profiles, want.rollups,
                                                               want.event_rollups)


def test_keyed_event_twice_in_one_batch_keeps_the_earliest(db: Database) -> None:
    store = new_store(db)
    reports = [ev(store, "order_paid", minutes(m), anon="a", order="1", key="order:1:paid")
               for m in (40, 10, 25)]
    assert write(db, store, reports).recorded == 1
    with db.read() as conn:
        occurred = conn.execute(select(t.events.c.occurred_at)
                                .where(t.events.c.store_id == store.id)).scalar_one()
    assert occurred == T0 + minutes(10)


# -- identity stitching and merges ---------------------------------------------------------------

def test_events_sharing_an_identity_share_a_profile(db: Database) -> None:
    store = new_store(db)
    result = write(db, store, [
        ev(store, "page_viewed", minutes(0), anon="a"),
        ev(store, "checkout_started", minutes(1), anon="a", checkout="c"),
        ev(store, "order_paid", minutes(2), checkout="c", email="e@x.org", order="1"),
        ev(store, "page_viewed", minutes(3), anon="other"),
    ])
    assert result.profiles_created == 2 and result.merged == 0
    with db.read() as conn:
        keys = {key: pid for key, pid in conn.execute(
            select(t.identities.c.key, t.identities.c.profile_id)
            .where(t.identities.c.store_id == store.id))}
    assert keys["anonymous_id:a"] == keys["checkout_token:c"] == keys[
        f"email_hash:{email_hash('e@x.org')}"] != keys["anonymous_id:other"]
    assert not any("x.org" in key for key in keys)  # only the hash is stored


def test_an_event_linking_two_profiles_merges_them(db: Database) -> None:
    store = new_store(db)
    email = "jane@example.org"
    first = write(db, store, [ev(store, "page_viewed", minutes(0), anon="a"),
                              ev(store, "product_viewed", minutes(1), anon="a")])
    second = write(db, store, [
        ev(store, "order_paid", minutes(10), email=email, order="1", total="20.00"),
        ev(store, "order_fulfilled", minutes(20), email=email, order="1"),
    ])
    (older,), (newer,) = first.profile_ids, second.profile_ids
    assert older < newer
    result = write(db, store, [ev(store, "checkout_started", minutes(5), anon="a",
                                  checkout="c", email=email)])
    assert result.merged == 1 and result.profile_ids == {older}
    with db.read() as conn:
        profiles = conn.execute(select(t.profiles.c.id, t.profiles.c.stage)
                                .where(t.profiles.c.store_id == store.id)).all()
        assert [tuple(p) for p in profiles] == [(older, 5)]  # reception, from the fulfilment

        def owners(table: t.Table) -> set[int]:
            return set(conn.execute(select(table.c.profile_id)
                                    .where(table.c.store_id == store.id)).scalars())

        assert owners(t.events) == owners(t.identities) == owners(t.resource_states) == {older}
        assert owners(t.journeys) == {older}
        assert conn.execute(select(func.count()).select_from(t.events)
                            .where(t.events.c.store_id == store.id)).scalar() == 5
        assert set(conn.execute(select(t.identities.c.key)
                                .where(t.identities.c.store_id == store.id)).scalars()) == {
            "anonymous_id:a", "checkout_token:c", f"email_hash:{email_hash(email)}"}
        (journey,) = conn.execute(select(t.journeys)
                                  .where(t.journeys.c.store_id == store.id)).all()
        assert journey.opened_at == T0
        assert journey.path == "01345"  # awareness, research, decision, purchase, reception
        assert journey.converted_at == T0 + minutes(10)
        rollups = rollup_values(conn, store)
    # one profile, one journey: the merged-away profile's contribution is gone from the rollups
    assert rollups[("stage_now", (5,), "profiles")] == 1
    assert sum(v for (name, _, _), v in rollups.items() if name == "stage_now") == 1
    assert sum(v for (name, _, _), v in rollups.items() if name == "journeys") == 1
    assert rollups == rollups_of_stored_events(db, store)


def test_merge_when_one_batch_links_a_profile_both_ways(db: Database) -> None:
    """Profile P (checkout c, email e) is newer than Q (anonymous a). One batch links P to Q
    through c and, separately, brings an event for P's email alone: all three must end in Q."""
    store = new_store(db)
    write(db, store, [ev(store, "page_viewed", minutes(0), anon="a")])
    write(db, store, [ev(store, "checkout_started", minutes(1), checkout="c", email="e@x.org")])
    write(db, store, [ev(store, "checkout_updated", minutes(2), anon="a", checkout="c"),
                      ev(store, "order_paid", minutes(3), email="e@x.org", order="1")])
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.profiles)
                            .where(t.profiles.c.store_id == store.id)).scalar() == 1
    assert snapshot(db, store).rollups == rollups_of_stored_events(db, store)


def test_stores_are_isolated(db: Database) -> None:
    one, two = new_store(db), new_store(db)
    write(db, one, [ev(one, "page_viewed", minutes(0), anon="a")])
    result = write(db, two, [ev(two, "order_paid", minutes(0), anon="a", order="1")])
    assert result.profiles_created == 1 and result.merged == 0
    assert snapshot(db, one).rollups[("stage_now", (0,), "profiles")] == 1
    assert ("stage_now", (0,), "profiles") not in snapshot(db, two).rollups


# -- segments, stage times and experiments -------------------------------------------------------

def test_insight_rollups_on_a_hand_computed_dataset(db: Database) -> None:
    """Shopper A lands from a search on a phone, sees express pay (exposed), buys 30 minutes
    later (shipped to France), comes back two days later from a mailing on a desktop and is
    shown the holdout arm (her first arm stays); shopper B is shown the holdout and leaves."""
    store = new_store(db)
    day1, day3 = T0.date(), (T0 + timedelta(days=2)).date()
    exposed = {"widget": "express_pay", "bucket": "exposed", "experiment": "s1"}
    holdout = exposed | {"bucket": "holdout"}
    write(db, store, [
        ev(store, "page_viewed", minutes(0), anon="a", channel="organic_search",
           device="mobile"),
        ev(store, "widget_shown", minutes(0), anon="a", **exposed),
        ev(store, "product_viewed", minutes(2), anon="a", device="mobile"),
        ev(store, "product_added_to_cart", minutes(10), anon="a"),
        ev(store, "order_paid", minutes(30), anon="a", order="1", country="FR"),
        ev(store, "page_viewed", timedelta(days=2), anon="a", channel="email", device="desktop"),
        ev(store, "widget_shown", timedelta(days=2), anon="a", **holdout),
        ev(store, "widget_shown", timedelta(hours=2), anon="b", **holdout),
        ev(store, "page_viewed", timedelta(hours=2, minutes=5), anon="b"),
    ])
    # Masks as reports read them: page views and widget events are not among the funnel's.
    bought = sum(EVENT_BITS[name] for name in ("product_viewed", "product_added_to_cart",
                                               "order_paid"))
    browsed = 0
    segments = {
        (day1, "returning", "new", bought, True): 1, (day1, "device", "mobile", bought, True): 1,
        (day1, "channel", "organic_search", bought, True): 1,
        (day1, "country", "FR", bought, True): 1,
        (day3, "returning", "returning", browsed, False): 1,
        (day3, "device", "desktop", browsed, False): 1,
        (day3, "channel", "email", browsed, False): 1,
        (day3, "country", "unknown", browsed, False): 1,
        (day1, "returning", "new", browsed, False): 1,  # B
        (day1, "device", "unknown", browsed, False): 1,
        (day1, "channel", "unknown", browsed, False): 1,
        (day1, "country", "unknown", browsed, False): 1,
    }
    # A's first journey: awareness 0 s, research 120 s, comparison 600 s, purchase 1800 s.
    # Buckets int(log(seconds + 1) / log(1.1)): 120 s -> 50, 480 s -> 64, 1200 s -> 74.
    stage_times = {(day1, 0, 50): 1, (day1, 1, 64): 1, (day1, 2, 74): 1}
    experiments = {(day1, "express_pay", "s1", "exposed"): (1, 1),
                   (day1, "express_pay", "s1", "holdout"): (1, 0)}
    with db.read() as conn:
        sr, st_, er = t.segment_rollups.c, t.stage_time_rollups.c, t.experiment_rollups.c
        assert {(r.day, r.dimension, r.value, r.events_mask, r.converted): r.journeys
                for r in conn.execute(select(t.segment_rollups).where(sr.store_id == store.id))
                } == segments
        assert {(r.day, r.stage, r.bucket): r.journeys for r in conn.execute(
            select(t.stage_time_rollups).where(st_.store_id == store.id))} == stage_times
        assert {(r.day, r.widget, r.experiment, r.arm): (r.shoppers, r.conversions)
                for r in conn.execute(select(t.experiment_rollups)
                                      .where(er.store_id == store.id))} == experiments
        rows = conn.execute(select(t.journeys).where(t.journeys.c.store_id == store.id)
                            .order_by(t.journeys.c.opened_at)).all()
    assert [(r.device, r.channel, r.country, r.reached) for r in rows] == [
        ("mobile", "organic_search", "FR", "0,120,600,1800"),
        (None, None, None, "0"),  # B
        ("desktop", "email", None, "0"),
    ]
    assert rows[0].exposures == {"express_pay:s1": ["exposed", T0.isoformat()]}
    assert rows[2].exposures == {"express_pay:s1": ["holdout",
                                                    (T0 + timedelta(days=2)).isoformat()]}
    assert snapshot(db, store).rollups == rollups_of_stored_events(db, store)


def test_a_conversion_before_the_first_exposure_does_not_count(db: Database) -> None:
    store = new_store(db)
    write(db, store, [ev(store, "order_paid", minutes(0), anon="a", order="1"),
                      ev(store, "widget_shown", minutes(5), anon="a", widget="guest_checkout",
                         bucket="exposed")])
    with db.read() as conn:
        row = conn.execute(select(t.experiment_rollups)
                           .where(t.experiment_rollups.c.store_id == store.id)).one()
    assert (row.widget, row.experiment, row.arm, row.shoppers, row.conversions) == (
        "guest_checkout", "", "exposed", 1, 0)
    # a later purchase, in a later journey, converts the shopper
    write(db, store, [ev(store, "order_paid", timedelta(days=1), anon="a", order="2")])
    with db.read() as conn:
        assert conn.execute(select(t.experiment_rollups.c.conversions).where(
            t.experiment_rollups.c.store_id == store.id)).scalar_one() == 1


def test_journeys_recorded_before_insights_are_completed_when_their_profile_changes(
        db: Database) -> None:
    """A journey written before revision 0005 has no reached/segments/exposures, and the new
    rollups hold nothing of it: the next change to its profile refolds it and adds it once."""
    store = new_store(db)
    early = [ev(store, "page_viewed", minutes(0), anon="a", channel="email"),
             ev(store, "widget_shown", minutes(1), anon="a", widget="express_pay",
                bucket="exposed"),
             ev(store, "product_viewed", minutes(3), anon="a")]
    write(db, store, early)
    write(db, store, [ev(store, "page_viewed", minutes(0), anon="b")])
    with db.write() as conn:  # as revision 0005 leaves what was recorded before it
        conn.execute(update(t.journeys).where(t.journeys.c.store_id == store.id).values(
            device=None, channel=None, country=None, reached=None, exposures=None))
        for table in (t.segment_rollups, t.stage_time_rollups, t.experiment_rollups):
            conn.execute(delete(table).where(table.c.store_id == store.id))
    result = write(db, store, [ev(store, "cart_viewed", minutes(4), anon="a")])
    assert result.refolded == 1
    with db.read() as conn:
        rows = {r.reached: r.channel for r in conn.execute(
            select(t.journeys).where(t.journeys.c.store_id == store.id))}
    assert rows == {"0,180,240": "email", None: None}  # b was not touched: still to complete
    got = snapshot(db, store).rollups
    a_only = {key: value for key, value in rollups_of_stored_events(db, store).items()
              if key[0] in ("segments", "stage_times", "experiments")
              and not (key[0] == "segments" and key[1][3] == 0)}  # b: a page view only
    assert {key: value for key, value in got.items()
            if key[0] in ("segments", "stage_times", "experiments")} == a_only
    write(db, store, [ev(store, "page_viewed", minutes(9), anon="b")])  # b completes too
    assert snapshot(db, store).rollups == rollups_of_stored_events(db, store)


def test_refold_completes_dormant_profiles_and_changes_nothing_twice(db: Database) -> None:
    """`parcours events refold` walks legacy profiles (or all) a batch at a time; the rollups
    end as recording the stored events gives, and refolding again adds nothing."""
    store = new_store(db)
    write(db, store, [ev(store, "page_viewed", minutes(i), anon=f"p{i}", device="mobile")
                      for i in range(5)])
    with db.write() as conn:  # as revision 0005 leaves what was recorded before it
        conn.execute(update(t.journeys).where(t.journeys.c.store_id == store.id).values(
            device=None, channel=None, country=None, reached=None, exposures=None))
        for table in (t.segment_rollups, t.stage_time_rollups, t.experiment_rollups):
            conn.execute(delete(table).where(table.c.store_id == store.id))
    walked = []
    after = 0
    while True:
        with db.write() as conn:
            ids = legacy_profiles(conn, store, after=after, limit=2)
            if not ids:
                break
            assert refold(conn, store, ids).refolded == len(ids)
        walked += ids
        after = max(ids)
    assert len(walked) == 5
    complete = rollups_of_stored_events(db, store)
    assert snapshot(db, store).rollups == complete
    with db.write() as conn:
        assert legacy_profiles(conn, store, after=0, limit=10) == []
        refold(conn, store, profile_ids(conn, store, after=0, limit=10))
    assert snapshot(db, store).rollups == complete


def test_write_rollups_adds_what_the_recorder_would(db: Database) -> None:
    """The public writer (bench/reports.py builds large stores with it): contributions of
    folded profiles and their event counts give the rollups recording the events gives."""
    recorded, written = new_store(db), new_store(db)
    events = [ev(recorded, "page_viewed", minutes(0), anon="a", device="tablet"),
              ev(recorded, "widget_shown", minutes(1), anon="a", widget="express_pay",
                 bucket="holdout", experiment="s2"),
              ev(recorded, "order_paid", minutes(9), anon="a", order="1", total="19.90")]
    write(db, recorded, events)
    rollups, event_counts = expected_rollups(recorded, events)
    with db.write() as conn:
        write_rollups(conn, written.id, contribution(fold(events, recorded.rules)),
                      event_counts)
    got, want = snapshot(db, written), snapshot(db, recorded)
    assert (got.rollups, got.event_rollups) == (want.rollups, want.event_rollups)
    assert got.rollups == rollups


# -- order independence through the recorder ------------------------------------------------------

BROWSE = ("page_viewed", "product_viewed", "product_added_to_cart", "cart_viewed",
          "widget_shown", "shipping_estimate_requested")
CHECKOUT = ("checkout_started", "checkout_contact_info_submitted", "payment_info_submitted")
ORDER = ("order_placed", "order_paid", "payment_failed", "order_fulfilled", "order_delivered",
         "review_submitted")
# Shrinking an example that needs a database costs minutes; the failure is printed unshrunk.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
GAPS = st.one_of(st.integers(0, 600), st.integers(3600, 86_400 * 3),
                 st.integers(86_400 * 29, 86_400 * 32))


@dataclass(frozen=True)
class Spec:
    """One generated event. Every run builds it for the same store key, so that its id, which
    breaks ties between events of the same second, is the same in every run."""

    shopper: int
    name: str
    seconds: int
    identities: tuple[str, ...]
    order: str | None
    total: str
    keyed: bool
    properties: tuple[tuple[str, str], ...] = ()  # segments, a widget's exposure

    def build(self) -> JourneyEvent:
        ids = {"anonymous_id": f"anon-{self.shopper}", "checkout_token": f"co-{self.shopper}",
               "email": f"shopper{self.shopper}@example.org"}
        chosen = {kind: ids[kind] for kind in self.identities}
        return ev("shop", self.name, timedelta(seconds=self.seconds),
                  anon=chosen.get("anonymous_id"), checkout=chosen.get("checkout_token"),
                  email=chosen.get("email"), order=self.order, total=self.total,
                  key=f"order:{self.order}:{self.name}" if self.keyed else None,
                  updated_at=None if self.order is None else timedelta(0),
                  **dict(self.properties))


SEGMENTS = st.fixed_dictionaries({}, optional={
    "device": st.sampled_from(["mobile", "desktop"]),
    "channel": st.sampled_from(["direct", "organic_search", "email"]),
    "country": st.sampled_from(["FR", "DE"])})
EXPOSURE = st.fixed_dictionaries({"widget": st.sampled_from(["express_pay", "guest_checkout"]),
                                  "bucket": st.sampled_from(["exposed", "holdout"])},
                                 optional={"experiment": st.just("s1")})


@st.composite
def shoppers_events(draw: st.DrawFn) -> list[Spec]:
    """A few shoppers, each first anonymous, then known by checkout token, then by email."""
    specs: list[Spec] = []
    facts: dict[tuple[str | None, str], tuple[tuple[str, ...], str, dict[str, str]]] = {}
    for shopper in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, 86_400))
        for _ in range(draw(st.integers(2, 10))):
            at += draw(GAPS)
            kind = draw(st.sampled_from(["browse", "checkout", "order"]))
            order = None
            identities: tuple[str, ...]
            properties: dict[str, str] = {}
            if kind == "browse":
                name, identities = draw(st.sampled_from(BROWSE)), ("anonymous_id",)
                properties = draw(SEGMENTS) | (draw(EXPOSURE) if name == "widget_shown" else {})
            elif kind == "checkout":
                name = draw(st.sampled_from(CHECKOUT))
                identities = draw(st.sampled_from([("anonymous_id", "checkout_token"),
                                                   ("checkout_token",)]))
            else:
                name = draw(st.sampled_from(ORDER))
                identities = draw(st.sampled_from([("checkout_token", "email"), ("email",)]))
                order = f"{shopper}-{draw(st.integers(1, 2))}"
                if draw(st.booleans()):  # an order's country (platforms' normalizers give it)
                    properties = {"country": draw(st.sampled_from(["FR", "DE"]))}
            keyed = order is not None and draw(st.booleans())
            total = draw(st.sampled_from(["10.00", "24.90", "99.99"]))
            if keyed:  # one fact, one payload: a report of the same key repeats the first one
                identities, total, properties = facts.setdefault((order, name),
                                                                 (identities, total, properties))
            specs.append(Spec(shopper, name, at, identities, order, total, keyed,
                              tuple(sorted(properties.items()))))
            if keyed and draw(st.integers(0, 3)) == 0:  # the same fact reported again, later
                specs.append(Spec(shopper, name, at + draw(GAPS), identities, order, total,
                                  keyed, tuple(sorted(properties.items()))))
    return specs


@settings(max_examples=25, deadline=None, phases=NO_SHRINK,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shoppers_events(), st.data())
def test_any_arrival_order_and_batching_gives_the_same_state(db: Database, specs: list[Spec],
                                                            data: st.DataObject) -> None:
    # reference: events one by one in the order they happened
    reference = new_store(db)
    in_order = sorted((spec.build() for spec in specs),
                      key=lambda e: (e.occurred_at, e.id))
    for event in in_order:
        write(db, reference, [event])
    want = snapshot(db, reference)
    oracle, oracle_events = expected_rollups(reference, in_order)
    assert want.rollups == oracle
    assert want.event_rollups == oracle_events

    # the same events shuffled, some delivered twice, in random batches
    store = new_store(db)
    events = [spec.build() for spec in specs]
    events += data.draw(st.lists(st.sampled_from(events), max_size=3), label="redelivered")
    shuffled = data.draw(st.permutations(events), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(shuffled) - 1)), max_size=8),
                            label="batch cuts"))
    merges = 0
    for start, end in itertools.pairwise([0, *cuts, len(shuffled)]):
        merges += write(db, store, shuffled[start:end]).merged
    tally("profiles merged" if merges else "no merge")
    target(float(merges), label="merges")
    got = snapshot(db, store)
    assert got.profiles == want.profiles
    assert got.rollups == want.rollups
    assert got.event_rollups == want.event_rollups
