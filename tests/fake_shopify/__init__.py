"""A local fake of the parts of Shopify that Parcours uses, faithful to shopify.dev.

Shopify cannot be reached from here. This fake serves, on a real loopback port, what the
adapter calls: OAuth (authorize, access_token with expiring offline tokens, refresh rotation,
token exchange) in `oauth.py`, and the GraphQL Admin API (documented operations and shapes,
`userErrors`, THROTTLED with cost data, 401 on a bad token) with the theme files in `admin.py`.

Each shop lives under `/shops/<shop domain>` so that one server plays every shop: the adapter's
`SHOPIFY_SHOP_ORIGIN` setting ("https://{shop}" in production) is pointed at
`http://127.0.0.1:<port>/shops/{shop}` by the tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

API_KEY = "fake-api-key-0123456789abcdef"
API_SECRET = "shpss_fake-api-secret-0123456789"
API_VERSION = "2026-07"


@dataclass
class FakeShop:
    """What Shopify holds for one shop that has (or had) the app installed."""

    domain: str
    currency: str = "EUR"
    locale: str = "fr"
    # token -> expiry (Unix time); refresh token -> expiry
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: dict[str, float] = field(default_factory=dict)
    granted_codes: dict[str, float] = field(default_factory=dict)  # code -> expiry, single use
    scopes: str = ""
    webhook_subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # gid -> sub
    web_pixels: dict[str, dict[str, Any]] = field(default_factory=dict)
    metafields: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    theme_files: dict[str, str] = field(default_factory=dict)  # main theme: filename -> content
    orders: list[dict[str, Any]] = field(default_factory=list)
    login_required_at_checkout: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)  # every GraphQL call received


@dataclass
class FakeShopify:
    """The state of the fake platform: its shops and the one app (Parcours) registered on it."""

    api_key: str = API_KEY
    api_secret: str = API_SECRET
    shops: dict[str, FakeShop] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def shop(self, domain: str) -> FakeShop:
        with self.lock:
            return self.shops.setdefault(domain, FakeShop(domain))


def create_fake_app(state: FakeShopify) -> Flask:
    from tests.fake_shopify.admin import admin_blueprint
    from tests.fake_shopify.oauth import oauth_blueprint

    app = Flask("fake_shopify")
    app.config["STATE"] = state
    app.register_blueprint(oauth_blueprint, url_prefix="/shops/<shop>")
    app.register_blueprint(admin_blueprint, url_prefix="/shops/<shop>")
    return app


@contextmanager
def running(state: FakeShopify | None = None) -> Iterator[tuple[FakeShopify, str]]:
    """Serve the fake on a free loopback port; yields (state, shop origin template)."""
    state = state or FakeShopify()
    server = make_server("127.0.0.1", 0, create_fake_app(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/shops/{{shop}}"
    finally:
        server.shutdown()
