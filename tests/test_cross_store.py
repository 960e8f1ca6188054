"""Stores side by side, on SQLite and PostgreSQL: `parcours stores kpis` (table and JSON) and
GET /api/v1/kpis answer one row per store with the KPIs computed by hand below, money per
currency (`multi` in the table for a store selling in two), within the key's scope."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parcours.accounts import get_store
from parcours.events import load_events
from parcours.recorder import record
from parcours.reviews import ReviewInput, add_review
from tests.agency_support import Agency, agency
from tests.processes import parcours

__all__ = ["agency"]  # the fixture

DAY = "2026-11-02"
PERIOD = {"from": DAY, "to": DAY}


def _event(name: str, shopper: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "occurred_at": f"{DAY}T10:{minute:02d}:00+00:00",
            "identities": {"anonymous_id": shopper}, **extra}


def _paid(shopper: str, minute: int, order: str, total: str, currency: str) -> dict[str, Any]:
    return _event("order_paid", shopper, minute, properties={"total": total,
                                                             "currency": currency},
                  resource={"type": "order", "id": order})


# north-fr: 4 journeys; a1 buys (30 EUR), a2 leaves its cart, a3 its checkout, a4 only looks.
# conversion 1/4; carts a1 a2 a3, 2 not converted: 2/3; checkouts a1 a3, 1 not converted: 1/2;
# one new customer who has not bought again: repeat 0/1. Reviews of the day: 5 and 2 stars.
FR = [_event("product_viewed", "a1", 0), _event("product_added_to_cart", "a1", 1),
      _event("checkout_started", "a1", 2), _paid("a1", 3, "1001", "30.00", "EUR"),
      _event("product_viewed", "a2", 0), _event("product_added_to_cart", "a2", 1),
      _event("product_viewed", "a3", 0), _event("product_added_to_cart", "a3", 1),
      _event("checkout_started", "a3", 2), _event("page_viewed", "a4", 0)]
# north-de: 2 journeys, both bought, in two currencies; no cart or checkout event was seen.
DE = [_paid("b1", 0, "2001", "20.00", "EUR"), _paid("b2", 1, "2002", "50.00", "USD")]

ROWS = [
    {"store": "north-de", "name": "north-de", "account": "north", "platform": "woocommerce",
     "tags": ["eu"], "journeys": 2, "conversion": 1.0, "orders": 2,
     "revenue": {"EUR": "20.00", "USD": "50.00"},
     "average_order_value": {"EUR": "20.00", "USD": "50.00"}, "cart_abandonment": None,
     "checkout_abandonment": None, "repeat_purchase_rate": 0.0, "average_rating": None,
     "reviews": 0},
    {"store": "north-fr", "name": "north-fr", "account": "north", "platform": "shopify",
     "tags": ["eu", "fr"], "journeys": 4, "conversion": 0.25, "orders": 1,
     "revenue": {"EUR": "30.00"}, "average_order_value": {"EUR": "30.00"},
     "cart_abandonment": 0.6667, "checkout_abandonment": 0.5, "repeat_purchase_rate": 0.0,
     "average_rating": 3.5, "reviews": 2},
    {"store": "north-us", "name": "north-us", "account": "north", "platform": "custom",
     "tags": [], "journeys": 0, "conversion": None, "orders": 0, "revenue": {},
     "average_order_value": {}, "cart_abandonment": None, "checkout_abandonment": None,
     "repeat_purchase_rate": None, "average_rating": None, "reviews": 0},
]


def _seed(agency: Agency) -> None:
    with agency.db.write() as conn:
        for key, records in (("north-fr", FR), ("north-de", DE)):
            record(conn, get_store(conn, key), load_events(key, records))
        store_id = get_store(conn, "north-fr").id
        for rating in (5, 2):
            add_review(conn, store_id, ReviewInput(
                product_id="42", rating=rating, body="Seen", author=None,
                created_at=datetime(2026, 11, 2, 10, 30, tzinfo=UTC), status="published"))


def test_the_api_answers_one_row_per_store_of_the_key(agency: Agency) -> None:
    _seed(agency)
    answer = agency.api("GET", "/kpis", "owner", query_string=PERIOD)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"period": PERIOD, "stores": ROWS}
    eu = agency.api("GET", "/kpis", "eu", query_string=PERIOD).get_json()
    assert eu["stores"] == ROWS[:2]  # the eu key reaches the eu stores of its account only
    fr = agency.api("GET", "/kpis", "owner", query_string={**PERIOD, "stores": "tag:fr"})
    assert fr.get_json()["stores"] == [ROWS[1]]
    reversed_period = agency.api("GET", "/kpis", "owner",
                                 query_string={"from": DAY, "to": "2026-11-01"})
    assert reversed_period.status_code == 422
    assert set(reversed_period.get_json()["error"]["fields"]) == {"from"}


def test_the_cli_prints_the_same_rows_as_a_table(agency: Agency, database_url: str,
                                                  tmp_path: Path) -> None:
    _seed(agency)
    env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
           "PARCOURS_INSTANCE_PATH": str(tmp_path / "cli")}
    env.pop("PARCOURS_REDIS_URL", None)
    shown = parcours(env, "stores", "kpis", "--stores", "account:north", "--from", DAY,
                     "--to", DAY, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"period": PERIOD, "stores": ROWS}
    table = parcours(env, "stores", "kpis", "--stores", "account:north", "--from", DAY,
                     "--to", DAY).stdout.splitlines()
    assert table[0] == f"{DAY} .. {DAY}"
    assert table[1].split() == ["store", "platform", "tags", "journeys", "conv.", "orders",
                                "revenue", "AOV", "cart", "ab.", "checkout", "ab.", "repeat",
                                "rating"]
    assert table[2].split() == ["north-de", "woocommerce", "eu", "2", "100.0%", "2", "multi",
                                "multi", "-", "-", "0.0%", "-"]
    assert table[3].split() == ["north-fr", "shopify", "eu,fr", "4", "25.0%", "1", "30.00",
                                "EUR", "30.00", "EUR", "66.7%", "50.0%", "0.0%", "3.50"]
    assert table[4].split() == ["north-us", "custom", "-", "0", "-", "0", "-", "-", "-", "-",
                                "-", "-"]
    unknown = parcours(env, "stores", "kpis", "--stores", "tag:asia")
    assert unknown.returncode == 1 and "stores: unknown tag 'asia'" in unknown.stderr
    listed = parcours(env, "stores", "list", "--stores", "tag:eu").stdout.splitlines()
    assert [line.split()[:4] for line in listed] == [
        ["north-de", "woocommerce", "north", "eu"], ["north-fr", "shopify", "north", "eu,fr"],
        ["south-shop", "custom", "south", "eu"]]
