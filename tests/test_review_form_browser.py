"""The review form in Chromium, served by a real server over the test database (SQLite and
PostgreSQL): a shopper reviews with the keyboard only, with and without JavaScript; hostile
review text stays text; errors take the focus; texts meet WCAG AA contrast; a phone's width
needs no sideways scrolling. With PARCOURS_SCREENSHOTS set to a folder, the README's pictures
of a filled form (review-form-en.png, review-form-fr.png) are saved there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from parcours import tables as t
from tests import review_form_support
from tests.review_form_support import HOSTILE, Shop
from tests.storefront_support import served

make_shop = review_form_support.make_shop  # the fixtures
shop = review_form_support.shop


def _picture() -> bytes:
    """The mug's product picture (item images are https URLs the browser is given here)."""
    image = Image.new("RGB", (256, 256), (236, 229, 218))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((64, 72, 176, 200), radius=14, fill=(31, 78, 121))
    draw.arc((150, 100, 214, 170), 270, 90, fill=(31, 78, 121), width=14)
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


PICTURE = _picture()


@pytest.fixture
def site(shop: Shop) -> Iterator[tuple[Shop, str]]:
    with served(shop.app) as origin:
        yield shop, origin


def _window(browser: Any, **options: Any) -> Any:
    context = browser.new_context(**{"viewport": {"width": 900, "height": 900}, **options})
    context.route("https://cdn.example/**", lambda route: route.fulfill(
        body=PICTURE, content_type="image/png"))
    return context


@pytest.fixture
def window(browser: Any) -> Iterator[Any]:
    context = _window(browser)
    yield context
    context.close()


def _active(page: Any) -> str:
    return str(page.evaluate("document.activeElement.id"))


def _tab_to(page: Any, element: str, most: int = 30) -> None:
    """Press Tab until the element with id `element` has the focus."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if _active(page) == element:
            return
    pytest.fail(f"#{element} is not reachable with Tab")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_shopper_reviews_with_the_keyboard_only(site: tuple[Shop, str], browser: Any,
                                                  javascript: bool) -> None:
    shop, origin = site
    request_id, token = shop.request()
    context = _window(browser, java_script_enabled=javascript)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{origin}/r/{token}")
    assert page.locator("h2").all_inner_texts()[:3] == ["Enamel mug", "Linen tee", "Wool cap"]
    _tab_to(page, "rating-0-1")
    star = "getComputedStyle(document.activeElement.nextElementSibling).outlineStyle"
    assert page.evaluate(star) == "solid"  # the focus shows on the star
    page.keyboard.press("Space")  # one star
    page.keyboard.press("Tab")
    assert _active(page) == "title-0"
    page.keyboard.type("Chipped")
    page.keyboard.press("Tab")
    page.keyboard.type(HOSTILE)
    page.keyboard.press("Tab")
    assert _active(page) == "photo-0"
    page.keyboard.press("Tab")
    assert _active(page) == "rating-1-1"
    for _ in range(4):  # arrows move through a radio group, choosing as they go
        page.keyboard.press("ArrowRight")
    assert _active(page) == "rating-1-5" and page.is_checked("#rating-1-5")
    _tab_to(page, "ces-1")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    _tab_to(page, "nps-0")
    for _ in range(9):
        page.keyboard.press("ArrowRight")
    _tab_to(page, "author")
    page.keyboard.press("End")
    page.keyboard.type(" L.")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # sends the form from its last field
    assert page.locator("h1").inner_text() == "Thank you!"
    assert page.locator(".review-body").first.inner_text() == HOSTILE  # as text
    assert page.locator("script, img[src=x]").count() == 0
    with shop.db.read() as conn:
        rows = conn.execute(select(t.reviews).order_by(t.reviews.c.id)).all()
        request = conn.execute(select(t.review_requests)).one()
    assert [(r.product_id, r.rating, r.title, r.body, r.author, r.status) for r in rows] == [
        ("mug", 1, "Chipped", HOSTILE, "Ada L.", "published"),
        ("tee", 5, None, "", "Ada L.", "published")]
    assert (request.id, request.status, request.ces, request.nps) == (
        request_id, "submitted", 6, 9)
    # What the storefront widgets read carries the text as JSON data, nothing more.
    page.goto(f"{origin}/w/{shop.key}/reviews/mug.json")
    listed = json.loads(page.locator("body").inner_text())
    assert listed["reviews"][0]["body"] == HOSTILE and listed["rating"]["average"] == 1
    page.goto(f"{origin}/r/{token}")
    assert page.locator("h1").inner_text() == "This link was already used"
    assert dialogs == []
    context.close()


def test_errors_take_the_focus_and_lead_to_their_field(site: tuple[Shop, str],
                                                       window: Any) -> None:
    shop, origin = site
    _, token = shop.request(locale="fr")
    page = window.new_page()
    page.goto(f"{origin}/r/{token}")
    _tab_to(page, "author")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _active(page) == "error-summary"
    assert page.locator("#error-summary").inner_text().startswith("Il y a un problème")
    page.keyboard.press("Tab")  # the summary's link to the field
    page.keyboard.press("Enter")
    assert _active(page) == "rating-0-1"
    group = page.get_by_role("radiogroup", name="Votre note pour Enamel mug")
    assert group.get_attribute("aria-invalid") == "true"
    assert page.locator("#rating-0-error").inner_text() == "Notez au moins un produit."


# The WCAG contrast ratio of every text of the page against its background (the first opaque
# one up the tree, else white).
CONTRAST = """() => {
    const rgb = c => c.match(/[\\d.]+/g).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(v => (v /= 255) <= 0.03928 ? v / 12.92
        : ((v + 0.055) / 1.055) ** 2.4).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const out = [];
    for (const node of document.querySelectorAll("main *")) {
        const texts = [...node.childNodes].filter(c => c.nodeType == 3 && c.textContent.trim());
        if (!texts.length || node.closest(".vh, .hp")) continue;
        const opaque = e => (rgb(getComputedStyle(e).backgroundColor)[3] ?? 1) !== 0;
        let bg = node;
        while (bg && !opaque(bg)) bg = bg.parentElement;
        const back = bg ? rgb(getComputedStyle(bg).backgroundColor) : [255, 255, 255];
        const [hi, lo] = [lum(rgb(getComputedStyle(node).color)), lum(back)]
            .sort((a, b) => b - a);
        const ratio = Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100;
        out.push([node.textContent.trim().slice(0, 30), ratio]);
    }
    return out;
}"""


def test_contrast_names_and_a_phones_width(site: tuple[Shop, str], browser: Any) -> None:
    shop, origin = site
    shop.settings(incentive="10% off your next order")
    _, token = shop.request()
    context = _window(browser, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(f"{origin}/r/{token}")
    page.click("label[for=ces-4]")  # a chosen number is white on blue
    for state in ("form", "errors"):
        ratios = page.evaluate(CONTRAST)
        assert len(ratios) > 30
        assert [(text, ratio) for text, ratio in ratios if ratio < 4.5] == [], state
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), state
        if state == "form":
            page.locator("button[type=submit]").click()
    # Each star and number is named for a screen reader, and grouped under its question.
    for product in ("Enamel mug", "Linen tee", "Wool cap"):
        group = page.get_by_role("radiogroup", name=f"Your rating for {product}")
        names = [group.get_by_role("radio", name=name, exact=True).count()
                 for name in ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")]
        assert names == [1] * 5
    assert page.get_by_role("radiogroup", name="Would you recommend us?").get_by_role(
        "radio").count() == 11
    assert page.get_by_label("Title (optional)").count() == 3
    context.close()


SCREENSHOTS = os.environ.get("PARCOURS_SCREENSHOTS")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_screenshots_of_a_filled_form(site: tuple[Shop, str], window: Any, lang: str,
                                      tmp_path: Path) -> None:
    """The filled form renders whole; with PARCOURS_SCREENSHOTS set, its picture is kept
    there for the README."""
    shop, origin = site
    shop.settings(incentive="10% off your next order" if lang == "en"
                  else "10 % de remise sur votre prochaine commande")
    _, token = shop.request(locale=lang, name="Ada" if lang == "en" else "Zoé")
    page = window.new_page()
    page.goto(f"{origin}/r/{token}")
    page.click("label[for=rating-0-4]")
    page.fill("#title-0", "Keeps coffee hot" if lang == "en" else "Garde le café chaud")
    page.fill("#body-0", "Sturdy enamel, and the handle stays cool." if lang == "en"
              else "Émail solide, et l'anse reste froide.")
    page.click("label[for=rating-1-5]")
    page.click("label[for=ces-6]")
    page.click("label[for=nps-9]")
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"review-form-{lang}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
