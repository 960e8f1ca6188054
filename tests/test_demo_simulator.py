"""The demo simulator: deterministic, schema-valid, and realistic once folded by the engine.

Shoppers are grouped as the recorder stitches profiles (events sharing any identity are one
profile), so these tests also check that the identities the simulator emits are enough to follow
a shopper from the first page view to their reviews.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from parcours.accounts import create_api_key, create_store
from parcours.app import create_app
from parcours.demo import PERSONAS, UploadError, batches, post_events, simulate
from parcours.errors import AuthError, NotFoundError, ValidationError
from parcours.events import EVENT_BITS, JourneyEvent, load_events
from parcours.journey import Journey, ProfileJourneys, fold
from parcours.rules import DEFAULT_RULES
from parcours.stages import Stage

START = datetime(2025, 3, 1, tzinfo=UTC)
SHOPPERS = 1500


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return simulate(1, SHOPPERS, START)


@pytest.fixture(scope="module")
def events(records: list[dict[str, Any]]) -> list[JourneyEvent]:
    return load_events("demo", records)


def stitch(events: Iterable[JourneyEvent]) -> list[list[JourneyEvent]]:
    """Group events into profiles like the recorder: sharing any identity joins two profiles."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    events = list(events)
    for event in events:
        first, *others = (f"{kind}:{value}" for kind, value in event.identities.items())
        for other in others:
            parent[root(other)] = root(first)
    groups: dict[str, list[JourneyEvent]] = defaultdict(list)
    for event in events:
        kind, value = next(iter(event.identities.items()))
        groups[root(f"{kind}:{value}")].append(event)
    return list(groups.values())


@pytest.fixture(scope="module")
def profiles(events: list[JourneyEvent]) -> list[ProfileJourneys]:
    return [fold(group, DEFAULT_RULES) for group in stitch(events)]


@pytest.fixture(scope="module")
def journeys(profiles: list[ProfileJourneys]) -> list[Journey]:
    return [journey for profile in profiles for journey in profile.journeys]


def abandonment(journeys: list[Journey], event: str) -> float:
    having = [j for j in journeys if j.events_mask & EVENT_BITS[event]]
    return sum(not j.converted for j in having) / len(having)


def test_same_seed_same_records_other_seed_other_records() -> None:
    first = simulate(7, 120, START)
    assert first == simulate(7, 120, START)
    assert first != simulate(8, 120, START)
    assert json.loads(json.dumps(first)) == first  # plain JSON, as posted


def test_a_shopper_does_not_change_when_more_are_simulated() -> None:
    emails = {f"shopper{n}@example.com" for n in range(1, 21)}

    def first_twenty(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(r["occurred_at"], r["name"]) for r in records
                if r["identities"].get("email") in emails]

    assert first_twenty(simulate(3, 20, START)) == first_twenty(simulate(3, 40, START))


def test_records_are_valid_sorted_and_in_the_window(
    records: list[dict[str, Any]], events: list[JourneyEvent]
) -> None:
    assert len(events) == len(records) > SHOPPERS
    moments = [datetime.fromisoformat(r["occurred_at"]) for r in records]
    assert moments == sorted(moments)
    assert all(m.utcoffset() is not None for m in moments)
    assert moments[0] >= START and moments[-1] < START + timedelta(days=60 + 30)
    visits = [e for e in events if "anonymous_id" in e.identities]
    assert max(e.occurred_at for e in visits) < START + timedelta(days=60)
    assert {r["source"] for r in records} == {"demo"}


def test_identities_follow_the_checkout(events: list[JourneyEvent]) -> None:
    for event in events:
        kinds = set(event.identities)
        if event.name in ("page_viewed", "product_viewed", "product_added_to_cart"):
            assert kinds == {"anonymous_id"}
        elif event.name == "checkout_started":
            assert kinds == {"anonymous_id", "checkout_token"}
        elif event.name.startswith("checkout_") or event.name == "payment_info_submitted":
            assert kinds == {"anonymous_id", "checkout_token", "email_hash"}
        elif event.name.startswith("order_"):
            assert kinds == {"checkout_token", "email_hash"}
            assert event.order_id is not None and event.key is not None


def test_orders_are_paid_in_euros_and_delivered_days_later(events: list[JourneyEvent]) -> None:
    by_order: dict[str, dict[str, JourneyEvent]] = defaultdict(dict)
    for event in events:
        if event.order_id is not None:
            by_order[event.order_id][event.name] = event
    paid = [o for o in by_order.values() if "order_paid" in o]
    assert paid and all(o["order_paid"].properties["currency"] == "EUR" for o in paid)
    delivered = [o for o in paid if "order_delivered" in o]
    assert len(delivered) > 0.8 * len(paid)
    for order in delivered:
        assert order["order_delivered"].occurred_at - order["order_paid"].occurred_at > timedelta(
            days=1
        )
        assert order["order_fulfilled"].occurred_at < order["order_delivered"].occurred_at
    reviews = [o["review_submitted"] for o in delivered if "review_submitted" in o]
    assert 0.1 * len(delivered) < len(reviews) < 0.7 * len(delivered)
    assert {r.properties["rating"] for r in reviews} <= {1, 2, 3, 4, 5}
    # shop-style order numbers, in the order orders were placed
    placed = sorted((o["order_placed"].occurred_at, int(n)) for n, o in by_order.items())
    assert [n for _, n in placed] == list(range(1001, 1001 + len(placed)))


def test_some_payments_fail(events: list[JourneyEvent]) -> None:
    failures = [e for e in events if e.name == "payment_failed"]
    paid = [e for e in events if e.name == "order_paid"]
    assert 0 < len(failures) < 0.3 * len(paid)


def test_every_stage_is_reached(journeys: list[Journey]) -> None:
    reached = {stage for journey in journeys for stage in journey.path}
    assert reached == set(Stage)


def test_cart_and_checkout_abandonment_are_realistic(journeys: list[Journey]) -> None:
    assert 0.55 <= abandonment(journeys, "product_added_to_cart") <= 0.85
    assert 0.2 <= abandonment(journeys, "checkout_started") <= 0.45


def test_some_customers_buy_again(profiles: list[ProfileJourneys]) -> None:
    repeat = [p for p in profiles if sum(j.converted for j in p.journeys) >= 2]
    assert len(repeat) >= 10
    for profile in repeat:
        first, *again = (j for j in profile.journeys if j.converted)
        assert Stage.LOYALTY not in first.path
        assert all(Stage.LOYALTY in j.path for j in again)


def test_personas_weights_and_arguments() -> None:
    assert len({p.name for p in PERSONAS}) == len(PERSONAS) >= 5
    assert sum(p.weight for p in PERSONAS) == pytest.approx(1)
    with pytest.raises(ValidationError, match="timezone"):
        simulate(1, 10, datetime(2025, 3, 1))
    assert simulate(1, 0, START) == []


def test_batches() -> None:
    records = [{"n": n} for n in range(1203)]
    assert [len(b) for b in batches(records, size=500)] == [500, 500, 203]
    assert [r for b in batches(records, size=500) for r in b] == records
    assert list(batches([], size=10)) == []
    with pytest.raises(ValidationError):
        list(batches([], size=0))


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The real app on a loopback port, recording in the request; yields (url, api key).
    Parametrized indirectly, its value is extra config."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
                      "JOBS_IMMEDIATE": True, **getattr(request, "param", {})})
    db = app.extensions["parcours.db"]
    db.upgrade()
    with db.write() as conn:
        create_store(conn, "demo", account="demo")
        key = create_api_key(conn, "demo")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/", key
    httpd.shutdown()


def test_post_events_to_the_real_api(server: tuple[str, str]) -> None:
    url, key = server
    records = simulate(2, 30, START)
    assert post_events(url, "demo", key, records, size=100, timeout=5) == len(records)
    assert post_events(url, "demo", key, records, size=100) == len(records)  # idempotent


@pytest.mark.parametrize("server", [{"API_RATE_PER_ACCOUNT": 0.5, "API_BURST_PER_ACCOUNT": 1}],
                         indirect=True)
def test_post_events_waits_when_the_api_says_too_many(server: tuple[str, str]) -> None:
    url, key = server
    records = simulate(2, 10, START)
    # A request every two seconds, no burst: the second batch gets 429 and Retry-After: 2
    # (well before the bucket refills, even on a slow machine), waits, and goes.
    started = time.monotonic()
    assert post_events(url, "demo", key, records, size=len(records) // 2 + 1) == len(records)
    assert time.monotonic() - started >= 1.5


def test_post_events_raises_the_servers_message(server: tuple[str, str]) -> None:
    url, key = server
    good = simulate(2, 3, START)[:2]
    bad = {**good[0], "name": "page_teleported"}
    with pytest.raises(ValidationError, match="invalid event") as caught:
        post_events(url, "demo", key, [*good, bad], size=2)
    assert "record 0" in caught.value.errors and "2 events were accepted" in str(caught.value)
    with pytest.raises(AuthError, match="invalid API key"):
        post_events(url, "demo", key[:-4] + "AAAA", good)
    with pytest.raises(NotFoundError, match="no store 'elsewhere'"):
        post_events(url, "elsewhere", key, good)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(UploadError, match="could not post events"):
        post_events(f"http://127.0.0.1:{port}", "demo", key, good, timeout=2)
