"""`POST /collect`: storefront events from browsers, into the same inbox (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.app import create_app
from parcours.db import Database, upsert
from tests.test_webhooks import drain


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url}, instance_path=str(tmp_path))
    with app.extensions["parcours.db"].write() as conn:
        create_store(conn, "open-shop", account="a")  # declares no domain: any origin
        shop = create_store(conn, "acme", account="a", platform="shopify",
                            domain="acme.myshopify.com")
        upsert(conn, t.store_facts, [{"store_id": shop.id, "name": "shop", "value": {
            "primary_domain": "https://www.acme.example"}, "updated_at": shop.created_at}],
               ["store_id", "name"])
    yield app
    app.extensions["parcours.db"].engine.dispose()


def batch(key: str, *names: str, anon: str = "visitor-1") -> bytes:
    return json.dumps({"key": key, "events": [
        {"name": name, "occurred_at": f"2026-11-20T10:0{i}:00Z",
         "identities": {"anonymous_id": anon}, "source": "shopify_pixel"}
        for i, name in enumerate(names)]}).encode()


def rows(app: Flask) -> list[Any]:
    db: Database = app.extensions["parcours.db"]
    with db.read() as conn:
        return list(conn.execute(select(t.inbox)))


def test_a_beacon_batch_is_stored_once_and_recorded(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    body = batch("acme", "page_viewed", "product_viewed")
    # sendBeacon posts text/plain: no preflight, any content type is read as JSON.
    first = client.post("/collect", data=body, content_type="text/plain;charset=UTF-8",
                        headers={"Origin": "https://www.acme.example"})
    assert (first.status_code, first.json) == (202, {"accepted": 2, "duplicate": False})
    assert first.headers["Access-Control-Allow-Origin"] == "https://www.acme.example"
    again = client.post("/collect", data=body, headers={"Origin": "https://acme.myshopify.com"})
    assert again.json == {"accepted": 2, "duplicate": True}
    drain(app)
    with app.extensions["parcours.db"].read() as conn:
        names = sorted(conn.execute(select(t.events.c.name, t.events.c.source)))
    assert names == [("page_viewed", "shopify_pixel"), ("product_viewed", "shopify_pixel")]
    assert [row.status for row in rows(app)] == ["done"]


def test_foreign_origin_is_refused_when_the_store_has_domains(app: Flask) -> None:
    client = app.test_client()
    refused = client.post("/collect", data=batch("acme", "page_viewed"),
                          headers={"Origin": "https://evil.example"})
    assert refused.status_code == 401 and "evil.example" in refused.json["error"]["message"]
    sandboxed = client.post("/collect", data=batch("acme", "page_viewed"),
                            headers={"Origin": "null"})  # the strict pixel's worker
    assert sandboxed.status_code == 202
    anywhere = client.post("/collect", data=batch("open-shop", "page_viewed"),
                           headers={"Origin": "https://any.example"})
    assert anywhere.status_code == 202
    assert len(rows(app)) == 2


@pytest.mark.parametrize("body, status, field", [
    (b"not json", 422, "body"),
    (json.dumps({"events": []}).encode(), 422, "key"),
    (json.dumps({"key": "acme", "events": []}).encode(), 422, "events"),
    (json.dumps({"key": "acme", "events": [{"name": "x"}] * 101}).encode(), 422, "events"),
    (json.dumps({"key": "acme", "events": [{"name": "teleported",
                                            "occurred_at": "2026-11-20T10:00:00Z",
                                            "identities": {"anonymous_id": "a"}}]}).encode(),
     422, "record 0"),
    (json.dumps({"key": "nope", "events": [{"name": "page_viewed"}]}).encode(), 404, None),
    (b'{"key": "acme", "events": ["' + b"x" * 70_000 + b'"]}', 413, None),
])
def test_bad_batches_are_refused_and_store_nothing(app: Flask, body: bytes, status: int,
                                                   field: str | None) -> None:
    response = app.test_client().post("/collect", data=body)
    assert response.status_code == status
    if field is not None:
        assert field in response.json["error"]["fields"]
    assert rows(app) == []


def test_a_client_over_its_rate_gets_429(app: Flask) -> None:
    client = app.test_client()
    statuses = [client.post("/collect", data=batch("open-shop", "page_viewed", anon=f"v{n}"))
                .status_code for n in range(80)]
    assert statuses[:60] == [202] * 60  # the burst
    assert 429 in statuses[60:]
    limited = client.post("/collect", data=batch("open-shop", "page_viewed", anon="late"))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_preflight_allows_json_posts(app: Flask) -> None:
    response = app.test_client().options("/collect", headers={
        "Origin": "https://www.acme.example", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.acme.example"


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11) Chrome-Lighthouse",
    "facebookexternalhit/1.1"])
def test_bots_are_answered_but_not_stored(app: Flask, agent: str) -> None:
    answer = app.test_client().post("/collect", data=batch("open-shop", "page_viewed"),
                                    headers={"User-Agent": agent})
    assert (answer.status_code, answer.json) == (202, {"accepted": 0, "duplicate": False})
    assert rows(app) == []


def test_a_shoppers_browser_is_not_a_bot(app: Flask) -> None:
    shopper = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
    answer = app.test_client().post("/collect", data=batch("open-shop", "page_viewed"),
                                    headers={"User-Agent": shopper})
    assert answer.json == {"accepted": 1, "duplicate": False} and len(rows(app)) == 1
