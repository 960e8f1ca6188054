"""`parcours inbox|normalize|webhooks|privacy|secrets`: operate the ingestion path.

These are the tools support needs when a merchant says "my orders are missing": is the
signature right, what did the delivery contain, what did it become, and run it again.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from parcours.accounts import get_store
from parcours.adapters.base import adapter_for, lower_headers
from parcours.cli_support import database, echo_json, load_app
from parcours.credentials import Vault, generate_key, rotate_all, set_secret
from parcours.errors import ValidationError
from parcours.inbox import STATUSES, list_entries, normalize_body, replay
from parcours.privacy import (
    Subject,
    data_request,
    get_export,
    purge_due,
    redact_customer,
)
from parcours.uninstall import uninstall_store

PLATFORMS = click.Choice(["shopify", "woocommerce", "custom"])


def read_delivery(path: Path) -> tuple[dict[str, str], bytes]:
    """(lower-cased headers, raw body) of FILE: an envelope {"headers", "body"} or a raw body."""
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except ValueError:
        return {}, raw
    if isinstance(data, dict) and isinstance(data.get("headers"), dict) \
            and isinstance(data.get("body"), str):
        return lower_headers({str(k): str(v) for k, v in data["headers"].items()}), \
            data["body"].encode()
    return {}, raw


# -- inbox --------------------------------------------------------------------------------------
@click.group()
def inbox() -> None:
    """Deliveries received: list them, replay them."""


@inbox.command("list")
@click.option("--store", default=None)
@click.option("--failed", is_flag=True, help="only the failed ones (same as --status failed)")
@click.option("--status", default=None, type=click.Choice(STATUSES))
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def inbox_list(store: str | None, failed: bool, status: str | None, limit: int,
               as_json: bool) -> None:
    """The newest deliveries first, with their status and, when failed, why."""
    with database(load_app()).read() as conn:
        found = list_entries(conn, store=store, status="failed" if failed else status,
                             limit=limit)
    if as_json:
        echo_json([entry.to_dict() for entry in found])
        return
    for e in found:
        click.echo(f"{e.id:>8} {e.received_at:%Y-%m-%d %H:%M:%S} {e.store or '-':16} "
                   f"{e.source:11} {e.topic:32} {e.status:7} {e.attempts:>2}"
                   + (f"  {e.error}" if e.error else ""))


@inbox.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="every failed row (of --store)")
@click.option("--store", default=None)
def inbox_replay(ids: tuple[int, ...], failed: bool, store: str | None) -> None:
    """Process rows IDS (or every failed row) again; events are never recorded twice."""
    app = load_app()
    with database(app).write() as conn:
        count = replay(conn, ids=ids, failed=failed, store=store)
    app.extensions["parcours.jobs"].wake()
    click.echo(f"{count} deliveries queued again")


# -- normalize and verify -----------------------------------------------------------------------
@click.command()
@click.option("--platform", required=True, type=PLATFORMS)
@click.option("--topic", default=None, help="default: the topic header of an envelope")
@click.option("--store", default="store", show_default=True, help="store key put on events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def normalize(platform: str, topic: str | None, store: str, file: Path) -> None:
    """Print the canonical events of a delivery FILE (raw body or envelope) as JSON lines.

    Lifecycle actions (privacy requests, uninstall, storefront facts) go to stderr.
    """
    adapter = adapter_for(platform)
    headers, body = read_delivery(file)
    topic = topic or (adapter.topic(headers) if headers else "")
    if not topic:
        raise click.UsageError("--topic is required: the file is not an envelope naming it")
    try:
        result = normalize_body(platform, store, topic, body)
    except ValidationError as exc:
        raise ValidationError(f"{file}: {exc} {json.dumps(exc.errors, default=str)}") from None
    for event in result.events:
        click.echo(json.dumps({**event.to_dict(), "id": event.id}, default=str))
    for action in result.actions:
        click.echo(f"action: {type(action).__name__} {action}", err=True)
    if not result.events and not result.actions:
        click.echo(f"topic {topic!r}: no event (kept, nothing to record)", err=True)


@click.group()
def webhooks() -> None:
    """Webhook signatures."""


@webhooks.command("verify")
@click.option("--platform", required=True, type=PLATFORMS)
@click.option("--secret", "secrets", multiple=True, required=True,
              help="repeat for each secret in use (rotation)")
@click.option("--store", default="store", show_default=True, help="for the dedupe key")
@click.option("--at", "at", default=None, type=float,
              help="Unix time to check a signed timestamp against (default: now)")
@click.argument("envelope", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def webhooks_verify(platform: str, secrets: tuple[str, ...], store: str, at: float | None,
                    envelope: Path) -> None:
    """Does ENVELOPE ({"headers", "body"}) verify? Exit 0 only when it does."""
    adapter = adapter_for(platform)
    headers, body = read_delivery(envelope)
    if not headers:
        raise click.UsageError(f"{envelope} is not an envelope with 'headers' and 'body'")
    if adapter.ping_id(headers, body) is not None:
        click.echo("an unsigned creation ping: acknowledged, never recorded as an event")
        raise SystemExit(1)
    verdict = adapter.verify(headers, body, list(secrets), now=at)
    click.echo(f"topic: {adapter.topic(headers) or '-'}")
    click.echo(f"dedupe key: {adapter.delivery_key(store, headers, body)}")
    if not verdict.ok:
        click.echo(f"signature: REJECTED ({verdict.reason})")
        raise SystemExit(1)
    click.echo("signature: ok")


# -- privacy ------------------------------------------------------------------------------------
def _subject(email: str | None, customer_id: str | None, phone: str | None,
             orders: tuple[str, ...]) -> Subject:
    if not (email or customer_id or orders):
        raise click.UsageError("name the customer: --email, --customer-id or --order")
    return Subject(customer_id=customer_id, email=email, phone=phone, order_ids=orders)


def _subject_options(command: Any) -> Any:
    for option in (click.option("--order", "orders", multiple=True, help="an order id"),
                   click.option("--phone", default=None),
                   click.option("--customer-id", default=None),
                   click.option("--email", default=None)):
        command = option(command)
    return command


@click.group()
def privacy() -> None:
    """Data subjects' requests: export and redaction (all platforms)."""


@privacy.command("export")
@click.argument("store")
@_subject_options
def privacy_export(store: str, email: str | None, customer_id: str | None,
                   phone: str | None, orders: tuple[str, ...]) -> None:
    """Print, as JSON, everything held on one customer of STORE."""
    subject = _subject(email, customer_id, phone, orders)
    with database(load_app()).write() as conn:
        ref = get_store(conn, store)
        request_id = data_request(conn, ref, subject, now=datetime.now(UTC))
        echo_json({"request": request_id, "export": get_export(conn, ref, request_id)})


@privacy.command("redact")
@click.argument("store")
@_subject_options
@click.confirmation_option(prompt="Remove this customer's personal data everywhere?")
def privacy_redact(store: str, email: str | None, customer_id: str | None,
                   phone: str | None, orders: tuple[str, ...]) -> None:
    """Remove one customer's personal data from everything STORE holds (not undoable)."""
    subject = _subject(email, customer_id, phone, orders)
    with database(load_app()).write() as conn:
        echo_json(redact_customer(conn, get_store(conn, store), subject,
                                  now=datetime.now(UTC)))


@privacy.command("uninstall")
@click.argument("store")
@click.option("--now", "at_once", is_flag=True, help="delete the data at the next purge")
def privacy_uninstall(store: str, at_once: bool) -> None:
    """Forget STORE's credentials now; delete its data after the retention (or at once)."""
    app = load_app()
    days = 0 if at_once else int(app.config["UNINSTALL_RETENTION_DAYS"])
    for note in uninstall_store(database(app), app.extensions["parcours.vault"], app.config,
                                store, after=timedelta(days=days), now=datetime.now(UTC)):
        click.echo(f"{store}: {note}")
    click.echo(f"{store}: credentials dropped; data deleted in {days} day(s)")


@privacy.command("purge")
def privacy_purge() -> None:
    """Delete now what is due (the hourly job does the same): stores past their deletion date
    with all their data, old done deliveries, old exports. Prints the counts (JSON)."""
    app = load_app()
    with database(app).write() as conn:
        echo_json(purge_due(conn, now=datetime.now(UTC)))


# -- secrets ------------------------------------------------------------------------------------
@click.group()
def secrets() -> None:
    """Encryption keys and webhook secrets."""


@secrets.command("new-key")
def secrets_new_key() -> None:
    """Print a new key for PARCOURS_SECRET_KEYS."""
    click.echo(generate_key())


@secrets.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every credential with the first key of PARCOURS_SECRET_KEYS."""
    app = load_app()
    vault: Vault = app.extensions["parcours.vault"]
    with database(app).write() as conn:
        click.echo(f"{rotate_all(conn, vault)} credentials re-encrypted")


@secrets.command("webhook")
@click.argument("store")
@click.option("--keep-previous", default=24.0, show_default=True, type=float,
              help="hours the replaced secret stays valid")
@click.option("--from-stdin", is_flag=True, help="read the secret from stdin, else generate")
def secrets_webhook(store: str, keep_previous: float, from_stdin: bool) -> None:
    """Set STORE's webhook signing secret (WooCommerce, custom); prints a generated one."""
    app = load_app()
    with database(app).write() as conn:
        ref = get_store(conn, store)
        adapter = adapter_for(ref.platform)
        if adapter.app_signed:
            raise ValidationError(f"{ref.platform} deliveries are signed with the app's secret "
                                  f"(PARCOURS_{ref.platform.upper()}_API_SECRET), not per store")
        value = sys.stdin.read().strip() if from_stdin else adapter.new_secret()
        if not value:
            raise ValidationError("empty secret", {"secret": ["read nothing from stdin"]})
        set_secret(conn, app.extensions["parcours.vault"], ref.id, value,
                   keep_previous=timedelta(hours=keep_previous))
    click.echo(value if not from_stdin else f"{store}: secret set")


COMMANDS: tuple[click.Command, ...] = (inbox, normalize, webhooks, privacy, secrets)
