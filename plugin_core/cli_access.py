"""`parcours accounts`, `keys`, `audit`, and the agency's store commands (`stores tag`,
`untag`, `kpis`): who may do what, on which stores, what changed, and every store side by side.

The CLI is the operator's: it reaches every store of every account (a selector names them,
access.select_stores). Every command that changes something is written to the audit log with
the operator as its actor (`cli:<PARCOURS_ACTOR or the OS user>`): `audit_commands` wraps the
commands listed in AUDITED once they are all registered, keeping only the parameters listed
there (never a secret, never a shopper's email).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click
from sqlalchemy import Connection, select

from parcours import audit, reports
from parcours import tables as t
from parcours.access import select_stores, tag_stores
from parcours.accounts import (
    KINDS,
    ROLES,
    account_id_of,
    create_api_key,
    ensure_account,
    list_api_keys,
    revoke_api_key,
)
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.cross_store import kpi_rows, kpi_table
from parcours.errors import ValidationError
from parcours.pagination import MAX_LIMIT, PageRequest

__all__ = ["AUDITED", "COMMANDS", "STORE_COMMANDS", "audit_commands", "period_of",
           "split_list"]

SELECTOR_HELP = ("stores: all, or a comma list of store keys, tag:<tag>, platform:<name>, "
                 "account:<name>")


def split_list(text: str) -> list[str]:
    """`a, b,c` -> ["a", "b", "c"] (an option of several values)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def period_of(start: str | None, end: str | None) -> reports.Period:
    """The period of `--from/--to` (YYYY-MM-DD): by default the 30 days up to `--to` or
    today; ValidationError naming the option for a bad day or a reversed period."""
    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError as exc:
        raise ValidationError("invalid period", {"from/to": [str(exc)]}) from None
    if first > last:
        raise ValidationError("invalid period", {"from": ["must not be after --to"]})
    return reports.Period(first, last)


# -- accounts --------------------------------------------------------------------------------
@click.group(cls=ParcoursGroup)
def accounts() -> None:
    """Accounts: a merchant owns its stores; an agency manages its clients' stores."""


@accounts.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default="merchant", show_default=True)
def accounts_add(name: str, kind: str) -> None:
    """Add the account NAME (or change its kind)."""
    with database(load_app()).write() as conn:
        ensure_account(conn, name, kind)
    click.echo(f"account {name} ({kind})")


# -- API keys --------------------------------------------------------------------------------
@click.group(cls=ParcoursGroup)
def keys() -> None:
    """API keys: each with a role, over every store of its account or some of them."""


@keys.command("create")
@click.argument("account", required=False)
@click.option("--account", "account_option", default=None, help="the same as ACCOUNT")
@click.option("--name", default="default")
@click.option("--role", type=click.Choice(ROLES), default="owner", show_default=True,
              help="analyst: reads only; admin: changes all but keys and uninstalls")
@click.option("--stores", default="", help="only these stores (comma-separated keys)")
@click.option("--tags", default="", help="only the stores with these tags (comma-separated); "
                                         "stores tagged later too")
def keys_create(account: str | None, account_option: str | None, name: str, role: str,
                stores: str, tags: str) -> None:
    """Print a new key of ACCOUNT (shown once: only its hash is kept)."""
    owner = account or account_option
    if not owner:
        raise click.UsageError("name the account: parcours keys create ACCOUNT")
    with database(load_app()).write() as conn:
        click.echo(create_api_key(conn, owner, name, role=role, stores=split_list(stores),
                                  tags=split_list(tags)))


def _scope_text(scope: dict[str, list[str]] | None) -> str:
    if scope is None:
        return "all stores"
    named = [*scope.get("stores", []), *(f"tag:{tag}" for tag in scope.get("tags", []))]
    return ",".join(named) or "no store"


@keys.command("list")
@click.argument("account", required=False)
@click.option("--json", "as_json", is_flag=True)
def keys_list(account: str | None, as_json: bool) -> None:
    """The keys (of ACCOUNT): prefix, name, role, scope, created, revoked; never a secret."""
    with database(load_app()).read() as conn:
        found = list_api_keys(conn, None if account is None else account_id_of(conn, account))
    if as_json:
        echo_json([key.__dict__ for key in found])
        return
    for key in found:
        revoked = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"prc_{key.prefix}  {key.account:16} {key.name:16} {key.role:8} "
                   f"{_scope_text(key.scope):24} {key.created_at:%Y-%m-%d}  {revoked}")


@keys.command("revoke")
@click.argument("key_or_prefix")
def keys_revoke(key_or_prefix: str) -> None:
    """Revoke a key (the whole key, or its prefix): refused at its next request."""
    with database(load_app()).write() as conn:
        revoke_api_key(conn, key_or_prefix)
    click.echo("revoked")


# -- stores: tags and side by side ------------------------------------------------------------
@click.command("tag")
@click.argument("store")
@click.argument("tags", nargs=-1, required=True)
def stores_tag(store: str, tags: tuple[str, ...]) -> None:
    """Tag STORE with TAGS (lower-case, like store keys): scopes and selectors name them."""
    with database(load_app()).write() as conn:
        after = tag_stores(conn, [store], add=tags)
    click.echo(f"{store}: {', '.join(after[store]) or 'no tag'}")


@click.command("untag")
@click.argument("store")
@click.argument("tags", nargs=-1, required=True)
def stores_untag(store: str, tags: tuple[str, ...]) -> None:
    """Remove TAGS from STORE."""
    with database(load_app()).write() as conn:
        after = tag_stores(conn, [store], remove=tags)
    click.echo(f"{store}: {', '.join(after[store]) or 'no tag'}")


@click.command("kpis")
@click.option("--stores", "selector", default=None, help=SELECTOR_HELP)
@click.option("--from", "start", default=None, help="first day, YYYY-MM-DD")
@click.option("--to", "end", default=None, help="last day, YYYY-MM-DD (default: today)")
@click.option("--json", "as_json", is_flag=True)
def stores_kpis(selector: str | None, start: str | None, end: str | None,
                as_json: bool) -> None:
    """The KPIs of the stores side by side, one row per store (default: the last 30 days)."""
    period = period_of(start, end)
    with database(load_app()).read() as conn:
        rows = kpi_rows(conn, select_stores(conn, selector), period)
    if as_json:
        echo_json({"period": period.as_dict(), "stores": rows})
        return
    click.echo(f"{period.start} .. {period.end}")
    click.echo(kpi_table(rows))


STORE_COMMANDS = (stores_tag, stores_untag, stores_kpis)


# -- the audit log ---------------------------------------------------------------------------
@click.command("audit")
@click.option("--store", default=None, help="one store's entries (a removed store's too)")
@click.option("--account", default=None)
@click.option("--interface", type=click.Choice(audit.INTERFACES), default=None)
@click.option("--since", default=None, help="YYYY-MM-DD, or an ISO 8601 time (UTC if naive)")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
def audit_command(store: str | None, account: str | None, interface: str | None,
                  since: str | None, limit: int, as_json: bool) -> None:
    """Every change, newest first: when, through which interface, who, on which store, what."""
    try:
        moment = None if since is None else datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD or an ISO 8601 time", param_hint="--since"
                                 ) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    items: list[dict[str, Any]] = []
    cursor = None
    with database(load_app()).read() as conn:
        account_id = None if account is None else account_id_of(conn, account)
        while len(items) < limit:
            page = audit.entries(conn, account_id=account_id, store=store, interface=interface,
                                 since=moment, page=PageRequest(
                                     min(MAX_LIMIT, limit - len(items)), cursor))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    if as_json:
        echo_json(items)
        return
    for item in items:
        click.echo(f"{item['at'][:19]}  {item['interface']:9} {item['actor']:32} "
                   f"{item['store'] or '-':20} {item['action']}  {item['detail']}")


COMMANDS = (accounts, keys, audit_command)


# -- auditing the CLI's changes --------------------------------------------------------------
# Command path -> the parameters its entry keeps. A parameter holding a secret or a shopper's
# data is never listed (a whole API key given to `keys revoke` is shortened to its prefix by
# audit.record).
AUDITED: dict[str, tuple[str, ...]] = {
    "accounts add": ("name", "kind"),
    "stores add": ("key", "account", "platform", "name", "domain", "url"),
    "stores remove": ("key",),
    "stores tag": ("store", "tags"),
    "stores untag": ("store", "tags"),
    "keys create": ("account", "account_option", "name", "role", "stores", "tags"),
    "keys revoke": ("key_or_prefix",),
    "users add": ("email", "account", "role", "stores", "tags"),
    "users set-password": ("email",),
    "widgets set": ("store",),
    "reviews settings": ("store",),
    "reviews moderate": ("store", "review_id", "status", "reason"),
    "reviews reply": ("store", "review_id"),
    "reviews postpone": ("store", "order_id", "days", "until"),
    "reviews import": ("store",),
    "reviews retry": ("store",),
    "privacy redact": ("store",),
    "privacy uninstall": ("store", "at_once"),
    "secrets webhook": ("store", "keep_previous"),
    "shopify post-install": ("store",),
    "woocommerce setup": ("store",),
    "woocommerce heal": ("store",),
    "woocommerce apply-setting": ("store", "setting", "value"),
    "woocommerce express-pay": ("store", "gateway"),
}
_STORE_PARAMETERS = ("store", "key", "store_key")


def _account_of(conn: Connection, store: str | None, account: str | None) -> int | None:
    """The account a command acted for: its store's, else the one it names (if they exist)."""
    if store is not None:
        found = conn.execute(select(t.stores.c.account_id).where(t.stores.c.key == store)
                             ).scalar()
        if found is not None:
            return int(found)
    if account is not None:
        found = conn.execute(select(t.accounts.c.id).where(t.accounts.c.name == account)
                             ).scalar()
        return None if found is None else int(found)
    return None


def _audited(path: str, kept: tuple[str, ...], callback: Callable[..., Any]
             ) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **params: Any) -> Any:
        store = next((params[name] for name in _STORE_PARAMETERS if params.get(name)), None)
        account = params.get("account") or params.get("account_option")
        db = database(load_app())
        with db.read() as conn:  # before: a removed store's account is known only now
            before = _account_of(conn, store, account)
        result = callback(*args, **params)
        detail = {name: params[name] for name in kept
                  if params.get(name) not in (None, "", ())}
        with db.write() as conn:
            audit.record(conn, actor=audit.cli_actor(), interface="cli", action=path,
                         account_id=before or _account_of(conn, store, account),
                         store_key=store, detail=detail)
        return result

    return run


def audit_commands(group: click.Group, prefix: str = "") -> None:
    """Wrap the AUDITED commands of `group` (and its subgroups): once a command succeeds, its
    entry is written."""
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            audit_commands(command, f"{path} ")
        elif path in AUDITED and command.callback is not None:
            command.callback = _audited(path, AUDITED[path], command.callback)
