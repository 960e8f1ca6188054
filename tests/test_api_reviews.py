"""The reviews' JSON API over HTTP (Flask test client) on SQLite and PostgreSQL: the same key
authentication and tenant rule as the rest of API v1, schemas naming the bad field."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_api_key, create_store
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database
from parcours.reviews import ReviewInput, add_review

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = create_app({"DATABASE_URL": database_url, "JOBS_IMMEDIATE": True,
                              "SECRET_KEYS": generate_key(), "TESTING": True},
                             instance_path=str(tmp_path))
    yield application
    application.extensions["parcours.db"].engine.dispose()


class Env:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.db: Database = app.extensions["parcours.db"]
        self.client: FlaskClient = app.test_client()
        with self.db.write() as conn:
            self.shop = create_store(conn, "shop-a", account="alice").id
            self.sister = create_store(conn, "shop-a2", account="alice").id
            create_store(conn, "shop-b", account="bob")
            self.alice = create_api_key(conn, "alice")
            self.bob = create_api_key(conn, "bob")
            self.request_id = int(conn.execute(t.review_requests.insert().values(
                store_id=self.shop, order_id="1001", email="buyer@example.com",
                items=[{"product_id": "42", "title": "Mug", "image": None}],
                status="scheduled", nonce="n" * 32,
                fulfilled_at=NOW - timedelta(days=1), created_at=NOW, updated_at=NOW)
                .returning(t.review_requests.c.id)).scalar_one())
            conn.execute(t.review_messages.insert().values(
                request_id=self.request_id, store_id=self.shop, kind="request",
                due_at=NOW + timedelta(days=11), status="due", attempts=0))
            self.reviews = [add_review(conn, self.shop, ReviewInput(
                product_id=product, rating=rating, body=f"{rating} <b>stars</b>",
                created_at=NOW - timedelta(hours=hours), author="Ann", source="request",
                request_id=self.request_id, verified=True))
                for product, rating, hours in (("42", 5, 3), ("42", 1, 2), ("43", 3, 1))]
            self.foreign = add_review(conn, self.sister, ReviewInput(
                product_id="42", rating=4, body="sister", created_at=NOW))

    def get(self, path: str, key: str | None = None) -> Any:
        return self.client.get(f"/api/v1/stores/{path}",
                               headers={"Authorization": f"Bearer {key or self.alice}"})

    def send(self, method: str, path: str, body: Any, key: str | None = None) -> Any:
        return self.client.open(f"/api/v1/stores/{path}", method=method, json=body,
                                headers={"Authorization": f"Bearer {key or self.alice}"})

    def sync(self, review_id: int) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(t.reviews.c.sync_status).where(
                t.reviews.c.id == review_id)).scalar_one()


@pytest.fixture
def env(app: Flask) -> Env:
    return Env(app)


def _fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.get_json()
    return set(response.get_json()["error"]["fields"])


def test_every_route_needs_a_key_and_hides_other_accounts_stores(env: Env) -> None:
    assert env.client.get("/api/v1/stores/shop-a/reviews").status_code == 401
    routes = [("GET", "reviews", None), ("GET", "reviews/kpis", None),
              ("GET", "reviews/settings", None), ("PUT", "reviews/settings", {}),
              ("GET", "reviews/export", None),
              ("POST", f"reviews/{env.reviews[0]}/moderation", {"status": "published"}),
              ("POST", f"reviews/{env.reviews[0]}/reply", {"text": "hi"}),
              ("POST", "review-requests/1001/postpone", {"days": 3})]
    for method, path, body in routes:
        answer = env.send(method, f"shop-a/{path}", body, key=env.bob)
        assert answer.status_code == 404, (method, path)
        assert answer.get_json()["error"]["message"] == "no store 'shop-a' for this API key"
    # Alice's other store does not reach shop-a's reviews either (every query is by store).
    assert env.send("POST", f"shop-a2/reviews/{env.reviews[0]}/reply",
                    {"text": "x"}).status_code == 404


def _ratings(answer: Any) -> list[int]:
    return [review["rating"] for review in answer.get_json()["items"]]


def _walk(env: Env, query: str) -> list[list[int]]:
    """Every page of `shop-a/reviews?<query>`, following next_cursor: the ids per page."""
    pages, cursor = [], None
    while True:
        answer = env.get(f"shop-a/reviews?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.get_json()
        pages.append([review["id"] for review in answer.get_json()["items"]])
        cursor = answer.get_json()["next_cursor"]
        if cursor is None:
            return pages


def test_list_filters(env: Env) -> None:
    everything = env.get("shop-a/reviews").get_json()
    assert everything["next_cursor"] is None
    assert [r["rating"] for r in everything["items"]] == [3, 1, 5]  # newest first
    assert everything["items"][0]["body"] == "3 <b>stars</b>"  # text as written
    assert "email" not in everything["items"][0]
    assert "buyer@example.com" not in env.get("shop-a/reviews").get_data(as_text=True)
    assert _ratings(env.get("shop-a/reviews?product=42")) == [1, 5]
    assert _ratings(env.get("shop-a/reviews?rating=1")) == [1]
    assert _ratings(env.get("shop-a/reviews?status=rejected")) == []
    assert _fields(env.get("shop-a/reviews?rating=6&status=hidden&limit=201")) == {
        "rating", "status", "limit"}
    assert _fields(env.get("shop-a/reviews?limit=0")) == {"limit"}
    assert _fields(env.get("shop-a/reviews?colour=red")) == {"colour"}
    assert _fields(env.get("shop-a/reviews?page=2")) == {"page"}  # numbered pages are gone


def test_list_pages_follow_the_cursor(env: Env) -> None:
    newest_first = list(reversed(env.reviews))
    assert _walk(env, "limit=1") == [[review] for review in newest_first]
    assert _walk(env, "limit=2") == [newest_first[:2], newest_first[2:]]
    assert _walk(env, "limit=1&product=42") == [[env.reviews[1]], [env.reviews[0]]]
    # Reviews of the same second are told apart by their id: none repeated, none skipped.
    with env.db.write() as conn:
        twins = [add_review(conn, env.shop, ReviewInput(
            product_id="44", rating=4, body="twin", created_at=NOW - timedelta(hours=5)))
            for _ in range(3)]
    assert _walk(env, "limit=2&product=44") == [sorted(twins, reverse=True)[:2],
                                                sorted(twins, reverse=True)[2:]]


def test_a_page_resumes_after_its_cursor_whatever_was_added(env: Env) -> None:
    first = env.get("shop-a/reviews?limit=1&product=42").get_json()
    assert [r["id"] for r in first["items"]] == [env.reviews[1]]
    with env.db.write() as conn:  # a newer review arrives while the client reads page one
        add_review(conn, env.shop, ReviewInput(product_id="42", rating=2, body="new",
                                               created_at=NOW))
    second = env.get(f"shop-a/reviews?limit=1&product=42&cursor={first['next_cursor']}")
    assert [r["id"] for r in second.get_json()["items"]] == [env.reviews[0]]  # not repeated


def test_bad_cursors_are_refused_naming_the_cursor(env: Env) -> None:
    def encode(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    good = env.get("shop-a/reviews?limit=1").get_json()["next_cursor"]
    assert env.get(f"shop-a/reviews?limit=1&cursor={good}").status_code == 200
    for cursor in ("not-a-cursor!", good[:-3], encode(["profiles", NOW.isoformat(), 3]),
                   encode(["reviews", NOW.isoformat()]),
                   encode(["reviews", NOW.replace(tzinfo=None).isoformat(), 3]),
                   encode(["reviews", NOW.isoformat(), "3"]),
                   encode(["reviews", NOW.isoformat(), True]), encode({"reviews": 1})):
        assert _fields(env.get(f"shop-a/reviews?cursor={cursor}")) == {"cursor"}, cursor


def test_moderation_and_replies(env: Env) -> None:
    one = env.reviews[1]
    path = f"shop-a/reviews/{one}/moderation"
    assert _fields(env.send("POST", path, {"status": "rejected"})) == {"reason"}
    assert _fields(env.send("POST", path, {"status": "rejected", "reason": "low_rating"})) == {
        "reason"}
    assert _fields(env.send("POST", path, {"status": "hidden"})) == {"status"}
    assert _fields(env.send("POST", path, ["published"])) == {"_schema"}
    assert env.sync(one) == "pending"  # refusals changed nothing, woke nothing
    rejected = env.send("POST", path, {"status": "rejected", "reason": "spam"})
    assert rejected.status_code == 200
    assert rejected.get_json()["status"] == "rejected"
    assert env.sync(one) == "done"  # the publication job was woken and withdrew it
    assert env.send("POST", f"shop-a/reviews/{env.foreign}/moderation",
                    {"status": "rejected", "reason": "spam"}).status_code == 404

    reply = f"shop-a/reviews/{env.reviews[0]}/reply"
    answer = env.send("POST", reply, {"text": "Thank you <3"})
    assert answer.get_json()["reply"] == "Thank you <3"
    assert env.send("POST", reply, {"text": None}).get_json()["reply"] is None
    assert _fields(env.send("POST", reply, {"text": ""})) == {"text"}
    assert _fields(env.send("POST", reply, {})) == {"text"}
    assert _fields(env.send("POST", reply, {"text": "x" * 5001})) == {"text"}


def test_kpis(env: Env) -> None:
    day = NOW.date()
    kpis = env.get(f"shop-a/reviews/kpis?from={day - timedelta(days=1)}&to={day}"
                   ).get_json()
    assert kpis["store"] == "shop-a"
    assert (kpis["totals"]["reviews"], kpis["totals"]["average_rating"]) == (3, 3.0)
    assert [p["product_id"] for p in kpis["products"]] == ["42", "43"]
    one = env.get("shop-a/reviews/kpis?product=43").get_json()
    assert (one["product"], one["totals"]["reviews"]) == ("43", 1)
    assert (kpis["since"], kpis["until"]) == (str(day - timedelta(days=1)), str(day))
    assert _fields(env.get("shop-a/reviews/kpis?from=yesterday")) == {"from"}
    assert _fields(env.get("shop-a/reviews/kpis?from=2026-02-01&to=2026-01-01")) == {"from"}
    assert _fields(env.get("shop-a/reviews/kpis?since=2026-01-01")) == {"since"}  # from/to


def test_settings_are_validated_whole_and_retime_open_requests(env: Env) -> None:
    shown = env.get("shop-a/reviews/settings").get_json()["settings"]
    assert (shown["delay_days"], shown["enabled"]) == (7, True)
    refused = env.send("PUT", "shop-a/reviews/settings", {"delay_days": 2, "channel": "fax"})
    assert _fields(refused) == {"channel"}
    assert env.get("shop-a/reviews/settings").get_json()["settings"]["delay_days"] == 7
    assert _fields(env.send("PUT", "shop-a/reviews/settings", [1])) == {"_schema"}
    saved = env.send("PUT", "shop-a/reviews/settings", {"delay_days": 2, "transit_days": 0})
    assert saved.status_code == 200, saved.get_json()
    body = saved.get_json()
    assert (body["changed"], body["retimed"], body["settings"]["delay_days"]) == (True, 1, 2)
    with env.db.read() as conn:
        due = conn.execute(select(t.review_messages.c.due_at)).scalar_one()
    assert due == NOW - timedelta(days=1) + timedelta(days=2)
    again = env.send("PUT", "shop-a/reviews/settings", {"delay_days": 2, "transit_days": 0})
    assert again.get_json()["changed"] is False


def test_postpone(env: Env) -> None:
    path = "shop-a/review-requests/1001/postpone"
    answer = env.send("POST", path, {"days": 20})
    assert answer.status_code == 200, answer.get_json()
    assert datetime.fromisoformat(answer.get_json()["due_at"]) >= NOW + timedelta(days=20)
    until = (NOW + timedelta(days=30)).isoformat()
    assert env.send("POST", path, {"until": until}).get_json()["due_at"] == until
    assert _fields(env.send("POST", path, {})) == {"days"}
    assert _fields(env.send("POST", path, {"days": 3, "until": until})) == {"days"}
    assert _fields(env.send("POST", path, {"until": "2030-01-01T09:00:00"})) == {"until"}
    assert _fields(env.send("POST", path, {"days": 0})) == {"days"}
    assert env.send("POST", "shop-a/review-requests/9999/postpone",
                    {"days": 3}).status_code == 404


def test_export(env: Env) -> None:
    answer = env.get("shop-a/reviews/export")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="shop-a-reviews.csv"'
    text = answer.get_data(as_text=True)
    assert "buyer@example.com" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["rating"], r["source"], r["status"]) for r in rows] == [
        ("5", "request", "published"), ("1", "request", "published"),
        ("3", "request", "published")]
    as_json = env.get("shop-a/reviews/export?format=json")
    assert as_json.mimetype == "application/json"
    assert len(as_json.get_json()["reviews"]) == 3
    assert _fields(env.get("shop-a/reviews/export?format=xml")) == {"format"}
