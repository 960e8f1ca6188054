"""Faults under load (issue 10): nothing acknowledged is lost, nothing is recorded twice.

The process, database, queue, disk and clock faults run as `parcours bench faults` runs them:
real `parcours serve` and `parcours worker` processes, private PostgreSQL and Redis servers
(never the machine's shared ones), a sender that retries what is not acknowledged. Platform API
faults (429, 5xx, read timeouts) during install, reconcile and publish run against the fake
Shopify and WooCommerce, through the real clients with a short read timeout and recorded (not
slept) backoff. What the tests below assert beyond counts: a refused ack is a 503 with a plain
message (no traceback, nothing of the database), and the server log names the reason.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.adapters.shopify.client import ShopifyClient
from parcours.adapters.shopify.errors import ShopifyError
from parcours.adapters.shopify.install import run_post_install, webhook_topics
from parcours.adapters.woocommerce import keys as woo_keys
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.keys import StoreKeys, save_keys
from parcours.bench.faults import SCENARIOS, ServiceMissing
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.inbox import process_pending
from parcours.reconcile import reconcile_stores
from parcours.review_publish import BACKOFF, publish_pending
from parcours.reviews import ReviewInput, add_review
from tests.conftest import service_missing
from tests.fake_shopify import API_KEY
from tests.fake_shopify import running as shopify_running
from tests.fake_woocommerce import add_key, add_product, place_order
from tests.fake_woocommerce import running as woo_running
from tests.test_shopify_install import (
    PROFILES,
    PUBLIC,
    SETTINGS_DATA,
    SHOP,
    TOKEN,
    settings_data,
)

READ_TIMEOUT = 1.0  # the clients' read timeout here; a delayed answer outlasts it
LATE = READ_TIMEOUT + 0.5
REFUSING = ("postgres_restart", "disk_full", "read_only")  # scenarios where acks are refused


# -- processes, services, disk and clocks (bench/faults.py) -------------------------------------
ON_POSTGRES = ("worker_kill", "postgres_restart", "read_only")  # private servers, not the shared


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.postgres)
                                  if name in ON_POSTGRES else name for name in SCENARIOS])
def test_nothing_acknowledged_is_lost_or_doubled(name: str) -> None:
    try:
        figure = SCENARIOS[name]()
    except ServiceMissing as exc:
        service_missing(name, exc)
    assert figure["acked"] > 0
    assert (figure["lost"], figure["duplicates"]) == (0, 0), figure
    assert figure["recovery_seconds"] < 30, figure
    if name in REFUSING:
        refused = {outcome for outcome in figure["answers"] if not outcome.startswith("200")}
        assert refused and refused <= {"503", "ConnectionError"}, figure
    if name in ("disk_full", "read_only"):  # the point: a clear refusal, not a silent loss
        assert figure["refused"] > 0
        for refusal in figure["sample_refusals"]:
            assert refusal.startswith("503 ") and "send it again later" in refusal
            assert not any(word in refusal for word in ("Traceback", "INSERT", "sqlite",
                                                        "psycopg", "whsec_"))
        reason = "disk is full" if name == "disk_full" else "read-only transaction"
        assert any(reason in line for line in figure["logged"]), figure["logged"]
    if name == "redis_unreachable":  # acks did not wait on the frozen queue
        assert figure["acked_while_redis_down"] > 0
    if name == "server_kill":
        assert figure["refused"] > 0  # the kill landed under load


# -- platform APIs answering 429, 5xx or too late ------------------------------------------------
def _figure(scenario: str, expected: Counter[str], held: Counter[str], recovery: float,
            notes: str) -> dict[str, Any]:
    """What the platform should hold (`expected`, each once) against what it holds."""
    return {"scenario": scenario, "acked": sum(expected.values()),
            "lost": sum((expected - held).values()),
            "duplicates": sum((held - expected).values()),
            "recovery_seconds": round(recovery, 2), "notes": notes}


def shopify_install_faults(db: Database) -> dict[str, Any]:
    """The post-install job meets a 429, a 503, then a mutation whose answer comes too late
    (carried out, answer lost: the client sends it again), and is run again until done."""
    waits: list[float] = []
    with shopify_running() as (state, origin):
        shop = state.shop(SHOP)
        shop.access_tokens[TOKEN] = time.time() + 3600
        shop.delivery_profiles = PROFILES
        shop.theme_files = {SETTINGS_DATA: settings_data(True)}
        with db.write() as conn:
            create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
        config = {"PUBLIC_URL": PUBLIC, "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_SHOP_ORIGIN": origin}
        shop.fail_next = [429, 503]
        shop.fail_on = {"webhookSubscriptionCreate": [0, 502]}
        late = len(webhook_topics()) // 2  # a subscription created, its answer lost
        shop.delay_next = [0.0] * 4 + [0.0] * late + [LATE]
        runs = []
        started = time.monotonic()
        for _ in range(3):  # the job's own retries
            client = ShopifyClient(SHOP, TOKEN, origin_template=origin, sleep=waits.append,
                                   timeout=(2, READ_TIMEOUT))
            try:
                runs.append(run_post_install(db, Vault(generate_key()), config, "shop",
                                             client=client).done)
                break
            except ShopifyError as exc:
                runs.append([f"failed: {exc}"])
        recovery = time.monotonic() - started
        held = Counter(f"webhook {sub['topic']}" for sub in shop.webhook_subscriptions.values())
        held.update("web pixel" for _ in shop.web_pixels)
        expected = Counter(f"webhook {topic}" for topic in webhook_topics())
        expected["web pixel"] = 1
        assert shop.delay_next == [], "the late answer was not reached"
        creates = sum("webhookSubscriptionCreate" in call.get("fields", ())
                      for call in shop.calls if call.get("status") == 200)
    return _figure("Shopify install: 429, 5xx, read timeout", expected, held, recovery,
                   f"post-install runs: {len(runs)}; backoff waits {waits} (recorded, not "
                   f"slept); {creates} subscription creates carried out for "
                   f"{len(webhook_topics())} topics: the one resent after its lost answer was "
                   "refused as 'taken' and counted as done")


@pytest.fixture
def fast_woo(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """WooCommerce clients with a short read timeout and recorded (not slept) backoff."""
    waits: list[float] = []
    monkeypatch.setattr(woo_keys, "WooClient", functools.partial(
        WooClient, sleep=waits.append, timeout=(2, READ_TIMEOUT)))
    return waits


@pytest.fixture
def woo_store(db: Database) -> Iterator[tuple[Any, int, Vault]]:
    vault = Vault(generate_key())
    with woo_running() as (fake, base, _):
        key = add_key(fake)
        with db.write() as conn:
            store_id = create_store(conn, "woo", account="acme", platform="woocommerce",
                                    domain="127.0.0.1").id
            save_keys(conn, vault, store_id, StoreKeys(base, key.consumer_key,
                                                       key.consumer_secret))
        yield fake, store_id, vault


WOO_CONFIG = {"WOOCOMMERCE_LOCAL_STORES": True}


def woo_reconcile_faults(db: Database, fake: Any, store_id: int, vault: Vault
                         ) -> dict[str, Any]:
    """Orders whose webhooks never came; the poll meets a host down (503 on every attempt),
    then a 429, a 502 and a read timeout, then answers; and runs once more."""
    orders = [place_order(fake)["id"] for _ in range(4)]  # no webhook: only the poll finds them
    fake.fail_next = [503] * 5
    down = reconcile_stores(db, vault, WOO_CONFIG)
    with db.read() as conn:
        window = conn.execute(select(t.stores.c.reconciled_until)).scalar_one()
    assert (down.errors, window) == (1, None)  # the window is kept for the next run
    fake.fail_next, fake.delay_next = [429, 502], [0.0, 0.0, LATE]
    started = time.monotonic()
    recovered = reconcile_stores(db, vault, WOO_CONFIG)
    again = reconcile_stores(db, vault, WOO_CONFIG)  # the overlap polls the same orders
    process_pending(db)
    recovery = time.monotonic() - started
    assert (recovered.errors, recovered.new, again.new) == (0, len(orders), 0)
    with db.read() as conn:
        keys = list(conn.execute(select(t.events.c.key).where(
            t.events.c.store_id == store_id, t.events.c.name == "order_placed")).scalars())
    return _figure("WooCommerce reconcile: 503s, 429, 5xx, read timeout",
                   Counter(f"order:{number}:placed" for number in orders), Counter(keys),
                   recovery, "first run failed and kept its window; the next recovered every "
                   "missed order once; a third found nothing new")


NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def woo_publish_faults(db: Database, fake: Any, store_id: int, vault: Vault) -> dict[str, Any]:
    """Three reviews to publish: one meets a 503, one a POST whose answer is lost (WordPress
    stored the review, the client timed out); the job's backoff runs until all are done."""
    product = str(add_product(fake, name="Mug")["id"])
    with db.write() as conn:
        ids = [add_review(conn, store_id, ReviewInput(
            product_id=product, rating=rating, body=f"{rating} stars", author="Ann",
            created_at=NOW - timedelta(days=1), source="request", verified=True))
            for rating in (1, 3, 5)]
    fake.fail_next, fake.delay_next = [503], [0.0, LATE]
    moment, reports = NOW, []
    started = time.monotonic()
    for wait in (timedelta(0), *BACKOFF[:2]):
        moment += wait
        reports.append(publish_pending(db, vault, WOO_CONFIG, moment).as_dict())
    recovery = time.monotonic() - started
    with db.read() as conn:
        status = dict(conn.execute(select(t.reviews.c.id, t.reviews.c.sync_status)).all())
    assert {status[review_id] for review_id in ids} == {"done"}, reports
    assert reports[0]["retried"] >= 1, reports
    held = Counter(f"{copy['product_id']}:{copy['rating']}" for copy in fake.reviews.values())
    return _figure("WooCommerce review publish: 503, lost POST answer", Counter(
        f"{product}:{rating}" for rating in (1, 3, 5)), held, recovery,
        f"publish runs {[report['published'] for report in reports]} published; the lost "
        "answer's review was refused as a duplicate on retry and found, not posted twice")


PLATFORM_FAULTS: dict[str, Callable[..., dict[str, Any]]] = {
    "reconcile": woo_reconcile_faults, "publish": woo_publish_faults}


def test_install_completes_through_api_faults_without_duplicates(db: Database) -> None:
    figure = shopify_install_faults(db)
    assert figure["acked"] == len(webhook_topics()) + 1
    assert (figure["lost"], figure["duplicates"]) == (0, 0), figure


@pytest.mark.parametrize("name", list(PLATFORM_FAULTS))
def test_woocommerce_work_completes_once_after_api_faults(
        name: str, db: Database, fast_woo: list[float],
        woo_store: tuple[Any, int, Vault]) -> None:
    figure = PLATFORM_FAULTS[name](db, *woo_store)
    assert (figure["lost"], figure["duplicates"]) == (0, 0), figure
    if name == "reconcile":  # GETs are retried in the client; POSTs by the job's backoff
        assert fast_woo, "the faults were not retried with backoff"


def test_an_unreachable_database_is_a_plain_503_naming_nothing_of_it(tmp_path: Path) -> None:
    from parcours.app import create_app

    app = create_app({"DATABASE_URL": "postgresql://nobody:s3cret@127.0.0.1:1/none",
                      "SECRET_KEYS": generate_key()}, instance_path=str(tmp_path))
    answer = app.test_client().post("/webhooks/custom/shop", data=b"{}")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert answer.json == {"error": {"message": "the delivery could not be stored; send it "
                                                "again later"}}
