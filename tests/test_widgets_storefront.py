"""The widgets on the demo storefront, in Chromium: Dawn-like pages with the Shopify app embed,
Storefront-like pages with the WordPress plugin's tags, both served by Parcours as `make run`
serves them.

What a shopper sees and does (each widget where enabled and not in the holdout, the shipping
estimate round trip, keyboard-only use, French and English), what reaches the inbox, and what
must never happen (layout shift, a review's markup running, a theme's broken script stopping
the widgets). Element screenshots of each widget go to $PARCOURS_SCREENSHOTS (default
build/screenshots) for the README.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from parcours.accounts import create_store, get_store, save_store_facts
from parcours.reviews import ReviewInput, add_review
from parcours.widgets.demo_shop import seed_demo_shop
from tests import storefront_support
from tests.processes import until
from tests.storefront_support import (
    CLS,
    Parcours,
    console_errors,
    filled,
    rendered,
    running_parcours,
)

SCREENSHOTS = Path(os.environ.get("PARCOURS_SCREENSHOTS", "build/screenshots"))
THEMES = ("dawn", "storefront")
PRODUCT_WIDGETS = ["review_stars", "shipping_estimate", "express_pay", "review_list"]
CART_WIDGETS = ["shipping_estimate", "express_pay", "guest_checkout"]
context = storefront_support.context  # the fixture: a shopper's window


@dataclass
class Shop(Parcours):
    """Parcours serving the demo shop (store `demo`); `events()` are every store's."""

    store_id: int

    def page(self, theme: str, path: str) -> str:
        return f"{self.url}/demo/shop/{theme}/{path}"

    def facts(self, **facts: Any) -> None:
        with self.db.write() as conn:
            save_store_facts(conn, self.store_id, facts, datetime.now(UTC))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["name"] == name]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with running_parcours(tmp_path, DEMO_SHOP="demo") as (app, url):
        with app.extensions["parcours.db"].write() as conn:
            create_store(conn, "demo", account="demo")
            store_id = get_store(conn, "demo").id
            seed_demo_shop(conn, store_id)
        yield Shop(app, url, store_id)


def _product_page(page: Any, shop: Shop, theme: str, query: str = "") -> None:
    """The demo product page once every product widget, reviews included, has rendered."""
    page.goto(shop.page(theme, "products/p-101" + query))
    for widget in PRODUCT_WIDGETS:
        filled(page, widget)
    page.locator("#prc-reviews article").first.wait_for()


def _add_to_cart(page: Any, shop: Shop, theme: str, product: str = "p-101",
                 quantity: int = 1) -> None:
    page.goto(shop.page(theme, f"products/{product}"))
    page.fill("[name=quantity]", str(quantity))
    page.click("form[action$='/cart/add'] [type=submit]")
    page.wait_for_url("**/cart")


# -- where the widgets show ----------------------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_each_widget_shows_on_its_pages(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    errors = console_errors(page)
    page.goto(shop.page(theme, "products/p-101"))
    for widget in PRODUCT_WIDGETS:
        filled(page, widget)
    assert rendered(page) == PRODUCT_WIDGETS
    _add_to_cart(page, shop, theme)
    for widget in CART_WIDGETS:
        filled(page, widget)
    assert sorted(rendered(page)) == sorted(CART_WIDGETS)
    express = page.locator('[data-parcours-widget="express_pay"] a')
    assert express.inner_text() == "Check out with Google Pay · Shop Pay"
    assert express.get_attribute("href") == f"/demo/shop/{theme}/checkout"
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url) if "/widgets/" in r.url else None)
    page.goto(shop.page(theme, "collections/kitchen"))
    until("the page views", lambda: len(shop.named("page_viewed")) == 4)
    assert loaded == [f"{shop.url}/widgets/loader.js"], shop.events()  # no widget there
    assert errors == []
    page.close()


@pytest.mark.parametrize("theme", THEMES)
def test_a_disabled_widget_is_not_even_loaded(shop: Shop, context: Any, theme: str) -> None:
    shop.facts(widgets={"express_pay": {"enabled": False}, "review_list": {"enabled": False}})
    page = context.new_page()
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url.rsplit("/", 1)[1])
            if "/widgets/" in r.url else None)
    page.goto(shop.page(theme, "products/p-101"))
    filled(page, "shipping_estimate")
    filled(page, "review_stars")
    page.wait_for_load_state("networkidle")
    assert sorted(scripts) == ["kit.js", "loader.js", "review_stars.js", "shipping_estimate.js"]
    assert rendered(page) == ["review_stars", "shipping_estimate"]
    page.close()


def test_holdout_shoppers_see_nothing_and_both_arms_are_reported(shop: Shop,
                                                                 context: Any) -> None:
    every = {name: {"holdout": 1.0, "salt": "launch"} for name in PRODUCT_WIDGETS}
    shop.facts(widgets=every)
    page = context.new_page()
    page.goto(shop.page("dawn", "products/p-101"))
    until("four exposures", lambda: len(shop.named("widget_shown")) == 4)
    assert rendered(page) == []
    shown = {event["properties"]["widget"]: event["properties"]
             for event in shop.named("widget_shown")}
    assert set(shown) == set(PRODUCT_WIDGETS)
    assert all(props["bucket"] == "holdout" and props["experiment"] == "launch"
               and props["page"] == "product" for props in shown.values())
    # Another shopper with no holdout: the same page shows everything, reported as exposed.
    shop.facts(widgets={})
    other = context.browser.new_context().new_page()
    other.goto(shop.page("dawn", "products/p-101"))
    filled(other, "review_list")
    until("the exposed arm", lambda: any(e["properties"]["bucket"] == "exposed"
                                         for e in shop.named("widget_shown")))
    other.context.close()
    page.close()


# -- the shipping estimate -----------------------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_shipping_estimate_round_trip_on_a_product(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    page.goto(shop.page(theme, "products/p-101"))
    widget = filled(page, "shipping_estimate")
    assert widget.locator(".prc-ship").inner_text() == (
        "Delivery from €4.90 · free from €60.00")
    toggle = widget.get_by_role("button", name="Estimate for my address")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    # Opening names the country the summary is for (the country list's names come with it).
    assert widget.locator(".prc-ship").inner_text() == (
        "France: delivery from €4.90 · free from €60.00")
    widget.get_by_label("Country").select_option("BE")
    widget.get_by_label("Postcode").fill("1000")
    widget.get_by_role("button", name="Estimate", exact=True).click()
    answer = widget.locator("[aria-live=polite] li")
    answer.first.wait_for()
    assert answer.all_inner_texts() == ["Standard: €9.90"]
    assert widget.locator(".prc-ship").inner_text() == (
        "Belgium: delivery from €9.90 · free from €100.00")
    until("the request event", lambda: shop.named("shipping_estimate_requested"))
    assert shop.named("shipping_estimate_requested")[0]["properties"] == {
        "widget": "shipping_estimate", "country": "BE", "page": "product"}
    assert [e["properties"]["widget"] for e in shop.named("widget_engaged")] == [
        "shipping_estimate"]
    widget.get_by_label("Postcode").fill("10<00>")  # refused by the route: said, not crashed
    widget.get_by_role("button", name="Estimate", exact=True).click()
    page.get_by_text("Check the country and the postcode.").wait_for()
    page.close()


def _shipping_line_says(page: Any, text: str) -> None:
    """Wait until the shipping line (re-rendered as the cart changes) holds `text` (or, with
    "", anything): the line may be missing for a moment between two renders."""
    page.wait_for_function("t => { const line = document.querySelector('.prc-ship');"
                           " return !!line && line.textContent.length > 0"
                           " && line.textContent.includes(t); }", arg=text)


@pytest.mark.parametrize("theme", THEMES)
def test_cart_progress_towards_free_delivery_and_cart_estimate(shop: Shop, context: Any,
                                                               theme: str) -> None:
    page = context.new_page()
    _add_to_cart(page, shop, theme, quantity=2)  # 2 x 14.90
    widget = filled(page, "shipping_estimate")
    line = widget.locator(".prc-ship")
    _shipping_line_says(page, "dd")
    assert line.inner_text() == "Add €30.20 for free delivery"
    bar = widget.locator("progress")
    assert bar.evaluate("p => [p.value, p.max]") == [29.8, 60]
    assert bar.evaluate("p => getComputedStyle(p).transitionDuration") == "0.3s"
    page.emulate_media(reduced_motion="reduce")  # the shopper asked for no animation
    assert bar.evaluate("p => getComputedStyle(p).transitionDuration") == "0s"
    widget.get_by_role("button", name="Estimate for my address").click()
    widget.get_by_label("Postcode").fill("75001")
    widget.get_by_role("button", name="Estimate", exact=True).click()
    answer = widget.locator("[aria-live=polite] li")
    answer.first.wait_for()
    assert answer.all_inner_texts() == ["Colissimo: €4.90", "Express: €12.00"]
    _add_to_cart(page, shop, theme, product="p-102")  # + 79.00: free delivery
    _shipping_line_says(page, "ree")
    assert page.locator(".prc-ship").inner_text() == "Free delivery"
    page.close()


# -- express pay and the guest checkout prompt ---------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_express_pay_names_what_this_device_can_use_and_goes_to_checkout(
        shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    page.goto(shop.page(theme, "products/p-103"))
    button = filled(page, "express_pay").locator("a")
    # Headless Chromium has the Payment Request API, not Apple Pay.
    assert button.inner_text() == "Buy now with Google Pay · Shop Pay"
    page.fill("[name=quantity]", "3")
    button.click()
    page.wait_for_url("**/checkout?variant=p-103&quantity=3")
    assert "Cast-iron pan" in page.inner_text("main") and "€162.00" in page.inner_text("main")
    until("the engagement", lambda: shop.named("widget_engaged"))
    assert shop.named("widget_engaged")[0]["properties"]["wallets"] == ["Google Pay",
                                                                        "Shop Pay"]
    apple = context.new_page()
    apple.add_init_script("window.ApplePaySession = {canMakePayments: () => true}")
    apple.goto(shop.page(theme, "products/p-103"))
    assert filled(apple, "express_pay").locator("a").inner_text() == (
        "Buy now with Apple Pay · Google Pay · Shop Pay")
    page.close()
    apple.close()


def test_express_pay_stays_out_where_the_theme_shows_the_platform_buttons(
        shop: Shop, context: Any) -> None:
    shop.facts(storefront={**seeded_storefront(), "native_express": ".shopify-payment-button"})
    page = context.new_page()
    page.add_init_script("""document.addEventListener("DOMContentLoaded", () => {
        const b = document.createElement("div"); b.className = "shopify-payment-button";
        document.querySelector("form[action$='/cart/add']").append(b); })""")
    page.goto(shop.page("dawn", "products/p-101"))
    filled(page, "shipping_estimate")
    page.wait_for_load_state("networkidle")
    assert "express_pay" not in rendered(page)
    assert "express_pay" not in [e["properties"]["widget"] for e in shop.named("widget_shown")]
    page.close()


def seeded_storefront() -> dict[str, Any]:
    from parcours.widgets.demo_shop import DEMO_FACTS

    return dict(DEMO_FACTS["storefront"])


def test_guest_prompt_on_cart_and_checkout_only_where_guests_may_buy(shop: Shop,
                                                                     context: Any) -> None:
    page = context.new_page()
    _add_to_cart(page, shop, "storefront")
    note = filled(page, "guest_checkout").locator("[role=note]")
    assert note.inner_text() == "No account needed: check out as a guest."
    page.click(".checkout-button")
    page.wait_for_url("**/checkout")
    assert filled(page, "guest_checkout").inner_text() == (
        "No account needed: check out as a guest.")
    until("the engagement", lambda: shop.named("widget_engaged"))
    shop.facts(customer_accounts={"login_required_at_checkout": True})
    page.close()
    page = context.browser.new_context().new_page()  # the config is cached for 5 minutes
    _add_to_cart(page, shop, "storefront")
    filled(page, "express_pay")
    page.wait_for_load_state("networkidle")
    assert "guest_checkout" not in rendered(page)
    page.context.close()


# -- reviews -------------------------------------------------------------------------------------

HOSTILE = ('<script>window.__xss = 1</script>', '"><img src=x onerror="window.__xss = 2">')


@pytest.mark.parametrize("theme", THEMES)
def test_reviews_stars_list_pages_and_json_ld(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    page.goto(shop.page(theme, "products/p-101"))
    stars = filled(page, "review_stars")
    assert stars.get_by_role("img").get_attribute("aria-label") == "Rated 3.5 out of 5"
    assert stars.get_by_role("link").inner_text().strip() == "6 reviews"
    listed = filled(page, "review_list")
    listed.locator("article").first.wait_for()
    ratings = listed.locator("article [role=img]").evaluate_all(
        "xs => xs.map(x => x.getAttribute('aria-label'))")
    assert ratings == ["5 out of 5 stars", "4 out of 5 stars", "2 out of 5 stars",
                       "5 out of 5 stars", "4 out of 5 stars"]  # newest first, low ones too
    assert "Reply from the shop: Nous sommes désolés" in listed.inner_text()
    listed.get_by_role("button", name="Next").click()
    page.get_by_text("Cracked in the dishwasher").wait_for()  # the 1-star review, page 2
    assert listed.locator("article").count() == 1
    products = page.eval_on_selector_all('script[type="application/ld+json"]', """nodes =>
        nodes.map(n => JSON.parse(n.textContent)).filter(d => d["@type"] == "Product")""")
    assert len(products) == 1  # Dawn's own Product is completed, never duplicated
    assert products[0]["aggregateRating"] == {"@type": "AggregateRating", "ratingValue": 3.5,
                                              "reviewCount": 6, "bestRating": 5,
                                              "worstRating": 1}
    assert len(products[0]["review"]) == 5 and products[0]["name"] == "Stoneware mug"
    page.close()


@pytest.mark.parametrize("theme", THEMES)
def test_a_hostile_review_renders_as_text(shop: Shop, context: Any, theme: str) -> None:
    with shop.db.write() as conn:
        add_review(conn, shop.store_id, ReviewInput(
            product_id="p-202", rating=1, title=HOSTILE[1], body=HOSTILE[0],
            author="<b>Mallory</b>", created_at=datetime.now(UTC), reply=HOSTILE[1]))
    page = context.new_page()
    errors = console_errors(page)
    page.goto(shop.page(theme, "products/p-202"))
    listed = filled(page, "review_list")
    first = listed.locator("article").first
    first.wait_for()
    text = first.inner_text()
    assert HOSTILE[0] in text and HOSTILE[1] in text and "<b>Mallory</b>" in text
    assert listed.locator("img, b, script").count() == 0
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None and errors == []
    ld = page.eval_on_selector_all('script[type="application/ld+json"]', """nodes =>
        nodes.map(n => JSON.parse(n.textContent)).filter(d => d.review)[0]""")
    assert ld["review"][0]["reviewBody"] == HOSTILE[0]
    page.close()


# -- language, keyboard, layout, robustness ------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_french_pages(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    page.goto(shop.page(theme, "products/p-101?lang=fr"))
    assert filled(page, "shipping_estimate").locator(".prc-ship").inner_text() == (
        "Livraison à partir de 4,90\u00a0€ · offerte dès 60,00\u00a0€")
    assert filled(page, "express_pay").inner_text() == "Acheter avec Google Pay · Shop Pay"
    listed = filled(page, "review_list")
    listed.locator("article").first.wait_for()
    assert listed.get_by_role("heading").inner_text() == "Avis clients"
    assert "Achat vérifié" in listed.inner_text() and "3,5 sur 5, 6 avis" in listed.inner_text()
    assert filled(page, "review_stars").get_by_role("link").inner_text().strip() == "6 avis"
    page.close()


def test_the_store_language_overrides_the_page(shop: Shop, context: Any) -> None:
    shop.facts(widget_lang="fr")
    page = context.new_page()
    page.goto(shop.page("storefront", "products/p-101"))  # an English page
    assert filled(page, "express_pay").inner_text() == "Acheter avec Google Pay · Shop Pay"
    page.close()


def _tab_to(page: Any, focused: str, most: int) -> None:
    """Press Tab until the `focused` expression holds; fail after `most` presses."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(focused):
            return
    pytest.fail(f"not reachable with Tab: {focused}")


def test_keyboard_only(shop: Shop, context: Any) -> None:
    page = context.new_page()
    page.goto(shop.page("dawn", "products/p-101"))
    widget = filled(page, "shipping_estimate")
    filled(page, "express_pay")
    _tab_to(page, "document.activeElement.getAttribute('aria-expanded') == 'false'", 40)
    page.keyboard.press("Enter")  # the estimate's button, from the top of the page
    assert page.evaluate("document.activeElement.name") == "country"  # focus moved in
    page.keyboard.press("Tab")
    page.keyboard.type("75011")
    page.keyboard.press("Enter")
    widget.locator("[aria-live=polite] li").first.wait_for()
    assert widget.locator("[aria-live=polite]").inner_text().startswith("Colissimo: €4.90")
    _tab_to(page, "document.activeElement.classList.contains('prc-btn')", 10)
    page.keyboard.press("Enter")  # on to the express button, and through it
    page.wait_for_url("**/checkout?variant=p-101&quantity=1")
    page.close()


@pytest.mark.parametrize("theme", THEMES)
def test_no_layout_shift(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    _product_page(page, shop, theme)
    assert page.evaluate(CLS) == 0
    _add_to_cart(page, shop, theme)
    for widget in CART_WIDGETS:
        filled(page, widget)
    _shipping_line_says(page, "dd")
    assert page.evaluate(CLS) == 0
    page.close()


# The WCAG contrast ratio of each widget text against its background (the first opaque one up
# the tree; the page's white otherwise), for the texts that are not disabled controls.
CONTRAST = """() => {
    const rgb = c => c.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(v => (v /= 255) <= 0.03928 ? v / 12.92
        : ((v + 0.055) / 1.055) ** 2.4).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const out = [];
    for (const node of document.querySelectorAll("[data-parcours-widget] *")) {
        const texts = [...node.childNodes].filter(c => c.nodeType == 3 && c.textContent.trim());
        if (!texts.length || node.disabled || node.closest("[hidden]")) continue;
        let bg = node, color = rgb(getComputedStyle(node).color);
        while (bg && rgb(getComputedStyle(bg).backgroundColor)[3] === 0) bg = bg.parentElement;
        const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
        const [hi, lo] = [lum(color), lum(back)].sort((a, b) => b - a);
        const ratio = Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100;
        out.push([node.textContent.trim().slice(0, 30), ratio]);
    }
    return out;
}"""


@pytest.mark.parametrize("theme", THEMES)
def test_widget_text_contrast_is_at_least_aa(shop: Shop, context: Any, theme: str) -> None:
    page = context.new_page()
    _product_page(page, shop, theme)
    ratios = page.evaluate(CONTRAST)
    assert len(ratios) > 20  # the check saw the widgets' texts
    assert [(text, ratio) for text, ratio in ratios if ratio < 4.5] == []
    page.close()


def test_a_page_whose_own_scripts_throw_still_gets_the_widgets(shop: Shop,
                                                              context: Any) -> None:
    page = context.new_page()
    errors = console_errors(page)

    def broken_theme(route: Any) -> None:
        response = route.fetch()
        body = response.text().replace("<head>", "<head><script>throw new Error('theme bug')"
                                       "</script><script>window.undefinedThing.call()</script>")
        route.fulfill(response=response, body=body)

    page.route("**/products/p-101", broken_theme)
    page.goto(shop.page("storefront", "products/p-101"))
    for widget in PRODUCT_WIDGETS:
        filled(page, widget)
    assert len(errors) == 2 and "theme bug" in errors[0]  # the theme's, none of ours
    page.close()


# -- screenshots for the README ------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "fr"])
def test_screenshots_of_each_widget(shop: Shop, context: Any, lang: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "?lang=fr" if lang == "fr" else ""
    page = context.new_page()
    _product_page(page, shop, "dawn", suffix)
    estimate = page.locator('[data-parcours-widget="shipping_estimate"]')
    estimate.get_by_role("button").first.click()
    estimate.locator("[name=postcode]").fill("75011")
    estimate.locator("[type=submit]").click()
    estimate.locator("[aria-live=polite] li").first.wait_for()
    shots = {f"{widget}-product-{lang}.png": page.locator(f'[data-parcours-widget="{widget}"]')
             for widget in PRODUCT_WIDGETS}
    shots[f"product-page-{lang}.png"] = page.locator(".product")
    for name, locator in shots.items():
        locator.screenshot(path=str(SCREENSHOTS / name))
    _add_to_cart(page, shop, "dawn")
    page.goto(shop.page("dawn", "cart" + suffix))
    for widget in CART_WIDGETS:
        filled(page, widget)
    _shipping_line_says(page, "")
    page.locator(".cart__footer").screenshot(path=str(SCREENSHOTS / f"cart-{lang}.png"))
    page.locator('[data-parcours-widget="guest_checkout"]').screenshot(
        path=str(SCREENSHOTS / f"guest_checkout-cart-{lang}.png"))
    for name in [*shots, f"cart-{lang}.png", f"guest_checkout-cart-{lang}.png"]:
        assert (SCREENSHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.close()
