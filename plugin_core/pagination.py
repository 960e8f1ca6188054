"""Keyset pagination for lists: `?limit=&cursor=`, answered `{"items": [...], "next_cursor"}`.

Keyset rather than OFFSET: a page resumes strictly after the last row's sort key, so rows added
while a client walks the list neither repeat nor vanish between pages, and a deep page costs
what the first one does (an index on the sort key serves both). `next_cursor` is null on the
last page.

The cursor is opaque to clients: base64url of the JSON `[list name, key values...]`. It is not
signed: it only says where to resume a query that is scoped by store anyway, so a forged one
shows nothing its holder could not list. It is checked though (the list's name, the number and
type of values), so that a damaged cursor, or one of another list, is a 422 naming `cursor`
rather than a 500 or a silently wrong page.

A list function builds its query (filters, store scope) and hands it to `paginate` with its
`Keyset`; the JSON API's `PageQuery` (api_schemas.py) turns `?limit=&cursor=` into the
`PageRequest`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, and_, or_
from sqlalchemy.engine import Row
from sqlalchemy.sql.elements import ColumnElement

from parcours.errors import ValidationError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Keyset", "PageRequest", "paginate"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Item = TypeVar("Item")


@dataclass(frozen=True)
class PageRequest:
    """How many items, and where to resume (None: from the start)."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")


def _bad_cursor(reason: str) -> ValidationError:
    return ValidationError("invalid cursor", {"cursor": [reason]})


@dataclass(frozen=True)
class Keyset:
    """The order of one list: columns unique together (end with the id), all descending
    (newest first) or all ascending. `name` tags its cursors."""

    name: str
    columns: tuple[ColumnElement[Any], ...]
    descending: bool = True

    def order_by(self) -> list[ColumnElement[Any]]:
        return [c.desc() if self.descending else c.asc() for c in self.columns]

    def after(self, key: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after `key` in this order: a < x OR (a = x AND (b < y OR ...)).

        Spelt out rather than as a row-value comparison so that every column's own type
        processes its bound value (UTC datetimes are text on SQLite)."""
        clause: ColumnElement[bool] | None = None
        for column, value in reversed(list(zip(self.columns, key, strict=True))):
            beyond = column < value if self.descending else column > value
            clause = beyond if clause is None else or_(beyond, and_(column == value, clause))
        assert clause is not None  # a keyset has at least one column
        return clause

    def encode(self, row: Row[Any]) -> str:
        values = [row._mapping[column] for column in self.columns]
        raw = json.dumps([self.name, *[_to_json(value) for value in values]],
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        """The key values of a cursor of this list; ValidationError naming `cursor`."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError):
            raise _bad_cursor("not a cursor this API gave") from None
        if not isinstance(data, list) or not data or data[0] != self.name:
            raise _bad_cursor(f"not a cursor of the {self.name} list")
        if len(data) != len(self.columns) + 1:
            raise _bad_cursor("not a cursor this API gave")
        return [_from_json(value, column) for value, column in zip(data[1:], self.columns,
                                                                    strict=True)]


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _python_type(column: ColumnElement[Any]) -> type:
    """The Python type of a column's values; a TypeDecorator's is its implementation's
    (SQLAlchemy answers `object` for the decorator itself)."""
    kind = column.type
    return getattr(kind, "impl_instance", kind).python_type


def _from_json(value: Any, column: ColumnElement[Any]) -> Any:
    kind = _python_type(column)
    try:
        if kind is datetime and isinstance(value, str):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:  # keys are UTC times: a naive one was not ours
                return moment
        elif kind is date and isinstance(value, str):
            return date.fromisoformat(value)
        elif kind in (int, str) and isinstance(value, kind) and not isinstance(value, bool):
            return value
    except ValueError:
        pass
    raise _bad_cursor("not a cursor this API gave")


def paginate(conn: Connection, query: Select[Any], keyset: Keyset, page: PageRequest,
             item: Callable[[Row[Any]], Item]) -> dict[str, Any]:
    """One page of `query` (already filtered and scoped) in `keyset` order: `items`, each
    row through `item`, and `next_cursor` (None on the last page)."""
    if page.cursor is not None:
        query = query.where(keyset.after(keyset.decode(page.cursor)))
    rows = conn.execute(query.order_by(*keyset.order_by()).limit(page.limit + 1)).all()
    more = len(rows) > page.limit
    rows = rows[:page.limit]
    return {"items": [item(row) for row in rows],
            "next_cursor": keyset.encode(rows[-1]) if more else None}
