"""`parcours reviews`, run as a user runs it (a subprocess with the environment), on SQLite and
PostgreSQL: settings from JSON and TOML, postponing, import and export, moderation, replies,
KPIs and the list of requests, with the refusals naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from parcours import tables as t
from parcours.db import Database
from parcours.review_requests import SETTINGS_FACT
from tests.processes import parcours

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def db(env: dict[str, str]) -> Iterator[Database]:
    database = Database(env["PARCOURS_DATABASE_URL"])
    yield database
    database.engine.dispose()


def _store_id(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(t.stores.c.id).where(t.stores.c.key == "shop"))
                   .scalar_one())


def _open_request(db: Database) -> int:
    """An order fulfilled a day ago: its request is due after transit (5 d) and delay (7 d)."""
    fulfilled = NOW - timedelta(days=1)
    with db.write() as conn:
        request_id = int(conn.execute(t.review_requests.insert().values(
            store_id=_store_id(db), order_id="1001", email="buyer@example.com",
            items=[{"product_id": "42", "title": "Mug", "image": None}], status="scheduled",
            nonce="n" * 32, fulfilled_at=fulfilled, created_at=NOW, updated_at=NOW)
            .returning(t.review_requests.c.id)).scalar_one())
        conn.execute(t.review_messages.insert().values(
            request_id=request_id, store_id=_store_id(db), kind="request",
            due_at=fulfilled + timedelta(days=12), status="due", attempts=0))
    return request_id


def _due(db: Database, request_id: int) -> datetime:
    with db.read() as conn:
        return conn.execute(select(t.review_messages.c.due_at).where(
            t.review_messages.c.request_id == request_id)).scalar_one()


def test_settings_are_checked_whole_stored_and_retime_open_requests(
        env: dict[str, str], db: Database, tmp_path: Path) -> None:
    request_id = _open_request(db)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"delay_days": 3, "channel": "pigeon", "colour": "red"}))
    refused = parcours(env, "reviews", "settings", "shop", str(bad))
    assert refused.returncode == 1
    assert "channel" in refused.stderr and "colour" in refused.stderr
    with db.read() as conn:
        assert conn.execute(select(t.store_facts).where(
            t.store_facts.c.name == SETTINGS_FACT)).first() is None  # nothing half-applied

    good = tmp_path / "reviews.toml"
    good.write_text('delay_days = 2\ntransit_days = 1\nincentive = "10% off"\n')
    done = parcours(env, "reviews", "settings", "shop", str(good))
    assert done.returncode == 0, done.stderr
    assert "1 open request(s) retimed" in done.stdout
    assert _due(db, request_id) == NOW - timedelta(days=1) + timedelta(days=3)
    again = parcours(env, "reviews", "settings", "shop", str(good))
    assert "unchanged" in again.stdout
    shown = json.loads(parcours(env, "reviews", "settings-show", "shop").stdout)
    assert (shown["delay_days"], shown["transit_days"], shown["incentive"],
            shown["reminder_days"]) == (2, 1, "10% off", 13)  # the rest: defaults
    broken = tmp_path / "broken.toml"
    broken.write_text("delay_days = \n")
    assert "not valid toml" in parcours(env, "reviews", "settings", "shop",
                                        str(broken)).stderr
    unknown = parcours(env, "reviews", "settings-show", "nowhere")
    assert unknown.returncode == 1 and "no store 'nowhere'" in unknown.stderr


def test_postpone_and_the_list_of_requests(env: dict[str, str], db: Database) -> None:
    request_id = _open_request(db)
    done = parcours(env, "reviews", "postpone", "shop", "1001", "--days", "30")
    assert done.returncode == 0, done.stderr
    assert "now due" in done.stdout
    assert _due(db, request_id) >= NOW + timedelta(days=30)
    until = (NOW + timedelta(days=40)).isoformat()
    assert parcours(env, "reviews", "postpone", "shop", "1001", "--until", until
                    ).returncode == 0
    assert _due(db, request_id) == NOW + timedelta(days=40)
    naive = parcours(env, "reviews", "postpone", "shop", "1001", "--until", "2030-01-01T09:00")
    assert naive.returncode == 1 and "until" in naive.stderr
    both = parcours(env, "reviews", "postpone", "shop", "1001")
    assert both.returncode == 2 and "--days or --until" in both.stderr
    missing = parcours(env, "reviews", "postpone", "shop", "9999", "--days", "3")
    assert missing.returncode == 1 and "9999" in missing.stderr

    listed = parcours(env, "reviews", "requests", "shop")
    assert "buyer@example.com" not in listed.stdout
    [request] = json.loads(listed.stdout)
    assert (request["order_id"], request["status"], request["products"]) == (
        "1001", "scheduled", ["42"])
    assert json.loads(parcours(env, "reviews", "requests", "shop", "--status", "sent"
                               ).stdout) == []
    assert parcours(env, "reviews", "requests", "shop", "--status", "lost").returncode == 2


def test_import_moderate_reply_export_and_kpis(env: dict[str, str], db: Database,
                                               tmp_path: Path) -> None:
    # Two reviews written in the last hour (never "in the future", whatever the time of day).
    first, second = NOW - timedelta(minutes=50), NOW - timedelta(minutes=40)
    day = first.date().isoformat()
    bad = tmp_path / "bad.csv"
    bad.write_text("product_id,rating,body,created_at\n42,5,Good,2025-01-01T00:00:00Z\n"
                   "42,0,Bad,2025-01-01T00:00:00Z\n")
    refused = parcours(env, "reviews", "import", "shop", str(bad))
    assert refused.returncode == 1
    assert "row 3" in refused.stderr and "rating" in refused.stderr
    assert "nothing imported" in refused.stderr

    good = tmp_path / "reviews.csv"
    good.write_text("product_id,rating,body,created_at,author\n"
                    f"42,1,<i>Broken</i>,{first.isoformat()},Ann\n"
                    f"42,5,Great,{second.isoformat()},Bob\n")
    done = parcours(env, "reviews", "import", "shop", str(good))
    assert done.returncode == 0, done.stderr
    assert "2 review(s) imported, 0 already there" in done.stdout
    with db.read() as conn:
        ids = list(conn.execute(select(t.reviews.c.id).order_by(t.reviews.c.id)).scalars())

    low = parcours(env, "reviews", "moderate", "shop", str(ids[0]), "--status", "rejected")
    assert low.returncode == 1 and "reason" in low.stderr  # a reason is required
    rating = parcours(env, "reviews", "moderate", "shop", str(ids[0]), "--status", "rejected",
                      "--reason", "low_rating")
    assert rating.returncode == 2  # not a reason there is
    spam = parcours(env, "reviews", "moderate", "shop", str(ids[1]), "--status", "rejected",
                    "--reason", "spam")
    assert spam.returncode == 0, spam.stderr
    assert json.loads(spam.stdout)["status"] == "rejected"
    replied = parcours(env, "reviews", "reply", "shop", str(ids[0]), "Sorry, a new one is sent")
    assert json.loads(replied.stdout)["reply"] == "Sorry, a new one is sent"
    assert parcours(env, "reviews", "reply", "shop", "999", "x").returncode == 1

    exported = parcours(env, "reviews", "export", "shop", "--format", "json")
    reviews = json.loads(exported.stdout)["reviews"]
    assert [(r["body"], r["status"], r["source"]) for r in reviews] == [
        ("<i>Broken</i>", "published", "import"), ("Great", "rejected", "import")]
    out = tmp_path / "out.csv"
    written = parcours(env, "reviews", "export", "shop", "--output", str(out))
    assert written.returncode == 0 and "2 review(s) written" in written.stderr
    assert out.read_text(encoding="utf-8").startswith("id,product_id,rating,")

    kpis = json.loads(parcours(env, "reviews", "kpis", "shop", "--since", day).stdout)
    assert kpis["store"] == "shop"
    assert (kpis["totals"]["reviews"], kpis["totals"]["average_rating"]) == (1, 1.0)
    assert kpis["products"][0]["product_id"] == "42"
    one = json.loads(parcours(env, "reviews", "kpis", "shop", "--product", "43").stdout)
    assert one["totals"]["reviews"] == 0 and "products" not in one
    reversed_ = parcours(env, "reviews", "kpis", "shop", "--since", "2026-02-01", "--until",
                         "2026-01-01")
    assert reversed_.returncode == 1 and "since" in reversed_.stderr
    assert parcours(env, "reviews", "kpis", "shop", "--since", "May").returncode == 1
