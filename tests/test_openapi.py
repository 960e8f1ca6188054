"""JSON API v1 against its own OpenAPI document, on SQLite and PostgreSQL.

The document the app serves must be valid OpenAPI 3.1, must describe every /api/v1 route of the
app, and every answer of the API, successes and errors alike, must match it: status code,
content type and body (openapi-core validates each real answer of the Flask test client).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import select
from werkzeug.test import EnvironBuilder

from parcours import __version__, reports
from parcours import tables as t
from parcours.accounts import create_api_key, create_store
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database
from parcours.openapi import build
from parcours.reviews import ReviewInput, add_review

DAY = "2026-11-02"
NOW = datetime.now(UTC).replace(microsecond=0)
EMAIL = "ann@example.com"


def _event(name: str, minute: int, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"name": name, "occurred_at": f"{DAY}T10:{minute:02d}:00+00:00",
                              "identities": {"anonymous_id": "anon-1", "email": EMAIL}}
    record.update(extra)
    return record


BATCH = {"events": [
    _event("page_viewed", 0), _event("product_viewed", 1), _event("product_added_to_cart", 2),
    _event("checkout_started", 3),
    _event("order_paid", 9, properties={"total": "30.00", "currency": "EUR"},
           resource={"type": "order", "id": "1001"}),
]}


STORE = "/api/v1/stores/{store}"


def _openapi(document: dict[str, Any]) -> OpenAPI:
    """The validator of `document`; a CSV answer is text (openapi-core reads JSON only)."""
    return OpenAPI.from_dict(document, config=Config(
        extra_media_type_deserializers={"text/csv": lambda data: data.decode("utf-8")}))


def _make_app(database_url: str, tmp_path: Path, **config: Any) -> Flask:
    return create_app({"DATABASE_URL": database_url, "JOBS_IMMEDIATE": True,
                       "SECRET_KEYS": generate_key(), "TESTING": True, **config},
                      instance_path=str(tmp_path))


@dataclass
class Api:
    """An app with two accounts' stores, data in alice's, and the app's own document."""

    app: Flask
    client: FlaskClient
    alice: str
    bob: str
    values: dict[str, Any]
    spec: OpenAPI
    document: dict[str, Any]
    exercised: set[tuple[str, str]] = field(default_factory=set)

    def call(self, method: str, template: str, *, key: str | None = "alice",
             query: str = "", body: Any = None, store: str = "shop-a", **values: Any) -> Any:
        """One real request to `template` (a path of the document), its answer validated
        against the document; the (method, template) is noted as exercised."""
        path = template.format(**{**self.values, "store": store, **values})
        headers = {} if key is None else {"Authorization": f"Bearer {getattr(self, key)}"}

        def request() -> EnvironBuilder:
            return EnvironBuilder(path=path, method=method, query_string=query, json=body,
                                  headers=headers)

        answer = self.client.open(request())
        # The request again, as the route may have consumed the body of the one it was given.
        self.spec.validate_response(WerkzeugOpenAPIRequest(request().get_request()),
                                    WerkzeugOpenAPIResponse(answer))
        self.exercised.add((method.lower(), template))
        return answer


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    app = _make_app(database_url, tmp_path)
    db: Database = app.extensions["parcours.db"]
    with db.write() as conn:
        shop = create_store(conn, "shop-a", account="alice").id
        create_store(conn, "shop-b", account="bob")
        alice, bob = create_api_key(conn, "alice"), create_api_key(conn, "bob")
        request_id = int(conn.execute(t.review_requests.insert().values(
            store_id=shop, order_id="1001", email=EMAIL,
            items=[{"product_id": "42", "title": "Mug", "image": None}], status="scheduled",
            nonce="n" * 32, fulfilled_at=NOW - timedelta(days=1), created_at=NOW,
            updated_at=NOW).returning(t.review_requests.c.id)).scalar_one())
        conn.execute(t.review_messages.insert().values(
            request_id=request_id, store_id=shop, kind="request",
            due_at=NOW + timedelta(days=11), status="due", attempts=0))
        reviews = [add_review(conn, shop, ReviewInput(
            product_id="42", rating=rating, body="Nice <b>mug</b>", author="Ann",
            created_at=NOW - timedelta(hours=rating), source="request", request_id=request_id,
            verified=True)) for rating in (5, 2)]
    client = app.test_client()
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    document = served.get_json()
    yield Api(app, client, alice, bob, {"review_id": reviews[0], "order_id": "1001"},
              _openapi(document), document)
    db.engine.dispose()


def test_the_document_is_valid_openapi_and_names_the_version(api: Api) -> None:
    validate_spec(api.document)
    assert api.document["openapi"].startswith("3.1")
    assert api.document["info"]["version"] == __version__
    assert api.document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert api.document["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert {tag["name"] for tag in api.document["tags"]} >= {
        op["tags"][0] for item in api.document["paths"].values()
        for op in item.values() if isinstance(op, dict) and "tags" in op}
    # The served document is built once per app (not at every request).
    assert api.client.get("/api/v1/openapi.json").get_json() == api.document


def test_every_api_route_of_the_app_is_in_the_document(api: Api) -> None:
    paths = api.document["paths"]
    rules = [rule for rule in api.app.url_map.iter_rules()
             if rule.rule.startswith("/api/v1/")]
    assert len(rules) >= 17
    for rule in rules:
        template = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        assert template in paths, rule.rule
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[template], (method, rule.rule)


def test_a_route_without_description_stops_the_document(tmp_path: Path) -> None:
    app = _make_app(f"sqlite:///{tmp_path / 'p.db'}", tmp_path)
    app.add_url_rule("/api/v1/stores/<store>/secret", "api_v1.secret", lambda store: {})
    with pytest.raises(TypeError, match="/api/v1/stores/<store>/secret"):
        build(app)


def _successes(api: Api) -> None:
    """A successful request to every operation, state-changing ones last."""
    assert api.call("POST", STORE + "/events", body=BATCH).status_code == 202
    assert api.call("POST", STORE + "/events", body=BATCH).get_json()["duplicate"] is True
    period = f"from={DAY}&to={DAY}"
    funnel = api.call("GET", STORE + "/funnel", query=period).get_json()
    assert funnel["steps"][4] == {"stage": "purchase", "journeys": 1, "conversion": 1.0,
                                  "drop_off": 0.0}
    assert api.call("GET", STORE + "/funnel").status_code == 200  # the default period
    assert api.call("GET", STORE + "/stages", query=period).status_code == 200
    kpis = api.call("GET", STORE + "/kpis", query=period).get_json()
    assert kpis["average_order_value"] == {"EUR": "30.00"}
    with api.app.extensions["parcours.db"].read() as conn:
        profile_id = conn.execute(select(t.profiles.c.id)).scalar_one()
    profile = api.call("GET", STORE + "/profiles/{profile_id}", profile_id=profile_id)
    assert profile.get_json()["journeys"][0]["status"] == "converted"
    _insights(api, period)

    first = api.call("GET", STORE + "/reviews", query="limit=1").get_json()
    assert first["next_cursor"] is not None
    rest = api.call("GET", STORE + "/reviews",
                    query=f"limit=1&cursor={first['next_cursor']}").get_json()
    assert rest["next_cursor"] is None and len(rest["items"]) == 1
    moderated = api.call("POST", STORE + "/reviews/{review_id}/moderation",
                         body={"status": "rejected", "reason": "spam"})
    assert moderated.get_json()["moderation_reason"] == "spam"
    assert api.call("POST", STORE + "/reviews/{review_id}/reply",
                    body={"text": "Thanks"}).get_json()["reply"] == "Thanks"
    day = NOW.date()
    review_kpis = api.call("GET", STORE + "/reviews/kpis",
                           query=f"from={day - timedelta(days=1)}&to={day}").get_json()
    assert review_kpis["totals"]["reviews"] == 1  # the rejected one does not count
    assert api.call("GET", STORE + "/reviews/kpis", query="product=42").status_code == 200
    assert api.call("GET", STORE + "/reviews/settings").get_json()["settings"]["enabled"]
    saved = api.call("PUT", STORE + "/reviews/settings", body={"delay_days": 3})
    assert saved.get_json()["changed"] is True
    assert api.call("POST", STORE + "/review-requests/{order_id}/postpone",
                    body={"days": 3}).status_code == 200
    csv = api.call("GET", STORE + "/reviews/export")
    assert csv.mimetype == "text/csv"
    assert api.call("GET", STORE + "/reviews/export", query="format=json").mimetype == (
        "application/json")

    made = api.call("POST", STORE + "/privacy/exports", body={"email": EMAIL})
    assert made.status_code == 201
    again = api.call("GET", STORE + "/privacy/exports/{request_id}",
                     request_id=made.get_json()["id"])
    assert again.get_json()["export"]["profiles"][0]["id"] == profile_id
    redacted = api.call("POST", STORE + "/privacy/redactions", body={"email": EMAIL})
    assert redacted.get_json()["profiles"] == 1
    assert api.call("GET", "/api/v1/openapi.json", key=None).status_code == 200
    side_by_side = api.call("GET", "/api/v1/kpis", query=period + "&stores=shop-a").get_json()
    assert [row["store"] for row in side_by_side["stores"]] == ["shop-a"]
    assert side_by_side["stores"][0]["revenue"] == {"EUR": "30.00"}
    assert api.call("POST", STORE + "/uninstall", body={"delete_now": True}).status_code == 202
    log = api.call("GET", "/api/v1/audit", query="limit=2").get_json()
    assert log["items"][0]["action"] == "POST /stores/shop-a/uninstall"
    assert log["next_cursor"] is not None


def _insights(api: Api, period: str) -> None:
    """The insights' routes, after a second shopper who saw a widget and left at the cart."""
    leaver = {"anonymous_id": "anon-2"}
    shown = {"widget": "shipping_estimate", "bucket": "holdout", "experiment": "x"}
    assert api.call("POST", STORE + "/events", body={"events": [
        {"name": "page_viewed", "occurred_at": f"{DAY}T11:00:00+00:00", "identities": leaver,
         "properties": {"device": "mobile"}},
        {"name": "widget_shown", "occurred_at": f"{DAY}T11:01:00+00:00", "identities": leaver,
         "properties": shown},
        {"name": "product_added_to_cart", "occurred_at": f"{DAY}T11:02:00+00:00",
         "identities": leaver}]}).status_code == 202
    # A wake-up within jobs.WAKE_INTERVAL of the previous one runs on a timer thread: drain
    # now, so that the reports below do not race it.
    api.app.extensions["parcours.jobs"].drain_inbox()
    steps = api.call("GET", STORE + "/steps", query=period).get_json()
    assert [(s["step"], s["journeys"]) for s in steps["steps"]][:3] == [
        ("product", 2), ("cart", 2), ("checkout", 1)]  # a cart implies a product seen
    mobile = api.call("GET", STORE + "/steps", query=period + "&segment=device:mobile")
    assert mobile.get_json()["journeys"] == 1
    devices = api.call("GET", STORE + "/segments/{dimension}", dimension="device", query=period)
    assert {v["value"] for v in devices.get_json()["values"]} == {"mobile", "unknown"}
    assert api.call("GET", STORE + "/stage_times", query=period).status_code == 200
    [experiment] = api.call("GET", STORE + "/experiments", query=period).get_json()[
        "experiments"]
    assert experiment["holdout"]["shoppers"] == 1 and experiment["state"] == "planning"
    friction = api.call("GET", STORE + "/friction", query=period).get_json()
    assert friction["funnel"]["paid"] == 1 and friction["unknown"]
    dropped = api.call("GET", STORE + "/dropped", query=f"{period}&step=cart&idle_hours=1")
    assert [item["device"] for item in dropped.get_json()["items"]] == ["mobile"]


def test_every_operation_answers_as_documented(api: Api) -> None:
    _successes(api)
    documented = {(method, path) for path, item in api.document["paths"].items()
                  for method in item if method != "parameters"}
    assert api.exercised == documented  # a new route needs its request in _successes


def test_errors_answer_as_documented(api: Api) -> None:
    placeholders = {"profile_id": 1, "request_id": 1, "dimension": "device"}
    for path, item in api.document["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or operation.get("security") == []:
                continue
            missing = api.call(method.upper(), path, key=None, **placeholders)
            assert missing.status_code == 401, (method, path)
            assert "401" in operation["responses"]
            if "{store}" not in path:  # the account's routes: no store to be foreign
                continue
            foreign = api.call(method.upper(), path, store="shop-b", body={}, **placeholders)
            assert foreign.status_code == 404, (method, path)
            assert foreign.get_json()["error"] == {
                "message": "no store 'shop-b' for this API key"}
    wrong = api.call("GET", STORE + "/funnel", key="bob")
    assert wrong.status_code == 404
    nobody = api.call("GET", STORE + "/profiles/{profile_id}", profile_id=999_999)
    assert nobody.status_code == 404


def _problems(answer: Any) -> set[str]:
    assert answer.status_code == 422, answer.get_json()
    return set(answer.get_json()["error"]["fields"])


def test_bad_input_is_a_documented_422_naming_the_field(api: Api) -> None:
    assert _problems(api.call("GET", STORE + "/kpis",
                              query="from=2026-11-05&to=2026-11-01")) == {"from"}
    assert _problems(api.call("GET", STORE + "/kpis", query="from=2024-01-01&to=2026-11-01")
                     ) == {"from"}  # longer than the limit
    assert _problems(api.call("GET", STORE + "/funnel", query="from=tomorrow")) == {"from"}
    assert _problems(api.call("GET", STORE + "/stages", query="week=3")) == {"week"}
    for segment in ("colour:red", "device", "device:phone", "channel:tv", "returning:yes",
                    "country:XX", "country:France"):
        answer = api.call("GET", STORE + "/funnel", query=f"segment={segment}")
        assert _problems(answer) == {"segment"}, segment
    assert _problems(api.call("GET", STORE + "/reviews", query="cursor=bm9wZQ")) == {"cursor"}
    assert _problems(api.call("GET", STORE + "/segments/{dimension}", dimension="colour")
                     ) == {"dimension"}
    assert _problems(api.call("GET", STORE + "/dropped")) == {"step"}
    assert _problems(api.call("GET", STORE + "/dropped", query="step=reviewed&idle_hours=0")
                     ) == {"step", "idle_hours"}
    reviews_cursor = api.call("GET", STORE + "/reviews", query="limit=1").get_json()
    assert _problems(api.call("GET", STORE + "/dropped", query="step=cart&cursor="
                              + reviews_cursor["next_cursor"])) == {"cursor"}
    assert _problems(api.call("GET", STORE + "/reviews", query="limit=500")) == {"limit"}
    assert _problems(api.call("POST", STORE + "/events", body={"events": [{"name": "x"}]})
                     ) == {"record 0"}
    assert _problems(api.call("POST", STORE + "/events", body={**BATCH, "evnts": []})
                     ) == {"evnts"}
    assert _problems(api.call("POST", STORE + "/privacy/exports", body={})) == {"_schema"}
    assert _problems(api.call("POST", STORE + "/uninstall", body={"delete_now": "soon"})
                     ) == {"delete_now"}


@pytest.mark.parametrize("name", ["funnel", "stages", "kpis"])
def test_a_report_takes_a_segment_only_if_it_can_apply_it(api: Api, name: str) -> None:
    """A report function with a `segment` parameter gets the segment; one without refuses it
    rather than answer the whole store's numbers as the segment's."""
    answer = api.call("GET", STORE + "/" + name, query="segment=device:mobile")
    if "segment" in inspect.signature(getattr(reports, name)).parameters:
        assert answer.status_code == 200
    else:
        assert answer.get_json()["error"]["fields"] == {
            "segment": [f"the {name} report cannot be filtered by segment yet"]}
    description = api.document["paths"][STORE + "/" + name]["get"].get("description", "")
    assert ("Not segmentable yet" in description) == (answer.status_code == 422)


def test_the_rate_limit_is_a_documented_429(database_url: str, tmp_path: Path) -> None:
    app = _make_app(database_url, tmp_path, API_RATE_PER_ACCOUNT=0.01, API_BURST_PER_ACCOUNT=2)
    with app.extensions["parcours.db"].write() as conn:
        create_store(conn, "shop-a", account="alice")
        key = create_api_key(conn, "alice")
    client = app.test_client()
    api = Api(app, client, key, key, {}, _openapi(build(app)), build(app))
    assert [api.call("GET", STORE + "/funnel").status_code for _ in range(3)] == [200, 200, 429]
    refused = api.call("GET", STORE + "/kpis")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "retry in" in refused.get_json()["error"]["message"]
    assert client.get("/api/v1/openapi.json").status_code == 200  # public, not counted
    app.extensions["parcours.db"].engine.dispose()
