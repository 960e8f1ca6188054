"""Jobs on a real `parcours worker` process: SqliteHuey by default, RedisHuey with Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import redis

from parcours import reports
from parcours.accounts import create_store, get_store
from parcours.app import create_app
from parcours.db import Database
from parcours.inbox import pending_count, receive
from tests.conftest import REDIS_URL, service_missing

DAY = "2026-11-04"


@pytest.fixture(params=["sqlite-huey", pytest.param("redis-huey", marks=pytest.mark.redis)])
def env(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> dict[str, str]:
    environment = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
                   "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance")}
    environment.pop("PARCOURS_REDIS_URL", None)
    if request.param == "redis-huey":
        try:
            redis.Redis.from_url(REDIS_URL, socket_timeout=2).flushdb()
        except redis.RedisError as exc:
            service_missing("Redis", exc)
        environment["PARCOURS_REDIS_URL"] = REDIS_URL
    return environment


@pytest.fixture
def worker(env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-m", "parcours.cli", "worker"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield
    process.terminate()
    process.wait(timeout=20)


def _batch(shopper: str) -> bytes:
    events = [{"name": name, "occurred_at": f"{DAY}T08:0{i}:00Z",
               "identities": {"anonymous_id": shopper}}
              for i, name in enumerate(["page_viewed", "product_viewed", "checkout_started"])]
    return json.dumps({"events": events}).encode()


def _wait_drained(db: Database, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while pending_count(db) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pending_count(db) == 0, "the worker did not drain the inbox in time"


def test_worker_drains_rows_left_pending_and_woken_ones(
        env: dict[str, str], request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("PARCOURS_DATABASE_URL", "PARCOURS_REDIS_URL", "PARCOURS_INSTANCE_PATH"):
        monkeypatch.delenv(key, raising=False)
        if key in env:
            monkeypatch.setenv(key, env[key])
    app = create_app()  # the same configuration as the worker process: from the environment
    db: Database = app.extensions["parcours.db"]
    with db.write() as conn:
        store = create_store(conn, "shop", account="acme")
        # Rows received while no worker runs, and no queue message for them: the database is
        # the source of truth, so a starting worker must still find them.
        for shopper in ("s1", "s2"):
            assert receive(conn, store_id=store.id, source="custom", topic="events",
                           delivery_key=f"test:{shopper}", body=_batch(shopper))
    request.getfixturevalue("worker")
    _wait_drained(db)
    with db.write() as conn:
        assert receive(conn, store_id=store.id, source="custom", topic="events",
                       delivery_key="test:s3", body=_batch("s3"))
    app.extensions["parcours.jobs"].wake()  # through the real queue backend
    _wait_drained(db)
    with db.read() as conn:
        day = date.fromisoformat(DAY)
        funnel = reports.funnel(conn, get_store(conn, "shop"), reports.Period(day, day))
    assert [s["journeys"] for s in funnel["steps"]][:4] == [3, 3, 0, 3]
