"""What the review form tests share (tests/test_review_form.py over HTTP,
tests/test_review_form_browser.py in Chromium): a store in an app over the test database
(`make_shop`, `shop`), review requests set up as the sender leaves them (a `review_requests`
row, status "sent", and the link review_links signs for it), and a shopper's side of a form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from parcours import tables as t
from parcours.accounts import create_store
from parcours.app import create_app
from parcours.credentials import Vault, generate_key
from parcours.db import Database, upsert
from parcours.events import email_hash
from parcours.review_links import form_token

NOW = datetime.now(UTC)
ITEMS = [{"product_id": "mug", "title": "Enamel mug", "image": "https://cdn.example/mug.png"},
         {"product_id": "tee", "title": "Linen tee", "image": None},
         {"product_id": "cap", "title": "Wool cap", "image": "http://cdn.example/cap.png"}]
HOSTILE = "<script>alert(1)</script>\n\"><img src=x onerror=alert(1)>"


@dataclass
class Shop:
    """A store with review requests in an app over the test database."""

    app: Flask
    store_id: int
    key: str

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]

    @property
    def vault(self) -> Vault:
        return self.app.extensions["parcours.vault"]  # type: ignore[no-any-return]

    def settings(self, **values: Any) -> None:
        with self.db.write() as conn:
            upsert(conn, t.store_facts, [{"store_id": self.store_id, "name": "review_settings",
                                          "value": values, "updated_at": NOW}],
                   ["store_id", "name"], replace=["value"])

    def request(self, order_id: str = "1001", **values: Any) -> tuple[int, str]:
        """A sent request (its id) and its form link's token."""
        row: dict[str, Any] = {
            "store_id": self.store_id, "order_id": order_id, "email": "ada@example.com",
            "customer_key": email_hash("ada@example.com"), "name": "Ada", "locale": "en-GB",
            "items": ITEMS, "status": "sent", "nonce": "a" * 32, "created_at": NOW,
            "updated_at": NOW, **values}
        with self.db.write() as conn:
            request_id = conn.execute(t.review_requests.insert().values(**row)
                                      .returning(t.review_requests.c.id)).scalar_one()
        return request_id, form_token(self.vault, request_id, row["nonce"])

    def row(self, request_id: int) -> Any:
        with self.db.read() as conn:
            return conn.execute(select(t.review_requests)
                                .where(t.review_requests.c.id == request_id)).one()

    def rows(self, table: Any) -> list[Any]:
        with self.db.read() as conn:
            return list(conn.execute(select(table).order_by(*table.primary_key.columns)))


MakeShop = Callable[..., Shop]


@pytest.fixture
def make_shop(database_url: str, tmp_path: Path) -> Iterator[MakeShop]:
    apps: list[Flask] = []

    def make(**config: Any) -> Shop:
        app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(), **config},
                         instance_path=str(tmp_path / f"app{len(apps)}"))
        apps.append(app)
        with app.extensions["parcours.db"].write() as conn:
            store = create_store(conn, f"shop{len(apps)}", account="acme", name="Acme Shop")
        return Shop(app, store.id, store.key)

    yield make
    for app in apps:
        app.extensions["parcours.db"].engine.dispose()


@pytest.fixture
def shop(make_shop: MakeShop) -> Shop:
    return make_shop()


class Shopper:
    """A browser's side of one form: the page, its cookie and CSRF token, the post."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token, self.csrf = client, token, ""

    def open(self, query: str = "") -> TestResponse:
        page = self.client.get(f"/r/{self.token}{query}")
        found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
        self.csrf = found.group(1) if found else ""
        return page

    def send(self, query: str = "", *, with_csrf: bool = True, **fields: Any) -> TestResponse:
        data = {"csrf": self.csrf, **fields} if with_csrf else fields
        return self.client.post(f"/r/{self.token}{query}", data=data,
                                content_type="multipart/form-data")


def text(response: TestResponse) -> str:
    """The page's words as a reader sees them: tags dropped, entities read, spaces single."""
    body = response.get_data(as_text=True)
    main = body[body.index("<main>"):] if "<main>" in body else body
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))
