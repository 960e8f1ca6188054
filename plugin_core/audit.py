"""The audit log: every change, who made it, when, and through which interface.

Each interface writes through `record`, in the transaction of the change (a change rolled
back leaves no entry): the API and the dashboard for each successful request that changes
something, the CLI's changing commands, configuration applies. `actor` names a person or a
program (`user:<email>`, `key:prc_<prefix> (<name>)`, `shopify:<shop>`, `cli:<os user>`),
never with a secret; `detail` says what changed, never with a shopper's personal data (a
privacy request's subject stays out; a dashboard user's own email may name who was added). As a
safety net against a careless caller, `record` masks any detail entry whose name says it holds
a secret, and shortens anything shaped like an API key to its prefix.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select

from parcours import tables as t
from parcours.pagination import Keyset, PageRequest, paginate

__all__ = ["ACTOR_ENV", "INTERFACES", "cli_actor", "entries", "record"]

INTERFACES = ("cli", "api", "dashboard", "config")
ACTOR_ENV = "PARCOURS_ACTOR"  # who runs the CLI, when the OS user says too little (CI, sudo)
_PRIVATE = re.compile(r"secret|password|token|authorization|cookie|consumer_key",
                      re.IGNORECASE)
MASKED = "[masked]"
_API_KEY = re.compile(r"prc_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_ORDER = Keyset("audit", (t.audit_log.c.at, t.audit_log.c.id))


def cli_actor() -> str:
    """`cli:<who>`, from PARCOURS_ACTOR, else the operating system's user."""
    who = os.environ.get(ACTOR_ENV, "").strip()
    if not who:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # a container's user may have no name
            who = f"uid {os.getuid()}"
    return f"cli:{who}"


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): MASKED if _PRIVATE.search(str(k)) else _masked(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(item) for item in value]
    if isinstance(value, str):
        return _API_KEY.sub(r"prc_\1", value)
    return value


def record(conn: Connection, *, actor: str, interface: str, action: str,
           account_id: int | None = None, store_id: int | None = None,
           detail: Mapping[str, Any] | None = None, at: datetime | None = None,
           store_key: str | None = None) -> None:
    """One entry. The store is named by `store_id`, or by `store_key` (a store that is gone
    keeps its key in the entry); its account is the entry's when `account_id` is not given."""
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {INTERFACES}")
    s = t.stores.c
    if store_id is not None or store_key is not None:
        row = conn.execute(select(s.id, s.key, s.account_id).where(
            s.id == store_id if store_id is not None else s.key == store_key)).first()
        if row is not None:
            store_id, store_key = row.id, row.key
            account_id = row.account_id if account_id is None else account_id
    conn.execute(insert(t.audit_log).values(
        at=at or datetime.now(UTC), account_id=account_id, store_id=store_id, store=store_key,
        actor=actor[:255], interface=interface, action=action[:200],
        detail=json.loads(json.dumps(_masked(detail or {}), default=str))))


def _entry(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": row.at.isoformat(), "account": row.account, "store": row.store,
            "actor": row.actor, "interface": row.interface, "action": row.action,
            "detail": row.detail}


def _query(account_id: int | None, store_ids: Sequence[int] | None, store: str | None,
           interface: str | None, since: datetime | None) -> Select[Any]:
    a = t.audit_log.c
    query = select(a.id, a.at, t.accounts.c.name.label("account"), a.store, a.actor,
                   a.interface, a.action, a.detail).outerjoin(
        t.accounts, t.accounts.c.id == a.account_id)
    if account_id is not None:
        query = query.where(a.account_id == account_id)
    if store_ids is not None:
        query = query.where(a.store_id.in_(store_ids))
    if store is not None:
        query = query.where(a.store == store)
    if interface is not None:
        query = query.where(a.interface == interface)
    if since is not None:
        query = query.where(a.at >= since)
    return query


def entries(conn: Connection, *, account_id: int | None = None,
            store_ids: Sequence[int] | None = None, store: str | None = None,
            interface: str | None = None, since: datetime | None = None,
            page: PageRequest | None = None) -> dict[str, Any]:
    """A page of entries, newest first: `{"items", "next_cursor"}`. `store_ids` limits them to
    those stores' (a reader scoped to some stores sees neither other stores' entries nor the
    account's own, such as its keys'); `store` is a store key (a removed store's too)."""
    query = _query(account_id, store_ids, store, interface, since)
    return paginate(conn, query, _ORDER, page or PageRequest(), _entry)
