"""The JSON API over HTTP (Flask test client) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from parcours.accounts import create_api_key, create_store
from parcours.app import create_app
from parcours.db import Database
from parcours.tables import profiles

DAY = "2026-11-02"


def _event(name: str, minute: int, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name, "occurred_at": f"{DAY}T10:{minute:02d}:00+00:00",
                              "identities": {"anonymous_id": "anon-1"}}
    record.update(extra)
    return record


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = create_app({"DATABASE_URL": database_url, "JOBS_IMMEDIATE": True,
                              "TESTING": True})
    yield application
    application.extensions["parcours.db"].engine.dispose()


@pytest.fixture
def keys(app: Flask) -> dict[str, str]:
    db: Database = app.extensions["parcours.db"]
    with db.write() as conn:
        create_store(conn, "shop-a", account="alice")
        create_store(conn, "shop-b", account="bob")
        return {"alice": create_api_key(conn, "alice"), "bob": create_api_key(conn, "bob")}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_healthz(app: Flask) -> None:
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_events_then_reports(app: Flask, keys: dict[str, str]) -> None:
    client: FlaskClient = app.test_client()
    batch = {"events": [
        _event("page_viewed", 0), _event("product_viewed", 1),
        _event("product_added_to_cart", 2), _event("checkout_started", 3),
        _event("order_paid", 9, properties={"total": "30.00", "currency": "EUR"},
               resource={"type": "order", "id": "1001"}),
    ]}
    answer = client.post("/api/v1/stores/shop-a/events", json=batch, headers=_auth(keys["alice"]))
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json() == {"accepted": 5, "duplicate": False}
    again = client.post("/api/v1/stores/shop-a/events", json=batch, headers=_auth(keys["alice"]))
    assert again.get_json() == {"accepted": 5, "duplicate": True}

    period = f"from={DAY}&to={DAY}"
    funnel = client.get(f"/api/v1/stores/shop-a/funnel?{period}",
                        headers=_auth(keys["alice"])).get_json()
    reached = {step["stage"]: step["journeys"] for step in funnel["steps"]}
    assert reached == {"awareness": 1, "research": 1, "comparison": 1, "decision": 1,
                       "purchase": 1, "reception": 0, "evaluation": 0, "loyalty": 0}
    kpis = client.get(f"/api/v1/stores/shop-a/kpis?{period}",
                      headers=_auth(keys["alice"])).get_json()
    assert kpis["average_order_value"] == {"EUR": "30.00"}
    assert kpis["cart_abandonment"] == 0.0
    assert kpis["median_time_to_convert_seconds"] == pytest.approx(540, rel=0.05)
    stages = client.get(f"/api/v1/stores/shop-a/stages?{period}",
                        headers=_auth(keys["alice"])).get_json()
    assert stages["profiles_now"]["purchase"] == 1
    with app.extensions["parcours.db"].read() as conn:
        profile_id = conn.execute(select(profiles.c.id)).scalar_one()
    profile = client.get(f"/api/v1/stores/shop-a/profiles/{profile_id}",
                         headers=_auth(keys["alice"])).get_json()
    assert profile["events"][0]["name"] == "order_paid"  # newest first
    assert profile["journeys"][0]["path"][-1] == "purchase"
    assert profile["journeys"][0]["status"] == "converted"
    assert profile["identities"] == ["anonymous_id"]


def test_bad_batch_is_rejected_whole(app: Flask, keys: dict[str, str]) -> None:
    client = app.test_client()
    batch = {"events": [_event("page_viewed", 0),
                        _event("page_teleported", 1),
                        {"name": "product_viewed", "identities": {"anonymous_id": "x"}}]}
    answer = client.post("/api/v1/stores/shop-a/events", json=batch, headers=_auth(keys["alice"]))
    assert answer.status_code == 422
    fields = answer.get_json()["error"]["fields"]
    assert "unknown event name 'page_teleported'" in str(fields["record 1"]["name"])
    assert "occurred_at" in fields["record 2"]
    funnel = client.get(f"/api/v1/stores/shop-a/funnel?from={DAY}&to={DAY}",
                        headers=_auth(keys["alice"])).get_json()
    assert funnel["journeys"] == 0  # the valid first record was not kept either


@pytest.mark.parametrize("body", [b"not json", b'{"events": []}', b'{"events": {}}'])
def test_malformed_bodies(app: Flask, keys: dict[str, str], body: bytes) -> None:
    answer = app.test_client().post("/api/v1/stores/shop-a/events", data=body,
                                    headers=_auth(keys["alice"]))
    assert answer.status_code == 422
    assert answer.get_json()["error"]["message"]


def test_keys_are_scoped_to_their_account(app: Flask, keys: dict[str, str]) -> None:
    client = app.test_client()
    foreign = client.get("/api/v1/stores/shop-b/funnel", headers=_auth(keys["alice"]))
    missing = client.get("/api/v1/stores/nowhere/funnel", headers=_auth(keys["alice"]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_json()["error"]["message"] == "no store 'shop-b' for this API key"
    assert client.get("/api/v1/stores/shop-a/funnel").status_code == 401
    wrong = client.get("/api/v1/stores/shop-a/funnel",
                       headers=_auth(keys["alice"][:-4] + "AAAA"))
    assert wrong.status_code == 401 and wrong.get_json()["error"]["message"] == "invalid API key"


def test_bad_period(app: Flask, keys: dict[str, str]) -> None:
    answer = app.test_client().get("/api/v1/stores/shop-a/kpis?from=2026-11-05&to=2026-11-01",
                                   headers=_auth(keys["alice"]))
    assert answer.status_code == 422
    assert "from" in answer.get_json()["error"]["fields"]
