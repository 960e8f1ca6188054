"""The `parcours` command: serve, work, demo, and administer stores, keys, events and KPIs.

Every command builds the app from the environment (`PARCOURS_*`), so the CLI, the server and
the workers always agree on the database and the queue.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click
from flask import Flask

from parcours import reports
from parcours.accounts import (
    create_api_key,
    create_store,
    get_store,
    list_stores,
    remove_store,
    revoke_api_key,
)
from parcours.db import Database
from parcours.errors import ParcoursError, ValidationError
from parcours.events import load_event
from parcours.recorder import record

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns ParcoursError into a one-line message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ParcoursError as exc:
            raise click.ClickException(str(exc)) from None


def _app(check: bool = True) -> Flask:
    from parcours.app import create_app

    app = create_app()
    if check:
        _db(app).check()
    return app


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group(cls=_Group)
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
    database = _db(_app(check=False))
    database.upgrade()
    click.echo(f"database ready: {database.url}")


# -- processes ----------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn processes")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with gunicorn."""
    _app()  # fail fast and clearly when the database is not usable
    from parcours.server import run_gunicorn

    run_gunicorn(host, port, workers)


@main.command()
@click.option("--workers", default=2, show_default=True, type=int, help="threads")
def worker(workers: int) -> None:
    """Run a job worker (any number may run, on any machine sharing the database)."""
    app = _app()
    jobs = app.extensions["parcours.jobs"]
    jobs.check()
    click.echo(f"worker on {_db(app).url}")
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

    run_demo(_app(check=False), host, port, seed, shoppers)


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
def stores_add(key: str, account: str, platform: str, name: str | None,
               domain: str | None) -> None:
    with _db(_app()).write() as conn:
        store = create_store(conn, key, account=account, platform=platform, name=name,
                             domain=domain)
    click.echo(f"store {store.key} added ({store.platform}, account {store.account})")


@stores.command("list")
@click.option("--json", "as_json", is_flag=True)
def stores_list(as_json: bool) -> None:
    with _db(_app()).read() as conn:
        found = list_stores(conn)
    if as_json:
        _echo_json([s.__dict__ for s in found])
        return
    for s in found:
        click.echo(f"{s.key:24} {s.platform:12} {s.account:20} {s.name}")


@stores.command("remove")
@click.argument("key")
@click.confirmation_option(prompt="Delete this store and all its data?")
def stores_remove(key: str) -> None:
    with _db(_app()).write() as conn:
        remove_store(conn, key)
    click.echo(f"store {key} removed")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--account", required=True)
@click.option("--name", default="default")
def keys_create(account: str, name: str) -> None:
    """Print a new key (shown once)."""
    with _db(_app()).write() as conn:
        click.echo(create_api_key(conn, account, name))


@keys.command("revoke")
@click.argument("key_or_prefix")
def keys_revoke(key_or_prefix: str) -> None:
    with _db(_app()).write() as conn:
        revoke_api_key(conn, key_or_prefix)
    click.echo("revoked")


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
    app = _app()
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
    with _db(app).write() as conn:
        result = record(conn, get_store(conn, store_key), parsed)
    click.echo(f"{result.recorded} events recorded, {result.duplicates} already known")


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


@main.command()
@click.argument("store")
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD")
@click.option("--to", "end", default=None, help="last day, YYYY-MM-DD (default: today)")
@click.option("--json", "as_json", is_flag=True)
def kpis(store: str, start: str | None, end: str | None, as_json: bool) -> None:
    """KPIs and funnel of STORE (default period: the last 30 days)."""
    last = _day(end) or datetime.now(UTC).date()
    period = reports.Period(_day(start) or last - timedelta(days=29), last)
    with _db(_app()).read() as conn:
        ref = get_store(conn, store)
        data = {"kpis": reports.kpis(conn, ref, period),
                "funnel": reports.funnel(conn, ref, period)}
    if as_json:
        _echo_json(data)
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


@bench.command("engine")
@click.option("--events", "count", default=100_000, show_default=True, type=int)
@click.option("--batch", default=2_000, show_default=True, type=int)
@click.option("--backend", "backends", multiple=True, default=("sqlite", "postgres"),
              show_default=True, type=click.Choice(["sqlite", "postgres"]))
@click.option("--json", "as_json", is_flag=True, help="JSON output (the only format)")
def bench_engine(count: int, batch: int, backends: tuple[str, ...], as_json: bool) -> None:
    """Events/s through the engine and storage, against a bare bulk INSERT."""
    from parcours.bench.engine import run

    _echo_json(run(events=count, batch=batch, backends=backends))


if __name__ == "__main__":
    sys.exit(main())
