"""docs/custom-shop.md, followed as a developer would: its commands against a real Parcours
server on loopback (`parcours serve` and `parcours worker`), then every ```python block of
the page, in order, in one namespace; then what they should have done is checked: the loader
tag in the Flask shop's page, the events recorded by the server, its KPIs, the embedded
engine's database. A block fenced ```python skip (a Django snippet) is the only kind not run.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from parcours import Client
from parcours import tables as t
from parcours.db import Database
from parcours.inbox import pending_count
from tests.processes import free_port, parcours, parcours_running, until

GUIDE = Path(__file__).parents[1] / "docs" / "custom-shop.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# The guide's server commands, run here as written there (the test fails if the page changes
# them without this list following).
COMMANDS = (
    "parcours db upgrade",
    "parcours stores add my-shop --account acme --platform custom",
    "parcours keys create --account acme",
    "parcours secrets webhook my-shop",
)


def blocks(language: str) -> list[tuple[str, str]]:
    """(info after the language, code) of each fenced block of `language`, in page order."""
    return [(info.strip(), code) for lang, info, code in FENCE.findall(GUIDE.read_text())
            if lang == language]


def test_every_python_block_is_run_or_marked_skip() -> None:
    python = blocks("python")
    assert len([code for info, code in python if info == ""]) >= 6
    assert {info for info, _ in python} <= {"", "skip"}
    shell = "\n".join(code for _, code in blocks("sh"))
    for command in COMMANDS:
        assert command in shell, f"the guide no longer says {command!r}"


def _flush_clients() -> None:
    """What a web process does by itself over time: send what the SDK clients queued."""
    for thing in gc.get_objects():
        if isinstance(thing, Client):
            assert thing.flush(timeout=30)


def test_the_guide_works_against_a_real_server(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    database_url = f"sqlite:///{tmp_path / 'parcours.db'}"
    env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
           "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("PARCOURS_REDIS_URL", None)
    keys = parcours(env, "secrets", "new-key")
    assert keys.returncode == 0, keys.stderr
    env["PARCOURS_SECRET_KEYS"] = keys.stdout.strip()
    printed: dict[str, str] = {}
    for command in COMMANDS:
        done = parcours(env, *command.split()[1:])
        assert done.returncode == 0, f"{command}: {done.stderr}"
        printed[command] = done.stdout.strip()
    api_key = printed["parcours keys create --account acme"]
    secret = printed["parcours secrets webhook my-shop"]
    assert api_key.startswith("prc_") and secret.startswith("whsec_")

    shop_folder = tmp_path / "shop"
    shop_folder.mkdir()
    monkeypatch.chdir(shop_folder)  # the embedded engine's sqlite:///shop.db lands here
    db = Database(database_url)
    try:
        with parcours_running(env, free_port()) as url:
            monkeypatch.setenv("PARCOURS_URL", url)
            monkeypatch.setenv("PARCOURS_SECRET", secret)
            monkeypatch.setenv("PARCOURS_API_KEY", api_key)
            namespace: dict[str, Any] = {"__name__": "custom_shop_guide"}
            for info, code in blocks("python"):
                if info == "skip":
                    continue
                if "api/v1/stores/my-shop/kpis" in code:  # reading: after the worker's turn
                    _flush_clients()
                    until("the worker to record the guide's events",
                          lambda: _names(db) >= {"order_paid", "product_added_to_cart",
                                                 "page_viewed", "customer_created"}
                          and pending_count(db) == 0)
                exec(compile(code, str(GUIDE), "exec"), namespace)
            kpis = namespace["kpis"]
            assert kpis["orders"] == {"EUR": 1} and kpis["revenue"] == {"EUR": "18.00"}
            assert 'data-store="my-shop"' in namespace["page"]
    finally:
        db.engine.dispose()
    # The embedded variant wrote its own database, beside the shop, and nothing to the server.
    embedded = Database("sqlite:///shop.db")
    try:
        names = _names(embedded)
        assert {"product_viewed", "checkout_started", "order_paid"} <= names
        with embedded.read() as conn:
            orders = conn.execute(select(t.events.c.key).where(
                t.events.c.name == "order_paid")).scalars().all()
        assert sorted(orders) == ["order:1002:paid", "order:1003:paid"]
    finally:
        embedded.engine.dispose()
    assert "checkout_started" not in _names(Database(database_url))


def _names(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(t.events.c.name)).scalars())
