"""A local fake of the parts of Shopify that Parcours uses, faithful to shopify.dev.

Shopify cannot be reached from here. This fake serves, on a real loopback port, what the
adapter calls: OAuth (authorize, access_token with expiring offline tokens, refresh rotation,
token exchange) in `oauth.py`, the GraphQL Admin API (documented operations and shapes,
`userErrors`, THROTTLED with cost data, 401 on a bad token) with the theme files in `admin.py`,
and signed webhook deliveries to the app's subscriptions in `webhooks.py`.

Each shop lives under `/shops/<shop domain>` so that one server plays every shop: the adapter's
`SHOPIFY_SHOP_ORIGIN` setting ("https://{shop}" in production) is pointed at
`http://127.0.0.1:<port>/shops/{shop}` by the tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
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
    # GraphQL Admin API (admin.py): more shop settings, the throttle bucket, fault injection
    timezone: str = "Europe/Paris"
    primary_domain: str = ""  # the storefront's URL; "" = https://<domain>
    customer_accounts_version: str = "NEW_CUSTOMER_ACCOUNTS"  # or CLASSIC
    digital_wallets: list[str] = field(default_factory=lambda: ["SHOPIFY_PAY", "APPLE_PAY"])
    delivery_profiles: list[dict[str, Any]] = field(default_factory=list)  # admin.delivery_*
    app_installation_id: str = "gid://shopify/AppInstallation/1"
    bucket_max: float = 2000.0  # query-cost points (Standard plan)
    restore_rate: float = 100.0  # points per second
    bucket_available: float | None = None  # None: full
    bucket_at: float = 0.0
    clock: Callable[[], float] = time.monotonic  # the bucket's clock (tests inject their own)
    fail_next: list[int] = field(default_factory=list)  # statuses for the next calls, any field
    fail_on: dict[str, list[int]] = field(default_factory=dict)  # root field -> statuses
    # seconds the next Admin API answers wait, once the call is carried out (past the client's
    # read timeout: the mutation made, its answer lost)
    delay_next: list[float] = field(default_factory=list)
    # OAuth (oauth.py): refresh token -> the one it replaced; using a token retires its parent
    refresh_parents: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeShopify:
    """The state of the fake platform: its shops and the one app (Parcours) registered on it."""

    api_key: str = API_KEY
    api_secret: str = API_SECRET
    shops: dict[str, FakeShop] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The app's allowed redirection URLs (oauth.py); empty: any absolute http(s) URL.
    redirect_urls: list[str] = field(default_factory=list)
    # webhooks.py: where the app config sends the compliance topics, and the app's public
    # origin -> the local origin serving it (the TLS-terminating proxy of a real deployment)
    compliance_uri: str = ""
    app_network: dict[str, str] = field(default_factory=dict)

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

    @app.after_request
    def injected_delay(response: Response) -> Response:
        """`FakeShop.delay_next`: the next Admin API answers come this many seconds late."""
        shop = (request.view_args or {}).get("shop")
        if shop in state.shops and "/admin/api/" in request.path:
            fake = state.shops[shop]
            with state.lock:
                delay = fake.delay_next.pop(0) if fake.delay_next else 0.0
            time.sleep(delay)
        return response

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
