"""`parcours bench reports`: how fast reports answer on a store of millions of events, against
the window-function funnel over raw events that a typical analytics tool runs.

Reports read rollups (a few rows per day), never raw events, so their time should not grow with
the store. This bench checks that claim at the size where it matters: it generates a store of
`events` events (default 10 M, about one profile per ten events), times the funnel, stages and
KPIs reports and the insights the API serves from rollups (experiments, segments, stage times)
through the very functions the API calls, and times a baseline: one SQL statement computing the
same funnel from the `events` table with window functions.

The store. Simulated shoppers (deterministic for a seed) visit over `days` days: they land,
browse and search, fill a cart, go through the checkout steps, sometimes fail a payment, pay,
and their orders are fulfilled, delivered and sometimes reviewed; each shopper has a country,
one or two devices, and each visit a channel (`country`, `device`, `channel` properties). Product
pages show the express-pay widget with an experiment (80 % exposed, 20 % holdout, the arm hashed
from the anonymous id as kit.js does), and exposed shoppers check out a little more often.
Each shopper gets an event budget (log-normal: most leave after a few pages, a few come back
for months), and budgets add up to exactly `events`.

Pushing 10 M events through the recorder one batch at a time would take hours and measure the
engine, not the reports. So each profile's events are built as `JourneyEvent`s (with their real
ids), folded with `journey.fold`, and their contribution to the rollups computed with
`rollups.contribution`, exactly as the recorder does for one profile; then the rows the recorder
would have written (events, identities, profiles, journeys) are bulk-loaded (SQLite: executemany
with synchronous=OFF; PostgreSQL: COPY), and the summed contributions and per-(day, stage, event)
counts go through the recorder's own `write_rollups`. Resource states (the orders' latest
snapshots) are not written: no report reads them. Profiles are simulated in chunks, in worker
processes when the machine has cores to spare, so memory stays bounded.

Before anything is timed, the funnel from rollups must equal the baseline's funnel for the same
period, stage by stage: the baseline is written to the engine's definition of a journey (see
`baseline_sql`), so any difference is a bug in one of them.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    Table,
    bindparam,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from parcours import reports
from parcours import tables as t
from parcours.accounts import create_store, get_store, save_store_facts
from parcours.bench.engine import machine, postgres_backend
from parcours.db import Database, normalise_url
from parcours.errors import ConfigError
from parcours.events import JourneyEvent, Resource, email_hash
from parcours.journey import fold
from parcours.recorder import StoreRef, _journey_row, write_rollups
from parcours.rollups import Contribution, contribution
from parcours.rules import DEFAULT_RULES, JourneyRules
from parcours.stages import Stage

BACKENDS = ("sqlite", "postgresql")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/bench_reports"
AIM = {"report_ms": 200.0, "speedup": 100.0, "flatness": 2.0}
STORE = "bench-reports"
END = date(2025, 12, 31)  # the last day of data: "today" for the periods
PROFILES_PER_CHUNK = 5_000  # fixed, so that the store depends on the seed only
BASELINE_WORK_MEM = "256MB"  # PostgreSQL's sorts for the baseline, far above the 4MB default
REPORTS = ("funnel", "stages", "kpis", "experiments", "segments", "stage_times")

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the shoppers -------------------------------------------------------------------------------

DEVICES = ("mobile", "desktop", "tablet")
DEVICE_WEIGHTS = (60, 33, 7)
CHANNELS = ("organic_search", "direct", "paid_search", "social", "email", "referral",
            "paid_other")  # segments.CHANNELS' vocabulary
CHANNEL_WEIGHTS = (30, 20, 16, 14, 9, 7, 4)
COUNTRIES = (("FR", "EUR"), ("DE", "EUR"), ("ES", "EUR"), ("IT", "EUR"), ("BE", "EUR"),
             ("NL", "EUR"), ("GB", "GBP"), ("US", "USD"))
COUNTRY_WEIGHTS = (35, 15, 8, 8, 5, 5, 12, 12)
PRICES = (Decimal("9.90"), Decimal("14.50"), Decimal("19.90"), Decimal("24.00"),
          Decimal("39.90"), Decimal("59.00"), Decimal("89.90"))
WIDGET, SALT, HOLDOUT = "express_pay", "express-2025", 0.2
SERVER_EVENTS = frozenset({"customer_created", "order_paid", "payment_failed", "order_fulfilled",
                           "order_delivered", "review_submitted"})
DAY = 86_400.0
VISIT_GAP_DAYS = 6.0  # mean days between two visits of a returning shopper
BUDGET_SIGMA = 1.0  # log-normal spread of events per shopper


def _cumulative(weights: Sequence[int]) -> list[int]:
    total, out = 0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


_DEVICE_CUM, _CHANNEL_CUM, _COUNTRY_CUM = (_cumulative(DEVICE_WEIGHTS),
                                           _cumulative(CHANNEL_WEIGHTS),
                                           _cumulative(COUNTRY_WEIGHTS))


def bucket(anonymous_id: str, widget: str = WIDGET, salt: str = SALT,
           holdout: float = HOLDOUT) -> str:
    """The experiment arm kit.js gives this shopper: FNV-1a of "id:widget:salt"."""
    h = 2166136261
    for char in f"{anonymous_id}:{widget}:{salt}":
        h = ((h ^ ord(char)) * 16777619) & 0xFFFFFFFF
    return "holdout" if h / 4294967296 < holdout else "exposed"


# One event before it is placed in time: seconds from the shopper's first event, name,
# identities, properties, and the order it is about (server events of an order).
_Draft = tuple[float, str, dict[str, str], dict[str, Any], str | None]


class _Shopper:
    """Visits of one shopper until their event budget is spent (the last visit is cut there:
    the shopper left, or the data ends)."""

    def __init__(self, rng: random.Random, pid: int, budget: int) -> None:
        self.rng, self.pid, self.budget = rng, pid, budget
        self.out: list[_Draft] = []
        self.country, self.currency = rng.choices(COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
        # (anonymous id, device type, exposed to the experiment?) per device
        self.devices = [(anonymous_id, rng.choices(DEVICES, cum_weights=_DEVICE_CUM)[0],
                         bucket(anonymous_id) == "exposed")
                        for anonymous_id in (f"a{pid}-{k}" for k in
                                             range(2 if rng.random() < 0.15 else 1))]
        self.email = email_hash(f"shopper{pid}@example.com")
        self.customer: str | None = None
        self.orders = 0
        self.checkouts = 0
        self.clock = 0.0

    def run(self) -> list[_Draft]:
        while len(self.out) < self.budget:
            self._visit()
            self.clock += self.rng.expovariate(1 / (VISIT_GAP_DAYS * DAY))
        del self.out[self.budget:]
        return self.out

    def _full(self) -> bool:
        return len(self.out) >= self.budget

    def _visit(self) -> None:
        rng, out = self.rng, self.out
        anonymous_id, device, exposed = rng.choice(self.devices)
        channel = rng.choices(CHANNELS, cum_weights=_CHANNEL_CUM)[0]
        base = {"device": device, "channel": channel, "country": self.country}
        ids = {"anonymous_id": anonymous_id}

        def storefront(name: str, **extra: Any) -> None:
            self.clock += rng.uniform(5, 90)
            out.append((self.clock, name, dict(ids), base | extra if extra else dict(base), None))

        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
            storefront("page_viewed", url=f"/pages/{rng.randrange(40)}")
        if self._full() or rng.random() >= 0.6:
            return
        if rng.random() < 0.35:
            storefront(rng.choice(("search_submitted", "collection_viewed")),
                       query=f"term {rng.randrange(200)}")
        for number in range(min(1 + int(rng.expovariate(0.8)), 6)):
            storefront("product_viewed", product_id=f"p{rng.randrange(800)}")
            if number == 0:
                storefront("widget_shown", widget=WIDGET, bucket="exposed" if exposed
                           else "holdout", experiment=SALT, page="product")
                if exposed and rng.random() < 0.05:
                    storefront("widget_engaged", widget=WIDGET, action="click")
        if self._full() or rng.random() >= 0.18:
            return
        items = [(rng.choice(PRICES), rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
        for price, quantity in items:
            storefront("product_added_to_cart", product_id=f"p{rng.randrange(800)}",
                       price=str(price), quantity=quantity)
        storefront("cart_viewed")
        if rng.random() < 0.1:
            storefront("product_removed_from_cart", product_id=f"p{rng.randrange(800)}")
            items = items[:-1] or items
        if rng.random() < 0.2:
            storefront("shipping_estimate_requested", country=self.country)
        if self._full() or rng.random() >= (0.5 if exposed else 0.45):
            return
        self.checkouts += 1
        token = f"chk-{self.pid}-{self.checkouts}"
        ids["checkout_token"] = token
        storefront("checkout_started")
        ids["email_hash"] = self.email
        for step, keep in (("checkout_contact_info_submitted", 0.9),
                           ("checkout_address_info_submitted", 0.92),
                           ("checkout_shipping_info_submitted", 0.95),
                           ("payment_info_submitted", 0.93)):
            storefront(step)
            if rng.random() >= keep:
                return
        server = {"email_hash": self.email, "checkout_token": token}
        if rng.random() < 0.06:
            self.clock += rng.uniform(2, 10)
            out.append((self.clock, "payment_failed", dict(server),
                        {"country": self.country, "gateway": "card"}, None))
            if rng.random() >= 0.7:
                return
            storefront("payment_info_submitted")
        if self._full() or rng.random() >= 0.88:
            return
        self._pay(storefront, server, items)

    def _pay(self, storefront: Callable[..., None], server: dict[str, str],
             items: list[tuple[Decimal, int]]) -> None:
        rng, out = self.rng, self.out
        storefront("checkout_completed")
        if self.customer is None:
            self.customer = f"c{self.pid}"
            out.append((self.clock + 1, "customer_created", {"customer_id": self.customer,
                                                             "email_hash": self.email},
                        {"country": self.country}, None))
        server = {"customer_id": self.customer, **server}
        self.orders += 1
        order = f"o{self.pid}-{self.orders}"
        total = sum((price * quantity for price, quantity in items), Decimal(0))
        moment = self.clock + rng.uniform(2, 20)
        out.append((moment, "order_paid", dict(server), {
            "country": self.country, "total": str(total), "currency": self.currency}, order))
        if rng.random() < 0.97:
            moment += rng.uniform(0.5, 2) * DAY
            out.append((moment, "order_fulfilled", dict(server), {"country": self.country},
                        order))
            if rng.random() < 0.96:
                moment += rng.uniform(1, 5) * DAY
                out.append((moment, "order_delivered", dict(server), {"country": self.country},
                            order))
                if rng.random() < 0.2:
                    moment += rng.uniform(2, 10) * DAY
                    rating = rng.choices((1, 2, 3, 4, 5), weights=(4, 4, 10, 30, 52))[0]
                    out.append((moment, "review_submitted", {"email_hash": self.email},
                                {"rating": rating}, order))


# -- chunks of profiles: events, state, rows ----------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """What to generate; the same workload gives the same store, whatever the workers."""

    events: int
    profiles: int
    days: int
    seed: int = 1
    end: date = END

    def __post_init__(self) -> None:
        if self.profiles < 1 or self.events < self.profiles:
            raise ValueError("need at least one profile and one event per profile")
        if self.days < 1:
            raise ValueError("days must be positive")

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    @property
    def chunks(self) -> int:
        return math.ceil(self.profiles / PROFILES_PER_CHUNK)

    def chunk_profiles(self, index: int) -> range:
        """Profile ids of chunk `index` (ids start at 1)."""
        return range(index * PROFILES_PER_CHUNK + 1,
                     min((index + 1) * PROFILES_PER_CHUNK, self.profiles) + 1)

    def chunk_events(self, index: int) -> int:
        """Events of chunk `index`: the chunks' shares add up to exactly `events`."""
        ids = self.chunk_profiles(index)
        return (self.events * (ids.stop - 1) // self.profiles
                - self.events * (ids.start - 1) // self.profiles)


EventDeltas = dict[tuple[date, int, str], int]


@dataclass
class Chunk:
    """One chunk's rows as plain values (text times, JSON text), ready for either backend."""

    index: int
    events: list[tuple[Any, ...]] = field(default_factory=list)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    profiles: list[tuple[Any, ...]] = field(default_factory=list)
    journeys: list[tuple[Any, ...]] = field(default_factory=list)
    delta: Contribution = field(default_factory=dict)
    event_deltas: EventDeltas = field(default_factory=dict)
    seconds: float = 0.0


EVENT_COLUMNS = ("store_id", "id", "profile_id", "name", "occurred_at", "received_at", "source",
                 "identities", "properties", "resource_type", "resource_id",
                 "resource_updated_at", "key")
PROFILE_COLUMNS = ("id", "store_id", "created_at", "stage", "last_event_at", "last_event_id")
IDENTITY_COLUMNS = ("store_id", "key", "profile_id")


def _moment(value: datetime) -> str:
    """A UTC datetime as the text UTCDateTime stores (and PostgreSQL's COPY reads)."""
    return value.isoformat(" ", "microseconds")[:26]


def _plain(column: Any) -> Callable[[Any], Any]:
    """How a value of `column` becomes a plain value for executemany and COPY."""
    if isinstance(column.type, t.UTCDateTime):
        return lambda v: None if v is None else _moment(v.astimezone(UTC))
    if isinstance(column.type, JSON):
        return lambda v: None if v is None else json.dumps(v)
    if isinstance(column.type, Boolean):
        return lambda v: None if v is None else int(v)
    if isinstance(column.type, Date):
        return lambda v: None if v is None else v.isoformat()
    return lambda v: v


def _journey_columns() -> tuple[tuple[str, ...], list[Callable[[Any], Any]]]:
    columns = tuple(c.name for c in t.journeys.c)
    return columns, [_plain(t.journeys.c[name]) for name in columns]


def _budgets(rng: random.Random, count: int, total: int) -> list[int]:
    """`count` budgets of at least one event, log-normal around total/count, adding up to
    exactly `total`."""
    mean = total / count
    mu = math.log(mean) - BUDGET_SIGMA ** 2 / 2
    raw = [rng.lognormvariate(mu, BUDGET_SIGMA) for _ in range(count)]
    scale = total / sum(raw)
    budgets = [max(1, round(value * scale)) for value in raw]
    missing = total - sum(budgets)
    while missing:
        index = rng.randrange(count)
        if missing > 0:
            budgets[index] += 1
            missing -= 1
        elif budgets[index] > 1:
            budgets[index] -= 1
            missing += 1
    return budgets


def simulate_chunk(workload: Workload, index: int, store_id: int,
                   rules: JourneyRules = DEFAULT_RULES) -> Chunk:
    """Chunk `index` of the workload: its profiles' events, journeys and rollup contribution.

    Pure and deterministic (its random generator is seeded from the workload's seed and the
    chunk's index), so chunks can be simulated in any process and in any order.
    """
    started = time.perf_counter()
    rng = random.Random(f"{workload.seed}:{index}")
    pids = workload.chunk_profiles(index)
    budgets = _budgets(rng, len(pids), workload.chunk_events(index))
    first = datetime.combine(workload.start, datetime.min.time(), UTC).timestamp()
    span = workload.days * DAY
    store = StoreRef(store_id, STORE, rules)
    stage_code = {name: -1 if stage is None else int(stage)  # as the recorder counts events
                  for name, stage in rules.stages.items()}
    journey_columns, journey_plain = _journey_columns()
    chunk = Chunk(index)
    delta: defaultdict[Any, Any] = defaultdict(int)
    event_deltas: Counter[tuple[date, int, str]] = Counter()
    for pid, budget in zip(pids, budgets, strict=True):
        drafts = _Shopper(rng, pid, budget).run()
        length = max(draft[0] for draft in drafts) + 60.0
        squeeze = min(1.0, span / length)  # a shopper longer than the period is compressed
        origin = first + rng.uniform(0, max(0.0, span - length * squeeze))
        events = []
        for offset, name, identities, properties, order in drafts:
            moment = datetime.fromtimestamp(origin + offset * squeeze, UTC)
            server = name in SERVER_EVENTS
            if order is not None:
                event = JourneyEvent(STORE, name, moment, identities, properties, "shopify",
                                     Resource("order", order, moment), f"order:{order}:{name}")
            elif server:
                event = JourneyEvent(STORE, name, moment, identities, properties, "shopify",
                                     key=f"{name}:{pid}:{offset:.3f}")
            else:
                event = JourneyEvent(STORE, name, moment, identities, properties, "web_pixel")
            events.append(event)
            received = moment + timedelta(seconds=rng.uniform(1, 60) if server else 1.0)
            at = _moment(moment)
            chunk.events.append((
                store_id, event.id, pid, name, at, _moment(received), event.source,
                json.dumps(identities), json.dumps(properties),
                None if order is None else "order", order, None if order is None else at,
                event.key))
            event_deltas[(moment.date(), stage_code.get(name, -1), name)] += 1
        state = fold(events, rules)
        for key, value in contribution(state).items():
            delta[key] += value
        keys = sorted({f"{kind}:{value}" for e in events for kind, value in e.identities.items()})
        chunk.identities.extend((store_id, key, pid) for key in keys)
        last_at, last_id = state.last_key or (events[0].occurred_at, events[0].id)
        # Created when its first event arrived (drafts start with the earliest event).
        chunk.profiles.append((pid, store_id, chunk.events[-len(events)][5],
                               None if state.stage is None else int(state.stage),
                               _moment(last_at), last_id))
        for journey in state.journeys:
            row = _journey_row(store, pid, journey)
            chunk.journeys.append(tuple(plain(row[name]) for name, plain
                                        in zip(journey_columns, journey_plain, strict=True)))
    chunk.delta = dict(delta)
    chunk.event_deltas = dict(event_deltas)
    chunk.seconds = time.perf_counter() - started
    return chunk


def _check_columns() -> None:
    """The rows built here have the recorder's columns: fail clearly if the schema moved."""
    for table, expected in ((t.events, EVENT_COLUMNS), (t.profiles, PROFILE_COLUMNS),
                            (t.identities, IDENTITY_COLUMNS)):
        actual = tuple(c.name for c in table.c)
        if actual != expected:
            raise RuntimeError(f"bench/reports.py writes {table.name} as {expected}, but the "
                               f"table now has {actual}: update the bench")


def _add_store(db: Database) -> StoreRef:
    """The bench's store, running the express-pay experiment the shoppers see (as `parcours
    widgets set` would configure it), so the experiments report plans and judges it."""
    from parcours.widgets.settings import check_settings, settings_facts

    settings = check_settings({"widgets": {WIDGET: {
        "enabled": True, "pages": ["product"], "holdout": HOLDOUT, "salt": SALT}}})
    with db.write() as conn:
        create_store(conn, STORE, account="bench")
        store = get_store(conn, STORE)
        save_store_facts(conn, store.id, settings_facts(settings, store.platform),
                         datetime.now(UTC))
        return store


def _chunks(workload: Workload, store_id: int, workers: int) -> Iterator[Chunk]:
    """The workload's chunks in order; simulated by `workers` processes (0: this one), at most
    a few ahead of the writer so that memory stays bounded."""
    if workers == 0:
        for index in range(workload.chunks):
            yield simulate_chunk(workload, index, store_id)
        return
    ahead = workers + 1
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        pending: list[Future[Chunk]] = []
        for index in range(workload.chunks):
            pending.append(pool.submit(simulate_chunk, workload, index, store_id))
            if len(pending) > ahead:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


# -- the backends -------------------------------------------------------------------------------

def _count_rows(db: Database) -> dict[str, Any]:
    rollup_tables = [table for name, table in sorted(t.metadata.tables.items())
                     if name.endswith("_rollups")]
    with db.read() as conn:
        def count(table: Table) -> int:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

        rows: dict[str, Any] = {table.name: count(table) for table in
                                (t.events, t.profiles, t.journeys, t.identities)}
        rows["rollups"] = {table.name: count(table) for table in rollup_tables}
    return rows


class _Target(Protocol):
    """A database being filled with the workload, then measured."""

    name: str
    db: Database
    store: StoreRef
    write_seconds: float

    def load(self, chunk: Chunk) -> None: ...

    def add_rollups(self, delta: Contribution, event_deltas: EventDeltas) -> None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...

    def baseline_settings(self, conn: Connection) -> None: ...

    def settings(self) -> dict[str, Any]: ...


class _TargetBase:
    name = ""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = _add_store(db)
        self.write_seconds = 0.0

    def add_rollups(self, delta: Contribution, event_deltas: EventDeltas) -> None:
        """Through the recorder's own writer: the rollups are exactly what it would write."""
        started = time.perf_counter()
        with self.db.write() as conn:
            write_rollups(conn, self.store.id, delta, event_deltas)
        self.write_seconds += time.perf_counter() - started


class _Sqlite(_TargetBase):
    """A SQLite file, loaded through its own connection: no fsync, no foreign-key checks."""

    name = "sqlite"
    # The baseline's page cache, 64 times SQLite's default: each of its sorts keeps up to this
    # much in memory before spilling to temporary files (256 MB made the process peak at 2 GB).
    BASELINE_CACHE_KB = 131_072

    def __init__(self, folder: Path) -> None:
        import sqlite3

        self.path = folder / "reports.db"
        db = Database(f"sqlite:///{self.path}")
        db.upgrade()
        super().__init__(db)
        self.raw = sqlite3.connect(self.path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=OFF", "foreign_keys=OFF",
                       "cache_size=-65536"):
            self.raw.execute(f"PRAGMA {pragma}")

    def load(self, chunk: Chunk) -> None:
        started = time.perf_counter()
        self.raw.execute("BEGIN")
        for table, columns, rows in _tables_of(chunk):
            self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' * len(columns))})", rows)
        self.raw.execute("COMMIT")
        self.write_seconds += time.perf_counter() - started

    def finish(self) -> None:
        """Planner statistics (sampled, as `PRAGMA optimize` gathers them) and a checkpoint,
        so that readers do not wade through gigabytes of write-ahead log."""
        started = time.perf_counter()
        self.raw.execute("PRAGMA analysis_limit=1000")
        self.raw.execute("ANALYZE")
        self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.raw.close()
        self.write_seconds += time.perf_counter() - started

    def close(self) -> None:
        self.db.engine.dispose()
        for path in self.path.parent.glob(self.path.name + "*"):
            path.unlink()

    def baseline_settings(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"PRAGMA cache_size=-{self.BASELINE_CACHE_KB}")

    def settings(self) -> dict[str, Any]:
        import sqlite3

        return {"version": sqlite3.sqlite_version,
                "baseline": f"PRAGMA cache_size=-{self.BASELINE_CACHE_KB} (128 MB) on its "
                            "connection; reports: the app's connection settings"}


class BenchBusy(ConfigError):
    """Another run of this bench holds the PostgreSQL database."""


LOCK_KEY = "parcours bench reports"


class _Postgres(_TargetBase):
    """A PostgreSQL database (emptied first), loaded with COPY.

    The run holds an advisory lock on the database: a second run would empty it under the
    first one's feet, and both would measure a store that is not the one they generated.
    """

    name = "postgresql"

    def __init__(self, url: str) -> None:
        backend = postgres_backend(url)  # creates the database when missing
        self.lock_engine = create_engine(normalise_url(url), poolclass=NullPool)
        self.lock = self.lock_engine.connect()
        try:
            held = self.lock.execute(text("SELECT pg_try_advisory_lock(hashtext(:key))"),
                                     {"key": LOCK_KEY}).scalar()
            self.lock.commit()  # the lock is the session's: it outlives the transaction
            if not held:
                shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
                raise BenchBusy(f"another `parcours bench reports` is using {shown}: wait for "
                                "it to end, or give this one another --database-url")
            super().__init__(backend.fresh())
        except BaseException:
            self._unlock()
            raise
        self.raw = self.db.engine.raw_connection()
        self.driver: Any = cast(Any, self.raw.driver_connection)  # psycopg's Connection
        self.driver.execute("SET synchronous_commit = off")

    def load(self, chunk: Chunk) -> None:
        started = time.perf_counter()
        with self.driver.cursor() as cursor:
            for table, columns, rows in _tables_of(chunk):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        self.driver.commit()
        self.write_seconds += time.perf_counter() - started

    def finish(self) -> None:
        """The profiles' id sequence after the explicit ids, then VACUUM ANALYZE: what
        autovacuum does to a live database (statistics, visibility map, hint bits)."""
        started = time.perf_counter()
        self.driver.execute("SELECT setval(pg_get_serial_sequence('profiles', 'id'), "
                            "(SELECT max(id) FROM profiles))")
        self.driver.commit()
        self.raw.close()
        with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        self.write_seconds += time.perf_counter() - started

    def close(self) -> None:
        self.db.engine.dispose()
        self._unlock()

    def _unlock(self) -> None:
        self.lock.close()  # the session ends, and its lock with it
        self.lock_engine.dispose()

    def baseline_settings(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{BASELINE_WORK_MEM}'")

    def settings(self) -> dict[str, Any]:
        with self.db.read() as conn:
            show = {name: conn.exec_driver_sql(f"SHOW {name}").scalar() for name in
                    ("server_version", "shared_buffers", "work_mem",
                     "max_parallel_workers_per_gather")}
        return {**show, "baseline": f"SET LOCAL work_mem = '{BASELINE_WORK_MEM}' (the "
                                    "server's work_mem is for reports)"}


def _tables_of(chunk: Chunk) -> list[tuple[str, Sequence[str], list[tuple[Any, ...]]]]:
    """The chunk's rows per table, in foreign-key order."""
    return [("profiles", PROFILE_COLUMNS, chunk.profiles),
            ("identities", IDENTITY_COLUMNS, chunk.identities),
            ("events", EVENT_COLUMNS, chunk.events),
            ("journeys", _journey_columns()[0], chunk.journeys)]


# -- the baseline: a funnel over raw events -----------------------------------------------------

def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names) or "NULL"


def baseline_sql(dialect: str, rules: JourneyRules = DEFAULT_RULES,
                 active_in_period: bool = False) -> str:
    """The funnel of journeys opened in [:start, :stop), from the `events` table alone, in one
    statement of window functions: what an analytics tool without rollups runs.

    It follows the engine's definition of a journey (journey.py), so its counts must equal the
    rollups': per profile, events ordered by (occurred_at, id); an event about an order already
    paid (fulfilment, delivery, review) belongs to that order's journey; any other event opens a
    journey when it is the profile's first, follows a paid order, or comes more than
    `abandon_after` after the previous one (LAG). Journeys are numbered with a running SUM;
    each reaches the stages its events map to, and loyalty when it is a repeat purchase (a
    running SUM of conversions). Orders are recognised by their resource (`resource_type`
    "order"), as every platform adapter sends them.

    Window functions only, each step reading the previous one once: a self-join (the events
    of an order to its payment) lets PostgreSQL misjudge the sizes of the intermediate results
    and pick a nested loop that never ends on a million events.

    `active_in_period`: read only the profiles with an event in the period (all their events,
    so journeys are cut exactly as over the whole table), as a tool filters by date first.
    """
    conversion = _names(sorted(rules.conversion))
    gap = ("EXTRACT(EPOCH FROM occurred_at - LAG(occurred_at) OVER w)" if dialect == "postgresql"
           else "(julianday(occurred_at) - julianday(LAG(occurred_at) OVER w)) * 86400.0")
    reached = []
    for stage in Stage:
        if stage is Stage.AWARENESS:
            continue
        names = _names(sorted(n for n, s in rules.stages.items() if s is stage))
        reached.append(f"MAX(CASE WHEN name IN ({names}) THEN 1 ELSE 0 END) AS s{int(stage)}")
    active = ("\n    AND profile_id IN (SELECT profile_id FROM events WHERE store_id = :store_id"
              " AND occurred_at >= :start AND occurred_at < :stop)" if active_in_period else "")
    sums = ", ".join(f"SUM(s{int(s)})" for s in Stage if s not in (Stage.AWARENESS,
                                                                   Stage.LOYALTY))
    reached_sql = (",\n    ").join(reached)
    return f"""
WITH marked AS (
  SELECT profile_id, id, name, occurred_at, resource_type, resource_id,
    CASE WHEN resource_type = 'order' AND name NOT IN ({conversion})
              AND MIN(CASE WHEN name IN ({conversion}) THEN occurred_at END)
                  OVER (PARTITION BY profile_id, resource_type, resource_id) < occurred_at
         THEN 1 ELSE 0 END AS attached
  FROM events
  WHERE store_id = :store_id{active}
),
flow AS (
  SELECT profile_id, id, name, occurred_at, resource_type, resource_id, attached,
    CASE WHEN LAG(occurred_at) OVER w IS NULL OR LAG(name) OVER w IN ({conversion})
              OR {gap} > :abandon_seconds
         THEN 1 ELSE 0 END AS opens
  FROM marked
  WINDOW w AS (PARTITION BY profile_id, attached ORDER BY occurred_at, id)
),
numbered AS (
  SELECT profile_id, name, occurred_at, resource_type, resource_id, attached,
    SUM(opens) OVER (PARTITION BY profile_id, attached ORDER BY occurred_at, id
                     ROWS UNBOUNDED PRECEDING) AS run
  FROM flow
),
placed AS (
  SELECT profile_id, name, occurred_at, attached,
    CASE WHEN attached = 0 THEN run
         ELSE MAX(CASE WHEN attached = 0 AND name IN ({conversion}) THEN run END)
              OVER (PARTITION BY profile_id, resource_type, resource_id)
    END AS journey
  FROM numbered
),
journeys AS (
  SELECT profile_id, journey,
    MIN(CASE WHEN attached = 0 THEN occurred_at END) AS opened_at,
    MAX(CASE WHEN attached = 0 AND name IN ({conversion}) THEN 1 ELSE 0 END) AS converted,
    {reached_sql}
  FROM placed
  GROUP BY profile_id, journey
),
counted AS (
  SELECT opened_at, converted, s1, s2, s3, s4, s5, s6, s7,
    SUM(converted) OVER (PARTITION BY profile_id ORDER BY journey
                         ROWS UNBOUNDED PRECEDING) AS conversions
  FROM journeys
)
SELECT COUNT(*), {sums},
  SUM(CASE WHEN s7 = 1 OR (converted = 1 AND conversions > 1) THEN 1 ELSE 0 END)
FROM counted
WHERE opened_at >= :start AND opened_at < :stop
"""


def _bounds(period: reports.Period) -> dict[str, datetime]:
    return {"start": datetime.combine(period.start, datetime.min.time(), UTC),
            "stop": datetime.combine(period.end + timedelta(days=1), datetime.min.time(), UTC)}


def baseline_funnel(conn: Connection, store: StoreRef, period: reports.Period,
                    active_in_period: bool) -> list[int]:
    """Journeys reaching each stage (awareness first), by `baseline_sql`."""
    statement = text(baseline_sql(conn.dialect.name, store.rules, active_in_period)).bindparams(
        bindparam("start", type_=t.UTCDateTime), bindparam("stop", type_=t.UTCDateTime))
    row = conn.execute(statement, {"store_id": store.id, **_bounds(period),
                                   "abandon_seconds": store.rules.abandon_after.total_seconds()}
                       ).one()
    return [int(value or 0) for value in row]


def _orders_from_events(conn: Connection, store: StoreRef, period: reports.Period) -> int:
    """Paid orders in the period, counted over raw events (the KPIs' orders are per paid day)."""
    ev = t.events
    bounds = _bounds(period)
    return int(conn.execute(select(func.count()).select_from(ev).where(
        ev.c.store_id == store.id, ev.c.name.in_(sorted(store.rules.conversion)),
        ev.c.occurred_at >= bounds["start"], ev.c.occurred_at < bounds["stop"])).scalar_one())


# -- timings ------------------------------------------------------------------------------------

def _summary(seconds: Sequence[float]) -> dict[str, Any]:
    """Median and p95 (nearest rank) in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"median_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(p95 * 1000, 3), "min_ms": round(ordered[0] * 1000, 3),
            "runs": len(ordered)}


ReportFunction = Callable[[Connection, StoreRef, reports.Period], Any]


def _experiments(conn: Connection, store: StoreRef, period: reports.Period) -> Any:
    """As the API's experiments route calls it: with the store's effective widget settings."""
    from parcours import insights
    from parcours.api_insights import widgets

    return insights.experiments(conn, store, period, widgets(conn, store))


def _segments(conn: Connection, store: StoreRef, period: reports.Period) -> Any:
    """The device breakdown (journeys, conversion, step funnel per device), from
    segment_rollups, the largest rollup table."""
    from parcours import insights

    return insights.segments(conn, store, period, "device")


def _stage_times(conn: Connection, store: StoreRef, period: reports.Period) -> Any:
    from parcours import insights

    return insights.stage_times(conn, store, period)


def report_functions() -> dict[str, tuple[ReportFunction, str]]:
    """The reports timed and the functions behind them: the funnel, stages and KPIs of
    reports.py, and the insights reports (insights.py) that the API serves from rollups."""
    return {"funnel": (reports.funnel, "reports.funnel"),
            "stages": (reports.stages, "reports.stages"),
            "kpis": (reports.kpis, "reports.kpis"),
            "experiments": (_experiments, "insights.experiments, with the store's widgets"),
            "segments": (_segments, "insights.segments(dimension='device')"),
            "stage_times": (_stage_times, "insights.stage_times")}


def _rollup_rows(db: Database, store: StoreRef, periods: Mapping[str, reports.Period]
                 ) -> dict[str, dict[str, int]]:
    """Rows of each per-day rollup table in each period: what a report's time follows."""
    tables = [table for name, table in sorted(t.metadata.tables.items())
              if name.endswith("_rollups") and "day" in table.c]
    with db.read() as conn:
        return {name: {table.name: int(conn.execute(
            select(func.count()).select_from(table).where(
                table.c.store_id == store.id, table.c.day.between(period.start, period.end))
        ).scalar_one()) for table in tables} for name, period in periods.items()}


def _time_reports(db: Database, store: StoreRef, periods: Mapping[str, reports.Period],
                  repeat: int) -> dict[str, dict[str, Any]]:
    """Each report as the API runs it: a read transaction on a pooled connection, then the
    report function. A first, untimed run per report warms caches (its time is `first_ms`)."""
    out: dict[str, dict[str, Any]] = {}
    for period_name, period in periods.items():
        out[period_name] = {}
        for name, (function, what) in report_functions().items():
            seconds = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                with db.read() as conn:
                    function(conn, store, period)
                seconds.append(time.perf_counter() - started)
            out[period_name][name] = {**_summary(seconds[1:]),
                                      "first_ms": round(seconds[0] * 1000, 3), "source": what}
    return out


def _check_and_baseline(target: _Target, periods: Mapping[str, reports.Period], data_start: date,
                        runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The correctness check (the first baseline run against the rollups), then the baseline's
    timing over `runs` runs."""
    db, store = target.db, target.store
    check: dict[str, Any] = {"ok": True, "definition": (
        "journeys opened in the period reaching each stage, from the rollups (reports.funnel) "
        "and from raw events (baseline_sql, the engine's journey rules in SQL): must be equal "
        "stage by stage; and paid orders from order_rollups against order_paid events"),
        "periods": {}}
    baseline: dict[str, Any] = {}
    # Its own engine: the baseline's settings (a bigger SQLite cache) stay off the reports'.
    own = Database(db.engine.url.render_as_string(hide_password=False))
    for period_name, period in periods.items():
        active = period.start > data_start
        seconds, counts = [], []
        for _ in range(runs):
            started = time.perf_counter()
            with own.read() as conn:
                target.baseline_settings(conn)
                counts = baseline_funnel(conn, store, period, active)
            seconds.append(time.perf_counter() - started)
        with db.read() as conn:
            steps = reports.funnel(conn, store, period)["steps"]
            kpis = reports.kpis(conn, store, period)
            paid_events = _orders_from_events(conn, store, period)
        stages = {step["stage"]: {"rollups": step["journeys"], "baseline": count}
                  for step, count in zip(steps, counts, strict=True)}
        paid_rollups = sum(kpis["orders"].values())
        equal = all(v["rollups"] == v["baseline"] for v in stages.values())
        check["periods"][period_name] = {
            "equal": equal, "stages": stages,
            "orders": {"rollups": paid_rollups, "events": paid_events,
                       "equal": paid_rollups == paid_events}}
        check["ok"] = check["ok"] and equal and paid_rollups == paid_events
        baseline[period_name] = {**_summary(seconds), "reads": (
            "events of the profiles active in the period" if active else "all events")}
    own.engine.dispose()
    return check, baseline


# -- the benchmark ------------------------------------------------------------------------------

def periods_of(workload: Workload) -> dict[str, reports.Period]:
    last = workload.end
    return {"last_30_days": reports.Period(max(workload.start, last - timedelta(days=29)), last),
            "whole_range": reports.Period(workload.start, last)}


def _open_targets(backends: Sequence[str], folder: Path, url: str,
                  skipped: dict[str, str]) -> list[_Target]:
    targets: list[_Target] = []
    for name in backends:
        if name == "sqlite":
            targets.append(_Sqlite(folder))
            continue
        if name in skipped:
            continue
        try:
            targets.append(_Postgres(url))
        except BenchBusy:
            raise
        except Exception as exc:  # any driver error means the server is not usable here
            shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
            skipped[name] = f"PostgreSQL is not reachable at {shown}: {exc}".splitlines()[0]
    return targets


ROLLUP_FLUSH_KEYS = 200_000  # summed rollup keys held before they are written (memory bound)


def _generate(workload: Workload, targets: Sequence[_Target], workers: int,
              progress: Progress) -> dict[str, Any]:
    """Simulate the workload's chunks and load them into every target."""
    store_ids = {target.store.id for target in targets}
    if len(store_ids) != 1:
        raise RuntimeError(f"the bench store has different ids: {store_ids}")
    started = last_note = time.perf_counter()
    simulate = 0.0
    delta: dict[Any, Any] = {}
    event_deltas: Counter[tuple[date, int, str]] = Counter()
    loaded = 0

    def flush() -> None:
        for target in targets:
            target.add_rollups(delta, dict(event_deltas))
        delta.clear()
        event_deltas.clear()

    for chunk in _chunks(workload, store_ids.pop(), workers):
        simulate += chunk.seconds
        for target in targets:
            target.load(chunk)
        for key, value in chunk.delta.items():
            delta[key] = delta.get(key, 0) + value
        event_deltas.update(chunk.event_deltas)
        if len(delta) > ROLLUP_FLUSH_KEYS:
            flush()
        loaded += len(chunk.events)
        now = time.perf_counter()
        if now - last_note >= 10 or chunk.index + 1 == workload.chunks:
            last_note = now
            elapsed = now - started
            progress(f"  {loaded:,}/{workload.events:,} events ({chunk.index + 1}/"
                     f"{workload.chunks} chunks) in {elapsed:.0f} s, "
                     f"~{elapsed * (workload.events / loaded - 1):.0f} s left")
    flush()
    for target in targets:
        target.finish()
    return {"seconds": round(time.perf_counter() - started, 1),
            "simulate_cpu_seconds": round(simulate, 1),
            "peak_memory_mb_so_far": _peak_memory_mb()}


def _scale(workload: Workload, backends: Sequence[str], url: str, repeat: int,
           baseline_runs: int, workers: int, skipped: dict[str, str], progress: Progress
           ) -> dict[str, dict[str, Any]]:
    """Generate one store per backend, check it, time the baseline and the reports."""
    periods = periods_of(workload)
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="parcours-bench-reports-") as folder:
        targets = _open_targets(backends, Path(folder), url, skipped)
        try:
            progress(f"generating {workload.events:,} events, {workload.profiles:,} profiles "
                     f"over {workload.days} days into {', '.join(t.name for t in targets)}")
            generation = _generate(workload, targets, workers, progress)
            for target in targets:
                load_before = os.getloadavg()[0]
                rows = _count_rows(target.db)
                progress(f"{target.name}: {rows['events']:,} events, {rows['journeys']:,} "
                         f"journeys; checking and timing the baseline ({baseline_runs} run(s) "
                         "per period)")
                check, baseline = _check_and_baseline(target, periods, workload.start,
                                                      baseline_runs)
                if not check["ok"]:
                    progress(f"{target.name}: CHECK FAILED: {json.dumps(check['periods'])}")
                progress(f"{target.name}: timing the reports ({repeat} runs each)")
                timed = _time_reports(target.db, target.store, periods, repeat)
                speedup = {period: {name: round(baseline[period]["median_ms"]
                                                / one["median_ms"], 1)
                                    for name, one in timed[period].items() if "median_ms" in one}
                           for period in periods}
                out[target.name] = {
                    "events": workload.events, "profiles": workload.profiles,
                    "generation": {**generation,
                                   "write_seconds": round(target.write_seconds, 1)},
                    "rows": rows,
                    "rollup_rows_in_period": _rollup_rows(target.db, target.store, periods),
                    "check": check, "baseline": baseline, "reports": timed,
                    "speedup": speedup, "settings": target.settings(),
                    # Other work on the host slows everything measured: how busy it was.
                    "load_average_1min": {"before": round(load_before, 2),
                                          "after": round(os.getloadavg()[0], 2)}}
        finally:
            for target in targets:
                target.close()
    return out


def _verdict(scales: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Flatness (largest scale over smallest) and the aims, judged at the largest scale."""
    ordered = sorted(scales, key=int)
    largest, smallest = scales[ordered[-1]], scales[ordered[0]]
    def ratios(statistic: str) -> dict[str, dict[str, float]]:
        return {period: {name: round(one[statistic]
                                     / smallest["reports"][period][name][statistic], 2)
                         for name, one in timed.items() if statistic in one}
                for period, timed in largest["reports"].items()}

    flatness, fastest = ratios("median_ms"), ratios("min_ms")
    medians = [one["median_ms"] for timed in largest["reports"].values()
               for one in timed.values() if "median_ms" in one]
    speedups = [ratio for per in largest["speedup"].values() for ratio in per.values()]
    # Flatness is judged on the fastest runs: the scales are measured minutes apart, and on a
    # shared host other work moves medians more than the store's size does.
    flat = [ratio for per in fastest.values() for ratio in per.values()]
    return {
        "flatness": flatness if len(ordered) > 1 else None,
        "flatness_fastest_runs": fastest if len(ordered) > 1 else None,
        "flatness_scales": [int(ordered[0]), int(ordered[-1])] if len(ordered) > 1 else None,
        "within_aim": {
            "check": all(one["check"]["ok"] for one in scales.values()),
            "reports_under_ms": max(medians) <= AIM["report_ms"] if medians else None,
            "speedup": min(speedups) >= AIM["speedup"] if speedups else None,
            "flat": max(flat) <= AIM["flatness"] if len(ordered) > 1 and flat else None,
        },
        "slowest_report_ms": max(medians) if medians else None,
        "smallest_speedup": min(speedups) if speedups else None,
    }


def run(events: int = 10_000_000, profiles: int | None = None, days: int = 365,
        backends: Sequence[str] = BACKENDS, scales: Sequence[int] | None = None,
        repeat: int = 20, database_url: str | None = None, seed: int = 1,
        workers: int | None = None, progress: Progress = _stderr) -> dict[str, Any]:
    """The whole benchmark: a JSON-able report.

    `scales` (default: just `events`) are the store sizes measured, each generated afresh with
    the same events per profile (`events / profiles`, default 10). PostgreSQL is the database
    of `database_url`, else PARCOURS_BENCH_DATABASE_URL, else `bench_reports` on this machine
    (created if missing, emptied at each scale); when unreachable its entry says why.
    """
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    _check_columns()
    per_profile = events / (profiles or max(1, events // 10))
    sizes = sorted(set(scales or [events]))
    workloads = [Workload(size, max(1, round(size / per_profile)), days, seed) for size in sizes]
    if workers is None:  # a worker process pays off once chunks are many
        workers = 0 if workloads[-1].chunks < 4 else max(1, (os.cpu_count() or 1) - 1)
    url = database_url or os.environ.get("PARCOURS_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "benchmark": "reports", "aim": AIM, "machine": machine(), "seed": seed,
        "days": days, "events_per_profile": round(per_profile, 2), "repeat": repeat,
        "workers": workers, "periods": {name: period.as_dict()
                                        for name, period in periods_of(workloads[0]).items()},
        "baseline": ("one SQL statement of window functions over the events table "
                     "(baseline_sql in bench/reports.py); runs: 3 per period up to 2 M events, "
                     "1 above"),
        "backends": {name: {"scales": {}} for name in backends}}
    skipped: dict[str, str] = {}
    for workload in workloads:
        baseline_runs = min(repeat, 3) if workload.events <= 2_000_000 else 1
        measured = _scale(workload, backends, url, repeat, baseline_runs, workers, skipped,
                          progress)
        for name, result in measured.items():
            report["backends"][name]["scales"][str(workload.events)] = result
    for name in backends:
        entry = report["backends"][name]
        if name in skipped:
            report["backends"][name] = {"skipped": skipped[name]}
        elif entry["scales"]:
            entry.update(_verdict(entry["scales"]))
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["peak_memory_mb"] = _peak_memory_mb()
    return report


def _peak_memory_mb() -> int:
    """Peak resident memory of this process, SQLite's caches and sorts included (the workers'
    is not told apart: Linux gives a spawned child its parent's peak)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def table(report: Mapping[str, Any]) -> str:
    """A short plain-text summary of `report`."""
    lines = []
    for backend, entry in report["backends"].items():
        if "skipped" in entry:
            lines.append(f"{backend}: skipped ({entry['skipped']})")
            continue
        for scale, one in entry["scales"].items():
            lines.append(f"{backend}, {int(scale):,} events ({one['profiles']:,} profiles): "
                         f"generated in {one['generation']['seconds']} s, check "
                         f"{'ok' if one['check']['ok'] else 'FAILED'}")
            for period, timed in one["reports"].items():
                cells = "  ".join(f"{name} {value['median_ms']:.1f}" for name, value
                                  in timed.items() if "median_ms" in value)
                lines.append(f"  {period:12} ms: {cells}  | baseline "
                             f"{one['baseline'][period]['median_ms']:.0f} "
                             f"(x{one['speedup'][period].get('funnel', 0):,.0f} for the funnel)")
        if entry.get("flatness"):
            lines.append(f"  flatness {entry['flatness_scales']}, medians: {entry['flatness']}")
            lines.append(f"  flatness, fastest runs: {entry['flatness_fastest_runs']}")
        lines.append(f"  within aim: {entry.get('within_aim')}")
    return "\n".join(lines)
