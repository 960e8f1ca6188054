"""What the agency tests share (tests/test_access.py, test_audit.py, test_cross_store.py): an
app over the test database where the agency "north" manages three client stores on both
platforms and a custom shop, tagged, beside another account's store; keys and dashboard users
of each role; and the dashboard's password login. No tests here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from parcours.access import tag_stores
from parcours.accounts import create_api_key, create_store, ensure_account
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.dashboard_users import add_user
from parcours.db import Database
from parcours.reviews import ReviewInput, add_review
from tests.dashboard_support import form_token

PASSWORD = "correct horse battery staple"
NOW = datetime.now(UTC)
# store -> (account, platform, tags)
STORES = {"north-fr": ("north", "shopify", ("eu", "fr")),
          "north-de": ("north", "woocommerce", ("eu",)),
          "north-us": ("north", "custom", ()),
          "south-shop": ("south", "custom", ("eu",))}


@dataclass
class Agency:
    app: Flask
    keys: dict[str, str] = field(default_factory=dict)
    reviews: dict[str, int] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]

    def api(self, method: str, path: str, key: str, **kwargs: Any) -> Any:
        """One API request with the key called `key`."""
        return self.app.test_client().open(
            f"/api/v1{path}", method=method,
            headers={"Authorization": f"Bearer {self.keys[key]}"}, **kwargs)


@pytest.fixture
def agency(database_url: str, tmp_path: Path) -> Iterator[Agency]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "JOBS_IMMEDIATE": True, "TESTING": True},
                     instance_path=str(tmp_path / "instance"))
    found = Agency(app)
    with found.db.write() as conn:
        ensure_account(conn, "north", "agency")
        for key, (account, platform, tags) in STORES.items():
            store = create_store(conn, key, account=account, platform=platform)
            tag_stores(conn, [key], add=tags)
            found.reviews[key] = add_review(conn, store.id, ReviewInput(
                product_id="42", rating=4, body="Good", author="Ann", created_at=NOW,
                status="pending"))
        found.keys = {
            "owner": create_api_key(conn, "north", "ci"),
            "admin": create_api_key(conn, "north", "ops", role="admin"),
            "analyst": create_api_key(conn, "north", "bi", role="analyst"),
            "fr-only": create_api_key(conn, "north", "fr", stores=["north-fr"]),
            "eu": create_api_key(conn, "north", "eu", role="admin", tags=["eu"]),
            "south": create_api_key(conn, "south"),
        }
        for email, role, tags in (("owner@north.example", "owner", ()),
                                  ("analyst@north.example", "analyst", ()),
                                  ("eu@north.example", "admin", ("eu",))):
            add_user(conn, email, PASSWORD, account="north", now=NOW, role=role, tags=tags)
    yield found
    found.db.engine.dispose()


def dashboard_login(app: Flask, email: str) -> FlaskClient:
    """A browser logged into the dashboard as `email`."""
    client = app.test_client()
    page = client.get("/dashboard/login")
    answer = client.post("/dashboard/login", data={
        "csrf": form_token(page.get_data(as_text=True)), "email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client
