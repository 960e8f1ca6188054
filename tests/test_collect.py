"""`POST /collect`: storefront events from browsers, into the same inbox (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from parcours import tables as t
from parcours.accounts import create_store
from parcours.app import create_app
from parcours.db import Database, upsert
from parcours.errors import ConfigError
from tests.test_webhooks import drain

ACME = "https://www.acme.example"  # acme's primary domain: an allowed origin
MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[MakeApp]:
    """An app over the test database with two stores, given extra config (the rate limits)."""
    apps: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"DATABASE_URL": database_url, **config},
                         instance_path=str(tmp_path))
        apps.append(app)
        if len(apps) == 1:
            with app.extensions["parcours.db"].write() as conn:
                create_store(conn, "open-shop", account="a")  # declares no domain: any origin
                shop = create_store(conn, "acme", account="a", platform="shopify",
                                    domain="acme.myshopify.com")
                upsert(conn, t.store_facts, [{"store_id": shop.id, "name": "shop", "value": {
                    "primary_domain": ACME}, "updated_at": shop.created_at}],
                       ["store_id", "name"])
        return app

    yield make
    for app in apps:
        app.extensions["parcours.db"].engine.dispose()


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    return make_app()


def batch(key: str, *names: str, anon: str = "visitor-1") -> bytes:
    return json.dumps({"key": key, "events": [
        {"name": name, "occurred_at": f"2026-11-20T10:0{i}:00Z",
         "identities": {"anonymous_id": anon}, "source": "shopify_pixel"}
        for i, name in enumerate(names)]}).encode()


def rows(app: Flask) -> list[Any]:
    db: Database = app.extensions["parcours.db"]
    with db.read() as conn:
        return list(conn.execute(select(t.inbox)))


def stored_visitors(app: Flask) -> set[str]:
    """The anonymous ids of every batch in the inbox."""
    return {event["identities"]["anonymous_id"] for row in rows(app)
            for event in json.loads(row.body)["events"]}


def post(client: FlaskClient, key: str, anon: str, ip: str, origin: str = ACME) -> TestResponse:
    return client.post("/collect", data=batch(key, "page_viewed", anon=anon),
                       headers={"Origin": origin}, environ_base={"REMOTE_ADDR": ip})


def assert_limited(response: TestResponse, message: str, rate: float) -> None:
    """A 429 naming its limit, readable by the page, with the wait the bucket computes."""
    assert (response.status_code, response.json) == (429, {"error": {"message": message}})
    assert response.headers["Access-Control-Allow-Origin"] == ACME
    # 1/rate seconds for a token, less the (sub-second) time the test took so far.
    assert 1 / rate - 1 <= int(response.headers["Retry-After"]) <= 1 / rate


def test_a_beacon_batch_is_stored_once_and_recorded(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    body = batch("acme", "page_viewed", "product_viewed")
    # sendBeacon posts text/plain: no preflight, any content type is read as JSON.
    first = client.post("/collect", data=body, content_type="text/plain;charset=UTF-8",
                        headers={"Origin": ACME})
    assert (first.status_code, first.json) == (202, {"accepted": 2, "duplicate": False})
    assert first.headers["Access-Control-Allow-Origin"] == ACME
    again = client.post("/collect", data=body, headers={"Origin": "https://acme.myshopify.com"})
    assert again.json == {"accepted": 2, "duplicate": True}
    drain(app)
    with app.extensions["parcours.db"].read() as conn:
        names = sorted(conn.execute(select(t.events.c.name, t.events.c.source)))
    assert names == [("page_viewed", "shopify_pixel"), ("product_viewed", "shopify_pixel")]
    assert [row.status for row in rows(app)] == ["done"]


IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def test_collected_events_get_their_device_and_page_views_their_channel(app: Flask) -> None:
    """The row keeps the User-Agent; the worker derives the segments (segments.py) with the
    store's hosts (its domain and primary domain) as its own."""
    def page(minute: int, **properties: Any) -> dict[str, Any]:
        return {"name": "page_viewed", "occurred_at": f"2026-11-20T10:0{minute}:00Z",
                "identities": {"anonymous_id": "visitor-1"}, "properties": properties}

    body = json.dumps({"key": "acme", "events": [
        page(0, path="/", referrer="https://www.google.fr/", utm_source=None, utm_medium=None),
        page(1, path="/tea", referrer=f"{ACME}/", utm_source=None, utm_medium=None),
        page(2, path="/cart", referrer="https://acme.myshopify.com/tea"),
        {"name": "widget_shown", "occurred_at": "2026-11-20T10:03:00Z",
         "identities": {"anonymous_id": "visitor-1"},
         "properties": {"widget": "express_pay", "bucket": "holdout", "page": "cart"}},
    ]}).encode()
    response = app.test_client().post("/collect", data=body,
                                      headers={"Origin": ACME, "User-Agent": IPHONE})
    assert response.status_code == 202
    assert rows(app)[0].headers == {"user-agent": IPHONE}
    drain(app)
    with app.extensions["parcours.db"].read() as conn:
        events = conn.execute(select(t.events.c.occurred_at, t.events.c.properties)
                              .order_by(t.events.c.occurred_at)).all()
        journey = conn.execute(select(t.journeys)).one()
    assert [(p.get("device"), p.get("channel")) for _, p in events] == [
        ("mobile", "organic_search"), ("mobile", None), ("mobile", None), ("mobile", None)]
    assert (journey.device, journey.channel, journey.exposures) == (
        "mobile", "organic_search",
        {"express_pay:": ["holdout", "2026-11-20T10:03:00+00:00"]})


def test_foreign_origin_is_forbidden_when_the_store_has_domains(app: Flask) -> None:
    client = app.test_client()
    refused = client.post("/collect", data=batch("acme", "page_viewed"),
                          headers={"Origin": "https://evil.example"})
    assert (refused.status_code, refused.json) == (403, {"error": {
        "message": "origin 'https://evil.example' is not one of the store's"}})
    assert "Access-Control-Allow-Origin" not in refused.headers  # nothing granted to it
    sandboxed = client.post("/collect", data=batch("acme", "page_viewed"),
                            headers={"Origin": "null"})  # the strict pixel's worker
    assert sandboxed.status_code == 202
    anywhere = client.post("/collect", data=batch("open-shop", "page_viewed"),
                           headers={"Origin": "https://any.example"})
    assert anywhere.status_code == 202
    assert len(rows(app)) == 2


EVENT = {"occurred_at": "2026-11-20T10:00:00Z", "identities": {"anonymous_id": "a"}}


@pytest.mark.parametrize("body, status, error", [
    (b"not json", 400, {"message": "the body is not valid JSON",
                        "fields": {"body": ["Expecting value: line 1 column 1 (char 0)"]}}),
    (b"[]", 400, {"message": "invalid body", "fields": {"key": ["the store key is required"]}}),
    (json.dumps({"events": []}).encode(), 400,
     {"message": "invalid body", "fields": {"key": ["the store key is required"]}}),
    (json.dumps({"key": "acme", "events": []}).encode(), 400,
     {"message": "invalid body", "fields": {"events": ["1 to 100 events"]}}),
    (json.dumps({"key": "acme", "events": {"name": "page_viewed"}}).encode(), 400,
     {"message": "invalid body", "fields": {"events": ["1 to 100 events"]}}),
    (json.dumps({"key": "acme", "events": [{"name": "x"}] * 101}).encode(), 400,
     {"message": "invalid body", "fields": {"events": ["1 to 100 events"]}}),
    (json.dumps({"key": "acme", "events": [{"name": "page_viewed", **EVENT},
                                           {"name": "teleported", **EVENT},
                                           {"name": "page_viewed"}]}).encode(), 400,
     {"message": "2 invalid event(s), nothing was recorded", "fields": {
         "record 1": {"name": ["unknown event name 'teleported'"]},
         "record 2": {"occurred_at": ["Missing data for required field."],
                      "identities": ["Missing data for required field."]}}}),
    (json.dumps({"key": "nope", "events": [{"name": "page_viewed"}]}).encode(), 404,
     {"message": "no store 'nope'"}),
    (b'{"key": "acme", "events": ["' + b"x" * 70_000 + b'"]}', 413,
     {"message": "a batch is at most 65536 bytes"}),
])
def test_bad_batches_are_refused_readably_and_store_nothing(
        app: Flask, body: bytes, status: int, error: dict[str, Any]) -> None:
    response = app.test_client().post("/collect", data=body, headers={"Origin": ACME})
    assert (response.status_code, response.json) == (status, {"error": error})
    # The page that sent it may read why: the browser hides answers without this header.
    assert response.headers["Access-Control-Allow-Origin"] == ACME
    assert rows(app) == []


# Tiny refill rates: a refused request stays refused for the whole test, and Retry-After is
# about 1/rate seconds. Large bursts on the limits a test is not about.
SLOW = 0.001


def test_one_address_on_one_store_is_limited(make_app: MakeApp) -> None:
    app = make_app(COLLECT_RATE_PER_CLIENT=SLOW, COLLECT_BURST_PER_CLIENT=2,
                   COLLECT_RATE_PER_STORE=SLOW, COLLECT_BURST_PER_STORE=3)
    client = app.test_client()
    assert [post(client, "acme", f"a{n}", "10.0.0.1").status_code for n in range(2)] == [202] * 2
    for n in range(3):
        assert_limited(post(client, "acme", f"refused{n}", "10.0.0.1"),
                       "too many requests from this address for this store", SLOW)
    # The refusals took none of the store's tokens (3, 2 used): another shopper still gets in.
    assert post(client, "acme", "b", "10.0.0.2").status_code == 202
    # The same address on another store has its own bucket.
    assert post(client, "open-shop", "c", "10.0.0.1", origin="https://x.example"
                ).status_code == 202
    assert stored_visitors(app) == {"a0", "a1", "b", "c"}


def test_a_bucket_refills_at_its_rate(make_app: MakeApp) -> None:
    # One request a second: the refusal comes well within the second even on a loaded
    # machine (a faster rate made this test depend on the machine's speed).
    app = make_app(COLLECT_RATE_PER_CLIENT=1, COLLECT_BURST_PER_CLIENT=1)
    client = app.test_client()
    assert post(client, "acme", "a", "10.0.0.1").status_code == 202
    refused = post(client, "acme", "b", "10.0.0.1")
    # Under a second to wait: Retry-After counts whole seconds, rounded up.
    assert (refused.status_code, refused.headers.get("Retry-After")) == (429, "1")
    time.sleep(1.05)
    assert post(client, "acme", "c", "10.0.0.1").status_code == 202
    assert stored_visitors(app) == {"a", "c"}


def test_one_store_is_limited_across_addresses(make_app: MakeApp) -> None:
    app = make_app(COLLECT_RATE_PER_STORE=SLOW, COLLECT_BURST_PER_STORE=3)
    client = app.test_client()
    statuses = [post(client, "acme", f"a{n}", f"10.0.1.{n}").status_code for n in range(3)]
    assert statuses == [202] * 3
    assert_limited(post(client, "acme", "refused", "10.0.1.9"),
                   "too many requests for this store", SLOW)
    # Other stores are not held back by a busy one.
    assert post(client, "open-shop", "b", "10.0.1.9", origin=ACME).status_code == 202
    assert stored_visitors(app) == {"a0", "a1", "a2", "b"}


def test_one_address_is_limited_across_stores(make_app: MakeApp) -> None:
    app = make_app(COLLECT_RATE_PER_IP=SLOW, COLLECT_BURST_PER_IP=2)
    client = app.test_client()
    assert post(client, "acme", "a", "10.0.2.1").status_code == 202
    assert post(client, "open-shop", "b", "10.0.2.1", origin=ACME).status_code == 202
    assert_limited(post(client, "acme", "refused", "10.0.2.1"),
                   "too many requests from this address", SLOW)
    # Counted before the body is even parsed: garbage from that address costs nothing more.
    garbage = client.post("/collect", data=b"not json", headers={"Origin": ACME},
                          environ_base={"REMOTE_ADDR": "10.0.2.1"})
    assert_limited(garbage, "too many requests from this address", SLOW)
    assert post(client, "acme", "c", "10.0.2.2").status_code == 202
    assert stored_visitors(app) == {"a", "b", "c"}


def test_behind_a_trusted_proxy_each_shopper_has_their_own_address(make_app: MakeApp) -> None:
    """With PROXY_HOPS, the address is the one the proxy saw (X-Forwarded-For), not the
    proxy's own; without it, a forged X-Forwarded-For changes nothing."""
    def via_proxy(client: FlaskClient, anon: str, shopper: str) -> int:
        return client.post("/collect", data=batch("acme", "page_viewed", anon=anon),
                           headers={"Origin": ACME, "X-Forwarded-For": shopper},
                           environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code

    limits = {"COLLECT_RATE_PER_IP": SLOW, "COLLECT_BURST_PER_IP": 1}
    behind = make_app(PROXY_HOPS=1, **limits).test_client()
    assert [via_proxy(behind, f"p{n}", f"203.0.113.{n}") for n in range(3)] == [202] * 3
    assert via_proxy(behind, "again", "203.0.113.0") == 429
    direct = make_app(**limits).test_client()
    assert [via_proxy(direct, f"d{n}", f"198.51.100.{n}") for n in range(2)] == [202, 429]


def test_limits_default_and_come_from_config(make_app: MakeApp,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    limits = make_app().extensions["parcours.collect_limits"]
    assert [(b.rate, b.burst) for b in (limits.per_client, limits.per_store, limits.per_ip)] == [
        (10.0, 60.0), (200.0, 1000.0), (20.0, 120.0)]
    monkeypatch.setenv("PARCOURS_COLLECT_BURST_PER_IP", "5")  # as a server is configured
    assert make_app().extensions["parcours.collect_limits"].per_ip.burst == 5.0
    with pytest.raises(ConfigError, match="COLLECT_RATE_PER_STORE must be over 0"):
        make_app(COLLECT_RATE_PER_STORE=0)
    with pytest.raises(ConfigError, match="must be numbers"):
        make_app(COLLECT_BURST_PER_CLIENT="lots")


def test_preflight_allows_json_posts(app: Flask) -> None:
    response = app.test_client().options("/collect", headers={
        "Origin": ACME, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Origin"] == ACME


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
