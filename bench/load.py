"""`parcours bench load`: webhooks, storefront beacons and dashboard reads together, for minutes.

The other benches time one path alone. This one runs Parcours as it is deployed (`parcours
serve`, gunicorn, and one `parcours worker`, on PostgreSQL + Redis or SQLite + SqliteHuey, in
a database it creates) and drives the three kinds of traffic a shop sends at once, at a constant
rate the machine can hold, to see what only time shows: latency that drifts, errors that appear
under contention, an inbox that the worker cannot keep up with, memory that keeps growing.

The load is locust's, as a library and headless, from a separate process (it must patch the
standard library with gevent before anything imports it, and must not share the sampler's GIL),
on loopback only, for a fixed time:
- webhook senders: signed deliveries in turn for the Shopify store (`bench.ingest.order_body`),
  the WooCommerce store (an order snapshot) and the custom store (Standard Webhooks: the server
  events of simulated shoppers, `parcours.demo.simulate`); every id is new;
- storefront beacons: `POST /collect` with the store's Origin, each a batch of one simulated
  shopper's storefront events (so every body is new). All clients share 127.0.0.1, which the
  per-address buckets would take for one very busy visitor: the run raises those two limits
  (`LOOPBACK_LIMITS`) and keeps the per-store one as configured;
- dashboard readers: logged in with a password, reading the overview, funnel and journeys
  pages and the funnel, stages and KPIs of the JSON API (kept under its per-account limit).

Meanwhile this process samples every few seconds the resident memory of each server process
(gunicorn's master and workers) and of the job worker, and the inbox backlog. Figures are of
the time after the warm-up; memory is compared between the warm-up's end and the end. Then the
load stops and the run waits for the inbox to drain: every delivery acknowledged must end `done`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import psutil  # a dependency of locust
from sqlalchemy import func, select

from parcours import tables as t
from parcours.accounts import create_api_key, create_store, get_store
from parcours.adapters.custom.webhooks import CustomAdapter
from parcours.adapters.woocommerce.webhooks import sign as woo_sign
from parcours.bench.engine import machine, postgres_backend
from parcours.bench.ingest import SECRET, SHOP, free_port, order_body, shopify_headers, stop
from parcours.credentials import Vault, generate_key, set_secret
from parcours.dashboard_users import add_user
from parcours.db import Database
from parcours.demo import simulate
from parcours.events import SERVER_EVENTS
from parcours.inbox import pending_count
from parcours.server import wait_healthy
from parcours.standard_webhooks import sign as standard_sign

BACKENDS = ("sqlite", "postgres")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/parcours_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Shares of the total request rate; the dashboard's API reads stay under its per-account limit.
SHARES = {"webhooks": 0.4, "collect": 0.5, "dashboard": 0.1}
STORES = {"shopify": ("load-shopify", SHOP), "woocommerce": ("load-woo", "woo.load.example"),
          "custom": ("load-custom", "shop.load.example")}
ACCOUNT, USER = "load", "load@parcours.example"
WOO_SECRET = "load-woocommerce-webhook-secret"  # throwaway secrets of the run's own stores
LOOPBACK_LIMITS = {f"PARCOURS_COLLECT_{kind}_PER_{scope}": "10000"
                   for kind in ("RATE", "BURST") for scope in ("IP", "CLIENT")}
BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
READS = (("dashboard overview", "/dashboard/stores/{store}/"),
         ("dashboard funnel", "/dashboard/stores/{store}/funnel"),
         ("dashboard journeys", "/dashboard/stores/{store}/journeys"),
         ("api funnel", "/api/v1/stores/{store}/funnel"),
         ("api stages", "/api/v1/stores/{store}/stages"),
         ("api kpis", "/api/v1/stores/{store}/kpis"))
SAMPLE_EVERY = 5.0  # seconds between samples of memory and backlog
DRAIN_TIMEOUT = 180.0  # seconds the inbox may take to drain once the load stops
SERIES_POINTS = 21  # points kept of each series in the report
# Verdicts: what "holds" means for this bench.
AIM = {"error_rate": 0.001, "memory_growth_pct": 10.0, "memory_growth_mb": 10.0}


# -- what the clients send ---------------------------------------------------------------------
def woo_order_body(number: int) -> bytes:
    """An order webhook body shaped like WooCommerce 11's (tests/fixtures/woocommerce), a new
    order each time, paid, every other one completed."""
    day = f"2026-11-22T10:{number // 60 % 60:02d}:{number % 60:02d}"
    person = {"first_name": "Jane", "last_name": "Doe", "company": "", "address_1": "1 Test St",
              "address_2": "", "city": "Berlin", "state": "", "postcode": "10115",
              "country": "DE", "phone": ""}
    completed = number % 2 == 1
    order = {"id": 100_000 + number, "parent_id": 0,
             "status": "completed" if completed else "processing", "currency": "EUR",
             "version": "11.0.1", "prices_include_tax": False, "date_created": day,
             "date_modified": day, "discount_total": "0.00", "shipping_total": "4.90",
             "total": "29.90", "total_tax": "0.00", "customer_id": 10 + number % 1000,
             "order_key": f"wc_order_{uuid.uuid4().hex[:13]}",
             "billing": {**person, "email": f"woo{number}@example.com"}, "shipping": person,
             "payment_method": "bacs", "payment_method_title": "Direct Bank Transfer",
             "customer_ip_address": "", "customer_user_agent": BROWSER,
             "created_via": "checkout", "customer_note": "", "number": str(100_000 + number),
             "meta_data": [], "refunds": [], "fee_lines": [], "coupon_lines": [],
             "line_items": [{"id": i + 1, "name": f"Mug {i}", "product_id": 11 + i,
                             "variation_id": 0, "quantity": 1 + i, "subtotal": "12.50",
                             "total": "12.50", "sku": f"MUG-{i}", "price": 12.5}
                            for i in range(2)],
             "shipping_lines": [{"id": 9, "method_title": "Flat rate",
                                 "method_id": "flat_rate", "total": "4.90"}],
             "date_created_gmt": day, "date_modified_gmt": day, "date_paid_gmt": day,
             "date_completed_gmt": day if completed else None}
    return json.dumps(order).encode()


class Traffic:
    """Request bodies and headers, made on demand so that every id and body is new. The
    simulated shoppers are drawn before the load (`parcours.demo.simulate`, ending now); their
    storefront events become beacon batches and their server events the custom shop's
    deliveries."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.numbers = itertools.count(1)
        now = datetime.now(UTC)
        records = [r for r in simulate(1, plan["shoppers"], start=now - timedelta(days=31),
                                       days=30) if datetime.fromisoformat(r["occurred_at"]) <= now]
        self.beacons = itertools.cycle(list(_batches(
            [r for r in records if r["name"] not in SERVER_EVENTS], "anonymous_id", 5)))
        self.server_events = itertools.cycle(list(_batches(
            [r for r in records if r["name"] in SERVER_EVENTS], "email", 3)))
        self.platforms = itertools.cycle(STORES)
        self.beacon_stores = itertools.cycle(STORES.values())

    def webhook(self) -> tuple[str, str, dict[str, str], bytes]:
        """(request name, path, headers, body) of the next signed delivery."""
        number, platform = next(self.numbers), next(self.platforms)
        store = STORES[platform][0]
        if platform == "shopify":
            body = order_body(number)
            headers = shopify_headers("orders/create", body, SECRET, SHOP, str(uuid.uuid4()),
                                      datetime.now(UTC).isoformat())
            path = "/webhooks/shopify"
        elif platform == "woocommerce":
            body = woo_order_body(number)
            headers = {"X-WC-Webhook-Topic": "order.updated", "X-WC-Webhook-Resource": "order",
                       "X-WC-Webhook-Event": "updated", "X-WC-Webhook-ID": "1",
                       "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
                       "X-WC-Webhook-Signature": woo_sign(WOO_SECRET, body),
                       "User-Agent": "WooCommerce/11.0.1 Hookshot (WordPress/7.1)"}
            path = f"/webhooks/woocommerce/{store}"
        else:
            body = json.dumps({"events": next(self.server_events)}).encode()
            msg_id, stamp = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
                       "webhook-signature": standard_sign(self.plan["custom_secret"], msg_id,
                                                          stamp, body)}
            path = f"/webhooks/custom/{store}"
        return f"webhook {platform}", path, {**headers, "Content-Type": "application/json"}, body

    def beacon(self) -> tuple[dict[str, str], bytes]:
        """(headers, body) of the next `/collect` batch, as a browser's sendBeacon sends it."""
        store, domain = next(self.beacon_stores)
        body = json.dumps({"key": store, "events": next(self.beacons)}).encode()
        return {"Origin": f"https://{domain}", "User-Agent": BROWSER,
                "Content-Type": "text/plain;charset=UTF-8"}, body


def _batches(records: list[dict[str, Any]], identity: str, size: int
             ) -> Iterator[list[dict[str, Any]]]:
    """Consecutive records of one shopper (by `identity`), up to `size` at a time."""
    for _, group in itertools.groupby(sorted(records, key=lambda r: (
            r["identities"].get(identity, ""), r["occurred_at"])),
            key=lambda r: r["identities"].get(identity, "")):
        items = list(group)
        for start in range(0, len(items), size):
            yield items[start:start + size]


# -- the load generator (its own process) ------------------------------------------------------
def _percentile(ordered: list[float], share: float) -> float | None:
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2) if ordered \
        else None


def generate() -> None:
    """The load process: the plan as JSON on stdin; "started" then the figures on stdout.

    Run as `python -c "import locust; from parcours.bench.load import generate; generate()"`:
    importing locust first lets gevent patch the standard library before anything uses it."""
    import gevent
    from locust import HttpUser, constant_throughput, task
    from locust.env import Environment

    plan = json.loads(sys.stdin.read())
    traffic = Traffic(plan)
    users, rates = plan["users"], plan["rates"]
    acked: Counter[str] = Counter()  # deliveries stored new, what the inbox must end with
    latencies: dict[str, list[float]] = {}
    failures: dict[str, Counter[str]] = {}
    measuring = False

    def on_request(name: str, response_time: float, exception: Exception | None,
                   **_: Any) -> None:
        if not measuring:
            return
        latencies.setdefault(name, []).append(response_time)
        if exception is not None:
            failures.setdefault(name, Counter())[str(exception)[:200]] += 1

    def expect(response: Any, status: int, kind: str | None = None) -> None:
        """Fail the request unless `status`; count a new delivery under `kind`."""
        if response.status_code != status:
            response.failure(f"{response.status_code}: {response.text[:120]}")
            return
        if kind is not None and not response.json()["duplicate"]:
            acked[kind] += 1
        response.success()

    class WebhookSender(HttpUser):
        fixed_count = users["webhooks"]
        wait_time = constant_throughput(rates["webhooks"] / users["webhooks"])

        @task
        def deliver(self) -> None:
            name, path, headers, body = traffic.webhook()
            with self.client.post(path, data=body, headers=headers, name=name,
                                  catch_response=True) as response:
                expect(response, 200, "webhooks")

    class Storefront(HttpUser):
        fixed_count = users["collect"]
        wait_time = constant_throughput(rates["collect"] / users["collect"])

        @task
        def beacon(self) -> None:
            headers, body = traffic.beacon()
            with self.client.post("/collect", data=body, headers=headers, name="collect",
                                  catch_response=True) as response:
                expect(response, 202, "collect")

    class DashboardReader(HttpUser):
        fixed_count = users["dashboard"]
        wait_time = constant_throughput(rates["dashboard"] / users["dashboard"])

        def on_start(self) -> None:
            form = self.client.get("/dashboard/login", name="login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            self.client.post("/dashboard/login", name="login", data={
                "email": USER, "password": plan["password"], "csrf": csrf[1] if csrf else ""})
            self.reads = itertools.cycle(READS)
            self.client.headers["Authorization"] = f"Bearer {plan['api_key']}"

        @task
        def read(self) -> None:
            name, path = next(self.reads)
            store = random.choice(list(STORES.values()))[0]
            with self.client.get(path.format(store=store), name=name, catch_response=True,
                                 allow_redirects=False) as response:
                expect(response, 200)

    env = Environment(user_classes=[WebhookSender, Storefront, DashboardReader],
                      host=plan["base_url"])
    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]  # unannotated
    runner = env.create_local_runner()
    print("started", flush=True)
    total = sum(users.values())
    runner.start(total, spawn_rate=total)
    gevent.sleep(plan["warmup"])
    measuring, started = True, time.monotonic()
    gevent.sleep(plan["seconds"] - plan["warmup"])
    elapsed = time.monotonic() - started
    runner.quit()
    requests = {}
    for name, values in sorted(latencies.items()):
        ordered, errors = sorted(values), sum(failures.get(name, Counter()).values())
        requests[name] = {"requests": len(ordered),
                          "throughput_rps": round(len(ordered) / elapsed, 2),
                          "p50_ms": _percentile(ordered, 0.5),
                          "p99_ms": _percentile(ordered, 0.99), "max_ms": round(ordered[-1], 1),
                          "errors": errors, "error_rate": round(errors / len(ordered), 5)}
    print(json.dumps({"requests": requests, "measured_seconds": round(elapsed, 1),
                      "acked": dict(acked),
                      "failures": {name: dict(found.most_common(5))
                                   for name, found in failures.items()}}), flush=True)


# -- this process: the servers, the samples, the verdict ---------------------------------------
def _seed(db: Database, keys: str) -> dict[str, str]:
    """The run's stores, webhook secrets, dashboard user and API key; what the clients need."""
    secrets = {"custom_secret": CustomAdapter().new_secret(),
               "password": uuid.uuid4().hex, "api_key": ""}
    vault = Vault(keys)
    with db.write() as conn:
        for platform, (key, domain) in STORES.items():
            create_store(conn, key, account=ACCOUNT, platform=platform, domain=domain)
        set_secret(conn, vault, get_store(conn, STORES["woocommerce"][0]).id, WOO_SECRET)
        set_secret(conn, vault, get_store(conn, STORES["custom"][0]).id,
                   secrets["custom_secret"])
        add_user(conn, USER, secrets["password"], account=ACCOUNT, now=datetime.now(UTC))
        secrets["api_key"] = create_api_key(conn, ACCOUNT, name="load")
    return secrets


def _split(users: int, rate: float) -> tuple[dict[str, int], dict[str, float]]:
    """Users and requests/s of each kind of client, by `SHARES` (at least one user each)."""
    counts = {kind: max(1, round(users * share)) for kind, share in SHARES.items()}
    return counts, {kind: rate * share for kind, share in SHARES.items()}


class Sampler(threading.Thread):
    """Every `SAMPLE_EVERY` s: the RSS of each Parcours process and the inbox backlog; and each
    process's CPU time, to tell Parcours' share of a busy machine."""

    def __init__(self, db: Database, roots: dict[str, tuple[int, str]]) -> None:
        """`roots`: label -> (pid, label of its children, e.g. gunicorn's workers)."""
        super().__init__(daemon=True)
        self.db, self.roots = db, roots
        self.rss: dict[str, list[tuple[float, float]]] = {}  # label -> (time, MB)
        self.cpu_seconds: dict[str, float] = {}
        self.backlog: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def processes(self) -> dict[str, psutil.Process]:
        found = {}
        for label, (pid, children) in self.roots.items():
            root = psutil.Process(pid)
            found[label] = root
            for child in root.children(recursive=True):
                found[f"{children} {child.pid}"] = child
        return found

    def sample(self) -> None:
        now = time.monotonic()
        for label, process in self.processes().items():
            try:
                rss, cpu = process.memory_info().rss / 2**20, process.cpu_times()
            except psutil.NoSuchProcess:  # a gunicorn worker replaced: a new label follows
                continue
            self.rss.setdefault(label, []).append((now, rss))
            self.cpu_seconds[label] = round(cpu.user + cpu.system, 1)
        self.backlog.append((now, float(pending_count(self.db))))

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(SAMPLE_EVERY)


def _trend(points: list[tuple[float, float]], warm: float, end: float) -> dict[str, Any]:
    """One series: first value, at the warm-up's end, at the load's end, maximum, the growth
    between the last two (and its slope, least squares, per minute), and a few points."""
    during = [p for p in points if p[0] <= end] or points
    steady = [p for p in during if p[0] >= warm] or during[-1:]
    first, last = steady[0][1], during[-1][1]
    slope = statistics.linear_regression([p[0] for p in steady], [p[1] for p in steady]
                                         ).slope * 60 if len(steady) > 2 else 0.0
    step = max(1, math.ceil(len(during) / SERIES_POINTS))
    return {"start": round(during[0][1], 1), "after_warmup": round(first, 1),
            "end": round(last, 1), "max": round(max(p[1] for p in during), 1),
            "growth": round(last - first, 1),
            "growth_pct": round(100 * (last - first) / first, 1) if first else None,
            "slope_per_min": round(slope, 2),
            "series": [round(p[1], 1) for p in during[::step]]}


def _drain(db: Database, acked: int, since: float) -> dict[str, Any]:
    """Wait until no inbox row is pending, then compare the rows with the deliveries acked.
    Rows keyed `parcours:` are Parcours' own facts (a review request sent), counted apart."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while pending_count(db) and time.monotonic() < deadline:
        time.sleep(1)
    waited = time.monotonic() - since
    own = t.inbox.c.delivery_key.like("parcours:%")
    rows: dict[str, dict[str, int]] = {"deliveries": {}, "parcours_own": {}}
    with db.read() as conn:
        for is_own, status, count in conn.execute(select(own, t.inbox.c.status, func.count())
                                                  .group_by(own, t.inbox.c.status)):
            rows["parcours_own" if is_own else "deliveries"][status] = int(count)
    return {"acked": acked, **rows, "seconds_after_load": round(waited, 1),
            "all_processed": rows["deliveries"] == {"done": acked}
            and set(rows["parcours_own"]) <= {"done"}}


def _log_errors(path: Path) -> dict[str, Any]:
    """Tracebacks and error lines in a process's stderr, and the first of them."""
    lines = [line for line in path.read_text(errors="replace").splitlines()
             if re.search(r"Traceback|ERROR|CRITICAL|WORKER TIMEOUT", line)]
    return {"count": len(lines), "first": lines[0][:300] if lines else None}


def _start(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "parcours.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)


def _database(backend: str, folder: Path, database_url: str | None) -> Database:
    """A new, migrated database: a file in `folder`, or the PostgreSQL one emptied."""
    if backend == "sqlite":
        db = Database(f"sqlite:///{folder / 'parcours.db'}")
        db.upgrade()
        return db
    return postgres_backend(database_url or os.environ.get("PARCOURS_BENCH_DATABASE_URL")
                            or DEFAULT_PG_URL).fresh()


def _load(plan: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run the load process; its figures, and when its load began (this process's clock)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import locust; from parcours.bench.load import generate; "
                               "generate()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(plan))
    child.stdin.close()
    if child.stdout.readline().strip() != "started":
        raise RuntimeError("the load process did not start (see its output above)")
    began = time.monotonic()
    output = child.stdout.read()
    if child.wait() != 0 or not output.strip():
        raise RuntimeError(f"the load process failed with {child.returncode}")
    return json.loads(output.strip().splitlines()[-1]), began


def run(minutes: float = 10.0, users: int = 20, rate: float = 20.0, backend: str = "sqlite",
        database_url: str | None = None, redis_url: str | None = None,
        server_workers: int = 2) -> dict[str, Any]:
    """Start Parcours on a new database, load it for `minutes`, and report (JSON-able)."""
    seconds = minutes * 60
    warmup = min(60.0, seconds / 4)
    counts, rates = _split(users, rate)
    started_at, load_before = datetime.now(UTC), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="parcours-load-") as name:
        folder = Path(name)
        db = _database(backend, folder, database_url)
        url = db.engine.url.render_as_string(hide_password=False)
        keys = generate_key()
        secrets = _seed(db, keys)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PARCOURS_DATABASE_URL": url, "PARCOURS_SECRET_KEYS": keys,
               "PARCOURS_INSTANCE_PATH": str(folder / "instance"), "PARCOURS_PUBLIC_URL": base,
               "PARCOURS_SHOPIFY_API_SECRET": SECRET, **LOOPBACK_LIMITS}
        env.pop("PARCOURS_REDIS_URL", None)
        if backend == "postgres":
            env["PARCOURS_REDIS_URL"] = (redis_url or os.environ.get("PARCOURS_BENCH_REDIS_URL")
                                         or DEFAULT_REDIS_URL)
        with open(folder / "server.log", "wb") as server_log, \
                open(folder / "worker.log", "wb") as worker_log:
            server = _start(["serve", "--port", str(port), "--workers", str(server_workers)],
                            env, server_log)
            worker = _start(["worker"], env, worker_log)
            try:
                wait_healthy(f"{base}/healthz", [server, worker], seconds=60)
                sampler = Sampler(db, {"app master": (server.pid, "app worker"),
                                       "job worker": (worker.pid, "job worker child")})
                sampler.start()
                plan = {"base_url": base, "seconds": seconds, "warmup": warmup,
                        "users": counts, "rates": rates, "shoppers": max(200, int(seconds * rate)),
                        **secrets}
                load, began = _load(plan)
                ended = time.monotonic()
                drain = _drain(db, sum(load["acked"].values()), ended)
                sampler.stopped.set()
                sampler.join()
                alive = {"app master": server.poll() is None, "job worker": worker.poll() is None}
            finally:
                stop(server)
                stop(worker)
        logs = {"server": _log_errors(folder / "server.log"),
                "worker": _log_errors(folder / "worker.log")}
        db.engine.dispose()
    warm = began + warmup
    memory = {label: _trend(points, warm, ended) for label, points in sampler.rss.items()}
    requests = load["requests"]
    total = sum(r["requests"] for r in requests.values())
    errors = sum(r["errors"] for r in requests.values())
    backlog = _trend(sampler.backlog, warm, ended)
    return {
        "benchmark": "load", "machine": machine(), "started_at": started_at.isoformat(),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "backend": backend, "queue": "redis" if backend == "postgres" else "sqlite",
        "app_server_workers": server_workers, "job_workers": 1,
        "minutes": minutes, "warmup_seconds": warmup, "measured_seconds": load["measured_seconds"],
        "users": counts, "target_rps": {k: round(v, 2) for k, v in rates.items()},
        "collect_limits": {k.removeprefix("PARCOURS_"): float(v)
                           for k, v in LOOPBACK_LIMITS.items()},
        "requests": requests,
        "total": {"requests": total, "errors": errors,
                  "throughput_rps": round(total / load["measured_seconds"], 2),
                  "error_rate": round(errors / total, 5) if total else None},
        "failures": load["failures"],
        "inbox_backlog": backlog, "drain": drain,
        "memory_mb": memory, "cpu_seconds": sampler.cpu_seconds,
        "processes_alive_at_end": alive, "log_errors": logs,
        "aim": AIM,
        "verdict": {
            "errors": bool(total) and errors / total <= AIM["error_rate"],
            "drained": drain["all_processed"],
            "memory_flat": all(m["growth"] <= AIM["memory_growth_mb"]
                               or (m["growth_pct"] or 0) <= AIM["memory_growth_pct"]
                               for m in memory.values())},
    }
