"""`parcours bench scaleout`: several app servers and workers on PostgreSQL and Redis lose
nothing, count nothing twice, and end in the state one process reaches.

The production layout in miniature (docs/deployment.md): `--servers` real `parcours serve`
processes (gunicorn) and `--workers` real `parcours worker` processes share one PostgreSQL
database and one Redis queue. Signed deliveries of Shopify, WooCommerce and custom stores
(bench/deliveries.py), a tenth of them re-sent and all shuffled, are posted by threads over
every server while the workers drain the inbox.

Then it checks what the durability rule promises: every acknowledged delivery is in the inbox
exactly once and processed (`done`); nothing is stored twice; and the final state (per store:
events, profiles with their identities, journeys, resource states, rollups, review requests,
and the funnel, stages and KPI reports) equals that of a single-process run: the same shuffled
input posted through the app in-process on a fresh database and drained by one in-process
worker. States are compared as digests of canonical rows (profiles named by their smallest
identity, never by row ids; times set by the clock, such as `received_at`, left out).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Table, func, select

from parcours import reports
from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.adapters.base import adapter_for
from parcours.bench.deliveries import APP_SECRET, Delivery, generate, store_keys
from parcours.bench.engine import machine, postgres_backend
from parcours.bench.ingest import free_port, stop
from parcours.credentials import Vault, generate_key, set_secret
from parcours.db import Database
from parcours.errors import ParcoursError
from parcours.inbox import pending_count, process_pending

PERIOD = reports.Period(date(2026, 1, 1), date(2026, 12, 31))  # covers every generated event
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/parcours_scaleout"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"


class ScaleoutError(ParcoursError):
    """The bench could not run (a process died, the inbox did not drain in time)."""


# -- the databases and processes ---------------------------------------------------------------
def prepare(db: Database, keys: str, secrets: dict[str, str]) -> None:
    """The stores of every platform, with their webhook secrets (the same in both runs)."""
    vault = Vault(keys)
    with db.write() as conn:
        for platform, names in store_keys().items():
            for name in names:
                domain = f"{name}.myshopify.com" if platform == "shopify" else None
                create_store(conn, name, account="scaleout", platform=platform, domain=domain)
                if name in secrets:
                    set_secret(conn, vault, get_store(conn, name).id, secrets[name])


def _store_secrets() -> dict[str, str]:
    stores = store_keys()
    found = {name: adapter_for("custom").new_secret() for name in stores["custom"]}
    found.update({name: f"wc-secret-{name}" for name in stores["woocommerce"]})
    return found


@dataclass
class Cluster:
    """The app servers and workers, started with one environment, their output in `logs`."""

    env: dict[str, str]
    logs: Path
    servers: int
    workers: int
    urls: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:  # the child keeps its own copy
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "parcours.cli", *args], env=self.env,
                stdout=subprocess.DEVNULL, stderr=log)

    def __enter__(self) -> Cluster:
        for index in range(self.servers):
            port = free_port()
            self._start(f"web{index + 1}", "serve", "--port", str(port), "--workers", "2")
            self.urls.append(f"http://127.0.0.1:{port}")
        for index in range(self.workers):
            self._start(f"worker{index + 1}", "worker")
        for index, url in enumerate(self.urls):
            self._wait(url, f"web{index + 1}")
        return self

    def _wait(self, url: str, name: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.check()
            try:
                if requests.get(f"{url}/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise ScaleoutError(f"{url} did not answer within 60 s: {self.tail(name)}")

    def tail(self, name: str) -> str:
        """The end of a process's output (the folder is gone once the bench ends)."""
        return (self.logs / f"{name}.log").read_bytes()[-3000:].decode(errors="replace")

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ScaleoutError(f"{name} exited with {process.returncode}: "
                                    f"{self.tail(name)}")

    def __exit__(self, *exc: object) -> None:
        for process in self.processes.values():
            stop(process)


# -- sending -----------------------------------------------------------------------------------
@dataclass
class Sent:
    """What the senders saw: per delivery sent, its answer's status and duplicate flag."""

    statuses: list[int]
    duplicates: list[bool]
    retries: int
    seconds: float


def _post(session: requests.Session, url: str, delivery: Delivery, secrets: dict[str, str]
          ) -> tuple[int, bool, int]:
    """Post like a platform: a network error or a 5xx is tried again (5 times at most)."""
    for attempt in range(5):
        try:
            answer = session.post(url + delivery.path, data=delivery.body, timeout=30,
                                  headers=delivery.headers_at(secrets, time.time()))
        except requests.RequestException:
            time.sleep(0.2 * (attempt + 1))
            continue
        if answer.status_code < 500:
            duplicate = answer.ok and bool(answer.json().get("duplicate"))
            return answer.status_code, duplicate, attempt
        time.sleep(0.2 * (attempt + 1))
    return 0, False, 5


def send(urls: Sequence[str], deliveries: Sequence[Delivery], secrets: dict[str, str],
         threads: int) -> Sent:
    """Post every delivery, the i-th to server i mod len(urls), from `threads` threads."""
    statuses, duplicates = [0] * len(deliveries), [False] * len(deliveries)
    retries = [0] * len(deliveries)
    local = threading.local()
    started = time.perf_counter()

    def one(index: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        statuses[index], duplicates[index], retries[index] = _post(
            local.session, urls[index % len(urls)], deliveries[index], secrets)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(len(deliveries))))
    return Sent(statuses, duplicates, sum(retries), time.perf_counter() - started)


def _drain_wait(db: Database, cluster: Cluster, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while pending_count(db):
        cluster.check()
        if time.monotonic() > deadline:
            raise ScaleoutError(f"{pending_count(db)} deliveries still pending after "
                                f"{seconds:.0f} s: {cluster.tail('worker1')}")
        time.sleep(0.5)


def single_process(url: str, keys: str, deliveries: Sequence[Delivery],
                   secrets: dict[str, str], folder: Path) -> Database:
    """The reference: the same deliveries, in the same order, posted through the app
    in-process (no HTTP, no queue), then drained by one in-process worker."""
    from parcours.app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEYS": keys, "REDIS_URL": None,
                      "SHOPIFY_API_SECRET": APP_SECRET}, instance_path=str(folder))
    db: Database = app.extensions["parcours.db"]
    client = app.test_client()
    for delivery in deliveries:
        answer = client.post(delivery.path, data=delivery.body,
                             headers=delivery.headers_at(secrets, time.time()))
        if answer.status_code != 200:
            raise ScaleoutError(f"the single-process run refused {delivery.key}: "
                                f"{answer.status_code} {answer.get_data(as_text=True)}")
    while process_pending(db, limit=500).done:
        pass
    return db


# -- the checks --------------------------------------------------------------------------------
def inbox_check(db: Database, sent: Sequence[Delivery], outcome: Sent) -> dict[str, Any]:
    """Every acknowledged delivery stored once and done; nothing stored that was not sent."""
    acked = {d.key for d, status in zip(sent, outcome.statuses, strict=True)
             if 200 <= status < 300}
    i = t.inbox.c
    with db.read() as conn:
        rows = conn.execute(select(i.delivery_key, i.status, i.attempts, i.error)).all()
    stored = Counter(row.delivery_key for row in rows)
    by_key = {row.delivery_key: row for row in rows}
    not_done = sorted(key for key in acked if key in by_key and by_key[key].status != "done")
    return {
        "lost": len(acked - stored.keys()),
        "duplicates_created": sum(n - 1 for n in stored.values()),
        "unexpected_rows": len(stored.keys() - {d.key for d in sent}),
        "processed": sum(row.status == "done" for row in rows),
        "not_done": len(not_done),
        "not_done_errors": [str(by_key[key].error)[:300] for key in not_done[:5]],
        "processed_more_than_once": sum(row.attempts > 1 for row in rows),
        "acked_unique": len(acked),
    }


def _label_profiles(conn: Any, store_id: int) -> dict[int, str]:
    """Each profile named by its smallest identity: row ids differ between runs, identities
    do not."""
    c = t.identities.c
    return {row.profile_id: row.label for row in conn.execute(
        select(c.profile_id, func.min(c.key).label("label")).where(c.store_id == store_id)
        .group_by(c.profile_id))}


# Left out: row ids and times set by the clock; and two columns that say which report of a fact
# arrived first, not what is known: an event's `resource_updated_at` (the snapshot that first
# reported it) and a resource state's `version` (its tie-break key, built from that report).
LEFT_OUT = {"id", "store_id", "received_at", "created_at", "nonce", "request_id",
            "resource_updated_at", "version"}
COMPARED: tuple[Table, ...] = (
    t.profiles, t.events, t.journeys, t.resource_states, t.event_rollups, t.journey_rollups,
    t.order_rollups, t.conversion_time_rollups, t.customer_rollups, t.stage_rollups,
    t.segment_rollups, t.stage_time_rollups, t.experiment_rollups, t.review_requests,
    t.store_facts)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _table_rows(conn: Any, table: Table, store_id: int, labels: dict[int, str]) -> list[str]:
    columns = [c for c in table.c if c.name not in LEFT_OUT
               and not (table is t.review_requests and c.name == "updated_at")]
    store_column = table.c.store_id
    query = select(*columns, *([table.c.id] if table is t.profiles else []))
    rows = []
    counts = [c.name for c in columns if not c.primary_key and c.name in (
        "events", "journeys", "orders", "revenue_micros", "customers", "repeaters", "profiles",
        "shoppers", "conversions")]
    for row in conn.execute(query.where(store_column == store_id)):
        values = row._asdict()
        if counts and not any(values[name] for name in counts):
            continue  # a rollup row counted down to zero is no row
        if table is t.profiles:
            values["label"] = labels.get(values.pop("id"))
        if values.get("profile_id") is not None:
            values["profile_id"] = labels.get(values["profile_id"])
        rows.append(_canonical(values))
    return sorted(rows)


def state_digest(db: Database) -> dict[str, dict[str, Any]]:
    """Per store: a digest and a row count per table, and a digest of its reports."""
    found: dict[str, dict[str, Any]] = {}
    with db.read() as conn:
        for names in store_keys().values():
            for name in names:
                store = get_store(conn, name)
                labels = _label_profiles(conn, store.id)
                tables: dict[str, Any] = {}
                for table in COMPARED:
                    rows = _table_rows(conn, table, store.id, labels)
                    tables[table.name] = {"rows": len(rows), "sha256": hashlib.sha256(
                        "\n".join(rows).encode()).hexdigest()[:16]}
                report = {"funnel": reports.funnel(conn, store, PERIOD),
                          "stages": reports.stages(conn, store, PERIOD),
                          "kpis": reports.kpis(conn, store, PERIOD)}
                tables["reports"] = {"sha256": hashlib.sha256(
                    _canonical(report).encode()).hexdigest()[:16]}
                found[name] = tables
    return found


def differences(scaled: dict[str, Any], single: dict[str, Any]) -> list[str]:
    return [f"{store}.{table}: {scaled[store][table]} != {single[store][table]}"
            for store in sorted(single) for table in sorted(single[store])
            if scaled.get(store, {}).get(table) != single[store][table]]


# -- the run -----------------------------------------------------------------------------------
def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run(deliveries: int = 100_000, servers: int = 2, workers: int = 3, threads: int = 16,
        database_url: str = DEFAULT_DATABASE_URL, single_database_url: str | None = None,
        redis_url: str = DEFAULT_REDIS_URL, seed: int = 1) -> dict[str, Any]:
    """The whole bench; a JSON-able report. Both databases are emptied, and so is the
    `parcours` queue of `redis_url`."""
    from huey import RedisHuey

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    keys, secrets = generate_key(), _store_secrets()
    sent, unique = generate(deliveries, secrets, seed)
    timings["generate_s"] = round(time.perf_counter() - clock, 2)

    scaled_db = postgres_backend(database_url).fresh()
    prepare(scaled_db, keys, secrets)
    RedisHuey("parcours", url=redis_url).flush()
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="parcours-scaleout-") as folder:
        env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
               "PARCOURS_REDIS_URL": redis_url, "PARCOURS_SECRET_KEYS": keys,
               "PARCOURS_SHOPIFY_API_SECRET": APP_SECRET,
               "PARCOURS_INSTANCE_PATH": str(Path(folder, "instance"))}
        clock = time.perf_counter()
        with Cluster(env, Path(folder), servers, workers) as cluster:
            timings["start_s"] = round(time.perf_counter() - clock, 2)
            clock = time.perf_counter()
            outcome = send(cluster.urls, sent, secrets, threads)
            load_during = _load()
            _drain_wait(scaled_db, cluster, seconds=max(180.0, unique / 50))
            timings["send_s"] = round(outcome.seconds, 2)
            timings["send_and_drain_s"] = round(time.perf_counter() - clock, 2)
        checked = inbox_check(scaled_db, sent, outcome)

        clock = time.perf_counter()
        single_db = postgres_backend(single_database_url or f"{database_url}_single").fresh()
        prepare(single_db, keys, secrets)
        single_process(single_db.engine.url.render_as_string(hide_password=False), keys, sent,
                       secrets, Path(folder, "single"))
        timings["single_process_s"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    scaled_state, single_state = state_digest(scaled_db), state_digest(single_db)
    diff = differences(scaled_state, single_state)
    timings["compare_s"] = round(time.perf_counter() - clock, 2)
    acked = sum(200 <= s < 300 for s in outcome.statuses)
    return {
        "benchmark": "scaleout", "machine": machine(), "servers": servers,
        "gunicorn_workers_per_server": 2, "worker_processes": workers, "sender_threads": threads,
        "deliveries": {"sent": len(sent), "unique": unique, "duplicates": len(sent) - unique,
                       "acked": acked, "refused": len(sent) - acked,
                       "answered_duplicate": sum(outcome.duplicates),
                       "sender_retries": outcome.retries,
                       "by_platform": dict(Counter(d.platform for d in sent))},
        **checked,
        "equal": not diff, "differences": diff[:20],
        "rows": {table: sum(s[table]["rows"] for s in single_state.values())
                 for table in ("events", "profiles", "journeys", "resource_states",
                               "review_requests")},
        "throughput": {"acks_per_s": round(acked / outcome.seconds, 1),
                       "processed_per_s": round(checked["processed"]
                                                / timings["send_and_drain_s"], 1)},
        "timings": timings,
        "load_average_1min": {"before": load_before, "during_send": load_during},
    }


def ok(report: dict[str, Any]) -> bool:
    """Whether the run kept every promise (the CLI's exit status)."""
    return bool(report["lost"] == 0 and report["duplicates_created"] == 0 and report["equal"]
            and report["not_done"] == 0 and report["unexpected_rows"] == 0
            and report["deliveries"]["refused"] == 0)
