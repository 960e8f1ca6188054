"""Merchant controls over review requests, shared by the CLI and the API: review settings
from a file or a body, validated whole and applied with the open requests retimed; the list of
a store's requests without any contact detail."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.accounts import save_store_facts
from parcours.review_requests import OPEN, SETTINGS_FACT, retime
from parcours.review_timing import ReviewSettings
from parcours.settings_files import read_settings_file

__all__ = ["REQUEST_STATUSES", "load_review_settings", "open_requests", "request_rows",
           "save_settings"]

REQUEST_STATUSES = ("waiting", "scheduled", "sent", "submitted", "cancelled", "skipped")


def load_review_settings(path: Path) -> dict[str, Any]:
    """The settings in a .json or .toml file, validated whole (ReviewSettings.from_dict);
    ValidationError naming the file or each bad key."""
    raw = read_settings_file(path, "review settings")
    ReviewSettings.from_dict(raw)
    return raw


def open_requests(conn: Connection, store_id: int) -> list[int]:
    r = t.review_requests.c
    return list(conn.execute(select(r.id).where(r.store_id == store_id, r.status.in_(OPEN))
                             .order_by(r.id)).scalars())


def save_settings(conn: Connection, store_id: int, settings: dict[str, Any], now: datetime
                  ) -> tuple[bool, int]:
    """Store validated settings as the store's fact and retime its open requests (new delays,
    requests switched off or on); (changed, how many open requests were retimed). Missing keys
    keep following the defaults."""
    ReviewSettings.from_dict(settings)
    changed = bool(save_store_facts(conn, store_id, {SETTINGS_FACT: settings}, now))
    ids = open_requests(conn, store_id) if changed else []
    if ids:
        retime(conn, store_id, ids, now)
    return changed, len(ids)


def request_rows(conn: Connection, store_id: int, status: str | None = None
                 ) -> list[dict[str, Any]]:
    """A store's review requests with their timing and outcome, newest first; no contact."""
    r, m = t.review_requests.c, t.review_messages.c
    query = select(r.id, r.order_id, r.status, r.reason, r.locale, r["items"], r.placed_at,
                   r.fulfilled_at, r.delivered_at, r.postponed_until, r.opened_at,
                   r.submitted_at, m.due_at, m.sent_at, m.status.label("message_status")
                   ).outerjoin(t.review_messages, (m.request_id == r.id) & (m.kind == "request")
                               ).where(r.store_id == store_id).order_by(r.id.desc())
    if status is not None:
        query = query.where(r.status == status)
    out = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        item["products"] = [entry.get("product_id") for entry in row._mapping["items"] or []
                            if isinstance(entry, dict)]
        del item["items"]
        for key, value in item.items():
            if isinstance(value, datetime):
                item[key] = value.isoformat()
        out.append(item)
    return out
