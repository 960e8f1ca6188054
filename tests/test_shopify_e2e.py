"""A Shopify store from install to purge, on real processes: `parcours serve` (gunicorn) and
`parcours worker` on SQLite and on PostgreSQL, against the fake Shopify on loopback.

The merchant's browser follows the redirects (install link → Shopify's authorize → the app's
callback → the app in the admin); the worker runs the post-install job; the fake sends signed
webhooks to the subscriptions that job created; the storefront's pixel posts to /collect;
Shopify's app proxy forwards a signed shipping-estimate request; ratings go to the product
metafields; the merchant uninstalls and Shopify asks for the shop's data to be erased.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, select

from parcours import tables as t
from parcours.adapters.shopify.install import shop_client
from parcours.adapters.shopify.reviews import publish_rating
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.inbox import pending_count
from tests.fake_shopify import API_KEY, API_SECRET, FakeShop, FakeShopify, running
from tests.fake_shopify.oauth import install_url, proxy_query, session_token
from tests.fake_shopify.webhooks import local_url, send, uninstall
from tests.processes import free_port, parcours_running, run_cli, until
from tests.test_shopify_install import PROFILES, SETTINGS_DATA, settings_data

SHOP = "maison-lune.myshopify.com"
STORE = "maison-lune"
PUBLIC = "https://parcours.example.test"
STOREFRONT = "https://maison-lune.fr"
FIXTURES = Path(__file__).parent / "fixtures" / "shopify"
ORDER = 820982911946154508  # the id of Shopify's sample order
PRODUCT = 788032119674292922  # the product of its line items
CHECKOUT = "123123123"  # the token of Shopify's sample checkout
SHOPPER = "7b8c1d2e-pixel-client-id"
FORGED = "shpss_not-the-app-secret-0123456789"


@dataclass
class Stack:
    state: FakeShopify
    shop: FakeShop
    origin: str  # the fake's shop origin template
    app: str  # where Parcours is served here
    env: dict[str, str]
    db: Database
    vault: Vault

    def config(self) -> dict[str, Any]:
        return {"SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
                "SHOPIFY_SHOP_ORIGIN": self.origin, "PUBLIC_URL": PUBLIC}

    def parcours(self, *args: str) -> str:
        done = run_cli(self.env, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def count(self, table: t.Table) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def drained(self) -> None:
        until("the worker to drain the inbox", lambda: pending_count(self.db) == 0)

    def store(self) -> Any:
        with self.db.read() as conn:
            return conn.execute(select(t.stores).where(t.stores.c.key == STORE)).first()


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    port = free_port()
    keys = generate_key()
    with running() as (state, origin):
        state.redirect_urls = [f"{PUBLIC}/shopify/callback"]
        state.compliance_uri = f"{PUBLIC}/webhooks/shopify"  # the app config's compliance_topics
        state.app_network = {PUBLIC: f"http://127.0.0.1:{port}"}
        shop = state.shop(SHOP)
        shop.primary_domain = STOREFRONT
        shop.delivery_profiles = PROFILES
        shop.theme_files = {SETTINGS_DATA: settings_data(True)}  # the merchant turned it on
        shop.login_required_at_checkout = True  # a friction the app must point out
        env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
               "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"),
               "PARCOURS_SECRET_KEYS": keys, "PARCOURS_SHOPIFY_API_KEY": API_KEY,
               "PARCOURS_SHOPIFY_API_SECRET": API_SECRET,
               "PARCOURS_SHOPIFY_SHOP_ORIGIN": origin, "PARCOURS_PUBLIC_URL": PUBLIC}
        env.pop("PARCOURS_REDIS_URL", None)
        db = Database(database_url)
        try:
            with parcours_running(env, port) as app:
                yield Stack(state, shop, origin, app, env, db, Vault(keys))
        finally:
            db.engine.dispose()


def browse(state: FakeShopify, url: str, stop: str) -> str:
    """Follow redirects as the merchant's browser does (cookies included) until a URL starting
    with `stop`; that URL. Secure cookies are sent: the browser reaches the app over https."""
    cookies: dict[str, str] = {}
    for _ in range(6):
        answer = requests.get(local_url(state, url), cookies=cookies, allow_redirects=False,
                              timeout=10)
        assert answer.status_code in (302, 303), (url, answer.status_code, answer.text)
        for name, morsel in SimpleCookie(answer.headers.get("Set-Cookie", "")).items():
            cookies[name] = morsel.value
        url = answer.headers["Location"]
        if url.startswith(stop):
            return url
    raise AssertionError(f"too many redirects, last {url}")


def sample(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}__shopifydev-webhooks-ref.json")
                                      .read_bytes())
    return data | changes


def at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def pixel_batch(start: datetime) -> dict[str, Any]:
    """What the web pixel posts for one shopper's visit (see extensions/pixel/src/index.js)."""
    ids = {"anonymous_id": SHOPPER}
    product = {"product_id": str(PRODUCT), "variant_id": "1", "price": "404.95",
               "currency": "USD"}
    events = [("page_viewed", 0, ids, {"path": "/"}),
              ("product_viewed", 1, ids, product),
              ("product_added_to_cart", 2, ids, {**product, "quantity": 1}),
              ("checkout_started", 4, {**ids, "checkout_token": CHECKOUT},
               {"total": "404.95", "currency": "USD", "item_count": 1}),
              ("checkout_completed", 8, {**ids, "checkout_token": CHECKOUT,
                                         "order_id": str(ORDER)},
               {"total": "404.95", "currency": "USD", "item_count": 1, "order_id": str(ORDER)})]
    return {"key": STORE, "events": [
        {"name": name, "occurred_at": at(start + timedelta(minutes=minutes)),
         "identities": identities, "properties": properties, "source": "shopify_pixel",
         "key": f"pixel:{name}"} for name, minutes, identities, properties in events]}


def test_install_to_purge(stack: Stack, browser: Any) -> None:
    state, shop = stack.state, stack.shop
    admin = stack.origin.format(shop=SHOP) + f"/admin/apps/{API_KEY}"

    # 1. The merchant clicks "Install" in the app store, approves, and lands in the app.
    assert browse(state, install_url(state, SHOP, PUBLIC), stop=admin) == admin
    store = stack.store()
    assert (store.platform, store.domain) == ("shopify", SHOP)
    assert stack.count(t.credentials) == 1  # the tokens, encrypted

    # 2. The worker runs the post-install job: subscriptions, pixel, config, facts, zones.
    until("the post-install job", lambda: len(shop.web_pixels) == 1 and (
        shop.app_installation_id, "parcours", "config") in shop.metafields)
    topics = sorted(sub["topic"] for sub in shop.webhook_subscriptions.values())
    assert len(topics) == 17 and {"ORDERS_PAID", "APP_UNINSTALLED"} <= set(topics)
    assert {sub["uri"] for sub in shop.webhook_subscriptions.values()} == {
        f"{PUBLIC}/webhooks/shopify"}
    [pixel] = shop.web_pixels.values()
    assert json.loads(pixel["settings"]) == {"endpoint": PUBLIC, "store_key": STORE}

    def stored_facts() -> dict[str, Any]:
        with stack.db.read() as conn:
            return dict(conn.execute(select(t.store_facts.c.name, t.store_facts.c.value)
                                     .where(t.store_facts.c.store_id == store.id)).all())

    # The app embed is the job's last step.
    facts = until("the post-install facts",
                  lambda: "app_embed" in stored_facts() and stored_facts())
    assert facts["app_embed"]["active"] is True
    assert facts["shop"]["primary_domain"] == STOREFRONT
    assert stack.store().timezone == "Europe/Paris"

    # The merchant opens the app in the admin (Chromium): the setup and its frictions.
    page = browser.new_page()
    page.route("https://cdn.shopify.com/**", lambda route: route.abort())  # App Bridge: offline
    page.goto(f"{stack.app}/shopify/admin?" + urlencode(
        {"id_token": session_token(state, SHOP), "shop": SHOP, "embedded": "1"}))
    assert page.locator("html").get_attribute("lang") == "fr"  # the shop's language
    checklist = {item.get_attribute("data-item"): item.get_attribute("class")
                 for item in page.locator("#setup li").all()}
    assert checklist == {"app_embed": "ok", "guest_checkout": "action",
                         "express_checkout": "ok", "shipping_estimate": "ok"}
    fix = page.locator('[data-item="guest_checkout"] a')
    assert fix.get_attribute("href") == f"https://{SHOP}/admin/settings/customer_accounts"
    assert fix.inner_text() == "Ouvrir les réglages des comptes clients"
    page.close()

    # 3. A shopper browses and buys: the pixel posts to /collect from the storefront.
    start = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    posted = requests.post(f"{stack.app}/collect", data=json.dumps(pixel_batch(start)),
                           headers={"Origin": STOREFRONT, "Content-Type": "text/plain"},
                           timeout=10)
    assert posted.status_code == 202, posted.text
    foreign = requests.post(f"{stack.app}/collect", data=json.dumps(pixel_batch(start)),
                            headers={"Origin": "https://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and "evil.example" in foreign.text

    # 4. Shopify sends the checkout, the order, its payment and its delivery, signed.
    paid_at = at(start + timedelta(minutes=8))
    email = "jon@example.com"
    order = sample("orders_create", financial_status="paid", cancelled_at=None,
                   cancel_reason=None, created_at=paid_at, updated_at=paid_at,
                   processed_at=paid_at, checkout_token=CHECKOUT, email=email)
    delivered_at = at(start + timedelta(days=1))
    sends = [
        ("checkouts/create", sample("checkouts_create", email=email, created_at=at(
            start + timedelta(minutes=4)), updated_at=at(start + timedelta(minutes=6)))),
        ("orders/create", order),
        ("orders/paid", order),
        ("fulfillments/create", sample("fulfillments_create", status="success",
                                       shipment_status="delivered", created_at=delivered_at,
                                       updated_at=delivered_at)),
    ]
    for topic, payload in sends:
        [sent] = send(state, SHOP, topic, payload)
        assert sent.status == 200, (topic, sent.answer)
    [retry] = send(state, SHOP, "orders/paid", order, webhook_id=sent.webhook_id)
    assert (retry.status, retry.answer.get("duplicate")) == (200, True)
    inbox_before = stack.count(t.inbox)
    [forged] = send(state, SHOP, "orders/paid", order, secret=FORGED)
    assert forged.status == 401 and "X-Shopify-Hmac-Sha256" in json.dumps(forged.answer)
    assert stack.count(t.inbox) == inbox_before  # nothing stored

    # 5. The merchant reads the journey: one shopper, stitched, now at reception.
    stack.drained()
    key = stack.parcours("keys", "create", "--account", SHOP).strip().split()[-1]
    auth = {"Authorization": f"Bearer {key}"}
    stages = requests.get(f"{stack.app}/api/v1/stores/{STORE}/stages", headers=auth,
                          timeout=10).json()
    assert stages["profiles_now"]["reception"] == 1
    assert sum(stages["profiles_now"].values()) == 1  # the pixel's shopper is the buyer
    funnel = requests.get(f"{stack.app}/api/v1/stores/{STORE}/funnel", headers=auth,
                          timeout=10).json()
    reached = {step["stage"]: step["journeys"] for step in funnel["steps"]}
    assert {stage: reached[stage] for stage in ("awareness", "comparison", "decision",
                                                "purchase", "reception")} == dict.fromkeys(
        ("awareness", "comparison", "decision", "purchase", "reception"), 1)

    # 6. A shopper on the storefront asks for the shipping cost; Shopify proxies it, signed.
    query = proxy_query(state, SHOP, [("country", "FR"), ("subtotal", "30.00"),
                                      ("currency", "EUR")])
    estimate = requests.get(f"{stack.app}/apps/parcours/shipping-estimate?{urlencode(query)}",
                            timeout=10)
    assert estimate.status_code == 200, estimate.text
    assert [(rate["name"], rate["price"]) for rate in estimate.json()["rates"]] == [
        ("Colissimo", "4.90")]
    tampered = [(k, "BE" if k == "country" else v) for k, v in query]
    assert requests.get(f"{stack.app}/apps/parcours/shipping-estimate?{urlencode(tampered)}",
                        timeout=10).status_code == 401

    # 7. The product's ratings are published to its standard review metafields.
    with shop_client(stack.db, stack.vault, stack.config(), STORE) as client:
        publish_rating(client, f"gid://shopify/Product/{PRODUCT}", Decimal("4.5"), 2)
    owner = f"gid://shopify/Product/{PRODUCT}"
    assert json.loads(shop.metafields[(owner, "reviews", "rating")]["value"]) == {
        "value": "4.5", "scale_min": "1.0", "scale_max": "5.0"}
    assert shop.metafields[(owner, "reviews", "rating_count")]["value"] == "2"

    # 8. The merchant uninstalls: credentials go at once, the data waits for the retention...
    [notice] = uninstall(state, SHOP)
    assert notice.status == 200
    stack.drained()
    store = stack.store()
    assert store.uninstalled_at is not None and stack.count(t.credentials) == 0
    assert store.delete_after - store.uninstalled_at == timedelta(days=30)
    assert stack.count(t.events) > 0

    # ...until Shopify's shop/redact, 48 hours later, makes it due; the purge deletes it all.
    [redact] = send(state, SHOP, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP})
    assert redact.status == 200
    stack.drained()
    purged = json.loads(stack.parcours("privacy", "purge"))
    assert purged["stores"] == 1
    assert stack.store() is None
    for table in (t.events, t.profiles, t.journeys, t.store_facts, t.credentials):
        assert stack.count(table) == 0, table.name
    with stack.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.inbox).where(
            t.inbox.c.store_id.is_not(None))).scalar_one() == 0
