"""`parcours reviews`: a store's review settings, requests, reviews, imports, exports and KPIs.

Like every `parcours` command: input is checked whole before anything changes, a refusal is one
line naming the field with exit code 1 (2 for a misused command line), and lists and reports
print JSON. Nothing printed holds a shopper's email address.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from parcours.accounts import get_store
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.errors import ValidationError
from parcours.review_admin import (
    REQUEST_STATUSES,
    load_review_settings,
    request_rows,
    save_settings,
)
from parcours.review_csv import export_csv, export_json, export_rows, import_reviews, parse_csv
from parcours.review_reports import ReviewPeriod, review_report
from parcours.review_requests import postpone, review_settings
from parcours.reviews import REJECTION_REASONS, moderate, reply, requeue_failed

__all__ = ["reviews"]


@click.group(cls=ParcoursGroup)
def reviews() -> None:
    """Review requests and reviews: settings, moderation, import, export and KPIs."""


def _now() -> datetime:
    return datetime.now(UTC)


@reviews.command("settings")
@click.argument("store")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def settings_command(store: str, file: Path) -> None:
    """Apply the review settings in FILE (JSON or TOML; docs/reviews.md) to STORE, then retime
    its open requests. Nothing changes unless the whole file is valid."""
    settings = load_review_settings(file)
    with database(load_app()).write() as conn:
        changed, retimed = save_settings(conn, get_store(conn, store).id, settings, _now())
    if not changed:
        click.echo(f"{store}: review settings unchanged")
        return
    click.echo(f"{store}: review settings saved, {retimed} open request(s) retimed")


@reviews.command("settings-show")
@click.argument("store")
def settings_show(store: str) -> None:
    """Print STORE's review settings (the defaults filled in) as JSON."""
    with database(load_app()).read() as conn:
        echo_json(review_settings(conn, get_store(conn, store).id).to_dict())


def _moment(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"invalid {name}", {name: [
            "an ISO 8601 time with its zone, e.g. 2026-05-01T09:00:00+02:00"]}) from None
    if moment.tzinfo is None:
        raise ValidationError(f"invalid {name}", {name: ["a time with its zone (+02:00, Z)"]})
    return moment


@reviews.command("postpone")
@click.argument("store")
@click.argument("order_id")
@click.option("--days", type=click.IntRange(1, 365), default=None, help="from now")
@click.option("--until", "until", default=None, help="ISO 8601 time with its zone")
def postpone_command(store: str, order_id: str, days: int | None, until: str | None) -> None:
    """Delay the review request of ORDER_ID (a return, a late delivery)."""
    if (days is None) == (until is None):
        raise click.UsageError("give either --days or --until")
    now = _now()
    moment = now + timedelta(days=days) if days is not None else _moment(str(until), "until")
    with database(load_app()).write() as conn:
        due = postpone(conn, get_store(conn, store).id, order_id, moment, now)
    click.echo(f"{store}: the request for order {order_id} is now due {due.isoformat()}")


@reviews.command("import")
@click.argument("store")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(store: str, file: Path) -> None:
    """Import reviews from a CSV FILE (columns: docs/reviews.md), all or nothing: any bad row
    rejects the whole file, naming its row and field. They are published like any review."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {file}", {"file": [str(exc)]}) from None
    parsed = parse_csv(data, name=str(file))
    app = load_app()
    with database(app).write() as conn:
        result = import_reviews(conn, get_store(conn, store).id, parsed)
    click.echo(f"{store}: {result.imported} review(s) imported, {result.skipped} already there")
    wake = app.extensions.get("parcours.reviews.publish")
    if result.imported and wake is not None:
        wake()


@reviews.command("export")
@click.argument("store")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="file to write (default: standard output)")
def export_command(store: str, fmt: str, output: Path | None) -> None:
    """Export every review of STORE (all columns, status and source; no email address)."""
    with database(load_app()).read() as conn:
        rows = export_rows(conn, get_store(conn, store).id)
    text = export_csv(rows) if fmt == "csv" else export_json(rows) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8", newline="")
    click.echo(f"{store}: {len(rows)} review(s) written to {output}", err=True)


@reviews.command("moderate")
@click.argument("store")
@click.argument("review_id", type=int)
@click.option("--status", required=True, type=click.Choice(["published", "rejected"]))
@click.option("--reason", type=click.Choice(REJECTION_REASONS), default=None,
              help="required to reject: spam and abuse only, never a rating")
def moderate_command(store: str, review_id: int, status: str, reason: str | None) -> None:
    """Publish a review, or reject it (withdrawn from the platform) for a reason."""
    app = load_app()
    with database(app).write() as conn:
        echo_json(moderate(conn, get_store(conn, store).id, review_id, status, reason))
    _wake(app)


@reviews.command("reply")
@click.argument("store")
@click.argument("review_id", type=int)
@click.argument("text")
def reply_command(store: str, review_id: int, text: str) -> None:
    """Set the store's public reply to a review (shown with it)."""
    app = load_app()
    with database(app).write() as conn:
        echo_json(reply(conn, get_store(conn, store).id, review_id, text))
    _wake(app)


@reviews.command("retry")
@click.argument("store")
def retry_command(store: str) -> None:
    """Try again to publish the reviews whose publication failed (after reconnecting)."""
    app = load_app()
    with database(app).write() as conn:
        count = requeue_failed(conn, get_store(conn, store).id)
    click.echo(f"{store}: {count} review(s) queued for publication")
    _wake(app)


def _wake(app: Any) -> None:
    wake = app.extensions.get("parcours.reviews.publish")
    if wake is not None:
        wake()


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"invalid {name}", {name: ["a day, YYYY-MM-DD"]}) from None


@reviews.command("kpis")
@click.argument("store")
@click.option("--since", default=None, help="first day, YYYY-MM-DD (default: 29 days ago)")
@click.option("--until", default=None, help="last day, YYYY-MM-DD (default: today)")
@click.option("--product", default=None, help="one product's KPIs")
def kpis_command(store: str, since: str | None, until: str | None, product: str | None
                 ) -> None:
    """Review KPIs of STORE as JSON: totals, per month, per product (docs/reviews.md)."""
    period = ReviewPeriod.of(_day(since, "since"), _day(until, "until"))
    with database(load_app()).read() as conn:
        ref = get_store(conn, store)
        echo_json({"store": store, **review_report(conn, ref.id, period, product)})


@reviews.command("requests")
@click.argument("store")
@click.option("--status", type=click.Choice(REQUEST_STATUSES), default=None)
def requests_command(store: str, status: str | None) -> None:
    """STORE's review requests as JSON (when due, sent, opened, answered; no email)."""
    with database(load_app()).read() as conn:
        echo_json(request_rows(conn, get_store(conn, store).id, status))
