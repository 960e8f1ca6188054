"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and a store in it.

PostgreSQL and Redis come from PARCOURS_TEST_DATABASE_URL / PARCOURS_TEST_REDIS_URL (defaults:
this machine's services). Where one is missing its tests skip with the reason, except under
CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from parcours.accounts import create_store, get_store
from parcours.db import Database
from parcours.recorder import StoreRef

PG_URL = os.environ.get("PARCOURS_TEST_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARCOURS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing service is a failure)")
    pytest.skip(message)


def fresh_postgres(url: str = PG_URL) -> Database:
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # any driver error means the service is not usable here
        service_missing("PostgreSQL", exc)
    db.upgrade()
    db.engine.dispose()
    return db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database on each backend."""
    if request.param == "postgres":
        return fresh_postgres().engine.url.render_as_string(hide_password=False)
    url = f"sqlite:///{tmp_path / 'parcours.db'}"
    Database(url).upgrade()
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def store(db: Database) -> StoreRef:
    with db.write() as conn:
        create_store(conn, "shop", account="acme", platform="custom")
        return get_store(conn, "shop")


CHROMIUM = Path("/usr/bin/chromium")


# /collect drops headless browsers (their visits are not shoppers'), so pages that must be
# counted browse as the desktop Chrome a shopper would use. A context's user agent does not
# cover the beacons a page sends as it unloads: the browser's own default must be this one.
SHOPPER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/120.0.0.0 Safari/537.36")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright, once per session (two sync instances cannot run at once)."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian package chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the browser tests must run)")
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


def _chromium(playwright: Any, *args: str) -> Iterator[Any]:
    """Debian's Chromium (`playwright install` cannot download here), without the background
    requests this machine's closed network would refuse."""
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--disable-background-networking", *args])
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    yield from _chromium(playwright)


@pytest.fixture(scope="session")
def shopper_browser(playwright: Any) -> Iterator[Any]:
    """Chromium that says it is a shopper's desktop Chrome, beacons included."""
    yield from _chromium(playwright, f"--user-agent={SHOPPER_AGENT}")
