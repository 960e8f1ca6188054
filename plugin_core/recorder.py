"""Record canonical events: profiles, identities, events, journeys, resource states and rollups,
all in the caller's transaction, in a handful of bulk statements per batch.

For each batch:
1. drop events already stored (ids are deterministic); a known fact seen with an earlier time
   moves to that time, so the earliest report of a fact wins whatever the arrival order;
2. stitch identities into profiles: events sharing any identity belong to one profile, and
   profiles that an event links are merged into the oldest;
3. apply each profile's new events: in order when they come after everything the profile has
   seen (the fast path), otherwise refold the profile from all its stored events;
4. write the journeys that changed, and add to the rollups the difference between each touched
   profile's contribution after and before (rollups.py).

Journeys recorded before revision 0005 have no `reached` (nor segments, nor exposures): the
rollups hold only their pre-0005 share. A profile with such journeys is refolded from its
events when it is next touched, its "before" being that share alone, so the newer rollups
(segments, stage times, experiments) gain its whole contribution then, exactly once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from parcours import tables as t
from parcours.db import chunks, upsert
from parcours.events import JourneyEvent, Resource
from parcours.journey import Journey, ProfileJourneys, fold, path_code, path_stages
from parcours.rollups import Contribution, contribution, difference
from parcours.rules import DEFAULT_RULES, JourneyRules

T = TypeVar("T", str, int)


@dataclass(frozen=True)
class StoreRef:
    id: int
    key: str
    rules: JourneyRules = DEFAULT_RULES
    platform: str = "custom"


@dataclass
class RecordResult:
    recorded: int = 0
    duplicates: int = 0
    profiles_created: int = 0
    merged: int = 0
    refolded: int = 0
    profile_ids: set[int] = field(default_factory=set)


@dataclass
class _Batch:
    """Working state of one `record` call."""

    store: StoreRef
    now: datetime
    result: RecordResult = field(default_factory=RecordResult)
    owner: dict[str, int] = field(default_factory=dict)  # event id -> profile id
    refold: set[int] = field(default_factory=set)
    merged_into: dict[int, int] = field(default_factory=dict)  # loser -> survivor
    repeats: list[tuple[JourneyEvent, int]] = field(default_factory=list)  # known, with owner
    echoes: list[JourneyEvent] = field(default_factory=list)  # later reports of fresh facts
    event_deltas: defaultdict[tuple[date, int, str], int] = field(
        default_factory=lambda: defaultdict(int))


def record(conn: Connection, store: StoreRef, events: Iterable[JourneyEvent],
           now: datetime | None = None) -> RecordResult:
    batch = _Batch(store, now or datetime.now(UTC))
    unique, later = _earliest_per_id(events)
    fresh = _drop_known(conn, batch, unique, later)
    if not fresh and not batch.refold:
        _write_resources(conn, batch, batch.repeats)
        return batch.result
    return _apply(conn, batch, fresh)


def refold(conn: Connection, store: StoreRef, profile_ids: Iterable[int],
           now: datetime | None = None) -> RecordResult:
    """Rebuild profiles from their stored events, and their share of every rollup: for
    journeys recorded before revision 0005 (`backfill`), or after the store's rules changed."""
    batch = _Batch(store, now or datetime.now(UTC))
    batch.refold = set(profile_ids)
    return _apply(conn, batch, [])


def legacy_profiles(conn: Connection, store: StoreRef, *, after: int, limit: int) -> list[int]:
    """The next `limit` profiles above `after` that still hold journeys from before 0005."""
    jt = t.journeys
    return list(conn.execute(
        select(jt.c.profile_id).where(jt.c.store_id == store.id, jt.c.reached.is_(None),
                                      jt.c.profile_id > after)
        .group_by(jt.c.profile_id).order_by(jt.c.profile_id).limit(limit)).scalars())


def profile_ids(conn: Connection, store: StoreRef, *, after: int, limit: int) -> list[int]:
    """The store's next `limit` profile ids above `after`, in order (to walk all of them)."""
    pt = t.profiles
    return list(conn.execute(select(pt.c.id).where(pt.c.store_id == store.id, pt.c.id > after)
                             .order_by(pt.c.id).limit(limit)).scalars())


def _apply(conn: Connection, batch: _Batch, fresh: Sequence[JourneyEvent]) -> RecordResult:
    store = batch.store
    _resolve_profiles(conn, batch, fresh)
    touched = set(batch.owner.values()) | batch.refold | set(batch.merged_into)
    states, legacy = _load_states(conn, touched)
    before = {pid: _as_recorded(contribution(state), pid in legacy)
              for pid, state in states.items()}
    old_rows = {pid: [_journey_row(batch.store, pid, j) for j in s.journeys]
                for pid, s in states.items()}
    for pid in legacy:  # as stored, without `reached`: every row of the profile is rewritten
        for row in old_rows[pid]:
            row["reached"] = None
    batch.refold |= legacy
    _merge_profiles(conn, batch)
    _insert_events(conn, batch, fresh)

    by_profile: defaultdict[int, list[JourneyEvent]] = defaultdict(list)
    for event in fresh:
        by_profile[batch.owner[event.id]].append(event)
    survivors = touched - set(batch.merged_into)
    for pid in survivors:
        state = states.setdefault(pid, ProfileJourneys())
        new = sorted(by_profile.get(pid, ()), key=lambda e: (e.occurred_at, e.id))
        if pid not in batch.refold and (not new or state.accepts_in_order(new[0])):
            for event in new:
                state.apply(event, store.rules)
        else:
            batch.refold.add(pid)
    for pid, events_of_profile in _stored_events(conn, batch, batch.refold & survivors).items():
        states[pid] = fold(events_of_profile, store.rules)
    batch.result.refolded = len(batch.refold & survivors)

    delta: Contribution = {}
    for pid in touched:
        after = contribution(states[pid]) if pid in survivors else {}
        for key, value in difference(after, before.get(pid, {})).items():
            delta[key] = delta.get(key, 0) + value
    _write_journeys(conn, batch, {pid: states[pid] for pid in survivors}, old_rows)
    _write_profiles(conn, {pid: states[pid] for pid in survivors})
    write_rollups(conn, batch.store.id, delta, batch.event_deltas)
    _write_resources(conn, batch, [(e, batch.owner[e.id]) for e in (*fresh, *batch.echoes)] + [
        (e, batch.merged_into.get(pid, pid)) for e, pid in batch.repeats])
    batch.result.recorded = len(fresh)
    batch.result.profile_ids = survivors
    return batch.result


def _earliest_per_id(events: Iterable[JourneyEvent]
                     ) -> tuple[dict[str, JourneyEvent], list[JourneyEvent]]:
    """The earliest report of each fact, and the other reports of it in the batch (they may
    carry a newer snapshot of their resource)."""
    unique: dict[str, JourneyEvent] = {}
    later: list[JourneyEvent] = []
    for event in events:
        seen = unique.get(event.id)
        if seen is None or event.occurred_at < seen.occurred_at:
            unique[event.id] = event
            if seen is not None:
                later.append(seen)
        else:
            later.append(event)
    return unique, later


def _drop_known(conn: Connection, batch: _Batch, unique: dict[str, JourneyEvent],
                later: Sequence[JourneyEvent]) -> list[JourneyEvent]:
    """The facts not stored yet. A fact reported again keeps its earliest time; every report of
    it is a snapshot of its resource, dated at that earliest time, so that the resource's state
    never depends on which report came first or in which batch (`_write_resources`)."""
    ev = t.events
    known: dict[str, tuple[datetime, int, str]] = {}
    for part in chunks(list(unique)):
        rows = conn.execute(select(ev.c.id, ev.c.occurred_at, ev.c.profile_id, ev.c.name)
                            .where(ev.c.store_id == batch.store.id, ev.c.id.in_(part)))
        known.update({r.id: (r.occurred_at, r.profile_id, r.name) for r in rows})
    fresh = []
    for event_id, event in unique.items():
        if event_id not in known:
            fresh.append(event)
            continue
        batch.result.duplicates += 1
        occurred_at, profile_id, name = known[event_id]
        if event.resource is not None:  # a repeated fact may still carry a newer snapshot
            batch.repeats.append((replace(event, occurred_at=min(occurred_at,
                                                                 event.occurred_at)),
                                  profile_id))
        if event.occurred_at < occurred_at:  # the same fact, reported earlier: keep the earliest
            conn.execute(update(ev).where(ev.c.store_id == batch.store.id, ev.c.id == event_id)
                         .values(occurred_at=event.occurred_at))
            stage = _stage_code(batch.store, name)
            batch.event_deltas[(occurred_at.date(), stage, name)] -= 1
            batch.event_deltas[(event.occurred_at.date(), stage, name)] += 1
            batch.refold.add(profile_id)
    for event in later:
        if event.resource is None:
            continue
        first = unique[event.id].occurred_at
        if event.id in known:
            first = min(first, known[event.id][0])
            batch.repeats.append((replace(event, occurred_at=first), known[event.id][1]))
        else:
            batch.echoes.append(replace(event, occurred_at=first))
    return fresh


class _UnionFind(Generic[T]):
    """Disjoint sets; the smallest member of a set is its representative."""

    def __init__(self) -> None:
        self.parent: dict[T, T] = {}

    def find(self, item: T) -> T:
        parent = self.parent.setdefault(item, item)
        while parent != item:
            grand = self.parent[parent]
            self.parent[item], item, parent = grand, parent, grand
        return item

    def union(self, a: T, b: T) -> None:
        first, second = sorted((self.find(a), self.find(b)))
        self.parent[second] = first


def _identity_keys(event: JourneyEvent) -> list[str]:
    return [f"{kind}:{value}" for kind, value in sorted(event.identities.items())]


def _resolve_profiles(conn: Connection, batch: _Batch, fresh: Sequence[JourneyEvent]) -> None:
    """Give each fresh event a profile, creating and merging profiles as identities demand."""
    idt = t.identities
    keys_of = {event.id: _identity_keys(event) for event in fresh}
    all_keys = sorted({key for keys in keys_of.values() for key in keys})
    known: dict[str, int] = {}
    for part in chunks(all_keys):
        rows = conn.execute(select(idt.c.key, idt.c.profile_id)
                            .where(idt.c.store_id == batch.store.id, idt.c.key.in_(part)))
        known.update({r.key: r.profile_id for r in rows})

    components = _UnionFind[str]()
    for keys in keys_of.values():
        for other in keys:
            components.union(keys[0], other)
    # Profiles linked by any component form one group; the oldest (smallest id) survives, so
    # a batch that links P to Q through one identity and Q to R through another merges all.
    profiles = _UnionFind[int]()
    owners_of: dict[str, list[int]] = defaultdict(list)
    for key in all_keys:
        if key in known:
            owners_of[components.find(key)].append(known[key])
    for owners in owners_of.values():
        for owner in owners:
            profiles.union(owners[0], owner)
    for pid in {pid for owners in owners_of.values() for pid in owners}:
        survivor = profiles.find(pid)
        if survivor != pid:
            batch.merged_into[pid] = survivor
            batch.refold.add(survivor)

    profile_of_root: dict[str, int] = {
        root: profiles.find(owners[0]) for root, owners in owners_of.items()}
    unowned = sorted({components.find(key) for key in all_keys} - set(profile_of_root))
    if unowned:
        # The new profiles are alike, so one multi-row INSERT in any order will do; their ids
        # go in ascending order to the components, as if inserted one by one.
        rows = conn.execute(insert(t.profiles).returning(t.profiles.c.id),
                            [{"store_id": batch.store.id, "created_at": batch.now}
                             for _ in unowned])
        profile_of_root.update(zip(unowned, sorted(rows.scalars()), strict=True))
        batch.result.profiles_created = len(unowned)
    new_identities = [
        {"store_id": batch.store.id, "key": key,
         "profile_id": profile_of_root[components.find(key)]}
        for key in all_keys if key not in known
    ]
    if new_identities:
        conn.execute(insert(idt), new_identities)
    for event_id, keys in keys_of.items():
        batch.owner[event_id] = profile_of_root[components.find(keys[0])]
    batch.result.merged = len(batch.merged_into)


def _merge_profiles(conn: Connection, batch: _Batch) -> None:
    """Move everything of merged-away profiles to their survivor, then delete them."""
    by_survivor: defaultdict[int, list[int]] = defaultdict(list)
    for loser, survivor in batch.merged_into.items():
        by_survivor[survivor].append(loser)
    for survivor, losers in by_survivor.items():
        for table in (t.identities, t.events, t.resource_states):
            conn.execute(update(table).where(table.c.profile_id.in_(losers))
                         .values(profile_id=survivor))
        conn.execute(delete(t.journeys).where(t.journeys.c.profile_id.in_(losers)))
        conn.execute(delete(t.profiles).where(t.profiles.c.id.in_(losers)))


def _stage_code(store: StoreRef, name: str) -> int:
    stage = store.rules.stage_of(name)
    return -1 if stage is None else int(stage)


def _insert_events(conn: Connection, batch: _Batch, fresh: Sequence[JourneyEvent]) -> None:
    rows: list[dict[str, Any]] = []
    for event in fresh:
        resource = event.resource
        rows.append({
            "store_id": batch.store.id, "id": event.id, "profile_id": batch.owner[event.id],
            "name": event.name, "occurred_at": event.occurred_at, "received_at": batch.now,
            "source": event.source, "identities": dict(event.identities),
            "properties": dict(event.properties),
            "resource_type": None if resource is None else resource.type,
            "resource_id": None if resource is None else resource.id,
            "resource_updated_at": None if resource is None else resource.updated_at,
            "key": event.key,
        })
    per_day = Counter((event.occurred_at.date(), event.name) for event in fresh)
    for (day, name), count in per_day.items():
        batch.event_deltas[(day, _stage_code(batch.store, name), name)] += count
    if rows:
        conn.execute(insert(t.events), rows)


def event_from_row(store_key: str, row: Any) -> JourneyEvent:
    resource = None
    if row.resource_type is not None:
        resource = Resource(row.resource_type, row.resource_id, row.resource_updated_at)
    return JourneyEvent(
        store=store_key, name=row.name, occurred_at=row.occurred_at,
        identities=row.identities, properties=row.properties, source=row.source,
        resource=resource, key=row.key, stored_id=row.id,
    )


def _stored_events(conn: Connection, batch: _Batch, pids: set[int]
                   ) -> dict[int, list[JourneyEvent]]:
    out: dict[int, list[JourneyEvent]] = {pid: [] for pid in pids}
    for part in chunks(sorted(pids)):
        # By profile alone (a profile belongs to one store), so that the (profile_id,
        # occurred_at) index is used: given the store too, SQLite walks the primary key
        # (store_id, id), that is every event of the store.
        rows = conn.execute(select(t.events).where(t.events.c.profile_id.in_(part)))
        for row in rows:
            out[row.profile_id].append(event_from_row(batch.store.key, row))
    return out


def _load_states(conn: Connection, pids: set[int]
                 ) -> tuple[dict[int, ProfileJourneys], set[int]]:
    """The profiles' stored states, and those of them with journeys recorded before revision
    0005 (no `reached`: their stage times are unknown until a refold)."""
    states: dict[int, ProfileJourneys] = {}
    legacy: set[int] = set()
    jt, pt = t.journeys, t.profiles
    for part in chunks(sorted(pids)):
        for row in conn.execute(select(pt.c.id, pt.c.last_event_at, pt.c.last_event_id)
                                .where(pt.c.id.in_(part))):
            last = None if row.last_event_at is None else (row.last_event_at, row.last_event_id)
            states[row.id] = ProfileJourneys(last_key=last)
        for row in conn.execute(select(jt).where(jt.c.profile_id.in_(part))
                                .order_by(jt.c.profile_id, jt.c.idx)):
            path = path_stages(row.path)
            if row.reached is None:
                legacy.add(row.profile_id)
            states[row.profile_id].journeys.append(Journey(
                index=row.idx, opened_at=row.opened_at, last_event_at=row.last_event_at,
                path=path, events_mask=row.events_mask,
                converted_at=row.converted_at, order_id=row.order_id,
                amount=None if row.amount_micros is None else t.from_micros(row.amount_micros),
                currency=row.currency, device=row.device, channel=row.channel,
                country=row.country,
                reached=(0,) * len(path) if row.reached is None
                else tuple(int(seconds) for seconds in row.reached.split(",")),
                exposures={key: (arm, datetime.fromisoformat(at))
                           for key, (arm, at) in (row.exposures or {}).items()},
            ))
    return states, legacy


# The rollups a journey recorded before revision 0005 has its share in (see the docstring).
_ROLLUPS_BEFORE_0005 = frozenset({"journeys", "orders", "conversion_time", "customers",
                                  "stage_now"})


def _as_recorded(share: Contribution, legacy: bool) -> Contribution:
    """What the rollups hold of a profile's contribution."""
    if not legacy:
        return share
    return {key: value for key, value in share.items() if key[0] in _ROLLUPS_BEFORE_0005}


def _journey_row(store: StoreRef, pid: int, journey: Journey) -> dict[str, Any]:
    return {
        "profile_id": pid, "idx": journey.index, "store_id": store.id,
        "opened_at": journey.opened_at, "last_event_at": journey.last_event_at,
        "converted_at": journey.converted_at, "order_id": journey.order_id,
        "path": path_code(journey.path), "events_mask": journey.events_mask,
        "amount_micros": None if journey.amount is None else t.to_micros(journey.amount),
        "currency": journey.currency, "device": journey.device, "channel": journey.channel,
        "country": journey.country, "reached": ",".join(map(str, journey.reached)),
        "exposures": {key: [arm, at.astimezone(UTC).isoformat()]
                      for key, (arm, at) in journey.exposures.items()} or None,
    }


def _write_journeys(conn: Connection, batch: _Batch, states: dict[int, ProfileJourneys],
                    old_rows: dict[int, list[dict[str, Any]]]) -> None:
    changed: list[dict[str, Any]] = []
    for pid, state in states.items():
        old = old_rows.get(pid, [])
        new = [_journey_row(batch.store, pid, j) for j in state.journeys]
        changed.extend(row for i, row in enumerate(new) if i >= len(old) or old[i] != row)
        if len(new) < len(old):
            conn.execute(delete(t.journeys).where(t.journeys.c.profile_id == pid,
                                                  t.journeys.c.idx >= len(new)))
    columns = [c.name for c in t.journeys.c if c.name not in ("profile_id", "idx")]
    upsert(conn, t.journeys, changed, ["profile_id", "idx"], replace=columns)


def _write_profiles(conn: Connection, states: dict[int, ProfileJourneys]) -> None:
    rows = [
        {"pid": pid, "stage": None if state.stage is None else int(state.stage),
         "last_event_at": None if state.last_key is None else state.last_key[0],
         "last_event_id": None if state.last_key is None else state.last_key[1]}
        for pid, state in states.items()
    ]
    if rows:
        pt = t.profiles
        conn.execute(update(pt).where(pt.c.id == bindparam("pid")).values(
            stage=bindparam("stage"), last_event_at=bindparam("last_event_at"),
            last_event_id=bindparam("last_event_id")), rows)


_ROLLUP_TABLES = {
    "journeys": (t.journey_rollups, ("day", "events_mask", "path", "converted")),
    "orders": (t.order_rollups, ("day", "currency")),
    "conversion_time": (t.conversion_time_rollups, ("day", "bucket")),
    "customers": (t.customer_rollups, ("day", "currency")),
    "stage_now": (t.stage_rollups, ("stage",)),
    "segments": (t.segment_rollups, ("day", "dimension", "value", "events_mask", "converted")),
    "stage_times": (t.stage_time_rollups, ("day", "stage", "bucket")),
    "experiments": (t.experiment_rollups, ("day", "widget", "experiment", "arm")),
}
_MONEY_COLUMNS = {"revenue": "revenue_micros"}


def write_rollups(conn: Connection, store_id: int, delta: Contribution,
                  event_deltas: Mapping[tuple[date, int, str], int]) -> None:
    """Add `delta` (keys of rollups.contribution) and per-(day, stage, event) counts to a
    store's rollup tables, as upserts that add: callers may write any differences in any order.

    Public so that whatever computes contributions in bulk (bench/reports.py generating a
    large store) writes them exactly as the engine does.
    """
    rows: defaultdict[tuple[str, tuple[object, ...]], dict[str, Any]] = defaultdict(dict)
    for (name, key, column), value in delta.items():
        column = _MONEY_COLUMNS.get(column, column)
        amount = t.to_micros(value) if isinstance(value, Decimal) else value
        rows[(name, key)][column] = amount
    grouped: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for (name, key), values in rows.items():
        table, key_columns = _ROLLUP_TABLES[name]
        row = {"store_id": store_id, **dict(zip(key_columns, key, strict=True))}
        counters = [c.name for c in table.c if c.name not in row]
        grouped[name].append(row | {c: values.get(c, 0) for c in counters})
    for name, table_rows in grouped.items():
        table, key_columns = _ROLLUP_TABLES[name]
        counters = [c for c in table_rows[0] if c != "store_id" and c not in key_columns]
        upsert(conn, table, table_rows, ["store_id", *key_columns], add=counters)
    event_rows = [
        {"store_id": store_id, "day": day, "stage": stage, "event": name, "events": n}
        for (day, stage, name), n in event_deltas.items() if n
    ]
    upsert(conn, t.event_rollups, event_rows, ["store_id", "day", "stage", "event"],
           add=["events"])


def _write_resources(conn: Connection, batch: _Batch,
                     owned: Sequence[tuple[JourneyEvent, int]]) -> None:
    """Keep each resource's newest snapshot: by updated_at, then, among the facts one snapshot
    implies (placed, paid, refunded...), the latest to occur, then the event id."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for event, profile_id in owned:
        if event.resource is None:
            continue
        version = (f"{event.resource.updated_at:%Y%m%d%H%M%S%f}|{event.occurred_at:%Y%m%d%H%M%S%f}"
                   f"|{event.id}")
        key = (event.resource.type, event.resource.id)
        if key in newest and newest[key]["version"] >= version:
            continue
        newest[key] = {
            "store_id": batch.store.id, "type": event.resource.type,
            "resource_id": event.resource.id, "profile_id": profile_id,
            "updated_at": event.resource.updated_at, "event_id": event.id, "version": version,
            "state": event.name, "data": dict(event.properties),
        }
    upsert(conn, t.resource_states, list(newest.values()),
           ["store_id", "type", "resource_id"],
           replace=["profile_id", "updated_at", "event_id", "version", "state", "data"],
           newer="version")
