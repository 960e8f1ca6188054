"""Reviews from the storefront, in Chromium on the demo storefront (both themes), served by a
real server over the test database (SQLite and PostgreSQL): the review_list widget's "Write a
review" link only where the store takes them, a visitor's review written with the keyboard
only and published unverified whatever its rating, hostile text kept as text, the refusals
(CSRF, honeypot, rate limit) storing nothing, the way back only to the store's own host, and
the photos' thumbnails without layout shift. The routes in detail, over HTTP:
tests/test_review_storefront.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store, get_store, save_store_facts
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database, upsert
from parcours.widgets.demo_shop import DEMO_FACTS, seed_demo_shop
from tests import storefront_support
from tests.storefront_support import CLS, console_errors, filled, served

context = storefront_support.context  # the fixture: a shopper's window
HOSTILE = '<script>window.__xss = 1</script>"><img src=x onerror="window.__xss = 2">'
THEMES = ("dawn", "storefront")


@dataclass
class Demo:
    """Parcours serving the demo storefront (store `demo`) at `url`."""

    app: Flask
    url: str
    store_id: int

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]

    def page(self, theme: str, path: str) -> str:
        return f"{self.url}/demo/shop/{theme}/{path}"

    def write_page(self, product: str = "p-101", query: str = "") -> str:
        return f"{self.url}/w/demo/reviews/{product}/write{query}"

    def settings(self, **values: Any) -> None:
        with self.db.write() as conn:
            upsert(conn, t.store_facts, [{"store_id": self.store_id, "name": "review_settings",
                                          "value": values, "updated_at": datetime.now(UTC)}],
                   ["store_id", "name"], replace=["value"])

    def reviews(self, source: str = "storefront") -> list[Any]:
        with self.db.read() as conn:
            return list(conn.execute(select(t.reviews).where(t.reviews.c.source == source)
                                     .order_by(t.reviews.c.id)))

    def photos(self) -> list[Any]:
        with self.db.read() as conn:
            return list(conn.execute(select(t.review_photos)))


MakeDemo = Callable[..., Demo]


@pytest.fixture
def make_demo(database_url: str, tmp_path: Path) -> Iterator[MakeDemo]:
    with ExitStack() as stack:
        def make(**config: Any) -> Demo:
            app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                              "DEMO_SHOP": "demo", **config}, instance_path=str(tmp_path))
            stack.callback(app.extensions["parcours.db"].engine.dispose)
            url = stack.enter_context(served(app))
            with app.extensions["parcours.db"].write() as conn:
                create_store(conn, "demo", account="demo", name="Maison Démo")
                store_id = get_store(conn, "demo").id
                seed_demo_shop(conn, store_id)
                # The store's pages are served from this host (what `back` may lead to).
                save_store_facts(conn, store_id, {"shop": {**DEMO_FACTS["shop"],
                                                           "primary_domain": url}},
                                 datetime.now(UTC))
            return Demo(app, url, store_id)

        yield make


@pytest.fixture
def demo(make_demo: MakeDemo) -> Demo:
    return make_demo()


def _write_link(page: Any) -> Any:
    return page.locator('[data-parcours-widget="review_list"] a[href*="/write?"]')


def _product_page(page: Any, demo: Demo, theme: str, query: str = "") -> Any:
    """The product page once the review list has rendered its reviews; the list."""
    page.goto(demo.page(theme, "products/p-101" + query))
    listed = filled(page, "review_list")
    listed.locator("article").first.wait_for()
    return listed


def _tab_to(page: Any, focused: str, most: int) -> None:
    """Press Tab until the `focused` expression holds; fail after `most` presses."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(focused):
            return
    pytest.fail(f"not reachable with Tab: {focused}")


def _active(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id"))


# -- the link ----------------------------------------------------------------------------------

@pytest.mark.parametrize("theme", THEMES)
def test_the_link_shows_only_when_the_store_takes_storefront_reviews(
        demo: Demo, context: Any, theme: str) -> None:
    page = context.new_page()
    errors = console_errors(page)
    listed = _product_page(page, demo, theme)
    page.wait_for_load_state("networkidle")
    assert listed.locator("a").count() == 0  # off by default
    assert errors == []
    response = page.goto(demo.write_page())
    assert response is not None and response.status == 404
    demo.settings(storefront_reviews=True)
    # A new window: the reviews' answer is cached for a minute.
    for lang, words in (("en", "Write a review"), ("fr", "Donner mon avis")):
        other = context.browser.new_context(viewport={"width": 1100, "height": 900})
        fresh = other.new_page()
        query = "?lang=fr" if lang == "fr" else ""
        _product_page(fresh, demo, theme, query)
        link = _write_link(fresh)
        assert link.inner_text() == words
        href = urlsplit(link.get_attribute("href"))
        assert f"{href.scheme}://{href.netloc}{href.path}" == demo.write_page()
        assert parse_qs(href.query) == {"lang": [lang], "back": [fresh.url]}
        assert fresh.evaluate(CLS) == 0
        other.close()
    page.close()


# -- writing a review --------------------------------------------------------------------------

@pytest.mark.parametrize(("theme", "stars"), [("dawn", 1), ("storefront", 5)])
def test_a_visitor_reviews_with_the_keyboard_only_and_it_is_published_unverified(
        demo: Demo, context: Any, theme: str, stars: int) -> None:
    demo.settings(storefront_reviews=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _product_page(page, demo, theme)
    _write_link(page).wait_for()
    _tab_to(page, "document.activeElement.textContent == 'Write a review'", 120)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Review this product"
    _tab_to(page, "document.activeElement.id == 'rating-0-1'", 10)
    for _ in range(stars - 1):  # arrows move through the stars, choosing as they go
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    assert page.is_checked(f"#rating-0-{stars}")
    page.keyboard.press("Tab")
    assert _active(page) == "title-0"
    page.keyboard.type("Honest" if stars == 5 else "Cracked")
    page.keyboard.press("Tab")
    page.keyboard.type(HOSTILE)
    page.keyboard.press("Tab")
    assert _active(page) == "photo-0"
    page.keyboard.press("Tab")
    assert _active(page) == "author"
    page.keyboard.type("Zoé")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # sends the form from its last field
    assert page.locator("h1").inner_text() == "Thank you!"
    assert page.locator(".review-body").inner_text() == HOSTILE  # as text
    assert page.locator("script, img[src=x]").count() == 0
    # Back to the product page, still with the keyboard.
    back = page.locator("#back")
    assert back.inner_text() == "Back to Maison Démo"
    assert back.get_attribute("href") == demo.page(theme, "products/p-101")
    _tab_to(page, "document.activeElement.id == 'back'", 5)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == demo.page(theme, "products/p-101")
    [review] = demo.reviews()
    assert (review.product_id, review.rating, review.title, review.body, review.author) == (
        "p-101", stars, "Honest" if stars == 5 else "Cracked", HOSTILE, "Zoé")
    assert (review.verified, review.status, review.source, review.incentive,
            review.order_id) == (False, "published", "storefront", None, None)
    # Listed like every other review (in a new window: the list is cached for a minute), as
    # text, and without "Verified buyer".
    other = context.browser.new_context(viewport={"width": 1100, "height": 900})
    fresh = other.new_page()
    errors = console_errors(fresh)
    listed = _product_page(fresh, demo, theme)
    first = listed.locator("article").first
    assert first.get_by_role("img").first.get_attribute("aria-label") == (
        f"{stars} out of 5 stars")
    assert HOSTILE in first.inner_text() and "Zoé" in first.inner_text()
    assert "Verified buyer" not in first.inner_text()
    assert "Verified buyer" in listed.locator("article").nth(1).inner_text()  # a buyer's
    assert listed.locator("article img, article b, article script").count() == 0
    fresh.wait_for_load_state("networkidle")
    assert fresh.evaluate("window.__xss") is None and errors == [] and dialogs == []
    other.close()
    page.close()


# -- refusals ----------------------------------------------------------------------------------

def _fill(page: Any, demo: Demo, query: str = "") -> None:
    page.goto(demo.write_page(query=query))
    page.click("label[for=rating-0-4]")
    page.fill("#body-0", "Solid")
    page.fill("#author", "Bo")


def test_refusals_store_nothing(make_demo: MakeDemo, context: Any) -> None:
    demo = make_demo(REVIEW_FORM_POSTS=3)
    demo.settings(storefront_reviews=True)
    page = context.new_page()
    # Without the cookie the page set (a forged post from another site has none).
    _fill(page, demo)
    context.clear_cookies()
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Your review could not be sent"
    # The honeypot a robot fills: thanked, nothing kept.
    _fill(page, demo)
    page.evaluate("document.getElementById('comment_extra').value = 'http://spam.example'")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Thank you!"
    # One more post from this address (the limit is 3 here) is refused.
    _fill(page, demo)
    page.fill("#author", "")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("#error-summary").inner_text().startswith("There is a problem")
    assert _active(page) == "error-summary"
    page.fill("#author", "Bo")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Too many attempts"
    assert demo.reviews() == [] and demo.photos() == []
    page.close()


def test_back_to_another_host_gives_no_link(demo: Demo, context: Any) -> None:
    demo.settings(storefront_reviews=True)
    page = context.new_page()
    for back in ("https://evil.example/products/p-101",
                 "https://evil.example%5C@127.0.0.1/products/p-101"):
        _fill(page, demo, f"?back={back}")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Thank you!"
        assert page.locator("main a").count() == 0
    assert len(demo.reviews()) == 1  # the same review again is not written twice
    page.close()


# -- photos ------------------------------------------------------------------------------------

def _photo() -> bytes:
    image = Image.new("RGB", (1200, 900), (236, 229, 218))
    ImageDraw.Draw(image).ellipse((300, 200, 900, 700), fill=(31, 78, 121))
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("theme", THEMES)
def test_a_reviews_photo_shows_as_a_thumbnail_linking_to_it(demo: Demo, context: Any,
                                                             theme: str) -> None:
    demo.settings(storefront_reviews=True)
    page = context.new_page()
    _fill(page, demo, "?lang=fr")
    page.set_input_files("#photo-0", files=[{"name": "mug.png", "mimeType": "image/png",
                                             "buffer": _photo()}])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text().startswith("Merci")
    [photo] = demo.photos()
    page.close()
    for lang, alt in (("en", "Photo from Bo"), ("fr", "Photo de Bo")):
        window = context.browser.new_context(viewport={"width": 1100, "height": 900})
        shopper = window.new_page()
        errors = console_errors(shopper)
        listed = _product_page(shopper, demo, theme, "?lang=fr" if lang == "fr" else "")
        thumbnail = listed.locator("article").first.locator("a img")
        assert thumbnail.get_attribute("alt") == alt
        assert [thumbnail.get_attribute(name) for name in ("width", "height", "loading")] == [
            "64", "64", "lazy"]
        link = listed.locator("article").first.locator("a")
        assert link.get_attribute("href") == f"{demo.url}/r/photos/{photo.id}.jpg"
        assert listed.locator("article img").count() == 1  # the other reviews have none
        thumbnail.scroll_into_view_if_needed()
        shopper.wait_for_function(
            "document.querySelector('.prc-review img').naturalWidth == 1200")
        assert thumbnail.evaluate("i => [i.clientWidth, i.clientHeight]") == [64, 64]
        assert shopper.evaluate(CLS) == 0
        if lang == "en":
            link.focus()
            with shopper.expect_navigation():
                shopper.keyboard.press("Enter")
            assert shopper.url.endswith(f"/r/photos/{photo.id}.jpg")
        assert errors == []
        window.close()
