"""The `parcours` command: serve, work, demo, and administer stores, keys, events and KPIs.

Every command builds the app from the environment (`PARCOURS_*`), so the CLI, the server and
the workers always agree on the database and the queue.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from parcours import reports
from parcours.access import select_stores
from parcours.accounts import create_store, get_store, remove_store
from parcours.adapters.base import StoreAccess, adapter_for, adapters
from parcours.cli_access import COMMANDS as ACCESS_COMMANDS
from parcours.cli_access import SELECTOR_HELP, STORE_COMMANDS, audit_commands, period_of
from parcours.cli_config import config
from parcours.cli_docs import api_docs
from parcours.cli_reviews import reviews
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.cli_users import users
from parcours.cli_webhooks import COMMANDS
from parcours.errors import ValidationError
from parcours.events import load_event
from parcours.recorder import legacy_profiles, profile_ids, record, refold
from parcours.widgets.cli import widgets


@click.group(cls=ParcoursGroup)
@click.version_option(package_name="parcours")
def main() -> None:
    """Parcours: follow every shopper through the customer journey."""


# -- database -----------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    target = database(load_app(check=False))
    target.upgrade()
    click.echo(f"database ready: {target.url}")


# -- processes ----------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn processes")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn."""
    load_app()  # fail fast and clearly when the database is not usable
    from parcours.server import run_gunicorn

    run_gunicorn(host, port, workers)


@main.command()
@click.option("--workers", default=2, show_default=True, type=int, help="threads")
def worker(workers: int) -> None:
    """Run a job worker (any number may run, on any machine sharing the database)."""
    app = load_app()
    jobs = app.extensions["parcours.jobs"]
    jobs.check()
    click.echo(f"worker on {database(app).url}")
    jobs.wake()  # catch up at once on rows left pending while no worker ran
    jobs.consumer(workers=workers).run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--shoppers", default=1500, show_default=True, type=int)
def demo(host: str, port: int, seed: int, shoppers: int) -> None:
    """Server + worker + simulated shoppers for the store `demo`, until Ctrl-C."""
    from parcours.server import run_demo

    run_demo(load_app(check=False), host, port, seed, shoppers)


# -- stores and keys ----------------------------------------------------------------------------
@main.group()
def stores() -> None:
    """Stores."""


@stores.command("add")
@click.argument("key")
@click.option("--account", required=True, help="owning account (created if new)")
@click.option("--platform", default="custom", show_default=True,
              type=click.Choice(["shopify", "woocommerce", "custom"]))
@click.option("--name", default=None)
@click.option("--domain", default=None)
@click.option("--url", default=None, help="WooCommerce: the store's address (https)")
@click.option("--key", "consumer_key", default=None, help="WooCommerce: consumer key (ck_...)")
@click.option("--secret", "consumer_secret", default=None,
              help="WooCommerce: consumer secret (cs_...); read from stdin when '-'")
def stores_add(key: str, account: str, platform: str, name: str | None, domain: str | None,
               url: str | None, consumer_key: str | None, consumer_secret: str | None) -> None:
    """Add the store KEY; a WooCommerce store with existing REST keys is connected and set up
    at once (the keys are checked with the store first)."""
    app = load_app()
    if url or consumer_key or consumer_secret:
        if not (url and consumer_key and consumer_secret):
            raise click.UsageError("--url, --key and --secret go together")
        if consumer_secret == "-":
            consumer_secret = sys.stdin.readline().strip()
        access = StoreAccess(key, database(app), app.extensions["parcours.vault"], app.config)
        for line in adapter_for(platform).connect_with_keys(
                access, account=account, url=url, consumer_key=consumer_key,
                consumer_secret=consumer_secret):
            click.echo(line)
        return
    with database(app).write() as conn:
        store = create_store(conn, key, account=account, platform=platform, name=name,
                             domain=domain)
    click.echo(f"store {store.key} added ({store.platform}, account {store.account})")


@stores.command("list")
@click.option("--stores", "selector", default=None, help=SELECTOR_HELP)
@click.option("--json", "as_json", is_flag=True)
def stores_list(selector: str | None, as_json: bool) -> None:
    """The stores (those the selector names), with their account and tags."""
    with database(load_app()).read() as conn:
        found = select_stores(conn, selector)
    if as_json:
        echo_json([s.__dict__ for s in found])
        return
    for s in found:
        click.echo(f"{s.key:24} {s.platform:12} {s.account:20} {','.join(s.tags) or '-':16} "
                   f"{s.name}")


@stores.command("remove")
@click.argument("key")
@click.confirmation_option(prompt="Delete this store and all its data?")
def stores_remove(key: str) -> None:
    with database(load_app()).write() as conn:
        remove_store(conn, key)
    click.echo(f"store {key} removed")


# -- events and KPIs ----------------------------------------------------------------------------
@main.group()
def events() -> None:
    """Events."""


@events.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--store", "store_key", required=True)
def events_import(file: Any, store_key: str) -> None:
    """Import canonical events from a JSON-lines FILE, all or nothing.

    Every line is validated first; any bad line rejects the whole file, naming its line and
    field, and nothing is recorded.
    """
    app = load_app()
    parsed, errors = [], {}
    for number, line in enumerate(file, start=1):
        if not line.strip():
            continue
        try:
            parsed.append(load_event(store_key, json.loads(line)))
        except ValueError as exc:
            errors[f"line {number}"] = {"_json": [str(exc)]}
        except ValidationError as exc:
            errors[f"line {number}"] = exc.errors
    if errors:
        raise ValidationError(f"{file.name}: {len(errors)} bad line(s), nothing imported",
                              errors)
    with database(app).write() as conn:
        result = record(conn, get_store(conn, store_key), parsed)
    click.echo(f"{result.recorded} events recorded, {result.duplicates} already known")


@events.command("refold")
@click.argument("store_key", metavar="STORE")
@click.option("--all", "every", is_flag=True,
              help="every profile (after changing the store's journey rules), not only those "
                   "with journeys from before the insights rollups")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000))
def events_refold(store_key: str, every: bool, batch: int) -> None:
    """Rebuild STORE's journeys and rollups from its stored events, a batch per transaction.

    After an upgrade, profiles recorded before the insights rollups (segments, stage times,
    experiments) join them when they next change; this brings the dormant ones in at once.
    Safe to stop and run again: each batch is one transaction, and rollups are differences.
    """
    db = database(load_app())
    done = 0
    after = 0
    while True:
        with db.write() as conn:
            store = get_store(conn, store_key)
            ids = (profile_ids if every else legacy_profiles)(conn, store, after=after,
                                                              limit=batch)
            if not ids:
                break
            refold(conn, store, ids)
        done, after = done + len(ids), max(ids)
    click.echo(f"{done} profiles refolded")


@main.command()
@click.argument("store")
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD")
@click.option("--to", "end", default=None, help="last day, YYYY-MM-DD (default: today)")
@click.option("--json", "as_json", is_flag=True)
def kpis(store: str, start: str | None, end: str | None, as_json: bool) -> None:
    """KPIs and funnel of STORE (default period: the last 30 days)."""
    period = period_of(start, end)
    with database(load_app()).read() as conn:
        ref = get_store(conn, store)
        data = {"kpis": reports.kpis(conn, ref, period),
                "funnel": reports.funnel(conn, ref, period)}
    if as_json:
        echo_json(data)
        return
    click.echo(f"{store}  {period.start} .. {period.end}")
    for step in data["funnel"]["steps"]:
        rate = "" if step["conversion"] is None else f"{step['conversion']:.1%}"
        click.echo(f"  {step['stage']:12} {step['journeys']:>8}  {rate}")
    for name, value in data["kpis"].items():
        if name not in ("store", "period", "stage_distribution", "conversion"):
            click.echo(f"  {name:32} {value}")


# -- benchmarks ---------------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Benchmarks (print JSON)."""


@bench.command("scaleout")
@click.option("--deliveries", default=100_000, show_default=True, type=click.IntRange(min=10),
              help="deliveries posted, a tenth of them duplicates")
@click.option("--servers", default=2, show_default=True, type=click.IntRange(min=1),
              help="`parcours serve` processes (2 gunicorn workers each)")
@click.option("--workers", default=3, show_default=True, type=click.IntRange(min=1),
              help="`parcours worker` processes")
@click.option("--threads", default=16, show_default=True, type=click.IntRange(min=1),
              help="sender threads")
@click.option("--database-url", default=None, envvar="PARCOURS_BENCH_DATABASE_URL",
              help="PostgreSQL; created if missing, emptied (default: parcours_scaleout on "
                   "127.0.0.1:5432)")
@click.option("--single-database-url", default=None,
              help="the single-process run's PostgreSQL (default: the first one + _single)")
@click.option("--redis-url", default=None, envvar="PARCOURS_BENCH_REDIS_URL",
              help="its `parcours` queue is emptied (default: redis://127.0.0.1:6379/9)")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_scaleout(deliveries: int, servers: int, workers: int, threads: int,
                   database_url: str | None, single_database_url: str | None,
                   redis_url: str | None, seed: int, as_json: bool) -> None:
    """App servers and workers on PostgreSQL + Redis: every acked delivery processed once, the
    final state equal to a single process's."""
    from parcours.bench.scaleout import ok, run  # not on every `parcours` start

    services = {key: value for key, value in (("database_url", database_url),
                                              ("redis_url", redis_url)) if value}
    report = run(deliveries=deliveries, servers=servers, workers=workers, threads=threads,
                 single_database_url=single_database_url, seed=seed, **services)
    echo_json(report)
    if not ok(report):
        sys.exit(1)


@bench.command("engine")
@click.option("--events", "count", default=100_000, show_default=True, type=int)
@click.option("--batch", default=2_000, show_default=True, type=int)
@click.option("--backend", "backends", multiple=True, default=("sqlite", "postgres"),
              show_default=True, type=click.Choice(["sqlite", "postgres"]))
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_engine(count: int, batch: int, backends: tuple[str, ...], as_json: bool) -> None:
    """Events/s through the engine and storage, against a bare bulk INSERT."""
    from parcours.bench.engine import run

    echo_json(run(events=count, batch=batch, backends=backends))


@bench.command("ingest")
@click.option("--seconds", default=5.0, show_default=True, type=float, help="per phase")
@click.option("--concurrency", "concurrencies", multiple=True, type=int, default=(1, 4, 16),
              show_default=True)
@click.option("--rate", default=200.0, show_default=True, type=float,
              help="requests/s of the latency phase")
@click.option("--backend", "backends", multiple=True, default=("sqlite", "postgres"),
              show_default=True, type=click.Choice(["sqlite", "postgres"]))
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_ingest(seconds: float, concurrencies: tuple[int, ...], rate: float,
                 backends: tuple[str, ...], as_json: bool) -> None:
    """Webhook acks/s and latency of the real receiver against a bare 200 endpoint."""
    from parcours.bench.ingest import run

    echo_json(run(seconds=seconds, concurrencies=concurrencies, rate=rate, backends=backends))


@bench.command("load")
@click.option("--minutes", default=10.0, show_default=True, type=click.FloatRange(min=0.1))
@click.option("--users", default=20, show_default=True, type=click.IntRange(min=3),
              help="simulated clients (webhook senders, storefronts, dashboard readers)")
@click.option("--rate", default=20.0, show_default=True, type=click.FloatRange(min=0.1),
              help="requests/s of all clients together")
@click.option("--backend", default="sqlite", show_default=True,
              type=click.Choice(["sqlite", "postgres"]), help="postgres: with Redis")
@click.option("--database-url", default=None,
              help="PostgreSQL (default: PARCOURS_BENCH_DATABASE_URL, else "
                   "postgresql://postgres@127.0.0.1:5432/parcours_load); created, emptied")
@click.option("--redis-url", default=None,
              help="with postgres (default: PARCOURS_BENCH_REDIS_URL, else "
                   "redis://127.0.0.1:6379/0)")
@click.option("--server-workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="gunicorn processes")
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_load(minutes: float, users: int, rate: float, backend: str, database_url: str | None,
               redis_url: str | None, server_workers: int, as_json: bool) -> None:
    """Webhooks, /collect beacons and dashboard reads together at a constant rate: latency,
    errors, inbox backlog and memory of each process over time."""
    from parcours.bench.load import run

    echo_json(run(minutes=minutes, users=users, rate=rate, backend=backend,
                  database_url=database_url, redis_url=redis_url,
                  server_workers=server_workers))


@bench.command("faults")
@click.option("--scenario", "names", multiple=True, help="one of bench/faults.py's SCENARIOS "
              "(repeatable; default: all)")
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_faults(names: tuple[str, ...], as_json: bool) -> None:
    """Deliveries acked, lost and doubled, and recovery time, when processes, PostgreSQL,
    Redis, the disk or the clocks fail under load (private PostgreSQL and Redis)."""
    from parcours.bench.faults import SCENARIOS, run

    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not one of {', '.join(SCENARIOS)}",
                                 param_hint="--scenario")
    echo_json(run(list(names)))


@bench.command("reports")
@click.option("--events", "count", default=10_000_000, show_default=True,
              type=click.IntRange(min=1), help="events of the store (the largest scale)")
@click.option("--profiles", type=click.IntRange(min=1), default=None,
              help="profiles at --events (default: events / 10); scales keep the ratio")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1),
              help="days the events are spread over")
@click.option("--backend", default="both", show_default=True,
              type=click.Choice(["sqlite", "postgresql", "both"]))
@click.option("--database-url", default=None,
              help="PostgreSQL (default: PARCOURS_BENCH_DATABASE_URL, else "
                   "postgresql://postgres@127.0.0.1:5432/bench_reports); emptied")
@click.option("--scales", default=None,
              help="comma-separated store sizes to measure, e.g. 1000000,10000000")
@click.option("--repeat", default=20, show_default=True, type=click.IntRange(min=1),
              help="timed runs per report")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="processes simulating shoppers (default: cores - 1; 0: none)")
@click.option("--json", "as_json", is_flag=True, help="JSON output (else a short table)")
def bench_reports(count: int, profiles: int | None, days: int, backend: str,
                  database_url: str | None, scales: str | None, repeat: int, seed: int,
                  workers: int | None, as_json: bool) -> None:
    """Report latency on a generated store of millions of events, against a window-function
    funnel over the raw events (progress on stderr)."""
    from parcours.bench.reports import BACKENDS, BenchBusy, run, table

    try:
        sizes = [int(part.replace("_", "")) for part in scales.split(",")] if scales else None
    except ValueError:
        raise click.BadParameter("comma-separated whole numbers", param_hint="--scales") from None
    if sizes is not None and min(sizes) < 1:
        raise click.BadParameter("sizes must be positive", param_hint="--scales")
    try:
        report = run(events=max(sizes) if sizes else count, profiles=profiles, days=days,
                     backends=BACKENDS if backend == "both" else (backend,), scales=sizes,
                     repeat=repeat, database_url=database_url, seed=seed, workers=workers)
    except ValueError as exc:  # a workload that cannot be (fewer events than profiles)
        raise click.UsageError(str(exc)) from None
    except BenchBusy as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(report)
    else:
        click.echo(table(report))


@bench.command("sdk")
@click.option("--calls", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="track() calls per SDK")
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_sdk(calls: int, as_json: bool) -> None:
    """track() overhead and events/s of the Python SDK, beside Segment's SDK."""
    from parcours.bench.sdk import run

    echo_json(run(calls=calls))


@bench.command("widgets")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(min=0),
              help="Lighthouse runs per page and side (0: sizes only)")
@click.option("--page", default="both", show_default=True,
              type=click.Choice(["dawn", "storefront", "both"]))
@click.option("--keep-results", "keep", type=click.Path(file_okay=False),
              help="also save every raw Lighthouse result in this folder")
@click.option("--cpu-slowdown", type=click.FloatRange(min=1), default=None,
              help="Lighthouse's CPU slowdown instead of 4x, for a slower host (see its "
                   "BenchmarkIndex in the report)")
@click.option("--json", "as_json", is_flag=True, help="JSON output (else a short table)")
def bench_widgets(runs: int, page: str, keep: str | None, cpu_slowdown: float | None,
                  as_json: bool) -> None:
    """Script sizes against their budgets; Lighthouse score of the demo product page with and
    without Parcours (median of --runs each, alternating)."""
    from pathlib import Path

    from parcours.bench.widgets import PAGES, run, table

    report = run(runs=runs, pages=tuple(PAGES) if page == "both" else (page,),
                 keep=Path(keep) if keep else None, cpu_slowdown=cpu_slowdown)
    if as_json:
        echo_json(report)
    else:
        click.echo(table(report))


for _command in (*COMMANDS, *ACCESS_COMMANDS, widgets, reviews, users, config, api_docs):
    main.add_command(_command)
for _command in STORE_COMMANDS:
    stores.add_command(_command)
for _adapter in adapters():
    for _command in _adapter.commands():
        main.add_command(_command)
audit_commands(main)  # last: every changing command is registered by now

if __name__ == "__main__":
    sys.exit(main())
