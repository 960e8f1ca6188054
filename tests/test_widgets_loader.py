"""The widget loader: its budget, the routes that serve it and the store config, and its
behaviour in Chromium on a shop page of another origin (config fetch, shopper id, consent,
beacon batches into the inbox, offline retry, a page whose own scripts throw)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from parcours import tables as t
from parcours.accounts import create_store, save_store_facts
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database
from parcours.widgets.assets import BUDGETS, asset, asset_names
from parcours.widgets.config import DEFAULT_WIDGETS
from tests.processes import until

# The browser tests run on SQLite only: what they prove is the page's behaviour, and the routes
# they use are tested on both backends above and in test_widgets_config.py.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _db(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key()},
                     instance_path=str(tmp_path))
    with _db(app).write() as conn:
        create_store(conn, "shop", account="acme", platform="custom")
    yield app
    _db(app).engine.dispose()


def _facts(app: Flask, **facts: Any) -> None:
    with _db(app).write() as conn:
        store_id = conn.execute(select(t.stores.c.id).where(t.stores.c.key == "shop")).scalar()
        save_store_facts(conn, store_id, facts, datetime.now(UTC))


# -- budgets and routes --------------------------------------------------------------------------

def test_every_script_is_within_its_budget() -> None:
    sizes = {name: asset(name).gzip for name in asset_names()}
    assert sizes["loader"] <= BUDGETS["loader"], sizes
    assert all(size <= BUDGETS["widget"] for name, size in sizes.items() if name != "loader")
    assert sum(sizes.values()) <= BUDGETS["total"]
    assert asset("loader").raw > len(asset("loader").body)  # minified


def test_scripts_are_served_minified_and_revalidated(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/widgets/loader.js")
    assert first.status_code == 200 and first.mimetype == "text/javascript"
    assert first.data == asset("loader").body and "max-age=3600" in first.headers["Cache-Control"]
    again = client.get("/widgets/loader.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    gzipped = client.get("/widgets/loader.js", headers={"Accept-Encoding": "gzip, br"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and gzipped.data == asset("loader").gzipped
    assert gzipped.headers["ETag"] != first.headers["ETag"]  # another representation
    assert gzip.decompress(gzipped.data) == first.data
    assert all("Accept-Encoding" in answer.headers["Vary"] for answer in (first, gzipped))
    assert client.get("/widgets/loader.js", headers={
        "Accept-Encoding": "gzip", "If-None-Match": gzipped.headers["ETag"]}).status_code == 304
    assert client.get("/widgets/nope.js").status_code == 404
    assert client.get("/widgets/..%2Fconfig.js").status_code == 404


def test_the_store_config_merges_its_settings_over_the_defaults(app: Flask) -> None:
    client = app.test_client()
    default = client.get("/w/shop/config.json")
    assert default.status_code == 200 and default.headers["Access-Control-Allow-Origin"] == "*"
    body = default.get_json()
    assert body["store"] == "shop" and body["consent_required"] is False
    assert body["widgets"]["express_pay"] == {"enabled": True, "pages": ["product", "cart"]}
    assert client.get("/w/shop/config.json", headers={
        "If-None-Match": default.headers["ETag"]}).status_code == 304
    _facts(app, widgets={"express_pay": {"enabled": False}, "unknown": {"enabled": True}},
           shop={"locale": "fr", "currency": "EUR"})
    changed = client.get("/w/shop/config.json", headers={
        "If-None-Match": default.headers["ETag"]})
    assert changed.status_code == 200  # a new ETag: shoppers get the change
    body = changed.get_json()
    assert body["widgets"]["express_pay"]["enabled"] is False and "unknown" not in body["widgets"]
    # The page's language decides unless the store chose one; the shop's is the fallback.
    assert (body["lang"], body["locale"], body["currency"]) == (None, "fr", "EUR")
    _facts(app, widget_lang="en")
    assert client.get("/w/shop/config.json").get_json()["lang"] == "en"
    assert client.get("/w/nobody/config.json").status_code == 404


# -- in the browser ------------------------------------------------------------------------------

@dataclass
class Site:
    """A shop on its own origin: pages that load the loader from Parcours, as a custom shop
    installs it (`<script src=".../widgets/loader.js" data-store="shop" defer>`)."""

    parcours: str
    origin: str = ""
    extra: str = ""  # more markup before the loader (e.g. a theme script that throws)
    lang: str = "fr"

    def page(self, request: Request) -> Response:
        kind = "cart" if request.path.startswith("/panier") else "product"
        body = ("<form action='/checkout'><button type='submit' name='checkout'>Commander"
                "</button></form>" if kind == "cart" else "")
        html = (f"<!doctype html><html lang='{self.lang}'><head><title>Boutique</title>"
                f"{self.extra}<script src='{self.parcours}/widgets/loader.js' data-store='shop'"
                f" data-parcours='loader' defer></script></head>"
                f"<body data-parcours-page='{kind}'><h1>{request.path}</h1>{body}</body></html>")
        return Response(html, mimetype="text/html")


@pytest.fixture
def served(app: Flask) -> Iterator[Site]:
    parcours = make_server("127.0.0.1", 0, app, threaded=True)
    site = Site(f"http://127.0.0.1:{parcours.server_port}")
    shop = make_server("localhost", 0, lambda env, start: site.page(Request(env))(env, start),
                       threaded=True)
    site.origin = f"http://localhost:{shop.server_port}"
    threads = [threading.Thread(target=server.serve_forever, daemon=True)
               for server in (parcours, shop)]
    for thread in threads:
        thread.start()
    try:
        yield site
    finally:
        for server in (parcours, shop):
            server.shutdown()


def _collected(app: Flask) -> list[dict[str, Any]]:
    with _db(app).read() as conn:
        bodies = conn.execute(select(t.inbox.c.body).where(t.inbox.c.topic == "collect")
                              .order_by(t.inbox.c.id)).scalars()
        return [event for body in bodies for event in json.loads(body)["events"]]


def _views(app: Flask) -> list[dict[str, Any]]:
    return [event for event in _collected(app) if event["name"] == "page_viewed"]


@SQLITE_ONLY
def test_the_loader_sends_page_views_with_one_shopper_id(app: Flask, served: Site,
                                                         shopper_browser: Any) -> None:
    context = shopper_browser.new_context()
    page = context.new_page()
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url)
            if "/widgets/" in request.url else None)
    _facts(app, widgets={name: {"enabled": False} for name in DEFAULT_WIDGETS
                         if name != "shipping_estimate"})
    # From a search result, with a campaign's parameters in the address.
    page.goto(f"{served.origin}/produits/lampe?utm_source=newsletter&utm_medium=email&id=7",
              referer="https://www.google.com/search?q=lampe")
    until("the first batch", lambda: _collected(app))
    page.wait_for_load_state("networkidle")  # request events reach Python as it waits here
    # The kit and the widgets enabled for this page type; nothing else.
    assert scripts == [f"{served.parcours}/widgets/{name}.js"
                       for name in ("loader", "kit", "shipping_estimate")]
    page.goto(f"{served.origin}/panier")
    until("the second page view", lambda: len(_views(app)) == 2)
    first, second = _views(app)
    assert [first["name"], second["name"]] == ["page_viewed", "page_viewed"]
    assert first["properties"] == {  # the referrer without its query: the channel's source
        "path": "/produits/lampe", "referrer": "https://www.google.com/search",
        "utm_source": "newsletter", "utm_medium": "email"}
    assert second["properties"] == {"path": "/panier", "referrer": "", "utm_source": None,
                                    "utm_medium": None}  # typed in
    shopper = first["identities"]["anonymous_id"]
    assert second["identities"]["anonymous_id"] == shopper  # the same shopper across pages
    cookies = {c["name"]: c["value"] for c in context.cookies(served.origin)}
    assert cookies["prc_id"] == shopper
    assert page.evaluate("window.Parcours.config().store") == "shop"
    context.close()


@SQLITE_ONLY
def test_offline_events_go_with_the_next_page(app: Flask, served: Site,
                                              shopper_browser: Any) -> None:
    context = shopper_browser.new_context()
    page = context.new_page()
    page.goto(f"{served.origin}/produits/lampe")
    until("the loader", lambda: page.evaluate("!!window.Parcours && !!window.Parcours.config()"))
    context.set_offline(True)
    page.evaluate("window.Parcours.track('product_viewed', {product_id: '42'});"
                  "window.Parcours.flush()")
    assert "product_viewed" in page.evaluate("localStorage.getItem('prc_queue')")
    context.set_offline(False)
    page.goto(f"{served.origin}/panier")
    until("the kept events and the new page's",
          lambda: [e["name"] for e in _collected(app)].count("page_viewed") == 2)
    names = [event["name"] for event in _collected(app)]
    assert names.count("product_viewed") == 1 and names.count("page_viewed") == 2
    assert page.evaluate("localStorage.getItem('prc_queue')") is None
    context.close()


@SQLITE_ONLY
def test_nothing_is_stored_or_sent_before_consent(app: Flask, served: Site,
                                                  shopper_browser: Any) -> None:
    _facts(app, consent={"required": True})
    context = shopper_browser.new_context()
    page = context.new_page()
    page.goto(f"{served.origin}/produits/lampe")
    until("the loader", lambda: page.evaluate("!!window.Parcours && !!window.Parcours.config()"))
    page.evaluate("window.Parcours.flush()")
    assert _collected(app) == [] and context.cookies(served.origin) == []
    assert page.evaluate("window.Parcours.shopper()") is None
    page.evaluate("window.Parcours.consent(true)")
    until("the consented batch", lambda: _collected(app))
    assert _collected(app)[0]["name"] == "page_viewed"
    page.evaluate("window.Parcours.consent(false)")
    assert context.cookies(served.origin) == []
    assert page.evaluate("localStorage.getItem('prc_id')") is None
    context.close()


@SQLITE_ONLY
def test_a_page_whose_own_scripts_throw_still_gets_the_loader(app: Flask, served: Site,
                                                              shopper_browser: Any) -> None:
    served.extra = ("<script>throw new Error('theme bug')</script>"
                    "<script>window.undefinedThing.call()</script>")
    page = shopper_browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{served.origin}/produits/lampe")
    until("the batch", lambda: _collected(app))
    assert len(errors) == 2  # the theme's own, not the loader's
    page.close()


# -- the guest-checkout prompt -------------------------------------------------------------------

def _names(app: Flask) -> list[str]:
    return [event["name"] for event in _collected(app)]


def _only_guest(app: Flask, login_required: bool = False, **settings: Any) -> None:
    """The guest-checkout prompt alone (with `settings`), the store's accounts as said."""
    _facts(app, customer_accounts={"login_required_at_checkout": login_required},
           widgets={name: {"enabled": name == "guest_checkout", **(
               settings if name == "guest_checkout" else {})} for name in DEFAULT_WIDGETS})


@pytest.mark.parametrize(("lang", "text"), [
    ("fr", "Pas besoin de compte : commandez en tant qu\u2019invit\u00e9."),
    ("en", "No account needed: check out as a guest.")])
@SQLITE_ONLY
def test_guest_checkout_prompt_where_guests_may_check_out(
        app: Flask, served: Site, shopper_browser: Any, lang: str, text: str) -> None:
    _only_guest(app)
    served.lang = lang
    page = shopper_browser.new_page()
    page.goto(f"{served.origin}/panier")
    note = page.locator(".prc-guest")
    note.wait_for()
    assert note.inner_text() == text and note.get_attribute("role") == "note"
    # Beside the checkout button, reachable after it with the keyboard order of the page.
    assert page.evaluate("document.querySelector('[name=checkout]').nextElementSibling"
                         ".dataset.parcoursWidget") == "guest_checkout"
    until("the exposure", lambda: "widget_shown" in _names(app))
    shown = next(e for e in _collected(app) if e["name"] == "widget_shown")
    assert shown["properties"] == {"widget": "guest_checkout", "bucket": "exposed",
                                   "page": "cart"}
    page.evaluate("document.querySelector('form').addEventListener('submit',"
                  " e => e.preventDefault())")
    page.keyboard.press("Tab")  # keyboard only: focus the button, press Enter
    page.keyboard.press("Enter")
    until("the engagement", lambda: "widget_engaged" in _names(app))
    page.goto(f"{served.origin}/produits/lampe")  # not a cart: the widget does not load
    page.wait_for_load_state("networkidle")
    assert page.locator(".prc-guest").count() == 0
    page.close()


@SQLITE_ONLY
def test_no_prompt_where_accounts_are_required(app: Flask, served: Site,
                                               shopper_browser: Any) -> None:
    _only_guest(app, login_required=True)
    page = shopper_browser.new_page()
    page.goto(f"{served.origin}/panier")
    until("the page view", lambda: "page_viewed" in _names(app))
    page.wait_for_load_state("networkidle")
    assert page.locator(".prc-guest").count() == 0 and "widget_shown" not in _names(app)
    page.close()


@SQLITE_ONLY
def test_holdout_shoppers_see_nothing_but_are_counted(app: Flask, served: Site,
                                                      shopper_browser: Any) -> None:
    _only_guest(app, holdout=1.0)
    page = shopper_browser.new_page()
    page.goto(f"{served.origin}/panier")
    until("the exposure", lambda: "widget_shown" in _names(app))
    shown = next(e for e in _collected(app) if e["name"] == "widget_shown")
    assert shown["properties"]["bucket"] == "holdout"
    assert page.locator(".prc-guest").count() == 0
    page.close()


@SQLITE_ONLY
def test_buckets_are_stable_per_shopper_and_split_by_the_share(app: Flask, served: Site,
                                                               shopper_browser: Any) -> None:
    _facts(app, widgets={"guest_checkout": {"holdout": 0.3, "salt": "exp-1"}})
    page = shopper_browser.new_page()
    page.goto(f"{served.origin}/panier")
    until("the kit", lambda: page.evaluate("!!window.Parcours && !!window.Parcours.kit"))
    arms = page.evaluate("""() => Array.from({length: 2000},
        (_, i) => window.Parcours.bucket('guest_checkout', 'shopper-' + i))""")
    held = arms.count("holdout") / len(arms)
    assert 0.26 < held < 0.34  # the share, within sampling error for 2,000 shoppers
    again = page.evaluate("[1, 2, 3].map(() => "
                          "window.Parcours.bucket('guest_checkout', 'shopper-7'))")
    assert len(set(again)) == 1 and again[0] == arms[7]
    # This page's own shopper: their id decides, on every page.
    mine = page.evaluate("[window.Parcours.bucket('guest_checkout'),"
                         " window.Parcours.bucket('guest_checkout', window.Parcours.shopper())]")
    assert mine[0] == mine[1]
    other_salt = page.evaluate("""() => {
        window.Parcours.config().widgets.guest_checkout.salt = 'exp-2';
        return Array.from({length: 2000},
            (_, i) => window.Parcours.bucket('guest_checkout', 'shopper-' + i)); }""")
    assert other_salt != arms  # a new experiment reshuffles the arms
    page.close()
