"""What the dashboard tests share (tests/test_dashboard.py over HTTP,
tests/test_dashboard_browser.py in Chromium): an app over the test database with five stores
and two users, a store's simulated journeys (the demo simulator, with its shipping estimate
experiment), more shoppers recorded on demand for the friction and experiment pages, and each
way in: the password form's fields, a Shopify session token signed like Shopify signs it
(PyJWT, HS256, the app's secret), and the WordPress plugin's link made by the plugin's own PHP
(php-cli). No tests here.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask

from parcours.accounts import create_store, get_store, save_store_facts
from parcours.adapters.woocommerce.plugin import PLUGIN_ROOT
from parcours.app import create_app
from parcours.credentials import Vault, generate_key, set_secret
from parcours.dashboard_users import add_user
from parcours.db import Database
from parcours.demo import DEMO_WIDGETS, EXPERIMENT_SALT, EXPERIMENT_WIDGET, simulate
from parcours.events import load_events
from parcours.recorder import record
from parcours.reviews import ReviewInput, add_review

API_KEY = "parcours-test-client-id"
API_SECRET = "shpss_parcours-test-secret-0123456789abcdef"
SHOP = "dawn-fr.myshopify.com"
WEBHOOK_SECRET = "woo-webhook-secret-of-the-test"
EMAIL, PASSWORD = "ada@agency.example", "correct horse battery staple"
NOW = datetime.now(UTC)
HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>"


@dataclass
class Site:
    """The app and its stores: `custom` (acme's, with data), `shopify`, `woo` (each of their
    own account), `other` (another account's)."""

    app: Flask
    custom: str = "acme-shop"
    custom2: str = "acme-lab"
    shopify: str = "dawn-fr"
    woo: str = "woo-shop"
    other: str = "evil-shop"

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]

    @property
    def vault(self) -> Vault:
        return self.app.extensions["parcours.vault"]  # type: ignore[no-any-return]


def _seed(site: Site) -> None:
    with site.db.write() as conn:
        custom = create_store(conn, site.custom, account="acme", name="Acme Coffee")
        create_store(conn, site.custom2, account="acme", name="Acme Lab")
        create_store(conn, site.shopify, account=SHOP, platform="shopify", name="Dawn FR",
                     domain=SHOP)
        woo = create_store(conn, site.woo, account="woo.example", platform="woocommerce",
                           name="Woo Shop", domain="woo.example")
        create_store(conn, site.other, account="evil", name="Evil Shop")
        set_secret(conn, site.vault, woo.id, WEBHOOK_SECRET)
        add_user(conn, EMAIL, PASSWORD, account="acme", locale="en", now=NOW)
        add_user(conn, "eve@evil.example", PASSWORD, account="evil", now=NOW)
        save_store_facts(conn, custom.id, {
            "shop": {"currency": "EUR"}, "widgets": DEMO_WIDGETS,  # the demo's experiment
            "shipping_zones": [{"name": "France", "countries": [{"code": "FR"}], "rates": [
                {"name": "Colissimo", "price": "4.90", "currency": "EUR"},
                {"name": "Free delivery", "price": "0.00", "currency": "EUR",
                 "min_subtotal": "60.00"}]}]}, NOW)
        records = simulate(3, 240, NOW - timedelta(days=56), days=56)
        record(conn, get_store(conn, site.custom), load_events(site.custom, records))
        for index, (rating, title, body) in enumerate([
                (5, "Perfect grind", "Fresh, fragrant, arrived in two days."),
                (2, "Too bitter", "Not for me; the delivery was quick though."),
                (4, None, HOSTILE)]):
            add_review(conn, custom.id, ReviewInput(
                product_id=f"beans-{index}", rating=rating, title=title, body=body,
                author=["Léa", "Tom", None][index], verified=index != 2,
                created_at=NOW - timedelta(days=3 - index),
                status="pending" if index == 2 else "published"))


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET},
                     instance_path=str(tmp_path / "instance"))
    found = Site(app)
    _seed(found)
    yield found
    found.db.engine.dispose()


def shopify_token(*, shop: str = SHOP, expires_in: int = 60, secret: str = API_SECRET,
                  audience: str = API_KEY) -> str:
    """A session token as App Bridge hands it over (shopify.dev, "About session tokens")."""
    now = int(time.time())
    return jwt.encode({"iss": f"https://{shop}/admin", "dest": f"https://{shop}",
                       "aud": audience, "sub": "74", "exp": now + expires_in,
                       "nbf": now - 5 - max(0, -expires_in), "iat": now - 5 - max(0, -expires_in),
                       "jti": secrets.token_hex(8), "sid": secrets.token_hex(16)},
                      secret, algorithm="HS256")


def wordpress_link(server: str, store: str, *, secret: str = WEBHOOK_SECRET,
                   locale: str = "fr", now: int | None = None) -> str:
    """The link the plugin's button makes: its own PHP functions, run by php-cli."""
    from tests.wordpress_standin import php_binary

    code = (f"<?php define('ABSPATH', '/'); "
            f"require {json.dumps(str(PLUGIN_ROOT / 'includes/functions-dashboard.php'))}; "
            f"echo parcours_dashboard_link({json.dumps(server)}, {json.dumps(store)}, "
            f"{json.dumps(secret)}, parcours_dashboard_locale({json.dumps(locale + '_FR')}), "
            f"{now if now is not None else 'time()'}, parcours_dashboard_nonce());")
    result = subprocess.run([php_binary(), "-d", "display_errors=stderr"], input=code,
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and not result.stderr, result.stderr
    return result.stdout


def form_token(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def config_of(app: Flask, store: str) -> Any:
    """The widget config a storefront reads now (GET /w/<store>/config.json)."""
    client = app.test_client()
    return client.get(f"/w/{store}/config.json").get_json()


def _record(site: Site, store: str, records: list[dict[str, Any]]) -> None:
    with site.db.write() as conn:
        record(conn, get_store(conn, store), load_events(store, records))


def _event(name: str, shopper: str, at: datetime, properties: dict[str, Any],
           order: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"name": name, "occurred_at": at.isoformat(),
                             "identities": {"anonymous_id": shopper},
                             "properties": properties, "source": "test"}
    if order is not None:
        event["resource"] = {"type": "order", "id": order, "updated_at": at.isoformat()}
        event["key"] = f"order:{order}:{name}"
    return event


def record_cart_abandonment(site: Site, store: str, carts: int = 260, checkouts: int = 40
                            ) -> None:
    """Shoppers who fill a cart and seldom start checkout, while the shipping estimate is off:
    the `shipping_estimate` friction rule's signal (docs/friction.md), whose fix is one click.
    The widget keeps its experiment settings (salt, holdout) while it is off."""
    item = {"product_id": "p-101", "title": "Stoneware mug", "price": "14.90"}
    records = []
    for index in range(carts):
        at = NOW - timedelta(days=2, minutes=index)
        shopper = f"cart-shopper-{index}"
        records += [_event("product_viewed", shopper, at, item),
                    _event("product_added_to_cart", shopper, at + timedelta(seconds=40),
                           {**item, "quantity": 1})]
        if index < checkouts:
            records.append(_event("checkout_started", shopper, at + timedelta(seconds=90),
                                  {"subtotal": "14.90", "currency": "EUR"}))
    _record(site, store, records)
    with site.db.write() as conn:
        save_store_facts(conn, get_store(conn, store).id, {"widgets": {
            EXPERIMENT_WIDGET: {**DEMO_WIDGETS[EXPERIMENT_WIDGET], "enabled": False}}},
            datetime.now(UTC))  # newer than the seed's facts


def record_experiment(site: Site, store: str, exposed: tuple[int, int],
                      holdout: tuple[int, int]) -> None:
    """Shoppers shown the demo's experiment (the shipping estimate, salt "demo-1"), each arm
    as (shoppers, buyers), and the experiment running on the store."""
    records = []
    for arm, (shoppers, buyers) in (("exposed", exposed), ("holdout", holdout)):
        for index in range(shoppers):
            at = NOW - timedelta(days=5, minutes=index)
            shopper = f"{arm}-{index}"
            records.append(_event("widget_shown", shopper, at, {
                "widget": EXPERIMENT_WIDGET, "bucket": arm, "page": "product",
                "experiment": EXPERIMENT_SALT}))
            if index < buyers:
                records.append(_event("order_paid", shopper, at + timedelta(minutes=20),
                                      {"total": "24.00", "currency": "EUR"},
                                      order=f"{arm}-{index}"))
    _record(site, store, records)
    with site.db.write() as conn:
        save_store_facts(conn, get_store(conn, store).id, {"widgets": DEMO_WIDGETS},
                         datetime.now(UTC))
