"""What the hostile-input tests share (tests/test_fuzz_*.py, tests/test_security_*.py): an app
over the test database with a store per receiver and two accounts' API keys, the fuzz budget,
the hostile strings, and the checks every hostile request must pass (no 5xx, no traceback, no
inbox row left pending after a drain). No tests here.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from sqlalchemy import select
from werkzeug.test import TestResponse

from parcours import tables as t
from parcours.accounts import create_api_key, create_store, get_store
from parcours.app import create_app
from parcours.credentials import generate_key, set_secret
from parcours.db import Database, upsert
from parcours.inbox import process_pending
from tests.test_webhooks import APP_SECRET, CUSTOM_SECRET, OLD_APP_SECRET, SHOP, WC_SECRET

# Examples per fuzz property. The default keeps the whole fuzz part of the suite around two
# minutes on two CPUs; PARCOURS_FUZZ_EXAMPLES=2000 (say) is a long run before a release.
FUZZ_EXAMPLES = int(os.environ.get("PARCOURS_FUZZ_EXAMPLES", "100"))


def fuzz_settings(share: float = 1.0) -> Any:
    """Hypothesis settings for a fuzz property: `share` of the budget, no deadline (PostgreSQL
    and the shared CPUs make timings noisy), the app fixture reused across examples on purpose
    (the inbox grows as it would in production), and no example database (every run explores
    afresh)."""
    return settings(max_examples=max(5, int(FUZZ_EXAMPLES * share)), deadline=None,
                    database=None, derandomize=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# Text that must come out of every page, email and widget inert, and out of every query as typed.
SQL_PAYLOADS = ("Robert'); DROP TABLE reviews;--", "1' OR '1'='1", "\" OR 1=1 --",
                "'; SELECT pg_sleep(5);--")
XSS_PAYLOADS = ("<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>",
                "</script><script>alert(2)</script>", "javascript:alert(3)",
                "<svg/onload=alert(4)>", "'-alert(5)-'")
# The markup a payload must never appear as, once rendered (its escaped form is fine).
LIVE_MARKUP = ("<script>alert", "<img src=x", "<svg/onload", "</script><script>")

STORE_ORIGIN = "https://www.walled.example"  # the only origin the "walled" store accepts


@dataclass
class Hostile:
    """The app under attack: `shop` (Shopify, domain SHOP), `woo` and `own` (custom) with their
    webhook secrets, `walled` (custom, accepting STORE_ORIGIN only), and API keys: `keys["acme"]`
    (the owner of all four), `keys["own-only"]` (acme, scoped to `own`), `keys["evil"]` (another
    account, with its store `evil-shop`)."""

    app: Flask
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]


def make_hostile(database_url: str, instance: Path, **config: Any) -> Hostile:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "SHOPIFY_API_SECRET": APP_SECRET,
                      "SHOPIFY_API_SECRET_PREVIOUS": OLD_APP_SECRET,
                      "MAX_CONTENT_LENGTH": 64 * 1024, "TESTING": False,
                      # Fuzzing is not a flood: the limits have their own tests.
                      **{f"COLLECT_{kind}_PER_{scope}": 1e6 for kind in ("RATE", "BURST")
                         for scope in ("CLIENT", "STORE", "IP")},
                      "API_RATE_PER_ACCOUNT": 1e6, "API_BURST_PER_ACCOUNT": 1e6, **config},
                     instance_path=str(instance))
    found = Hostile(app)
    vault = app.extensions["parcours.vault"]
    with found.db.write() as conn:
        create_store(conn, "shop", account="acme", platform="shopify", domain=SHOP)
        woo = create_store(conn, "woo", account="acme", platform="woocommerce")
        own = create_store(conn, "own", account="acme", platform="custom")
        walled = create_store(conn, "walled", account="acme", platform="custom")
        create_store(conn, "evil-shop", account="evil", platform="custom")
        set_secret(conn, vault, woo.id, WC_SECRET)
        set_secret(conn, vault, own.id, CUSTOM_SECRET)
        upsert(conn, t.store_facts, [{"store_id": walled.id, "name": "shop", "value": {
            "primary_domain": STORE_ORIGIN}, "updated_at": walled.created_at}],
               ["store_id", "name"])
        found.keys = {"acme": create_api_key(conn, "acme"),
                      "own-only": create_api_key(conn, "acme", "own", stores=["own"]),
                      "evil": create_api_key(conn, "evil")}
    return found


@pytest.fixture
def hostile(database_url: str, tmp_path: Path) -> Iterator[Hostile]:
    found = make_hostile(database_url, tmp_path / "instance")
    yield found
    found.db.engine.dispose()


def assert_handled(response: TestResponse, *allowed: int) -> None:
    """Not a server error, and one of the statuses the docs give for this input."""
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]
    if allowed:
        assert response.status_code in allowed, (response.status_code,
                                                 response.get_data(as_text=True)[:2000])


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    """No record at ERROR or above: Flask logs an unhandled exception there (with its
    traceback), and the inbox logs a batch it had to roll back."""
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}"
                                 for r in errors)


def settle(db: Database) -> None:
    """Drain the inbox, then check nothing is stuck: every row done, failed with a reason, or a
    ping; no batch rolled back and rescheduled (an unexpected error, which would also hold up
    every other delivery claimed with it)."""
    while (result := process_pending(db, limit=50)).done + result.failed + result.retried:
        assert result.retried == 0, "a delivery made the worker roll its batch back"
    with db.read() as conn:
        rows = conn.execute(select(t.inbox.c.id, t.inbox.c.status, t.inbox.c.error)).all()
    assert all(r.status in ("done", "failed", "ping") for r in rows), rows
    assert all(r.error for r in rows if r.status == "failed"), rows


def fill_route(rule: str, store: str) -> str:
    """A route of the url_map (`<int:review_id>`) or of the OpenAPI document (`{review_id}`)
    with its variables filled: `store`, 1 for ids, a word for the rest."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return store if name == "store" else "1" if name.endswith("_id") else "device"
    return re.sub(r"[{<]([^}>]+)[}>]", value, rule)


def store_id(db: Database, key: str) -> int:
    with db.read() as conn:
        return get_store(conn, key).id
