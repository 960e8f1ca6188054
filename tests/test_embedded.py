"""The embedded engine (`parcours.JourneyEngine`) on SQLite and PostgreSQL: it migrates its
database, records events as the server does (validation, dedupe, segments), answers the JSON
API's very reports on a hand-computed dataset, and writes nothing of a bad batch."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from parcours import JourneyEngine, StorageError, ValidationError
from parcours import tables as t
from parcours.accounts import create_api_key
from parcours.app import create_app
from parcours.db import Database
from parcours.errors import ConfigError

NOW = datetime.now(UTC).replace(microsecond=0)
MOBILE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def _count(engine: JourneyEngine, table: t.Table) -> int:
    with engine.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _shop_day(engine: JourneyEngine) -> None:
    """Two shoppers: one buys (50 EUR), one looks and leaves at the cart."""
    at = NOW - timedelta(hours=2)
    engine.track("product_viewed", anonymous_id="a", occurred_at=at)
    engine.track("product_added_to_cart", anonymous_id="a", occurred_at=at + timedelta(minutes=1))
    engine.track("checkout_started", anonymous_id="a", occurred_at=at + timedelta(minutes=2))
    engine.track("order_paid", anonymous_id="a", email="ada@example.com", key="order:1:paid",
                 properties={"total": "50.00", "currency": "eur"},
                 occurred_at=at + timedelta(minutes=3))
    engine.track("product_viewed", anonymous_id="b", occurred_at=at)
    engine.track("product_added_to_cart", anonymous_id="b", occurred_at=at + timedelta(minutes=5))


def test_reports_are_the_apis_on_a_hand_computed_day(database_url: str) -> None:
    with JourneyEngine(database_url, store="my-shop") as engine:
        _shop_day(engine)
        kpis = engine.kpis()
        assert kpis["journeys"] == 2
        assert kpis["orders"] == {"EUR": 1}
        assert kpis["revenue"] == {"EUR": "50.00"}
        assert kpis["conversion"]["overall"] == 0.5
        assert kpis["cart_abandonment"] == 0.5  # two carts, one paid
        funnel = engine.funnel(since=NOW.date() - timedelta(days=1), until=NOW)
        assert funnel["journeys"] == 2 and funnel["overall_conversion"] == 0.5
        stages = engine.stages()
        assert sum(stages["profiles_now"].values()) == 2

        # The same numbers as the server's JSON API reading that database.
        with engine.database.write() as conn:
            token = create_api_key(conn, "my-shop")
        app = create_app({"DATABASE_URL": database_url, "JOBS_IMMEDIATE": True})
        client = app.test_client()
        for name, mine in (("kpis", kpis), ("funnel", engine.funnel()), ("stages", stages)):
            answer = client.get(f"/api/v1/stores/my-shop/{name}",
                                headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.get_json()
            assert answer.get_json() == mine
        app.extensions["parcours.db"].engine.dispose()


def test_a_bad_event_names_its_field_and_nothing_of_the_batch_is_written(
        database_url: str) -> None:
    with JourneyEngine(database_url, store="my-shop") as engine:
        good = {"name": "page_viewed", "occurred_at": NOW.isoformat(),
                "identities": {"anonymous_id": "a"}}
        with pytest.raises(ValidationError) as caught:
            engine.process([good, {**good, "name": "page_view"}])
        assert caught.value.errors == {"record 1": {"name": ["unknown event name 'page_view'"]}}
        with pytest.raises(ValidationError) as caught:
            engine.track("order_paid", customer_id="c", properties={"total": "9"})
        assert "total" in caught.value.errors["record 0"]["properties"]
        with pytest.raises(ValidationError) as caught:  # a naive time is ambiguous
            engine.track("page_viewed", anonymous_id="a", occurred_at=datetime(2026, 1, 1))
        assert "occurred_at" in caught.value.errors["record 0"]
        with pytest.raises(ValidationError) as caught:
            engine.track("page_viewed")
        assert "identities" in caught.value.errors["record 0"]
        with pytest.raises(ValidationError) as caught:
            engine.process({"events": [good]})
        assert "events" in caught.value.errors
        with pytest.raises(ValidationError) as caught:
            engine.kpis(since="2026-02-01", until="2026-01-01")
        assert "since" in caught.value.errors
        with pytest.raises(ValidationError) as caught:
            engine.funnel(until="yesterday")
        assert "until" in caught.value.errors
        assert _count(engine, t.events) == 0 and _count(engine, t.profiles) == 0


def test_the_same_event_twice_is_one_and_emails_are_never_kept(database_url: str) -> None:
    with JourneyEngine(database_url, store="my-shop") as engine:
        event = {"name": "order_paid", "occurred_at": NOW.isoformat(), "key": "order:7:paid",
                 "identities": {"email": "Ada@Example.com"},
                 "properties": {"total": "10", "currency": "EUR"}}
        first = engine.process([event])
        again = engine.process([event, event])
        assert (first.recorded, again.recorded, again.duplicates) == (1, 0, 1)
        with engine.database.read() as conn:
            stored = [dict(row) for row in conn.execute(select(t.events.c.identities))
                      .scalars()]
        assert stored == [{"email_hash": stored[0]["email_hash"]}]
        assert "Example" not in repr(stored)
        assert engine.process([]).recorded == 0


def test_storefront_events_get_the_device_and_channel_the_server_derives(
        database_url: str) -> None:
    with JourneyEngine(database_url, store="my-shop") as engine:
        engine.process([{"name": "page_viewed", "occurred_at": NOW.isoformat(),
                         "identities": {"anonymous_id": "m"}, "source": "widgets",
                         "properties": {"referrer": "https://www.google.com/"}}],
                       user_agent=MOBILE)
        events = engine.profile(_only_profile(engine))["events"]
        assert events[0]["properties"]["device"] == "mobile"
        assert events[0]["properties"]["channel"] == "organic_search"


def _only_profile(engine: JourneyEngine) -> int:
    with engine.database.read() as conn:
        return int(conn.execute(select(t.profiles.c.id)).scalar_one())


def test_one_engine_is_one_store_and_stores_stay_apart(database_url: str) -> None:
    with JourneyEngine(database_url, store="north") as north, \
            JourneyEngine(database_url, store="south") as south:
        north.track("product_viewed", anonymous_id="same-visitor")
        south.track("product_viewed", anonymous_id="same-visitor")
        south.track("cart_viewed", anonymous_id="same-visitor")
        assert north.kpis()["journeys"] == 1 and south.kpis()["journeys"] == 1
        assert sum(north.stages()["profiles_now"].values()) == 1
        with pytest.raises(Exception, match="no profile"):
            north.profile(_profiles_of(south)[0])
    with JourneyEngine(database_url, store="north") as again:  # found, not created twice
        assert again.kpis()["journeys"] == 1
    with pytest.raises(ConfigError, match="store"):
        JourneyEngine(database_url, store="Not A Key")


def _profiles_of(engine: JourneyEngine) -> list[int]:
    with engine.database.read() as conn:
        store_id = conn.execute(select(t.stores.c.id).where(
            t.stores.c.key == engine.store_key)).scalar_one()
        return list(conn.execute(select(t.profiles.c.id).where(
            t.profiles.c.store_id == store_id)).scalars())


def test_threads_sharing_an_engine_lose_nothing(database_url: str) -> None:
    with JourneyEngine(database_url, store="my-shop") as engine:
        def shopper(n: int) -> None:
            for i in range(10):
                engine.track("product_viewed", anonymous_id=f"s{n}",
                             properties={"product_id": str(i)})

        threads = [threading.Thread(target=shopper, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert _count(engine, t.events) == 40
        assert engine.kpis()["journeys"] == 4


def test_it_creates_its_schema_or_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(StorageError, match="parcours db upgrade"):
        JourneyEngine(url, migrate=False)
    with JourneyEngine(url) as engine:
        engine.track("page_viewed", anonymous_id="a")
    Database(url).check()  # at the newest revision
    with JourneyEngine(url, migrate=False) as engine:
        assert engine.kpis()["journeys"] == 1


def test_import_parcours_stays_light() -> None:
    code = ("import sys, parcours; parcours.JourneyEngine; parcours.Client; "
            "assert 'flask' not in sys.modules, 'flask imported'; "
            "assert 'requests' not in sys.modules, 'requests imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
