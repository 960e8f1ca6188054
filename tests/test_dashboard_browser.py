"""The dashboard in Chromium, served by a real server over the test database (SQLite and
PostgreSQL): each way in (the password form with the keyboard, a Shopify session token, the
WordPress plugin's link), every page read with no console error and no failed request, a
widget switched off and the storefront's config following, the insight pages walked (a
segment, the next page of dropped shoppers, a timeline) and a friction's one-click fix done
with the keyboard, AA contrast and a phone's width. With PARCOURS_SCREENSHOTS set to a folder,
the README's pictures (dashboard-*.png) are saved.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import (
    EMAIL,
    PASSWORD,
    Site,
    config_of,
    record_cart_abandonment,
    record_experiment,
    shopify_token,
    site,
    wordpress_link,
)
from tests.storefront_support import served
from tests.test_review_form_browser import CONTRAST

__all__ = ["site"]  # the fixture

SCREENSHOTS = os.environ.get("PARCOURS_SCREENSHOTS")
PAGES = ("overview", "funnel", "stages", "journeys", "dropped", "friction", "experiments",
         "reviews", "settings", "export", "privacy")
# The stand-in of Shopify's App Bridge script (cdn.shopify.com cannot be reached from here):
# only what the pages use, `shopify.idToken()`.
APP_BRIDGE_STANDIN = "window.shopify = {idToken: async () => window.__nextToken || ''};"


@pytest.fixture
def served_site(site: Site) -> Iterator[tuple[Site, str]]:
    with served(site.app) as origin:
        yield site, origin


class Watch:
    """A page's console errors, failed requests and error responses, from now on."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        page.on("response", lambda r: self.problems.append(f"{r.status}: {r.url}")
                if r.status >= 400 else None)


def _window(browser: Any, **options: Any) -> Any:
    context = browser.new_context(**{"viewport": {"width": 1200, "height": 900}, **options})
    context.route("https://cdn.shopify.com/shopifycloud/app-bridge.js", lambda route: (
        route.fulfill(body=APP_BRIDGE_STANDIN, content_type="text/javascript")))
    return context


def _shoot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"dashboard-{name}.png"), full_page=True)


def _read_every_page(page: Any, origin: str, store: str, watch: Watch, lang: str) -> None:
    for name in PAGES:
        page.get_by_role("navigation").get_by_role("link").nth(PAGES.index(name)).click()
        page.wait_for_load_state()
        assert page.locator("h1").count() == 1, name
        assert page.evaluate("document.documentElement.lang") == lang
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1"), name
        assert page.locator("nav.pages [aria-current=page]").count() == 1, name
    assert watch.problems == []


def test_screenshots_a_user_logs_in_with_the_keyboard_and_reads_every_page(
        served_site: tuple[Site, str], browser: Any) -> None:
    site, origin = served_site
    context = _window(browser)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{origin}/dashboard/stores/{site.custom}/?days=30")
    assert page.url.startswith(f"{origin}/dashboard/login")
    _shoot(page, "login")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.focus("#email")
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{origin}/dashboard/stores/{site.custom}/?days=30"
    assert page.locator(".kpi").count() >= 10
    assert page.locator("svg.chart[role=img]").count() == 1
    _shoot(page, "overview")
    _read_every_page(page, origin, site.custom, watch, "en")
    for name in ("funnel", "stages", "reviews", "settings"):
        page.goto(f"{origin}/dashboard/stores/{site.custom}/{name}?days=90")
        _shoot(page, name)
    # Hostile review text stays text.
    page.goto(f"{origin}/dashboard/stores/{site.custom}/reviews")
    assert page.locator("main script, main img").count() == 0
    assert watch.problems == []
    context.close()


def test_a_widget_switched_off_leaves_the_storefront_config(served_site: tuple[Site, str],
                                                            browser: Any) -> None:
    site, origin = served_site
    context = _window(browser)
    page = context.new_page()
    watch = Watch(page)
    config = f"{origin}/w/{site.custom}/config.json"
    assert page.request.get(config).json()["widgets"]["express_pay"]["enabled"] is True
    page.goto(f"{origin}/dashboard/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{origin}/dashboard/stores/{site.custom}/settings")
    page.focus("#enabled-express_pay")
    page.keyboard.press("Space")  # a checkbox toggles with the keyboard
    assert not page.is_checked("#enabled-express_pay")
    with page.expect_navigation():
        page.click("form button[type=submit] >> text=Save")
    assert page.locator("[role=status]").inner_text() == "Settings saved."
    assert not page.is_checked("#enabled-express_pay")
    assert page.request.get(config).json()["widgets"]["express_pay"]["enabled"] is False
    # A refused form names its fields and takes nothing.
    page.fill("#holdout-review_list", "250")
    with page.expect_navigation():
        page.click("form button[type=submit] >> text=Save")
    assert page.locator("#error-summary").inner_text().count("Holdout share of Review list") == 1
    assert page.get_attribute("#holdout-review_list", "aria-invalid") == "true"
    assert "holdout" not in str(page.request.get(config).json()["widgets"]["review_list"])
    assert [p for p in watch.problems if "422" not in p] == []  # the refusal itself
    context.close()


def _log_in(page: Any, origin: str) -> None:
    page.goto(f"{origin}/dashboard/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_screenshots_insight_pages_and_a_one_click_fix_with_the_keyboard(
        served_site: tuple[Site, str], browser: Any) -> None:
    site, origin = served_site
    context = _window(browser)
    page = context.new_page()
    watch = Watch(page)
    _log_in(page, origin)
    base = f"{origin}/dashboard/stores/{site.custom}"
    page.goto(f"{base}/journeys?days=90")
    assert page.locator("svg.chart[role=img]").count() == 2  # steps, time per stage
    _shoot(page, "journeys")
    page.select_option("#segment", "device:mobile")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert "segment=device%3Amobile" in page.url and "days=90" in page.url
    assert page.locator("#steps-heading + p").inner_text().endswith("Device: Mobile.")
    page.goto(f"{base}/dropped?days=90&step=cart")
    _shoot(page, "dropped")
    first = page.locator("#dropped tbody a").first.get_attribute("href")
    with page.expect_navigation():
        page.get_by_role("link", name="Next page").click()
    assert page.locator("#dropped tbody a").first.get_attribute("href") != first
    with page.expect_navigation():
        page.locator("#dropped tbody a").first.click()
    assert page.locator("h1").inner_text().startswith("Shopper ")
    assert page.locator("#events tbody tr").count() > 0
    # A friction with a one-click fix: tab to its button and press Enter.
    record_cart_abandonment(site, site.custom)
    page.goto(f"{base}/friction?days=90")
    assert page.locator(".finding").count() == 1
    _shoot(page, "friction")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Turn on: Shipping estimate":
            break
    else:
        raise AssertionError("the one-click button cannot be reached with Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[role=status]").inner_text().startswith("The widget is on")
    assert page.locator(".finding").count() == 0
    assert config_of(site.app, site.custom)["widgets"]["shipping_estimate"]["enabled"] is True
    # An experiment past its pilot: the plan, and the progress toward it.
    record_experiment(site, site.custom, exposed=(800, 150), holdout=(210, 30))
    page.goto(f"{base}/experiments?days=90")
    assert page.locator("#experiment-1-progress").count() == 1
    _shoot(page, "experiments")
    assert watch.problems == []
    context.close()


def test_screenshots_shopify_admin_opens_the_dashboard_in_french(
        served_site: tuple[Site, str], browser: Any) -> None:
    site, origin = served_site
    context = _window(browser)
    page = context.new_page()
    watch = Watch(page)
    page.goto(f"{origin}/dashboard/shopify?id_token={shopify_token()}&locale=fr")
    assert page.url == f"{origin}/dashboard/stores/{site.shopify}/"
    assert page.locator("h1").inner_text() == "Vue d'ensemble"
    assert page.locator(".empty").count() == 1  # a new shop: nothing recorded yet
    assert page.evaluate("typeof window.shopify.idToken") == "function"  # App Bridge loaded
    _shoot(page, "overview-fr-empty")
    _read_every_page(page, origin, site.shopify, watch, "fr")
    # The language switch, by keyboard.
    page.get_by_role("button", name="English").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert watch.problems == []
    answer = page.goto(f"{origin}/dashboard/stores/{site.custom}/")
    assert answer is not None and answer.status == 404  # another account's store
    expired = context.new_page()
    answer = expired.goto(f"{origin}/dashboard/shopify?id_token="
                          f"{shopify_token(expires_in=-120)}")
    assert answer is not None and answer.status == 401
    context.close()


def test_the_wordpress_button_opens_the_dashboard_once(served_site: tuple[Site, str],
                                                       browser: Any) -> None:
    site, origin = served_site
    link = wordpress_link(origin, site.woo, locale="fr")
    context = _window(browser)
    page = context.new_page()
    watch = Watch(page)
    page.goto(link)
    assert page.url == f"{origin}/dashboard/stores/{site.woo}/"
    assert page.locator("h1").inner_text() == "Vue d'ensemble"
    _read_every_page(page, origin, site.woo, watch, "fr")
    assert watch.problems == []
    replay = _window(browser).new_page()
    answer = replay.goto(link)
    assert answer is not None and answer.status == 401
    assert replay.locator("h1").inner_text() == "This link does not open the dashboard"
    context.close()


def test_contrast_and_a_phones_width(served_site: tuple[Site, str], browser: Any) -> None:
    site, origin = served_site
    context = _window(browser, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{origin}/dashboard/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    for name in ("", "funnel", "journeys", "dropped", "friction", "experiments", "reviews",
                 "settings", "privacy"):
        page.goto(f"{origin}/dashboard/stores/{site.custom}/{name}?days=90")
        ratios = page.evaluate(CONTRAST)
        assert [(text, ratio) for text, ratio in ratios if ratio < 4.5] == [], name
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1"), name
    context.close()
