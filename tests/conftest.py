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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from parcours.accounts import create_store, get_store
from parcours.db import Database
from parcours.recorder import StoreRef

# With pytest-xdist (`make test` runs two workers), each worker gets its own PostgreSQL
# database (the configured one, suffixed "_gw0", "_gw1", ...: created when missing) and its own
# Redis database number, since tests drop and flush what they use.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_PG = make_url(os.environ.get("PARCOURS_TEST_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
PG_URL = (_PG.set(database=f"{_PG.database}_{WORKER}") if WORKER else _PG).render_as_string(
    hide_password=False)
_REDIS = os.environ.get("PARCOURS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_URL = (_REDIS.rsplit("/", 1)[0] + f"/{int(_REDIS.rsplit('/', 1)[1]) - int(WORKER[2:])}"
             if WORKER else _REDIS)


def _create_worker_database() -> None:
    """The worker's own database, on the configured server (once per session)."""
    server = create_engine(_PG, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            name = make_url(PG_URL).database
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                {"name": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()


def service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a missing service is a failure)")
    pytest.skip(message)


def fresh_postgres(url: str = PG_URL) -> Database:
    db = Database(url)
    try:
        if WORKER and url == PG_URL:
            _create_worker_database()
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


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real SMTP server on loopback (aiosmtpd) that records what it accepts, and can refuse
    or hang on demand (see tests/smtp_support.py)."""
    from tests.smtp_support import RunningSmtp

    with RunningSmtp() as server:
        yield server


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `parcours` command (tests.processes.parcours) on the test database,
    with the store "shop" of the account "acme" added."""
    from tests.processes import parcours

    environment = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
                   "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance")}
    environment.pop("PARCOURS_REDIS_URL", None)
    assert parcours(environment, "stores", "add", "shop", "--account", "acme").returncode == 0
    return environment
