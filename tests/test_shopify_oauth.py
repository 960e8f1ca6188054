"""Shopify OAuth, embedded admin and app proxy on the real app, a real database (SQLite and
PostgreSQL) and the fake Shopify over real HTTP on loopback.

The app is driven with Flask's test client (it keeps the install cookie); every call the app makes
to Shopify goes to the fake through `requests`. Each refusal is checked for its status, for a
message naming the problem, and for nothing stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from parcours import tables as t
from parcours.accounts import create_store
from parcours.adapters.shopify.errors import ShopifyAuthError, ShopifyGrantError
from parcours.adapters.shopify.oauth import (
    SHOPIFY_SCOPES,
    new_state,
    query_hmac,
)
from parcours.adapters.shopify.proxy import proxy_signature, verify_proxy_signature
from parcours.adapters.shopify.routes import COOKIE, register_routes
from parcours.adapters.shopify.session import verify_session_token
from parcours.adapters.shopify.tokens import (
    PURPOSE,
    access_token,
    load_tokens,
    refresh,
    save_tokens,
)
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database, upsert
from parcours.privacy import schedule_store_deletion
from parcours.shipping import shipping_estimate
from tests.fake_shopify import API_KEY, API_SECRET, FakeShopify, running
from tests.fake_shopify.oauth import install_url, proxy_query, session_token, sign_query

SHOP = "acme-shop.myshopify.com"
OLD_SECRET = "shpss_previous-secret-0123456789abcdef"
FORGED = "shpss_forged-secret-0123456789abcdef0"
PUBLIC = "http://localhost"
Fake = tuple[FakeShopify, str]


@pytest.fixture(scope="module")
def fake() -> Iterator[Fake]:
    """One fake for the module (its shops are keyed by domain; tests count relative to it)."""
    with running() as (state, origin):
        state.redirect_urls = [f"{PUBLIC}/shopify/callback"]
        yield state, origin


@pytest.fixture
def app(database_url: str, tmp_path: Path, fake: Fake) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
                      "SHOPIFY_API_SECRET_PREVIOUS": OLD_SECRET,
                      "SHOPIFY_SHOP_ORIGIN": fake[1], "PUBLIC_URL": PUBLIC},
                     instance_path=str(tmp_path))
    register_routes(app)
    started: list[str] = []
    app.extensions["parcours.shopify.post_install"] = started.append
    app.config["STARTED"] = started
    yield app
    _db(app).engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def counts(app: Flask) -> tuple[int, int]:
    """(stores, credentials): what a refused request must leave unchanged."""
    with _db(app).read() as conn:
        stores, credentials = (
            int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (t.stores, t.credentials))
    return stores, credentials


def store_row(app: Flask, shop: str = SHOP) -> Any:
    with _db(app).read() as conn:
        return conn.execute(select(t.stores, t.accounts.c.name.label("account"))
                            .join(t.accounts).where(t.stores.c.domain == shop)).first()


def tokens_of(app: Flask, store_id: int) -> Any:
    with _db(app).read() as conn:
        return load_tokens(conn, app.extensions["parcours.vault"], store_id)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def error(response: Any) -> str:
    return str(response.get_json()["error"]["message"])


def start(client: FlaskClient, fake: Fake, shop: str = SHOP) -> str:
    """Install link → the app → Shopify's authorize (the merchant approves): the callback URL."""
    answer = client.get(local(install_url(fake[0], shop, PUBLIC)))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.location.startswith(fake[1].format(shop=shop) + "/admin/oauth/authorize?")
    approved = requests.get(answer.location, allow_redirects=False, timeout=5)
    assert approved.status_code == 302
    return str(approved.headers["Location"])


def install(client: FlaskClient, fake: Fake, shop: str = SHOP) -> Any:
    answer = client.get(local(start(client, fake, shop)))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


# -- OAuth -------------------------------------------------------------------------------------

def test_install_stores_expiring_tokens_encrypted_and_starts_the_job(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    state, origin = fake
    authorize = client.get(local(install_url(state, SHOP, PUBLIC)))
    query = dict(parse_qsl(urlsplit(authorize.location).query))
    assert query["client_id"] == API_KEY and query["redirect_uri"] == f"{PUBLIC}/shopify/callback"
    assert query["scope"] == ",".join(SHOPIFY_SCOPES) and "grant_options[]" not in query
    assert "HttpOnly" in authorize.headers["Set-Cookie"]
    assert "SameSite=Lax" in authorize.headers["Set-Cookie"]

    done = client.get(local(requests.get(authorize.location, allow_redirects=False,
                                         timeout=5).headers["Location"]))
    assert done.status_code == 302
    assert done.location == origin.format(shop=SHOP) + f"/admin/apps/{API_KEY}"
    assert client.get_cookie(COOKIE, path="/shopify/callback") is None  # single use
    row = store_row(app)
    assert (row.key, row.platform, row.account) == ("acme-shop", "shopify", SHOP)
    tokens = tokens_of(app, row.id)
    assert tokens.access_token in state.shop(SHOP).access_tokens
    assert tokens.refresh_token in state.shop(SHOP).refresh_tokens
    assert timedelta(minutes=59) < tokens.access_expires_at - datetime.now(UTC) <= timedelta(
        hours=1)
    assert tokens.refresh_expires_at - datetime.now(UTC) > timedelta(days=89)
    assert tokens.access_token not in repr(tokens)
    with _db(app).read() as conn:
        stored = conn.execute(select(t.credentials.c.purpose, t.credentials.c.ciphertext)).all()
    assert [purpose for purpose, _ in stored] == [PURPOSE]
    assert tokens.access_token not in stored[0][1] and tokens.refresh_token not in stored[0][1]
    assert app.config["STARTED"] == ["acme-shop"]
    assert state.shop(SHOP).scopes == ",".join(SHOPIFY_SCOPES)


def test_golden_hmac_vector_from_shopify_dev() -> None:
    params = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com",
              "state": "0.6784241404160823", "timestamp": "1337178173"}
    assert query_hmac("hush", params) == (
        "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf")
    assert query_hmac("hush", params) == sign_query("hush", params)  # the fake agrees


def test_replayed_callback_is_refused(app: Flask, client: FlaskClient, fake: Fake) -> None:
    callback = start(client, fake)
    cookie = client.get_cookie(COOKIE, path="/shopify/callback")
    assert cookie is not None
    assert client.get(local(callback)).status_code == 302
    before = counts(app)
    again = client.get(local(callback))
    assert again.status_code == 401 and "cookie" in error(again)
    client.set_cookie(COOKIE, cookie.value, path="/shopify/callback")  # a stolen cookie too
    stolen = client.get(local(callback))
    assert stolen.status_code == 401 and "already used" in error(stolen)
    assert counts(app) == before


def callback_query(state: str, shop: str = SHOP, secret: str = API_SECRET,
                   timestamp: int | None = None) -> str:
    params = {"code": "c0de", "host": "aG9zdA==", "shop": shop, "state": state,
              "timestamp": str(int(time.time()) if timestamp is None else timestamp)}
    params["hmac"] = sign_query(secret, params)
    return "/shopify/callback?" + urlencode(params)


@pytest.mark.parametrize("case", ["stale state", "other shop", "forged hmac", "old timestamp",
                                  "tampered state", "no cookie"])
def test_bad_callbacks_are_refused(app: Flask, client: FlaskClient, case: str) -> None:
    now = time.time()
    state, cookie = new_state(app.config, SHOP, now=now - 700 if case == "stale state" else now)
    if case != "no cookie":
        client.set_cookie(COOKIE, cookie, path="/shopify/callback")
    url = callback_query(state, secret=FORGED if case == "forged hmac" else API_SECRET,
                         timestamp=int(now) - 400 if case == "old timestamp" else None)
    if case == "other shop":
        url = callback_query(new_state(app.config, "other.myshopify.com")[0])
    if case == "tampered state":
        url = callback_query(state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB"))
    answer = client.get(url)
    expected = {"stale state": "expired", "other shop": "another shop", "forged hmac": "hmac",
                "old timestamp": "timestamp", "tampered state": "not signed",
                "no cookie": "cookie"}[case]
    assert answer.status_code == 401 and expected in error(answer)
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("shop", ["evil.com", "x.myshopify.com.evil.com", "acme.myshopify.com\n",
                                  "-acme.myshopify.com", "acme.myshopify.com/x", "",
                                  "acme_shop.myshopify.com", "acme.myshopify.com:8443"])
def test_foreign_shop_domains_are_refused(app: Flask, client: FlaskClient, fake: Fake,
                                          shop: str) -> None:
    link = install_url(fake[0], shop, PUBLIC)  # even correctly signed
    answer = client.get(local(link))
    assert answer.status_code == 400 and "shop" in answer.get_json()["error"]["fields"]
    assert "Set-Cookie" not in answer.headers
    state, cookie = new_state(app.config, shop)
    client.set_cookie(COOKIE, cookie, path="/shopify/callback")
    assert client.get(callback_query(state, shop=shop)).status_code == 400
    assert counts(app) == (0, 0)


def test_install_link_checks(app: Flask, client: FlaskClient, fake: Fake) -> None:
    forged = client.get(local(install_url(fake[0], SHOP, PUBLIC, secret=FORGED)))
    assert forged.status_code == 401 and "hmac" in error(forged)
    stale = client.get(local(install_url(fake[0], SHOP, PUBLIC, timestamp=int(time.time()) - 301)))
    assert stale.status_code == 401 and "timestamp" in error(stale)
    repeated = client.get(local(install_url(fake[0], SHOP, PUBLIC)) + "&shop=" + SHOP)
    assert repeated.status_code == 400
    rotated = client.get(local(install_url(fake[0], SHOP, PUBLIC, secret=OLD_SECRET)))
    assert rotated.status_code == 302  # the previous secret is still accepted
    assert counts(app) == (0, 0)


def test_reinstall_reactivates_the_store_and_taken_keys_get_a_suffix(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    with _db(app).write() as conn:
        create_store(conn, "acme-shop", account="someone", platform="custom")
    install(client, fake)
    row = store_row(app)
    assert row.key == "acme-shop-2"
    with _db(app).write() as conn:
        schedule_store_deletion(conn, row.id, after=timedelta(days=30), now=datetime.now(UTC),
                                uninstalled=True)
    assert tokens_of(app, row.id) is None
    install(client, fake)
    again = store_row(app)
    assert (again.id, again.key, again.uninstalled_at, again.delete_after) == (
        row.id, "acme-shop-2", None, None)
    assert tokens_of(app, row.id) is not None
    assert counts(app) == (2, 1)
    assert app.config["STARTED"] == ["acme-shop-2", "acme-shop-2"]


# -- refresh -----------------------------------------------------------------------------------

def expire_soon(app: Flask, store_id: int, within: timedelta = timedelta(minutes=2)) -> Any:
    """Make the stored access token look close to its end (the real one stays valid)."""
    tokens = tokens_of(app, store_id)
    soon = replace(tokens, access_expires_at=datetime.now(UTC) + within)
    with _db(app).write() as conn:
        save_tokens(conn, app.extensions["parcours.vault"], store_id, soon)
    return soon


def test_refresh_before_expiry_rotates_the_refresh_token(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    install(client, fake)
    store_id, vault = store_row(app).id, app.extensions["parcours.vault"]
    first = tokens_of(app, store_id)
    assert access_token(_db(app), vault, app.config, store_id) == first.access_token  # fresh
    old = expire_soon(app, store_id)
    token = access_token(_db(app), vault, app.config, store_id)
    second = tokens_of(app, store_id)
    assert token == second.access_token != old.access_token
    assert token in fake[0].shop(SHOP).access_tokens
    assert second.refresh_token != old.refresh_token
    expire_soon(app, store_id)
    access_token(_db(app), vault, app.config, store_id)  # uses the second refresh token ...
    assert old.refresh_token not in fake[0].shop(SHOP).refresh_tokens  # ... retiring the first
    with _db(app).read() as conn:  # replaced pairs are deleted, not piled up
        rows = conn.execute(select(func.count()).select_from(t.credentials)).scalar_one()
    assert rows == 1


def test_a_rival_refresh_is_tolerated(app: Flask, client: FlaskClient, fake: Fake) -> None:
    install(client, fake)
    store_id, vault = store_row(app).id, app.extensions["parcours.vault"]
    stale = expire_soon(app, store_id)
    access_token(_db(app), vault, app.config, store_id)  # a rival worker refreshed ...
    expire_soon(app, store_id)
    newest = access_token(_db(app), vault, app.config, store_id)  # ... twice: `stale` retired
    kept = refresh(_db(app), vault, app.config, store_id, SHOP, stale)
    assert kept.access_token == newest == tokens_of(app, store_id).access_token


def test_a_revoked_refresh_token_is_a_clear_error(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    install(client, fake)
    store_id, vault = store_row(app).id, app.extensions["parcours.vault"]
    expire_soon(app, store_id)
    fake[0].shop(SHOP).refresh_tokens.clear()
    with pytest.raises(ShopifyGrantError, match="invalid_grant"):
        access_token(_db(app), vault, app.config, store_id)


def test_concurrent_callers_refresh_once(app: Flask, client: FlaskClient, fake: Fake) -> None:
    install(client, fake)
    store_id, vault = store_row(app).id, app.extensions["parcours.vault"]
    expire_soon(app, store_id)
    issued = len(fake[0].shop(SHOP).refresh_tokens)
    results: list[str] = []

    def call() -> None:
        results.append(access_token(_db(app), vault, app.config, store_id))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert len(fake[0].shop(SHOP).refresh_tokens) == issued + 1


# -- embedded admin ----------------------------------------------------------------------------

def test_opening_the_app_exchanges_the_session_token(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    shop = "obrien-b.myshopify.com"
    page = client.get("/shopify/admin?" + urlencode(
        {"id_token": session_token(fake[0], shop), "shop": shop, "embedded": "1"}))
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "obrien-b" in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].startswith(f"frame-ancestors https://{shop}")
    row = store_row(app, shop)
    tokens = tokens_of(app, row.id)
    assert tokens.refresh_token in fake[0].shop(shop).refresh_tokens
    assert app.config["STARTED"] == ["obrien-b"]
    again = client.get("/shopify/admin", headers={
        "Authorization": f"Bearer {session_token(fake[0], shop)}"})
    assert again.status_code == 200
    assert tokens_of(app, row.id).access_token == tokens.access_token  # no second exchange
    assert counts(app) == (1, 1)


@pytest.mark.parametrize("case", ["expired", "wrong audience", "iss/dest mismatch", "alg none",
                                  "wrong secret", "missing", "not myshopify"])
def test_bad_session_tokens_are_refused(app: Flask, client: FlaskClient, fake: Fake,
                                        case: str) -> None:
    state = fake[0]
    token = {"expired": lambda: session_token(state, SHOP, expires_in=-11),
             "wrong audience": lambda: session_token(state, SHOP, aud="another-app"),
             "iss/dest mismatch": lambda: session_token(
                 state, SHOP, iss="https://other.myshopify.com/admin"),
             "alg none": lambda: session_token(state, SHOP, algorithm="none"),
             "wrong secret": lambda: session_token(state, SHOP, secret=FORGED),
             "missing": lambda: "",
             "not myshopify": lambda: session_token(state, "evil.com")}[case]()
    answer = client.get("/shopify/admin?" + urlencode({"id_token": token}))
    expected = {"expired": "expired", "wrong audience": "audience", "iss/dest mismatch":
                "same shop", "alg none": "HS256", "wrong secret": "signature", "missing":
                "missing", "not myshopify": "myshopify"}[case]
    assert answer.status_code == 401 and expected in error(answer), error(answer)
    api = client.get("/shopify/api/status", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401 and api.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"
    assert counts(app) == (0, 0)


def test_status_api_and_previous_secret(app: Flask, client: FlaskClient, fake: Fake) -> None:
    def status(secret: str = API_SECRET) -> Any:
        token = session_token(fake[0], SHOP, secret=secret)
        return client.get("/shopify/api/status", headers={"Authorization": f"Bearer {token}"})

    assert status().get_json() == {"shop": SHOP, "store": None, "installed": False,
                                   "setup": []}
    install(client, fake)
    answer = status(OLD_SECRET).get_json()
    assert {k: answer[k] for k in ("shop", "store", "installed")} == {
        "shop": SHOP, "store": "acme-shop", "installed": True}
    # The post-install job has not run here: every setup fact is still unknown.
    assert [(item["name"], item["state"]) for item in answer["setup"]] == [
        ("app_embed", "unknown"), ("guest_checkout", "unknown"),
        ("express_checkout", "unknown"), ("shipping_estimate", "unknown")]


def test_session_token_clock_and_claims() -> None:
    state, now = FakeShopify(), 1_800_000_000

    def verify(token: str, at: float) -> Any:
        return verify_session_token(token, API_KEY, [API_SECRET], now=at)

    token = session_token(state, SHOP, expires_in=60, now=now)
    claims = verify(token, now + 70)  # 10 s of leeway after exp
    assert (claims.shop, claims.sub, claims.aud, claims.exp) == (SHOP, "42", API_KEY, now + 60)
    assert claims.sid and claims.jti
    for at, reason in ((now + 71, "expired"), (now - 11, "not valid yet")):
        with pytest.raises(ShopifyAuthError, match=reason):
            verify(token, at)
    for odd, reason in ((dict(iss=f"https://{SHOP}/"), "admin"),
                        (dict(dest=f"http://{SHOP}"), "https"),
                        (dict(dest=f"https://{SHOP}:444"), "https")):
        with pytest.raises(ShopifyAuthError, match=reason):
            verify(session_token(state, SHOP, now=now, **odd), now)  # type: ignore[arg-type]


# -- app proxy ---------------------------------------------------------------------------------

ZONES = [
    {"name": "France", "countries": [{"code": "FR", "provinces": []}], "rates": [
        {"name": "Colissimo", "price": "4.90", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": "49.99"},
        {"name": "Free", "price": "0", "currency": "EUR", "min_subtotal": "50",
         "max_subtotal": None},
        {"name": "Express", "price": "12.00", "currency": "EUR", "min_subtotal": "0",
         "max_subtotal": None}]},
    {"name": "Quebec", "countries": [{"code": "CA", "provinces": ["QC"]}], "rates": [
        {"name": "Postes", "price": "15", "currency": "CAD", "min_subtotal": None,
         "max_subtotal": None}]},
    {"name": "World", "countries": [{"code": "*", "provinces": []}], "rates": [
        {"name": "International", "price": "25.00", "currency": "EUR", "min_subtotal": None,
         "max_subtotal": None}]},
    "not a zone", {"name": "Broken", "countries": "FR", "rates": [{"price": "x"}]},
]


def test_proxy_signature_golden_vector_from_shopify_dev() -> None:
    query = [("extra", "1"), ("extra", "2"), ("shop", "shop-name.myshopify.com"),
             ("logged_in_customer_id", "1"), ("path_prefix", "/apps/awesome_reviews"),
             ("timestamp", "1317327555"),
             ("signature", "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb")]
    signed_at = 1317327555
    assert proxy_signature("hush", query) == query[-1][1]
    assert verify_proxy_signature(query, ["hush"], now=signed_at)
    assert verify_proxy_signature(MultiDict(query), [FORGED, "hush"], now=signed_at - 90)
    assert not verify_proxy_signature(query, ["hush"], now=signed_at + 91)
    assert not verify_proxy_signature(query, [FORGED], now=signed_at)
    assert not verify_proxy_signature([("extra", "2"), *query[1:]], ["hush"], now=signed_at)
    assert not verify_proxy_signature([*query, ("shop", "x.myshopify.com")], ["hush"],
                                      now=signed_at)


def test_shipping_estimate_rules() -> None:
    def names(*args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [(r["name"], r["price"]) for r in shipping_estimate(ZONES, *args, **kwargs)]

    assert names("FR") == [("Free", "0.00"), ("Colissimo", "4.90"), ("Express", "12.00")]
    assert shipping_estimate(ZONES, "FR")[0]["min_subtotal"] == "50.00"  # "free from 50.00"
    assert names("FR", subtotal="50") == [("Free", "0.00"), ("Express", "12.00")]
    assert names("FR", subtotal="49.99") == [("Colissimo", "4.90"), ("Express", "12.00")]
    assert names("FR", currency="USD") == []
    assert names("ca", "qc") == [("Postes", "15.00")]
    assert names("CA", "ON") == [("International", "25.00")]  # rest of world
    assert shipping_estimate(None, "FR") == shipping_estimate([], "FR") == []


def proxied(fake: Fake, path: str, params: list[tuple[str, str]], **kwargs: Any) -> str:
    return f"/apps/parcours/{path}?" + urlencode(proxy_query(fake[0], SHOP, params, **kwargs))


def test_shipping_estimate_through_the_app_proxy(
        app: Flask, client: FlaskClient, fake: Fake) -> None:
    install(client, fake)
    with _db(app).write() as conn:
        upsert(conn, t.store_facts, [{"store_id": store_row(app).id, "name": "shipping_zones",
                                      "value": ZONES, "updated_at": datetime.now(UTC)}],
               ["store_id", "name"], replace=["value", "updated_at"])
    answer = client.get(proxied(fake, "shipping-estimate", [
        ("country", "fr"), ("postcode", "75011"), ("subtotal", "30.00"), ("currency", "EUR")]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert [(r["name"], r["price"]) for r in body["rates"]] == [("Colissimo", "4.90"),
                                                                 ("Express", "12.00")]
    assert body["zones_synced"] is True and body["country"] == "FR"
    world = client.get(proxied(fake, "shipping-estimate", [("country", "DE")])).get_json()
    assert [r["name"] for r in world["rates"]] == ["International"]
    bad = client.get(proxied(fake, "shipping-estimate", [("country", "France"),
                                                          ("subtotal", "-1")]))
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {
        "country", "subtotal"}


def test_app_proxy_refusals(app: Flask, client: FlaskClient, fake: Fake) -> None:
    unknown = client.get(proxied(fake, "reviews/123", []))
    assert unknown.status_code == 404  # signed, but the shop has not installed the app
    install(client, fake)
    reviews = client.get(proxied(fake, "reviews/123", []))
    assert reviews.status_code == 200
    assert reviews.get_json() == {  # none yet: no rating rather than a made-up one
        "product_id": "123", "reviews": [], "page": 1, "pages": 1, "per_page": 5,
        "rating": {"average": None, "count": 0, "best": 5, "worst": 1}}
    forged = client.get(proxied(fake, "reviews/123", [], secret=FORGED))
    assert forged.status_code == 401 and "signature" in error(forged)
    stale = client.get(proxied(fake, "reviews/123", [], timestamp=int(time.time()) - 91))
    assert stale.status_code == 401 and "timestamp" in error(stale)
    tampered = proxied(fake, "shipping-estimate", [("country", "FR")]).replace("FR", "DE")
    assert client.get(tampered).status_code == 401
    assert client.get(proxied(fake, "reviews/1;drop", [])).status_code == 400
