"""The Python SDK (`parcours.Client`) against the real server on loopback (`parcours serve` and
`parcours worker`, SQLite and PostgreSQL): signed batches accepted, every event exactly once
from threads and a forked process, nothing lost while the server is down, the queue bound,
dev vs prod errors. A small stand-in endpoint only injects the 429/5xx/4xx answers.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from parcours import Client, ValidationError
from parcours import tables as t
from parcours.db import Database
from parcours.events import (
    EVENT_NAMES,
    IDENTITY_KINDS,
    MAX_PROPERTIES_BYTES,
    email_hash,
    load_event,
)
from parcours.inbox import pending_count
from parcours.sdk import DeliveryError, check
from tests.processes import custom_store_env, free_port, parcours_running, until

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
STORE = "own"


class Errors:
    """An on_error hook that keeps what it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[Exception, list[dict[str, Any]]]] = []
        self._lock = threading.Lock()

    def __call__(self, exc: Exception, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.calls.append((exc, events))

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for _, batch in self.calls for event in batch]


class Live:
    """The real server and its database."""

    def __init__(self, url: str, db: Database) -> None:
        self.url, self.db = url, db

    def client(self, **options: Any) -> Client:
        options.setdefault("on_error", Errors())
        return Client(STORE, SECRET, url=self.url, **options)

    def delivered_keys(self) -> Counter[str]:
        """The event keys in every stored delivery: a retry stored twice would count twice."""
        with self.db.read() as conn:
            bodies = conn.execute(select(t.inbox.c.body).where(t.inbox.c.source == "custom"))
            return Counter(event["key"] for (body,) in bodies
                           for event in json.loads(bytes(body))["events"])

    def count(self, table: t.Table, *where: Any) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def drained(self, seconds: float = 120) -> None:
        until("the worker to drain the inbox", lambda: pending_count(self.db) == 0, seconds)


def _serving(database_url: str, folder: Path) -> Iterator[Live]:
    env, db = custom_store_env(database_url, folder, STORE, SECRET)
    try:
        with parcours_running(env, free_port()) as url:
            yield Live(url, db)
    finally:
        db.engine.dispose()


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    yield from _serving(database_url, tmp_path)


@pytest.fixture(scope="module")
def live_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One SQLite server for the policy tests that need no second backend."""
    folder = tmp_path_factory.mktemp("sdk")
    url = f"sqlite:///{folder / 'parcours.db'}"
    Database(url).upgrade()
    yield from _serving(url, folder)


class StandIn:
    """A local endpoint answering the statuses a test chooses (then 200), recording requests."""

    def __init__(self) -> None:
        self.statuses: list[tuple[int, dict[str, str]]] = []
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                stand_in.received.append(({k.lower(): v for k, v in self.headers.items()},
                                          body, time.monotonic()))
                status, headers = stand_in.statuses.pop(0) if stand_in.statuses else (200, {})
                self.send_response(status)
                for name, value in {**headers, "content-length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    endpoint = StandIn()
    yield endpoint
    endpoint.close()


# -- exactly once ----------------------------------------------------------------------------
def test_100k_events_from_threads_and_a_fork_arrive_exactly_once(live: Live) -> None:
    errors = Errors()
    client = live.client(flush_at=5000, max_batch_bytes=2 * 1024 * 1024,
                         max_queue_size=200_000, flush_interval=0.2, on_error=errors)
    before_fork, per_thread, in_child = 1000, 20_000, 19_000
    for n in range(before_fork):  # queued in the parent when it forks: the parent's to send
        client.track("page_viewed", anonymous_id=f"p-{n % 50}", key=f"parent-{n}")
    pid = os.fork()
    if pid == 0:  # the child: its own queue and thread; exits without running pytest's code
        code = 1
        try:
            for n in range(in_child):
                client.track("product_viewed", anonymous_id=f"c-{n % 50}", key=f"child-{n}")
            code = 0 if client.flush(timeout=60) and not errors.calls else 2
        finally:
            os._exit(code)

    def send(thread: int) -> None:
        for n in range(per_thread):
            client.track("product_viewed", customer_id=f"t{thread}-{n % 100}",
                         properties={"n": n}, key=f"thread-{thread}-{n}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(timeout=60)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked child did not deliver"
    assert errors.calls == []

    keys = live.delivered_keys()  # every delivery the receiver stored, retries included
    total = before_fork + 4 * per_thread + in_child
    assert total == 100_000
    assert len(keys) == total and set(keys.values()) == {1}
    client.shutdown()
    if live.db.engine.dialect.name == "sqlite":
        # The worker's recording of 100k events takes over a minute on PostgreSQL (the
        # server's throughput, not the SDK's): the events table is checked on SQLite, where
        # it takes seconds; the inbox check above is the exactly-once proof on both.
        live.drained()
        assert live.count(t.events) == total
        assert live.count(t.inbox, t.inbox.c.status != "done") == 0


# -- the server down, then up ------------------------------------------------------------------
def test_events_queued_while_the_server_is_down_arrive_once_it_is_up(database_url: str,
                                                                      tmp_path: Path) -> None:
    env, db = custom_store_env(database_url, tmp_path, STORE, SECRET)
    port = free_port()
    errors = Errors()
    client = Client(STORE, SECRET, url=f"http://127.0.0.1:{port}", flush_at=50,
                    max_queue_size=1000, backoff=0.1, backoff_cap=0.5, max_retries=1000,
                    timeout=(1.0, 5.0), on_error=errors)
    try:
        for n in range(300):
            client.track("page_viewed", anonymous_id=f"a-{n}", key=f"down-{n}")
        assert client.flush(timeout=1.5) is False  # nobody listens: not everything is sent
        with parcours_running(env, port) as url:
            assert client.flush(timeout=60)
            live = Live(url, db)
            keys = live.delivered_keys()
            assert len(keys) == 300 and set(keys.values()) == {1}
            live.drained()
            assert live.count(t.events) == 300
        assert errors.calls == []
    finally:
        client.shutdown(timeout=0)
        db.engine.dispose()


# -- the receiver ---------------------------------------------------------------------------
def test_signed_batch_is_accepted_and_identify_stitches_profiles(live_sqlite: Live) -> None:
    client = live_sqlite.client(sync_mode=True, debug=True)
    client.page("https://shop.example/", anonymous_id="visitor-1", referrer="https://duckduckgo.com/",
                key="stitch-page")
    client.identify(customer_id="cust-1", anonymous_id="visitor-1", email="Ana@Example.com",
                    properties={"plan": "gold"})
    client.track("order_paid", customer_id="cust-1", key="stitch-paid",
                 properties={"total": "42.50", "currency": "EUR"},
                 occurred_at=datetime(2026, 11, 2, 10, 9, tzinfo=UTC))
    live_sqlite.drained()
    with live_sqlite.db.read() as conn:
        deliveries = list(conn.execute(select(t.inbox).where(
            t.inbox.c.delivery_key.like(f"custom:{STORE}:msg_%"))))
        events = list(conn.execute(select(t.events).where(
            t.events.c.key.in_(["stitch-page", "stitch-paid"])
            | t.events.c.key.like("identify:%"))))
    assert len(deliveries) >= 3 and all(row.status == "done" for row in deliveries)
    assert {row.name for row in events} == {"page_viewed", "customer_created", "order_paid"}
    assert len({row.profile_id for row in events}) == 1, "identify did not stitch the profiles"
    created = next(row for row in events if row.name == "customer_created")
    assert created.identities["email_hash"] == email_hash("ana@example.com")
    assert "ana@example.com" not in json.dumps(created.identities).lower()
    assert all(row.source == "sdk" for row in events)


def test_refusals_are_not_retried_and_reach_on_error(live_sqlite: Live) -> None:
    errors = Errors()
    wrong = "whsec_" + base64.b64encode(b"w" * 32).decode()
    for client in (Client(STORE, wrong, url=live_sqlite.url, on_error=errors, backoff=30),
                   Client("nobody", SECRET, url=live_sqlite.url, on_error=errors, backoff=30)):
        started = time.monotonic()
        client.track("page_viewed", anonymous_id="a")
        assert client.flush(timeout=10)
        assert time.monotonic() - started < 5  # a retry would have waited 15 s or more
        client.shutdown()
    statuses = [exc.status for exc, _ in errors.calls if isinstance(exc, DeliveryError)]
    assert statuses == [401, 404]
    assert all(len(events) == 1 for _, events in errors.calls)


def test_overflow_drops_the_newest_and_reports_them(live_sqlite: Live) -> None:
    errors = Errors()
    client = live_sqlite.client(max_queue_size=10, flush_at=1000, flush_interval=60,
                                on_error=errors)
    started = time.monotonic()
    for n in range(15):
        client.track("page_viewed", anonymous_id="a", key=f"overflow-{n}")
    assert time.monotonic() - started < 1  # never blocks the caller
    assert [event["key"] for event in errors.events] == [f"overflow-{n}" for n in range(10, 15)]
    assert all(isinstance(exc, DeliveryError) and "queue is full" in str(exc)
               for exc, _ in errors.calls)
    assert client.flush(timeout=30)
    keys = live_sqlite.delivered_keys()
    assert all(keys[f"overflow-{n}"] == 1 for n in range(10))
    assert all(f"overflow-{n}" not in keys for n in range(10, 15))
    client.shutdown()


def test_flush_is_false_when_the_server_is_unreachable() -> None:
    errors = Errors()
    client = Client(STORE, SECRET, url=f"http://127.0.0.1:{free_port()}", on_error=errors,
                    backoff=0.2, backoff_cap=0.4, max_retries=3)
    client.track("page_viewed", anonymous_id="a")
    assert client.flush(timeout=0.3) is False
    assert client.flush(timeout=10) is True  # the retries ran out: dropped and reported
    [(exc, events)] = errors.calls
    assert isinstance(exc, DeliveryError) and exc.status is None and "4 attempts" in str(exc)
    assert len(events) == 1
    client.shutdown()


# -- retries, on the stand-in ------------------------------------------------------------------
def test_429_and_5xx_are_retried_with_the_same_webhook_id(stand_in: StandIn) -> None:
    errors = Errors()
    stand_in.statuses = [(503, {}), (429, {"Retry-After": "1"}), (500, {})]
    client = Client(STORE, SECRET, url=stand_in.url, on_error=errors, backoff=0.05,
                    backoff_cap=0.1)
    client.track("page_viewed", anonymous_id="a")
    assert client.flush(timeout=20)
    assert errors.calls == []
    assert len(stand_in.received) == 4
    assert {headers["webhook-id"] for headers, _, _ in stand_in.received} \
        == {stand_in.received[0][0]["webhook-id"]}
    assert stand_in.received[0][0]["webhook-id"].startswith("msg_")
    assert stand_in.received[2][2] - stand_in.received[1][2] >= 0.95  # Retry-After honoured
    assert all(request[0]["content-type"] == "application/json" for request in stand_in.received)
    client.shutdown()


@pytest.mark.parametrize("status", [400, 401, 404, 413, 422])
def test_other_4xx_are_dropped_at_once(stand_in: StandIn, status: int) -> None:
    errors = Errors()
    stand_in.statuses = [(status, {})]
    client = Client(STORE, SECRET, url=stand_in.url, on_error=errors, backoff=0.05)
    client.track("page_viewed", anonymous_id="a", key="refused")
    assert client.flush(timeout=10)
    assert len(stand_in.received) == 1
    [(exc, events)] = errors.calls
    assert isinstance(exc, DeliveryError) and exc.status == status
    assert [event["key"] for event in events] == ["refused"]
    client.shutdown()


def test_sync_mode_sends_in_the_callers_thread(stand_in: StandIn) -> None:
    client = Client(STORE, SECRET, url=stand_in.url, sync_mode=True)
    client.track("page_viewed", anonymous_id="a")
    assert len(stand_in.received) == 1  # already sent when track() returned
    assert client.flush() is True


# -- bad input: dev vs prod -------------------------------------------------------------------
BAD: list[tuple[str, dict[str, Any]]] = [
    ("name", {"name": "page_view", "anonymous_id": "a"}),
    ("identities", {"name": "page_viewed"}),
    ("identities", {"name": "page_viewed", "identities": {"customer_id": ""}}),
    ("identities", {"name": "page_viewed", "identities": {"phone": "+33"}}),
    ("identities.email", {"name": "page_viewed", "email": "not-an-address"}),
    ("properties", {"name": "page_viewed", "anonymous_id": "a",
                    "properties": {"blob": "x" * MAX_PROPERTIES_BYTES}}),
    ("properties", {"name": "page_viewed", "anonymous_id": "a",
                    "properties": {"thing": object()}}),
    ("occurred_at", {"name": "page_viewed", "anonymous_id": "a",
                     "occurred_at": datetime(2026, 1, 1, 12)}),
    ("key", {"name": "page_viewed", "anonymous_id": "a", "key": "k" * 300}),
]


@pytest.mark.parametrize(("field", "call"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_debug_mode_raises_a_validation_error_naming_the_field(field: str,
                                                               call: dict[str, Any]) -> None:
    client = Client(STORE, SECRET, url="http://127.0.0.1:9", debug=True)
    call = dict(call)
    name = call.pop("name")
    with pytest.raises(ValidationError) as raised:
        client.track(name, **call)
    assert field in raised.value.errors or any(key.startswith(field)
                                               for key in raised.value.errors), raised.value
    if field == "properties" and "blob" in call.get("properties", {}):
        assert str(MAX_PROPERTIES_BYTES) in str(raised.value)
    client.shutdown(timeout=0)


def test_production_mode_drops_bad_events_and_sends_the_rest(live_sqlite: Live) -> None:
    errors = Errors()
    client = live_sqlite.client(on_error=errors, flush_at=len(BAD) + 2)
    client.track("page_viewed", anonymous_id="good", key="prod-good-1")
    for _, bad in BAD:
        call: dict[str, Any] = dict(bad)
        client.track(call.pop("name"), **call)  # never raises
    client.track("page_viewed", anonymous_id="good", key="prod-good-2")
    assert client.flush(timeout=30)
    assert len(errors.calls) == len(BAD)
    assert all(isinstance(exc, ValidationError) for exc, _ in errors.calls)
    keys = live_sqlite.delivered_keys()
    assert keys["prod-good-1"] == keys["prod-good-2"] == 1
    client.shutdown()


# The call-site check skips the schema for events it can vouch for: it must never vouch for one
# the server's schema refuses, nor refuse one it accepts. The values come from the places the
# checks look (names, identity kinds and lengths, the properties the schema inspects, keys),
# mostly valid so that both answers are common.
_PLAIN = st.text(alphabet="ab-1é", min_size=1, max_size=8)
_EDGE = st.sampled_from(["", "k" * 256, "x" * 255, email_hash("a@b.c"),
                         email_hash("a@b.c").upper(), 7])
_TEXT = st.one_of(_PLAIN, _PLAIN, _PLAIN, _EDGE)
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                    _TEXT, st.sampled_from(["19.90", "-1", "EUR", "eur", "mobile", "social",
                                            "FR", "fr", "ZZ", "x" * MAX_PROPERTIES_BYTES]))
_RECORDS = st.fixed_dictionaries({
    "name": st.sampled_from([*EVENT_NAMES, "page_view"]),
    "occurred_at": st.just("2026-11-02T10:09:00+00:00"),
    "identities": st.dictionaries(st.sampled_from([*IDENTITY_KINDS, "phone"]), _TEXT,
                                  max_size=2) | st.builds(lambda v: {"anonymous_id": v}, _PLAIN),
    "properties": st.dictionaries(st.sampled_from(["total", "currency", "device", "channel",
                                                   "country", "product_id", 1]), _VALUES,
                                  max_size=4),
    "source": st.just("sdk"),
    "key": _TEXT,
})


@given(_RECORDS)
@settings(max_examples=400, deadline=None)
def test_the_call_site_check_agrees_with_the_servers_schema(record: dict[str, Any]) -> None:
    try:
        load_event(STORE, json.loads(json.dumps(record)) if all(
            isinstance(prop, str) for prop in record["properties"]) else record)
        schema_error = None
    except ValidationError as exc:
        schema_error = exc
    try:
        body = check(STORE, record)
    except ValidationError as exc:
        assert schema_error is not None, f"refused what the schema accepts: {exc}"
        assert exc.errors == schema_error.errors
    else:
        assert schema_error is None, f"vouched for what the schema refuses: {schema_error}"
        assert json.loads(body) == json.loads(json.dumps(record))


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    client = Client(STORE, SECRET, url="http://127.0.0.1:9")
    assert SECRET not in repr(client) and SECRET[6:] not in repr(client)
    assert SECRET not in repr(vars(client))
    with pytest.raises(Exception) as raised:
        Client(STORE, "whsec_not base64!", url="http://127.0.0.1:9")
    assert "not base64" not in str(raised.value)
    client.shutdown(timeout=0)
