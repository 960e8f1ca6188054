"""JSON API v1, the account's view: its stores' KPIs side by side, and its audit log. Routes on
`api_v1` declared with `api.route`: the same key authentication; every store is one of the
key's scope (access.py), so a scoped key compares, and audits, only the stores it reaches."""

from __future__ import annotations

from typing import Any

from flask import g

from parcours.access import select_stores, visible_stores
from parcours.api import _db, route
from parcours.api_access_schemas import AuditPage, AuditQuery, CrossKpisQuery, CrossKpisReport
from parcours.audit import entries
from parcours.cross_store import kpi_rows


@route("GET", "/kpis", "account", query=CrossKpisQuery, answer=CrossKpisReport)
def kpis_side_by_side(query: dict[str, Any]) -> Any:
    """The KPIs of the key's stores side by side, one row per store.

    Each row is what the store's own `kpis` report says over the period. Money stays per
    currency."""
    period = query["period"]
    with _db().read() as conn:
        stores = select_stores(conn, query["stores"], g.grant)
        return {"period": period.as_dict(), "stores": kpi_rows(conn, stores, period)}


@route("GET", "/audit", "account", query=AuditQuery, answer=AuditPage, errors=(403,))
def audit_log(query: dict[str, Any]) -> Any:
    """The account's audit log: every change, who made it, when, through which interface.

    Newest first. Owner and admin keys only; a key scoped to some stores sees their entries
    only."""
    g.grant.require_write()
    with _db().read() as conn:
        scoped = None if g.grant.whole_account else [
            store.id for store in visible_stores(conn, g.grant)]
        return entries(conn, account_id=g.account_id, store_ids=scoped, store=query["store"],
                       interface=query["interface"], since=query["since"], page=query["page"])
