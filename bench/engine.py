"""`parcours bench engine`: events per second through the journey engine and its storage.

The workload is synthetic, shaped like a shop's traffic, and the same for the same seed. Shoppers
(some on two devices) browse, fill carts and check out over about 60 days; some pay (order_paid
with its total and currency, the order as resource), and their orders are then fulfilled,
delivered and sometimes reviewed. Events arrive in time order: storefront events within seconds,
webhooks within a minute except a few that come hours late, so some profiles are refolded; a
shopper who checks out on a second device links its profile to the first, so some are merged.

Two timings per backend, each on a fresh migrated database, in batches of `batch` events with
each batch in its own write transaction (`Database.write`):
- engine: `record()` of the events, which are built, with their ids, before the clock starts;
- bare insert: one executemany INSERT (SQLAlchemy Core) per batch of the very rows the engine
  wrote to `events`, and nothing else: the limit of the storage. Its rows are built beforehand.
`ratio` is engine events/s over bare insert events/s. Everything prepared beforehand is hidden
from the garbage collector while the clock runs (a worker holds one batch, not a whole run).
On PostgreSQL the database is analysed after the first batch, off the clock (see `_postgres`).
"""

from __future__ import annotations

import gc
import itertools
import os
import platform
import random
import sqlite3
import statistics
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.db import Database, chunks, normalise_url
from parcours.events import JourneyEvent, Resource, email_hash
from parcours.recorder import RecordResult, StoreRef, record

BACKENDS = ("sqlite", "postgres")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/parcours_bench"
AIM = {"sqlite_engine_events_per_s": 20_000, "ratio": 0.3}
REPEATS = 3  # timings are the median of this many runs, for runs up to REPEAT_UP_TO events
REPEAT_UP_TO = 100_000

STORE = "bench"
EPOCH = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 60
PRICES = ("9.90", "14.50", "19.90", "24.00", "39.90", "59.00", "89.90")
CURRENCIES = ("EUR", "USD", "GBP")
LATE_WEBHOOKS = 0.03  # share of webhooks delivered hours late


# -- the workload ------------------------------------------------------------------------------

Arrival = tuple[datetime, JourneyEvent]  # when the event reaches Parcours, and the event


@dataclass
class _Visit:
    """One visit of a shopper on one device, appending its events to `out`."""

    rng: random.Random
    clock: datetime
    identities: dict[str, str]
    out: list[Arrival]

    def storefront(self, name: str, **properties: Any) -> None:
        self.clock += timedelta(seconds=self.rng.uniform(5, 90))
        event = JourneyEvent(STORE, name, self.clock, dict(self.identities), properties,
                             source="web_pixel")
        self.out.append((self.clock + timedelta(seconds=self.rng.uniform(0, 2)), event))

    def webhook(self, name: str, occurred_at: datetime, identities: dict[str, str],
                properties: dict[str, Any], order_id: str) -> None:
        late = self.rng.random() < LATE_WEBHOOKS
        delay = self.rng.uniform(3_600, 12 * 3_600) if late else self.rng.uniform(1, 60)
        event = JourneyEvent(STORE, name, occurred_at, identities, properties, source="shopify",
                             resource=Resource("order", order_id, occurred_at),
                             key=f"order:{order_id}:{name}")
        self.out.append((occurred_at + timedelta(seconds=delay), event))

    def browse(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            self.storefront("page_viewed", url=f"/pages/{rng.randrange(40)}")
        if rng.random() < 0.4:
            self.storefront(rng.choice(("search_submitted", "collection_viewed")),
                            query=f"term {rng.randrange(100)}")
        for _ in range(rng.randint(1, 4)):
            self.storefront("product_viewed", product_id=f"p{rng.randrange(500)}",
                            price=rng.choice(PRICES))

    def fill_cart(self) -> list[tuple[str, int]]:
        """Adds one to three items to the cart: (price, quantity) of each."""
        rng = self.rng
        items = [(rng.choice(PRICES), rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
        for price, quantity in items:
            self.storefront("product_added_to_cart", product_id=f"p{rng.randrange(500)}",
                            price=price, quantity=quantity)
        self.storefront("cart_viewed")
        if rng.random() < 0.1:
            self.storefront("product_removed_from_cart", product_id=f"p{rng.randrange(500)}")
        return items

    def check_out(self, token: str, email: str) -> None:
        self.identities["checkout_token"] = token
        self.storefront("checkout_started")
        self.identities["email_hash"] = email
        for step in ("checkout_contact_info_submitted", "checkout_address_info_submitted",
                     "checkout_shipping_info_submitted", "payment_info_submitted"):
            self.storefront(step)

    def pay(self, order_id: str, customer: str, total: Decimal, currency: str) -> None:
        """A paid order and what follows it: fulfilment, delivery, sometimes a review."""
        rng = self.rng
        self.storefront("checkout_completed")
        server = {"customer_id": customer, "email_hash": self.identities["email_hash"],
                  "checkout_token": self.identities["checkout_token"]}
        moment = self.clock + timedelta(seconds=rng.uniform(1, 20))
        self.webhook("order_paid", moment, server,
                     {"total": str(total), "currency": currency}, order_id)
        moment += timedelta(days=rng.uniform(0.5, 2))
        self.webhook("order_fulfilled", moment, server, {}, order_id)
        moment += timedelta(days=rng.uniform(1, 5))
        self.webhook("order_delivered", moment, server, {}, order_id)
        if rng.random() < 0.25:
            moment += timedelta(days=rng.uniform(2, 10))
            self.webhook("review_submitted", moment, {"email_hash": server["email_hash"]},
                         {"rating": rng.randint(1, 5)}, order_id)


def _shopper(rng: random.Random, number: int, order_numbers: Iterator[int]) -> list[Arrival]:
    """Every event of one shopper: a few visits, days apart, each a little further down the
    funnel with some probability."""
    devices = [f"anon-{number}-{device}" for device in range(rng.choice((1, 1, 1, 1, 1, 2)))]
    email = email_hash(f"shopper{number}@example.com")
    currency = rng.choices(CURRENCIES, weights=(6, 3, 1))[0]
    out: list[Arrival] = []
    day = rng.uniform(0, DAYS)
    while day < DAYS:
        visit = _Visit(rng, EPOCH + timedelta(days=day),
                       {"anonymous_id": rng.choice(devices)}, out)
        visit.browse()
        if rng.random() < 0.3:
            items = visit.fill_cart()
            if rng.random() < 0.6:
                visit.check_out(f"chk-{number}-{len(out)}", email)
                if rng.random() < 0.7:
                    total = sum((Decimal(price) * quantity for price, quantity in items),
                                Decimal(0))
                    visit.pay(str(next(order_numbers)), f"cust-{number}", total, currency)
        if rng.random() < 0.4:  # many shoppers never come back
            break
        day += rng.expovariate(1 / 7)
    return out


def synthetic_events(count: int, seed: int = 1) -> list[JourneyEvent]:
    """`count` events of the shop "bench", in the order they arrive; the same for a seed."""
    rng = random.Random(seed)
    order_numbers = itertools.count(1001)
    arrivals: list[Arrival] = []
    shoppers = 0
    while len(arrivals) < count:
        arrivals.extend(_shopper(rng, shoppers, order_numbers))
        shoppers += 1
    arrivals.sort(key=lambda arrival: arrival[0])
    return [event for _, event in arrivals[:count]]


# -- the databases -----------------------------------------------------------------------------

@dataclass
class _Backend:
    fresh: Callable[[], Database]  # a migrated, empty database on each call
    settle: Callable[[Database], None] = lambda db: None  # after the first batch, off the clock
    note: str | None = None


def _sqlite(folder: Path) -> _Backend:
    def fresh() -> Database:
        for previous in folder.glob("bench.db*"):  # with its -wal and -shm files
            previous.unlink()
        db = Database(f"sqlite:///{folder / 'bench.db'}")
        db.upgrade()
        return db

    return _Backend(fresh)


def _analyze(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def postgres_backend(url: str) -> _Backend:
    """Creates the database of `url` if missing; each fresh one empties its public schema."""
    parsed = make_url(normalise_url(url))
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 5})
    try:
        with server.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                  {"name": parsed.database}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        server.dispose()

    def fresh() -> Database:
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.upgrade()
        return db

    return _Backend(fresh, _analyze, note=(
        "ANALYZE after the first batch, off the clock, as autovacuum does in a live database: "
        "a fresh database has no planner statistics, and until its first analysis the lookup "
        "of known event ids filters every event of the store"))


def _add_store(db: Database) -> StoreRef:
    with db.write() as conn:
        create_store(conn, STORE, account="bench")
        return get_store(conn, STORE)


# -- the timings -------------------------------------------------------------------------------

@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keeps what was prepared before the clock started out of the garbage collector's sight:
    a worker holds one batch, not a whole run, and would not traverse it at every collection."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _time_batches(backend: _Backend, db: Database, parts: Iterable[Sequence[Any]],
                  write: Callable[[Connection, Sequence[Any]], object]) -> float:
    """Seconds spent writing the parts, each in its own write transaction."""
    seconds = 0.0
    with _frozen_heap():
        for number, part in enumerate(parts):
            start = perf_counter()
            with db.write() as conn:
                write(conn, part)
            seconds += perf_counter() - start
            if number == 0:
                backend.settle(db)
    return seconds


def _time_engine(backend: _Backend, db: Database, events: Sequence[JourneyEvent], batch: int
                 ) -> tuple[float, list[RecordResult]]:
    store = _add_store(db)
    results: list[RecordResult] = []

    def write(conn: Connection, part: Sequence[JourneyEvent]) -> None:
        results.append(record(conn, store, part))

    return _time_batches(backend, db, chunks(events, batch), write), results


def _written_rows(db: Database, events: Sequence[JourneyEvent]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The profiles and, in arrival order, the `events` rows that the engine wrote."""
    with db.read() as conn:
        profiles = [dict(row._mapping) for row in conn.execute(
            select(t.profiles.c.id, t.profiles.c.store_id, t.profiles.c.created_at))]
        rows = {row.id: dict(row._mapping) for row in conn.execute(select(t.events))}
    return profiles, [rows[event_id] for event_id in dict.fromkeys(e.id for e in events)]


def _time_bare_insert(backend: _Backend, db: Database, profiles: list[dict[str, Any]],
                      rows: Sequence[dict[str, Any]], batch: int) -> float:
    _add_store(db)
    with db.write() as conn:  # the profiles the rows belong to, for the foreign key
        conn.execute(insert(t.profiles), profiles)

    def write(conn: Connection, part: Sequence[dict[str, Any]]) -> None:
        conn.execute(insert(t.events), part)

    return _time_batches(backend, db, chunks(rows, batch), write)


def _bench(backend: _Backend, events: Sequence[JourneyEvent], batch: int, repeats: int
           ) -> dict[str, Any]:
    engine_seconds, bare_seconds = [], []
    for _ in range(repeats):
        db = backend.fresh()
        seconds, results = _time_engine(backend, db, events, batch)
        engine_seconds.append(seconds)
        profiles, rows = _written_rows(db, events)  # the same on every run
        server = db.engine.dialect.server_version_info or ()
        db.engine.dispose()
    for _ in range(repeats):
        db = backend.fresh()
        bare_seconds.append(_time_bare_insert(backend, db, profiles, rows, batch))
        db.engine.dispose()
    engine, bare = statistics.median(engine_seconds), statistics.median(bare_seconds)
    engine_rate, bare_rate = len(events) / engine, len(rows) / bare
    report = {
        "events": len(events),
        "batch": batch,
        "runs": repeats,
        "engine_events_per_s": round(engine_rate),
        "bare_insert_events_per_s": round(bare_rate),
        "ratio": round(engine_rate / bare_rate, 3),
        "seconds": round(engine, 3),
        "bare_insert_seconds": round(bare, 3),
        "server_version": ".".join(str(part) for part in server),
        "profiles_created": sum(r.profiles_created for r in results),
        "profiles_merged": sum(r.merged for r in results),
        "profiles_refolded": sum(r.refolded for r in results),
    }
    if backend.note:
        report["note"] = backend.note
    return report


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
    }


def run(events: int = 100_000, batch: int = 2_000,
        backends: Sequence[str] = BACKENDS, seed: int = 1) -> dict[str, Any]:
    """Benchmark the engine on each backend; a JSON-able report.

    PostgreSQL is the database of PARCOURS_BENCH_DATABASE_URL (default: `parcours_bench` on this
    machine's server), created if missing and emptied on every run; when it cannot be reached its
    entry says why it was skipped.
    """
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if events < 1 or batch < 1:
        raise ValueError("events and batch must be positive")
    workload = synthetic_events(events, seed)
    for event in workload:
        event.id  # noqa: B018 - computed (and cached) before any clock starts
    repeats = REPEATS if events <= REPEAT_UP_TO else 1
    report: dict[str, Any] = {
        "benchmark": "engine",
        "events": events,
        "batch": batch,
        "seed": seed,
        "timing": f"median of {repeats} runs" if repeats > 1 else "one run",
        "aim": AIM,
        "machine": machine(),
        "backends": {},
    }
    for name in backends:
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="parcours-bench-") as folder:
                report["backends"]["sqlite"] = _bench(_sqlite(Path(folder)), workload, batch,
                                                      repeats)
            continue
        url = os.environ.get("PARCOURS_BENCH_DATABASE_URL", DEFAULT_PG_URL)
        try:
            postgres = postgres_backend(url)
        except Exception as exc:  # any driver error means the server is not usable here
            shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
            reason = f"PostgreSQL is not reachable at {shown}: {exc}".splitlines()[0]
            report["backends"]["postgres"] = {"skipped": reason}
            continue
        report["backends"]["postgres"] = _bench(postgres, workload, batch, repeats)
    return report
