"""Keyset pagination (parcours.pagination) on its own, on SQLite and PostgreSQL: both orders,
ties on the first key, date keys, and cursors that are not this list's."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, create_engine, select

from parcours.errors import ValidationError
from parcours.pagination import Keyset, PageRequest, paginate

metadata = MetaData()
things = Table("pagination_things", metadata, Column("id", Integer, primary_key=True),
               Column("day", Date, nullable=False), Column("name", String(16)))
DAY = date(2026, 11, 2)


def _walk(url: str, keyset: Keyset, limit: int) -> list[list[int]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
            # Days repeat, so the id must break ties; inserted out of order on purpose.
            conn.execute(things.insert(), [
                {"id": i, "day": DAY + timedelta(days=i % 3), "name": f"n{i}"}
                for i in (5, 1, 4, 2, 6, 3, 7)])
            pages, cursor = [], None
            while True:
                page = paginate(conn, select(things), keyset, PageRequest(limit, cursor),
                                lambda row: row.id)
                pages.append(page["items"])
                if (cursor := page["next_cursor"]) is None:
                    break
            metadata.drop_all(conn)
            return pages
    finally:
        engine.dispose()


@pytest.mark.parametrize("descending", [True, False])
def test_pages_cover_the_list_once_in_order(database_url: str, descending: bool) -> None:
    keyset = Keyset("things", (things.c.day, things.c.id), descending=descending)
    expected = sorted(range(1, 8), key=lambda i: (DAY + timedelta(days=i % 3), i),
                      reverse=descending)
    assert _walk(database_url, keyset, 3) == [expected[:3], expected[3:6], expected[6:]]
    assert _walk(database_url, keyset, 7) == [expected]  # exactly one page: no next cursor
    assert _walk(database_url, keyset, 200) == [expected]


def test_a_cursor_of_another_list_or_shape_is_refused() -> None:
    keyset = Keyset("things", (things.c.day, things.c.id))
    other = Keyset("others", (things.c.day, things.c.id))
    row: Any = SimpleNamespace(_mapping={things.c.day: DAY, things.c.id: 4})
    cursor = keyset.encode(row)
    assert keyset.decode(cursor) == [DAY, 4]
    for bad in (other.encode(row), "%%%", cursor[:-2], ""):
        with pytest.raises(ValidationError) as refused:
            keyset.decode(bad)
        assert set(refused.value.errors) == {"cursor"}
    with pytest.raises(ValueError, match="limit"):
        PageRequest(0)
