"""The widgets on each platform's own storefront, in Chromium, against local fakes of the
platforms: every storefront path of adapters/shopify/storefront.py and
adapters/woocommerce/storefront.py is used for real (the demo shop exercises only a custom
shop's paths).

Three origins, as in production: Parcours (127.0.0.1), a Shopify shop (127.0.0.2,
tests/fake_shopify/storefront.py: a Dawn-like theme with the real theme app extension files, the
Ajax cart API, cart permalinks, the signing app proxy) and a WooCommerce site (127.0.0.3, the
fake WooCommerce of tests/fake_woocommerce with its Store API on cookie sessions, and
tests/fake_woocommerce/storefront.py: a Storefront-like theme printing what the WordPress
plugin's own PHP prints, the add-to-cart form handler redirecting as the plugin's real filter
says, a stand-in for the plugin's estimate route). The shop's facts come the way the adapters
get them (WooCommerce: read from the fake by the adapter itself). What the widget tests share
is in tests/storefront_support.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from parcours.accounts import create_store, save_store_facts
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.install import read_facts
from parcours.reviews import ReviewInput, add_review
from tests import storefront_support
from tests.fake_shopify import API_KEY, API_SECRET
from tests.fake_shopify.storefront import PRODUCTS, SECTION, ZONES, Storefront, placeable, serving
from tests.fake_woocommerce import (
    FakeWooStore,
    add_key,
    germany_zone,
    seed,
    shipping_method,
    shipping_zone,
    stripe_gateway,
)
from tests.fake_woocommerce import storefront as woo_storefront
from tests.fake_woocommerce.store_api import session_cookie_name
from tests.fake_woocommerce.storefront import WooSite
from tests.processes import until as wait_until
from tests.storefront_support import (
    CLS,
    Parcours,
    console_errors,
    filled,
    rendered,
    running_parcours,
)
from tests.wordpress_standin import php_binary

SHOP = "acme-widgets.myshopify.com"
MUG, APRON = PRODUCTS
WOO_MUG = 11  # the fake WooCommerce's seeded product, 27.00
PRODUCT_WIDGETS = ["review_stars", "shipping_estimate", "express_pay", "review_list"]
QUANTITY = f"#Quantity-{SECTION}"  # Dawn's quantity input, outside the product form
# The cart's progress bar towards free delivery, once the cart's subtotal is known.
NOT_YET_FREE = """() => { const p = document.querySelector(".prc progress");
    return p && p.style.visibility == "" && p.value < p.max; }"""
FREE = """() => { const p = document.querySelector(".prc progress");
    return p && p.style.visibility == "" && p.max > 1 && p.value == p.max; }"""
context = storefront_support.context  # the fixture: a shopper's window


def until(what: str, check: Any) -> Any:
    """Events go out in batches within a second or two: a quarter of a minute is plenty."""
    return wait_until(what, check, seconds=15)


# -- Parcours --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def parcours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parcours]:
    with running_parcours(tmp_path_factory.mktemp("parcours"), SHOPIFY_API_KEY=API_KEY,
                          SHOPIFY_API_SECRET=API_SECRET) as (app, url):
        yield Parcours(app, url)


@dataclass
class Platform:
    """A running platform fake, its store in Parcours, and what a test has seen since it began."""

    parcours: Parcours
    origin: str
    store_id: int
    since: int = 0
    state: Any = None
    shopper: str = ""  # the test's own shopper (anonymous id), once `follow` saw it

    def url(self, path: str) -> str:
        return self.origin + path

    def follow(self, page: Any) -> None:
        """Count only this page's shopper's events: another test's late beacons are not."""
        page.wait_for_function("() => window.Parcours && Parcours.config()")
        self.shopper = page.evaluate("Parcours.id()")

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.parcours.events(self.store_id, self.since) if e["name"] == name
                and (not self.shopper or e["identities"]["anonymous_id"] == self.shopper)]

    def widgets(self, name: str) -> list[str]:
        return [e["properties"]["widget"] for e in self.named(name)]


def requested(page: Any) -> list[Any]:
    """Every request the page makes, from now on (Playwright's Request objects)."""
    seen: list[Any] = []
    page.on("request", lambda r: seen.append(r))
    return seen


def estimate(widget: Any, postcode: str, country: str | None = None) -> list[str]:
    """Ask the widget for an estimate; the lines of its answer (or its message)."""
    toggle = widget.get_by_role("button", name="Estimate for my address")
    if toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
    if country:
        widget.get_by_label("Country").select_option(country)
    widget.get_by_label("Postcode").fill(postcode)
    out = widget.locator("[aria-live=polite]")
    out.evaluate("o => o.textContent = ''")
    widget.get_by_role("button", name="Estimate", exact=True).click()
    widget.page.wait_for_function(
        "o => o.textContent && !/Estimating/.test(o.textContent)", arg=out.element_handle())
    lines = out.locator("li").all_inner_texts()
    return lines or [out.inner_text()]


# -- Shopify ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shopify_shop(parcours: Parcours) -> Iterator[Platform]:
    with parcours.db.write() as conn:
        store_id = create_store(conn, "acme-widgets", account=SHOP, platform="shopify",
                                name=SHOP, domain=SHOP).id
        now = datetime.now(UTC)
        for days, rating, author, text in ((3, 5, "Camille R.", "Keeps the coffee hot."),
                                           (9, 4, "James P.", "Lovely glaze, a bit small.")):
            add_review(conn, store_id, ReviewInput(
                product_id=str(MUG.id), rating=rating, body=text, author=author,
                verified=True, created_at=now - timedelta(days=days)))
    shop = Storefront(domain=SHOP, parcours=parcours.url, store="acme-widgets")
    with serving(shop, host="127.0.0.2"):
        with parcours.db.write() as conn:  # what the post-install job reads from Shopify
            save_store_facts(conn, store_id, {
                "shop": {"currency": "EUR", "locale": "en", "primary_domain": shop.origin},
                "customer_accounts": {"login_required_at_checkout": False},
                "accelerated_checkout": {"wallets": ["shopify_pay", "apple_pay", "google_pay"]},
                "shipping_zones": ZONES}, datetime.now(UTC))
        yield Platform(parcours, shop.origin, store_id, state=shop)


@pytest.fixture
def shopify(shopify_shop: Platform) -> Platform:
    shop: Storefront = shopify_shop.state
    shop.dynamic_checkout = shop.additional_checkout_buttons = False
    shop.proxied.clear()
    shopify_shop.since, shopify_shop.shopper = shopify_shop.parcours.last_inbox_id(), ""
    return shopify_shop


def shopify_add(page: Any, shopify: Platform, handle: str, quantity: int) -> None:
    """Dawn's product form, submitted natively: POST /cart/add, then the cart page."""
    page.goto(shopify.url(f"/products/{handle}"))
    page.fill(QUANTITY, str(quantity))
    page.click("button[name=add]")
    page.wait_for_url("**/cart")


def test_shopify_product_page_has_every_widget_and_buy_now_uses_a_cart_permalink(
        shopify: Platform, context: Any) -> None:
    page = context.new_page()
    errors = console_errors(page)
    seen = requested(page)
    page.goto(shopify.url(f"/products/{MUG.handle}"))
    shopify.follow(page)
    for widget in PRODUCT_WIDGETS:
        filled(page, widget)
    assert rendered(page) == PRODUCT_WIDGETS
    # The app embed as Shopify renders it: the metafield's config and the page's facts.
    embed = page.locator("#parcours-config")
    assert json.loads(embed.inner_text()) == requests.get(
        f"{shopify.parcours.url}/w/acme-widgets/config.json", timeout=5).json()
    assert embed.evaluate("e => ({...e.dataset})") == {
        "lang": "en", "page": "product", "currency": "EUR", "country": "FR",
        "product": str(MUG.id), "price": "29.0"}
    stars = page.locator('[data-parcours-widget="review_stars"]')
    assert stars.get_by_role("img").get_attribute("aria-label") == "Rated 4.5 out of 5"
    assert stars.get_by_role("link").inner_text().strip() == "2 reviews"
    page.locator("#prc-reviews article").first.wait_for()
    assert page.locator("#prc-reviews article").count() == 2
    products = page.eval_on_selector_all('script[type="application/ld+json"]', """nodes =>
        nodes.map(n => JSON.parse(n.textContent)).filter(d => d["@type"] == "Product")""")
    assert len(products) == 1 and products[0]["offers"][0]["price"] == "29.00"  # Dawn's own
    assert products[0]["aggregateRating"]["ratingValue"] == 4.5
    summary = page.locator(".prc-ship").inner_text()  # France's zone, from the config
    assert re.search(r"\bfrom €4\.90 · free from €60\.00$", summary), summary
    button = filled(page, "express_pay").locator("a")
    assert button.inner_text().endswith(" Google Pay · Shop Pay")  # no Apple Pay here
    assert button.get_attribute("href") == f"/cart/{MUG.variant_id}:1"
    button.click()
    page.wait_for_url("**/checkouts/cn/*")
    assert "Stoneware mug \u00d7 1: €29,00 EUR" in page.inner_text(".checkout-lines")
    navigations = [urlsplit(r.url).path for r in seen if r.is_navigation_request()]
    assert navigations[-2:] == [f"/cart/{MUG.variant_id}:1", page.url.split(shopify.origin)[1]]
    until("the click on express pay", lambda: shopify.widgets("widget_engaged"))
    assert shopify.named("widget_engaged")[0]["properties"] == {
        "widget": "express_pay", "bucket": "exposed", "page": "product",
        "wallets": ["Google Pay", "Shop Pay"]}
    assert sorted(shopify.widgets("widget_shown")) == sorted(PRODUCT_WIDGETS)
    assert [e["properties"]["path"] for e in shopify.named("page_viewed")] == [
        f"/products/{MUG.handle}"]
    assert errors == []


def test_shopify_product_estimate_goes_through_the_signed_app_proxy(
        shopify: Platform, context: Any) -> None:
    page = context.new_page()
    seen = requested(page)
    page.goto(shopify.url(f"/products/{MUG.handle}"))
    shopify.follow(page)
    widget = filled(page, "shipping_estimate")
    assert estimate(widget, "1000", "BE") == ["Standard: €9.90"]
    assert re.search(r"\bfrom €9\.90$", widget.locator(".prc-ship").inner_text())  # Europe
    asked = [urlsplit(r.url) for r in seen if "shipping-estimate" in r.url]
    assert [(f"{u.scheme}://{u.netloc}{u.path}", dict(parse_qsl(u.query))) for u in asked] == [
        (shopify.url("/apps/parcours/shipping-estimate"),  # on the shop's own origin
         {"country": "BE", "postcode": "1000", "subtotal": "29.00", "currency": "EUR"})]
    forwarded = shopify.state.proxied[-1]
    query = dict(forwarded["query"])
    assert forwarded["status"] == 200 and forwarded["path"] == "/apps/parcours/shipping-estimate"
    assert {k: query[k] for k in ("country", "postcode", "subtotal", "currency", "shop",
                                  "path_prefix", "logged_in_customer_id")} == {
        "country": "BE", "postcode": "1000", "subtotal": "29.00", "currency": "EUR",
        "shop": SHOP, "path_prefix": "/apps/parcours", "logged_in_customer_id": ""}
    # The signature is what lets it in: the same query, unsigned, is refused by Parcours.
    unsigned = [(k, v) for k, v in forwarded["query"] if k != "signature"]
    assert requests.get(f"{shopify.parcours.url}/apps/parcours/shipping-estimate",
                        params=unsigned, timeout=5).status_code == 401
    # Parcours' 400 for a bad postcode comes back through the proxy: said, not crashed.
    assert estimate(widget, "10<00>") == ["Check the country and the postcode."]
    assert shopify.state.proxied[-1]["status"] == 400
    until("the estimates", lambda: len(shopify.named("shipping_estimate_requested")) == 2)
    assert shopify.named("shipping_estimate_requested")[0]["properties"] == {
        "widget": "shipping_estimate", "country": "BE", "page": "product"}
    assert shopify.widgets("widget_engaged") == ["shipping_estimate"]


def test_shopify_cart_reads_cart_js_and_estimates_with_shipping_rates_json(
        shopify: Platform, context: Any) -> None:
    page = context.new_page()
    errors = console_errors(page)
    statuses: dict[str, int] = {}
    page.on("response", lambda r: statuses.__setitem__(r.url, r.status))
    shopify_add(page, shopify, MUG.handle, 2)  # 2 x 29.00 = 58.00, in cents in /cart.js
    shopify.follow(page)
    widget = filled(page, "shipping_estimate")
    if "shipping-estimate" not in placeable("cart"):  # no app block for it: after the button
        assert widget.evaluate("w => w.previousElementSibling.name") == "checkout"
    page.wait_for_function(NOT_YET_FREE)
    assert "€2.00" in widget.locator(".prc-ship").inner_text()  # what is left to spend
    assert widget.locator("progress").evaluate("p => [p.value, p.max]") == [58, 60]
    assert statuses[shopify.url("/cart.js")] == 200
    assert estimate(widget, "75011") == ["Colissimo: €4.90", "Express: €12.00"]
    rates_url = shopify.url("/cart/shipping_rates.json?shipping_address%5Bcountry%5D=FR"
                            "&shipping_address%5Bzip%5D=75011")
    assert statuses[rates_url] == 200
    assert estimate(widget, "ABC") == ["Check the country and the postcode."]
    assert statuses[rates_url.replace("75011", "ABC")] == 422
    assert filled(page, "guest_checkout").inner_text() == (
        "No account needed: check out as a guest.")
    express = filled(page, "express_pay").locator("a")
    assert express.inner_text().endswith(" Google Pay · Shop Pay")
    assert express.get_attribute("href") == "/checkout"
    shopify_add(page, shopify, APRON.handle, 1)  # + 45.00: free delivery
    widget = filled(page, "shipping_estimate")
    page.wait_for_function(FREE)
    assert page.locator("progress").evaluate("p => [p.value, p.max]") == [60, 60]
    assert estimate(widget, "75011") == ["Colissimo: free", "Express: €12.00"]
    page.click("[name=checkout]")  # Dawn's button submits the cart form: on to checkout
    page.wait_for_url("**/checkouts/cn/*")
    assert page.locator(".checkout-lines li").all_inner_texts() == [
        "Stoneware mug \u00d7 2: €58,00 EUR", "Linen apron \u00d7 1: €45,00 EUR"]
    until("the guest prompt's engagement", lambda: "guest_checkout" in shopify.widgets(
        "widget_engaged"))
    assert sorted(set(shopify.widgets("widget_shown"))) == [
        "express_pay", "guest_checkout", "review_list", "review_stars", "shipping_estimate"]
    assert [e["properties"]["country"] for e in shopify.named(
        "shipping_estimate_requested")] == ["FR", "FR", "FR"]
    assert errors == ["Failed to load resource: the server responded with a status of 422 "
                      "(UNPROCESSABLE ENTITY)"]  # Shopify's answer to the bad zip, not ours


def test_shopify_express_pay_stays_out_beside_shopify_dynamic_checkout_buttons(
        shopify: Platform, context: Any) -> None:
    shopify.state.dynamic_checkout = shopify.state.additional_checkout_buttons = True
    page = context.new_page()
    page.goto(shopify.url(f"/products/{MUG.handle}"))
    shopify.follow(page)
    assert page.locator(".shopify-payment-button shopify-accelerated-checkout").count() == 1
    for widget in ("review_stars", "shipping_estimate", "review_list"):
        filled(page, widget)
    until("the exposures", lambda: len(shopify.named("widget_shown")) >= 3)
    page.wait_for_load_state("networkidle")
    assert "express_pay" not in rendered(page)
    assert sorted(shopify.widgets("widget_shown")) == [
        "review_list", "review_stars", "shipping_estimate"]
    shopify_add(page, shopify, MUG.handle, 1)
    filled(page, "guest_checkout")
    filled(page, "shipping_estimate")
    page.wait_for_load_state("networkidle")
    assert page.locator(".additional-checkout-buttons").count() == 1
    assert sorted(rendered(page)) == ["guest_checkout", "shipping_estimate"]
    until("the cart's exposures", lambda: "guest_checkout" in shopify.widgets("widget_shown"))
    assert sorted(set(shopify.widgets("widget_shown"))) == [
        "guest_checkout", "review_list", "review_stars", "shipping_estimate"]  # no express_pay


def test_shopify_cart_does_not_move_when_the_widgets_fill_it(shopify: Platform,
                                                             context: Any) -> None:
    page = context.new_page()
    shopify_add(page, shopify, MUG.handle, 2)
    for widget in ("shipping_estimate", "express_pay", "guest_checkout"):
        filled(page, widget)
    page.wait_for_function(NOT_YET_FREE)
    assert page.evaluate(CLS) == 0


def test_shopify_buy_now_takes_the_quantity_dawn_shows(shopify: Platform, context: Any) -> None:
    page = context.new_page()
    seen = requested(page)
    page.goto(shopify.url(f"/products/{MUG.handle}"))
    button = filled(page, "express_pay").locator("a")
    page.fill(QUANTITY, "3")
    button.click()
    page.wait_for_url("**/checkouts/cn/*")
    permalinks = [urlsplit(r.url).path for r in seen if r.url.startswith(shopify.url("/cart/4"))]
    assert permalinks == [f"/cart/{MUG.variant_id}:3"]


# -- WooCommerce: a Storefront-like theme with the WordPress plugin's output -----------------

@pytest.fixture(scope="module")
def woo_site(parcours: Parcours) -> Iterator[Platform]:
    site = WooSite(FakeWooStore(currency="EUR", currency_symbol="€"), php_binary(), parcours.url,
                   "acme-woo")
    with woo_storefront.serving(site, host="127.0.0.3"):
        store = site.store
        seed(store)
        store.products[WOO_MUG].update(average_rating="4.50", rating_count=2)
        shipping_zone(store, "France", [("FR", "country")], [
            shipping_method("flat_rate", cost="4.90"),
            shipping_method("free_shipping", min_amount="60", order=2)])
        germany_zone(store)
        store.payment_gateways["stripe"] = stripe_gateway(  # wallets at checkout only
            store, express_checkout="yes", locations=["checkout"])
        key = add_key(store)
        facts, _ = read_facts(WooClient(store.base_url, key.consumer_key, key.consumer_secret),
                              store.base_url)
        with parcours.db.write() as conn:
            store_id = create_store(conn, "acme-woo", account="127.0.0.3",
                                    platform="woocommerce", name="127.0.0.3",
                                    domain="127.0.0.3").id
            save_store_facts(conn, store_id, facts, datetime.now(UTC))
        yield Platform(parcours, store.base_url, store_id, state=site)


@pytest.fixture
def woo(woo_site: Platform) -> Platform:
    woo_site.state.redirect_after_add = "no"
    woo_site.state.estimates.clear()
    woo_site.since, woo_site.shopper = woo_site.parcours.last_inbox_id(), ""
    return woo_site


def woo_add(page: Any, woo: Platform, quantity: int) -> None:
    """The classic product form (POST to the product), then the cart page."""
    page.goto(woo.url("/product/e2e-mug/"))
    page.fill("form.cart [name=quantity]", str(quantity))
    page.click("form.cart [name=add-to-cart]")
    page.get_by_role("alert").wait_for()
    page.goto(woo.url("/cart/"))


def test_woocommerce_facts_are_what_the_adapter_read_from_the_store(woo: Platform) -> None:
    config = requests.get(f"{woo.parcours.url}/w/acme-woo/config.json", timeout=5).json()
    assert config["currency"] == "EUR" and config["facts"] == {
        "guest_checkout": True, "wallets": ["apple_pay", "google_pay"]}
    assert config["shipping"]["zones"] == [
        {"countries": ["FR"], "from": "4.90", "free_from": "60.00"},
        {"countries": ["DE"], "from": "4.90", "free_from": None}]
    widgets = config["widgets"]
    assert not widgets["review_stars"]["enabled"] and not widgets["review_list"]["enabled"]


def test_woocommerce_product_page_with_the_plugin_route_and_the_add_to_cart_link(
        woo: Platform, context: Any) -> None:
    page = context.new_page()
    errors = console_errors(page)
    seen = requested(page)
    page.goto(woo.url("/product/e2e-mug/"))
    woo.follow(page)
    widget = filled(page, "shipping_estimate")
    assert page.evaluate("window.ParcoursConfig") == {
        "origin": woo.parcours.url, "store": "acme-woo", "page": "product", "lang": "en",
        "currency": "EUR", "product": {"id": "11", "price": "27.00"},
        "shopper": {"customer_id": None, "wc_session": None}, "country": "FR",
        "endpoints": {"shipping_estimate": woo.url("/wp-json/parcours/v1/shipping-estimate"),
                      "store_api": woo.url("/wp-json/wc/store/v1"),
                      "checkout_url": woo.url("/checkout/")}}
    assert re.search(r"\bfrom €4\.90 · free from €60\.00$",
                     widget.locator(".prc-ship").inner_text())
    button = filled(page, "express_pay").locator("a")
    assert button.inner_text().endswith(" Google Pay")  # Stripe's wallets at checkout
    buy_now = "/checkout/?add-to-cart=11&quantity={}&parcours=buy_now"
    assert button.get_attribute("href") == woo.url(buy_now.format(1))
    # The plugin's stars, rendered by WordPress, stay as they are; no review script loads.
    stars = page.locator('[data-parcours-widget="review_stars"] .parcours-stars')
    assert stars.get_attribute("aria-label") == "Rated 4.5 out of 5"
    assert estimate(widget, "10115", "DE") == ["Flat rate: €4.90"]
    assert woo.state.estimates[-1]["query"] == {
        "country": "DE", "postcode": "10115", "product_id": "11", "quantity": "1"}
    assert estimate(widget, "7500", "FR") == ["Check the country and the postcode."]
    assert woo.state.estimates[-1]["errors"] == {
        "postcode": "postcode is not a valid postcode for this country."}
    scripts = sorted(urlsplit(r.url).path.rsplit("/", 1)[1] for r in seen
                     if "/widgets/" in r.url)
    assert scripts == ["express_pay.js", "kit.js", "loader.js", "shipping_estimate.js"]
    page.fill("form.cart [name=quantity]", "2")
    button.click()
    page.wait_for_url(lambda url: "/product/" not in url)
    assert page.url == woo.url("/checkout/")  # added, then redirected by the plugin's filter
    navigations = [r.url for r in seen if r.is_navigation_request()]
    assert navigations[-2:] == [woo.url(buy_now.format(2)), woo.url("/checkout/")]
    assert page.locator(".cart_item").all_inner_texts() == ["E2E Mug \u00d7 2\t€54.00"]
    assert filled(page, "guest_checkout").inner_text() == (
        "No account needed: check out as a guest.")
    until("the click on express pay", lambda: "express_pay" in woo.widgets("widget_engaged"))
    assert woo.named("widget_engaged")[-1]["properties"]["wallets"] == ["Google Pay"]
    assert woo.widgets("widget_engaged")[0] == "shipping_estimate"
    assert [e["properties"]["country"] for e in woo.named("shipping_estimate_requested")] == [
        "DE", "FR"]
    until("the checkout's page view", lambda: len(woo.named("page_viewed")) == 2)
    assert errors == ["Failed to load resource: the server responded with a status of 400 "
                      "(BAD REQUEST)"]  # the route's answer to the bad postcode, not ours


def test_woocommerce_cart_reads_the_store_api_and_estimates_with_update_customer(
        woo: Platform, context: Any) -> None:
    page = context.new_page()
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST"
            and "update-customer" in r.url else None)
    woo_add(page, woo, 2)  # 2 x 27.00 = 54.00: "5400" minor units in the Store API
    woo.follow(page)
    widget = filled(page, "shipping_estimate")
    page.wait_for_function(NOT_YET_FREE)
    assert "€6.00" in widget.locator(".prc-ship").inner_text()
    assert widget.locator("progress").evaluate("p => [p.value, p.max]") == [54, 60]
    shopper = page.evaluate("window.ParcoursConfig.shopper")
    assert shopper["customer_id"] is None and re.fullmatch(r"[0-9a-f]{32}", shopper["wc_session"])
    # What the estimate must avoid: Germany has states, and the guest's is the base's (CA).
    trapped = page.evaluate("""async api => {
        const nonce = (await fetch(api + "/cart")).headers.get("Nonce");
        const post = (headers) => fetch(api + "/cart/update-customer", {method: "POST",
            headers: {"Content-Type": "application/json", ...headers},
            body: JSON.stringify({shipping_address: {country: "DE", postcode: "10115"}})});
        const without = await post({}), trapped = await post({Nonce: nonce});
        return [without.status, trapped.status, (await trapped.json()).data.details];
    }""", woo.url("/wp-json/wc/store/v1"))
    assert trapped[:2] == [401, 400]
    assert trapped[2]["shipping_address"]["code"] == "invalid_state"
    assert estimate(widget, "10115", "DE") == ["Flat rate: €4.90"]
    sent = posts[-1]
    assert sent.url == woo.url("/wp-json/wc/store/v1/cart/update-customer")
    assert json.loads(sent.post_data) == {
        "shipping_address": {"country": "DE", "postcode": "10115", "state": ""}}
    assert re.fullmatch(r"[0-9a-f]{10}", sent.headers["nonce"])
    assert sent.response().status == 200
    assert estimate(widget, "75001", "FR") == ["Flat rate: €4.90"]  # 54.00: not free yet
    assert filled(page, "guest_checkout").inner_text() == (
        "No account needed: check out as a guest.")
    express = filled(page, "express_pay").locator("a")
    assert express.inner_text().endswith(" Google Pay")
    assert express.get_attribute("href") == woo.url("/checkout/")
    woo_add(page, woo, 1)  # 81.00: free delivery
    widget = filled(page, "shipping_estimate")
    page.wait_for_function(FREE)
    assert estimate(widget, "75001") == ["Flat rate: €4.90", "Free shipping: free"]
    page.click(".checkout-button")
    page.wait_for_url("**/checkout/")
    assert page.locator(".cart_item").all_inner_texts() == ["E2E Mug \u00d7 3\t€81.00"]
    until("the guest prompt's engagement", lambda: "guest_checkout" in woo.widgets(
        "widget_engaged"))


def test_woocommerce_buy_now_reaches_checkout_when_the_store_redirects_to_the_cart(
        woo: Platform, context: Any) -> None:
    woo.state.redirect_after_add = "yes"  # "Redirect to the cart page after successful addition"
    page = context.new_page()
    page.goto(woo.url("/checkout/?add-to-cart=11&quantity=1"))  # a theme's own link: the cart
    assert page.url == woo.url("/cart/")
    page.goto(woo.url("/product/e2e-mug/"))
    filled(page, "express_pay").locator("a").click()
    page.wait_for_url(lambda url: "/product/" not in url)
    assert page.url == woo.url("/checkout/")  # the plugin's woocommerce_add_to_cart_redirect
    assert page.locator(".cart_item").all_inner_texts() == ["E2E Mug \u00d7 2\t€54.00"]


def test_no_layout_shift_where_the_platforms_reserve_the_room(
        shopify: Platform, woo: Platform, context: Any) -> None:
    page = context.new_page()
    page.goto(shopify.url(f"/products/{MUG.handle}"))
    for widget in PRODUCT_WIDGETS:
        filled(page, widget)
    page.locator("#prc-reviews article").first.wait_for()
    assert page.evaluate(CLS) == 0
    page.goto(woo.url("/product/e2e-mug/"))
    filled(page, "shipping_estimate")
    filled(page, "express_pay")
    assert page.evaluate(CLS) == 0
    woo_add(page, woo, 2)
    for widget in ("shipping_estimate", "express_pay", "guest_checkout"):
        filled(page, widget)
    page.wait_for_function(NOT_YET_FREE)
    assert page.evaluate(CLS) == 0


def test_fake_store_api_keeps_a_guest_cart_in_its_session_cookie(woo: Platform) -> None:
    api = woo.url("/wp-json/wc/store/v1")
    name = session_cookie_name(woo.state.store)
    shopper = requests.Session()
    first = shopper.get(f"{api}/cart", timeout=5)
    assert name not in first.cookies  # an empty cart starts no session
    added = shopper.post(f"{api}/cart/add-item", json={"id": WOO_MUG, "quantity": 2},
                         headers={"Nonce": first.headers["Nonce"]}, timeout=5)
    assert added.status_code == 201
    cookie = next(c for c in shopper.cookies if c.name == name)
    assert cookie.path == "/" and cookie.has_nonstandard_attr("HttpOnly")
    customer, expiration, expiring, _ = cookie.value.split("||")
    assert customer.startswith("t_") and int(expiration) - int(expiring) == 3600
    again = shopper.get(f"{api}/cart", timeout=5)
    assert again.json()["items_count"] == 2  # the cookie names the session
    stale = shopper.post(f"{api}/cart/update-customer", json={}, timeout=5,
                         headers={"Nonce": first.headers["Nonce"]})
    assert (stale.status_code, stale.json()["code"]) == (403, "woocommerce_rest_invalid_nonce")
    fresh = shopper.post(f"{api}/cart/update-customer", timeout=5,
                         json={"shipping_address": {"country": "DE", "state": ""}},
                         headers={"Nonce": again.headers["Nonce"]})
    assert fresh.status_code == 200
    other = requests.Session()
    assert other.get(f"{api}/cart", timeout=5).json()["items_count"] == 0
    borrowed = other.post(f"{api}/cart/add-item", json={"id": WOO_MUG}, timeout=5,
                          headers={"Nonce": again.headers["Nonce"]})
    assert borrowed.status_code == 403  # one session's nonce is not another's
    forged = requests.get(f"{api}/cart", cookies={name: cookie.value.replace("||", "||1", 1)},
                          timeout=5)
    assert forged.json()["items_count"] == 0
    token = requests.post(f"{api}/cart/add-item", json={"id": WOO_MUG}, timeout=5,
                          headers={"Cart-Token": added.headers["Cart-Token"]})
    assert token.status_code == 201 and token.json()["items_count"] == 3  # no nonce needed
    assert "Set-Cookie" not in token.headers  # a Cart-Token session needs no cookie

