"""The Alembic migrations, on SQLite and PostgreSQL: they build exactly the schema tables.py
declares, revision 0005 (insights) goes down and up again without losing journeys, and 0008
(agencies) makes the users and keys made before it owners of every store of their account."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text

from parcours import tables as t
from parcours.db import MIGRATIONS, Database
from parcours.events import EVENT_BITS, load_event
from parcours.recorder import StoreRef, record
from parcours.rollups import REPORTED_MASK

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def alembic(conn: Connection) -> Config:
    """What `parcours db upgrade` runs, on the test's connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def schema_drift(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, t.metadata))


def test_the_migrations_build_the_declared_schema(db: Database) -> None:
    assert schema_drift(db) == []


def test_insights_revision_goes_down_and_up_keeping_journeys(db: Database,
                                                             store: StoreRef) -> None:
    page = load_event(store.key, {"name": "page_viewed", "occurred_at": AT.isoformat(),
                                  "identities": {"anonymous_id": "a"},
                                  "properties": {"device": "mobile"}})
    with db.write() as conn:
        record(conn, store, [page])
    with db.engine.begin() as conn:
        command.downgrade(alembic(conn), "0004")
        tables = set(inspect(conn).get_table_names())
        columns = {column["name"] for column in inspect(conn).get_columns("journeys")}
        assert not tables & {"segment_rollups", "stage_time_rollups", "experiment_rollups"}
        assert not columns & {"device", "channel", "country", "reached", "exposures"}
        assert conn.execute(text("SELECT count(*) FROM journeys")).scalar_one() == 1
        command.upgrade(alembic(conn), "head")
    assert schema_drift(db) == []
    with db.read() as conn:  # the journey is back, as recorded before 0005: to be completed
        row = conn.execute(select(t.journeys.c.opened_at, t.journeys.c.reached,
                                  t.journeys.c.device)).one()
    assert tuple(row) == (AT, None, None)


def test_reported_masks_revision_merges_rows_that_differ_in_unread_events(
        db: Database, store: StoreRef) -> None:
    """0007 keys journey rollups by the events reports read: two rows that differ only in a
    page view merge, their journeys added, and the funnel reads the same."""
    day = AT.date()
    product, page = EVENT_BITS["product_viewed"], EVENT_BITS["page_viewed"]
    with db.engine.begin() as conn:
        command.downgrade(alembic(conn), "0006")
        conn.execute(t.journey_rollups.insert(), [
            {"store_id": store.id, "day": day, "events_mask": mask, "path": "01",
             "converted": False, "journeys": n}
            for mask, n in ((product, 2), (product | page, 3), (page, 4))])
        command.upgrade(alembic(conn), "head")
    with db.read() as conn:
        rows = {(r.events_mask, r.journeys) for r in conn.execute(select(t.journey_rollups))}
    assert rows == {(product, 5), (0, 4)}
    assert REPORTED_MASK & product and not REPORTED_MASK & page


def test_agencies_revision_makes_earlier_keys_and_users_owners_of_every_store(
        db: Database, store: StoreRef) -> None:
    with db.engine.begin() as conn:
        command.downgrade(alembic(conn), "0007")
        assert not {"store_tags", "audit_log"} & set(inspect(conn).get_table_names())
        account = conn.execute(select(t.stores.c.account_id)).scalar_one()
        conn.execute(text("INSERT INTO api_keys (account_id, prefix, secret_hash, name, "
                          "created_at) VALUES (:account, 'abcdef012345', :hash, 'old', "
                          ":at)"), {"account": account, "hash": "0" * 64, "at": AT})
        command.upgrade(alembic(conn), "head")
    assert schema_drift(db) == []
    with db.read() as conn:
        row = conn.execute(select(t.api_keys.c.role, t.api_keys.c.scope)).one()
    assert tuple(row) == ("owner", None)
