"""Reviews from the storefront's visitors (review_storefront.py), over HTTP (SQLite and
PostgreSQL): off by default, one product's page, unverified and published whatever the rating,
the same defences as the email form (CSRF, honeypot, rate limit, photos cleaned), and a link
back only to the store's own hosts. In Chromium, from the review_list widget:
tests/test_review_storefront_browser.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy import update
from werkzeug.test import TestResponse

from parcours import tables as t
from parcours.accounts import save_store_facts
from parcours.review_storefront import back_link
from parcours.reviews import product_reviews
from tests import review_form_support
from tests.review_form_support import HOSTILE, MakeShop, Shop, Shopper, text

make_shop = review_form_support.make_shop  # the fixtures
shop = review_form_support.shop

HOSTS = {"acme.example", "www.acme.example"}


class Visitor:
    """A browser's side of one product's storefront review page."""

    def __init__(self, client: FlaskClient, key: str, product: str = "mug") -> None:
        self.client, self.path, self.csrf = client, f"/w/{key}/reviews/{product}/write", ""

    def open(self, query: str = "") -> TestResponse:
        page = self.client.get(self.path + query)
        found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
        self.csrf = found.group(1) if found else ""
        return page

    def send(self, query: str = "", *, with_csrf: bool = True, **fields: Any) -> TestResponse:
        data = {"csrf": self.csrf, **fields} if with_csrf else fields
        return self.client.post(self.path + query, data=data,
                                content_type="multipart/form-data")


def _open_store(shop: Shop, **settings: Any) -> None:
    """The store takes storefront reviews; its pages are served from acme.example (its
    domain) and www.acme.example (its primary domain)."""
    shop.settings(storefront_reviews=True, **settings)
    with shop.db.write() as conn:
        conn.execute(update(t.stores).where(t.stores.c.id == shop.store_id)
                     .values(domain="acme.example"))
        save_store_facts(conn, shop.store_id, {"shop": {
            "primary_domain": "https://www.acme.example"}}, datetime.now(UTC))


def _catalog(shop: Shop, product: str, **value: Any) -> None:
    """The store's catalog fact for `product`, as the WooCommerce adapter saves it."""
    with shop.db.write() as conn:
        save_store_facts(conn, shop.store_id, {f"product:{product}": value}, datetime.now(UTC))


def nothing_written(shop: Shop) -> None:
    assert shop.rows(t.reviews) == [] and shop.rows(t.review_photos) == []


# -- on or off ---------------------------------------------------------------------------------

def test_off_by_default_every_route_is_404_and_the_json_offers_no_link(shop: Shop) -> None:
    client = shop.app.test_client()
    visitor = Visitor(client, shop.key)
    for answer in (visitor.open(), visitor.send(**{"rating-0": "5", "author": "Bo"})):
        assert answer.status_code == 404
        assert answer.mimetype == "text/html"  # the shopper's page, not the API's JSON
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert client.get(f"/w/{shop.key}/reviews/mug.json").get_json()["write"] is None
    nothing_written(shop)
    shop.settings(storefront_reviews=True)
    assert visitor.open().status_code == 200
    assert client.get(f"/w/{shop.key}/reviews/mug.json").get_json()["write"] == (
        f"/w/{shop.key}/reviews/mug/write")
    assert Visitor(client, "nope").open().status_code == 404
    assert Visitor(client, shop.key, "x" * 65).open().status_code == 404
    with shop.db.write() as conn:
        conn.execute(update(t.stores).where(t.stores.c.id == shop.store_id)
                     .values(uninstalled_at=datetime.now(UTC)))
    assert visitor.open().status_code == 404


def test_a_product_the_catalog_closes_to_reviews_has_no_page(shop: Shop) -> None:
    _open_store(shop)
    _catalog(shop, "mug", name="Enamel mug", reviews_allowed=False)
    client = shop.app.test_client()
    assert Visitor(client, shop.key).open().status_code == 404
    assert client.get(f"/w/{shop.key}/reviews/mug.json").get_json()["write"] is None


# -- the page ----------------------------------------------------------------------------------

def test_the_page_is_neutral_unless_the_store_knows_the_product(shop: Shop) -> None:
    _open_store(shop, incentive="10% off", survey=True)
    client = shop.app.test_client()
    # What the visitor's URL says is not the product's name: only the store's catalog is.
    page = Visitor(client, shop.key).open("?title=%3Cb%3EFree%20pills%3C/b%3E")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Review this product</h1>" in html
    assert "Free pills" not in html
    assert "<legend>Your rating for this product</legend>" in html
    assert [int(v) for v in re.findall(r'name="rating-0" value="(\d)"', html)] == [1, 2, 3, 4, 5]
    assert 'name="title-0" maxlength="200"' in html and 'name="body-0" rows="5"' in html
    assert 'type="file" id="photo-0"' in html
    assert 'name="author" maxlength="100" autocomplete="nickname" value=""' in html
    assert "It is not marked as from a verified buyer." in text(page)
    # No incentive (for buyers asked after an order) and no survey (about buying).
    assert "10% off" not in html and 'name="ces"' not in html and 'name="nps"' not in html
    assert '<div class="hp" aria-hidden="true">' in html and "<script" not in html
    assert (page.headers["X-Frame-Options"], page.headers["Cache-Control"]) == ("DENY",
                                                                                "no-store")
    cookie = page.headers["Set-Cookie"]
    assert f"Path=/w/{shop.key}/reviews/" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    _catalog(shop, "mug", name="Enamel mug", image="https://cdn.example/mug.png",
             reviews_allowed=True)
    named = Visitor(client, shop.key).open("?lang=fr").get_data(as_text=True)
    assert "<h1>Donnez votre avis sur Enamel mug</h1>" in named
    assert "<legend>Votre note pour Enamel mug</legend>" in named
    assert 'src="https://cdn.example/mug.png"' in named


def test_the_page_keeps_its_language_and_back_through_the_post(shop: Shop) -> None:
    _open_store(shop, default_locale="fr")
    visitor = Visitor(shop.app.test_client(), shop.key)
    html = visitor.open().get_data(as_text=True)
    assert '<html lang="fr">' in html and "Donnez votre avis sur ce produit" in html
    back = "https://www.acme.example/products/mug?variant=2&lang=en"
    query = "?lang=en&back=" + back.replace("?", "%3F").replace("&", "%26")
    page = visitor.open(query)
    html = page.get_data(as_text=True)
    assert page.headers["Content-Language"] == "en"
    action = urlsplit(unescape(re.search(  # type: ignore[union-attr]
        r'<form method="post" action="([^"]+)"', html).group(1)))
    assert action.path == f"/w/{shop.key}/reviews/mug/write"
    assert parse_qs(action.query) == {"lang": ["en"], "back": [back]}
    switch = urlsplit(unescape(re.search(  # type: ignore[union-attr]
        r'<nav><a href="([^"]+)"', html).group(1)))
    assert parse_qs(switch.query) == {"lang": ["fr"], "back": [back]}  # `back` stays


# -- a review ----------------------------------------------------------------------------------

def test_a_one_star_review_is_published_unverified_exactly_like_a_five_star_one(
        shop: Shop) -> None:
    _open_store(shop, incentive="a free sample")
    # Ada bought a mug (a request was sent to her): on the storefront she is a visitor like
    # any other, and what she writes there is not verified.
    request_id, _ = shop.request()
    client = shop.app.test_client()
    for rating, author in (("1", "Ada"), ("5", "  Bo  ")):
        visitor = Visitor(client, shop.key)
        visitor.open()
        sent = visitor.send(**{"rating-0": rating, "title-0": "Chipped" if rating == "1" else "",
                               "body-0": "Chipped\r\nat once" if rating == "1" else "",
                               "author": author})
        assert sent.status_code == 200, text(sent)
        assert "Thank you! Your review was sent to Acme Shop." in text(sent)
        assert 'id="back"' not in sent.get_data(as_text=True)  # no `back`: no link
    one, five = shop.rows(t.reviews)
    assert (one.rating, one.title, one.body, one.author) == (1, "Chipped", "Chipped\nat once",
                                                             "Ada")
    assert (five.rating, five.title, five.body, five.author) == (5, None, "", "Bo")
    same = {"store_id": shop.store_id, "product_id": "mug", "order_id": None,
            "profile_id": None, "request_id": None, "verified": False, "status": "published",
            "source": "storefront", "incentive": None, "sync_status": "pending",
            "sync_attempts": 0, "reply": None, "locale": "en", "moderation_reason": None}
    for review in (one, five):
        assert {name: getattr(review, name) for name in same} == same
    assert shop.row(request_id).status == "sent"  # the buyer's request is untouched
    assert shop.rows(t.inbox) == []  # no order, no journey event
    with shop.db.read() as conn:
        listed = product_reviews(conn, shop.store_id, "mug")
    assert listed["rating"] == {"average": 3.0, "count": 2, "best": 5, "worst": 1}
    assert [(r["rating"], r["verified"], r["photos"]) for r in listed["reviews"]] == [
        (5, False, []), (1, False, [])]
    assert "incentive" not in listed["reviews"][0]


def test_the_same_review_sent_twice_is_written_once(shop: Shop) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    fields = {"rating-0": "4", "body-0": "Good", "author": "Bo"}
    assert [visitor.send(**fields).status_code for _ in range(2)] == [200, 200]
    assert visitor.send(**{**fields, "rating-0": "3"}).status_code == 200  # another review
    assert [r.rating for r in shop.rows(t.reviews)] == [4, 3]


def test_hostile_text_is_kept_as_written_and_shown_as_text(shop: Shop) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    sent = visitor.send(**{"rating-0": "2", "title-0": HOSTILE[:40], "body-0": HOSTILE,
                           "author": "<b>Mallory</b>"})
    html = sent.get_data(as_text=True)
    assert sent.status_code == 200 and "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    [review] = shop.rows(t.reviews)
    assert (review.body, review.author) == (HOSTILE, "<b>Mallory</b>")


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"author": "Bo"}, "rating-0", "Your rating for this product: Choose from 1 to 5 stars."),
    ({"rating-0": "6", "author": "Bo"}, "rating-0", "Choose from 1 to 5 stars."),
    ({"rating-0": "5"}, "author",
     "Your name, shown with your review: Write the name to show with your review."),
    ({"rating-0": "5", "author": "   "}, "author", "Write the name to show with your review."),
    ({"rating-0": "5", "author": "a" * 101}, "author", "Write at most 100 characters."),
    ({"rating-0": "5", "author": "Bo", "title-0": "t" * 201}, "title-0",
     "Title (optional): Write at most 200 characters."),
    ({"rating-0": "5", "author": "Bo", "body-0": "b" * 5001}, "body-0",
     "Write at most 5000 characters."),
])
def test_an_invalid_review_names_the_field_and_writes_nothing(
        shop: Shop, fields: dict[str, str], field: str, message: str) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    page = visitor.send(**{"body-0": "kept", **fields})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and message in text(page)
    assert re.search(r'<div class="summary" id="error-summary" tabindex="-1" autofocus', html)
    tag = re.search(rf'<(?:input|textarea|fieldset)[^>]* id="{field}"[^>]*>', html)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)
    if "body-0" not in fields:
        assert ">kept</textarea>" in html  # the visitor's input comes back
    nothing_written(shop)


# -- what is refused ---------------------------------------------------------------------------

def test_a_post_without_a_valid_csrf_token_and_cookie_is_refused(make_shop: MakeShop) -> None:
    shop = make_shop()
    _open_store(shop)
    client = shop.app.test_client()
    visitor = Visitor(client, shop.key)
    visitor.open()
    good = {"rating-0": "5", "author": "Bo"}
    missing = visitor.send(with_csrf=False, **good)
    assert missing.status_code == 403 and "Your review could not be sent" in text(missing)
    # The token of another product's page, with its cookie.
    tee = Visitor(client, shop.key, "tee")
    tee.open()
    tee.path = visitor.path
    assert tee.send(**good).status_code == 403
    stranger = Visitor(shop.app.test_client(), shop.key)  # a page elsewhere: no cookie
    stranger.csrf = visitor.csrf
    assert stranger.send(**good).status_code == 403
    client.set_cookie("parcours_review", "x" * 32, path=f"/w/{shop.key}/reviews/")
    assert visitor.send(**good).status_code == 403
    # The email form's token (a request id, not this page) is no good here either.
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    cookie = shopper.client.get_cookie("parcours_review", path="/r/")
    assert cookie is not None
    borrowed = Visitor(shopper.client, shop.key)
    borrowed.client.set_cookie("parcours_review", cookie.value, path=f"/w/{shop.key}/reviews/")
    borrowed.csrf = shopper.csrf
    assert borrowed.send(**good).status_code == 403
    nothing_written(shop)


def test_a_filled_honeypot_is_thanked_and_forgotten(shop: Shop) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    robot = visitor.send(**{"rating-0": "5", "body-0": "Buy pills", "author": "Bot",
                            "comment_extra": "http://spam.example"})
    assert robot.status_code == 200 and "Thank you!" in text(robot)
    nothing_written(shop)


def test_posts_share_the_email_forms_limit_per_address(make_shop: MakeShop) -> None:
    shop = make_shop(REVIEW_FORM_POSTS=3)
    _open_store(shop)
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    assert shopper.send().status_code == 400  # one post of the email form
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    assert [visitor.send().status_code for _ in range(2)] == [400, 400]
    limited = visitor.send(**{"rating-0": "5", "author": "Bo"})
    assert limited.status_code == 429 and "Too many attempts" in text(limited)
    assert int(limited.headers["Retry-After"]) > 0
    nothing_written(shop)


def test_a_body_over_the_limit_gets_a_clear_page(shop: Shop) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    big = visitor.send(**{"rating-0": "5", "author": "Bo",
                          "photo-0": (BytesIO(b"\0" * 7 * 2**20), "p.jpg")})
    assert big.status_code == 413 and "6 MB" in text(big)
    nothing_written(shop)


# -- photos ------------------------------------------------------------------------------------

def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (2000, 1500), (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_photo_is_cleaned_stored_and_listed(shop: Shop) -> None:
    _open_store(shop)
    client = shop.app.test_client()
    visitor = Visitor(client, shop.key)
    visitor.open()
    sent = visitor.send(**{"rating-0": "4", "author": "Bo",
                           "photo-0": (BytesIO(_jpeg_with_gps()), "IMG_1.JPG", "image/jpeg")})
    assert sent.status_code == 200, text(sent)
    [photo] = shop.rows(t.review_photos)
    [review] = shop.rows(t.reviews)
    assert photo.review_id == review.id and (photo.width, photo.height) == (1600, 1200)
    assert b"PhoneMaker" not in photo.data and len(Image.open(BytesIO(photo.data)).getexif()) == 0
    listed = client.get(f"/w/{shop.key}/reviews/mug.json").get_json()
    assert listed["reviews"][0]["photos"] == [f"/r/photos/{photo.id}.jpg"]
    served = client.get(f"/r/photos/{photo.id}.jpg")
    assert served.status_code == 200 and served.data == photo.data


def test_a_refused_photo_is_said_and_nothing_is_written(shop: Shop) -> None:
    _open_store(shop)
    visitor = Visitor(shop.app.test_client(), shop.key)
    visitor.open()
    page = visitor.send(**{"rating-0": "4", "author": "Bo",
                           "photo-0": (BytesIO(b"%PDF-1.7"), "p.jpg", "image/jpeg")})
    assert page.status_code == 400
    assert "A photo (optional): This file is not a JPEG, PNG or WebP picture." in text(page)
    # A good photo beside an error in another field must be chosen again.
    good = BytesIO()
    Image.new("RGB", (40, 30)).save(good, "PNG")
    good.seek(0)
    again = visitor.send(**{"rating-0": "4", "photo-0": (good, "p.png", "image/png")})
    assert again.status_code == 400 and "choose it again" in text(again)
    nothing_written(shop)


def test_without_photos_in_the_settings_an_upload_is_ignored(shop: Shop) -> None:
    _open_store(shop, photos=False)
    visitor = Visitor(shop.app.test_client(), shop.key)
    assert 'type="file"' not in visitor.open().get_data(as_text=True)
    sent = visitor.send(**{"rating-0": "4", "author": "Bo",
                           "photo-0": (BytesIO(_jpeg_with_gps()), "a.jpg", "image/jpeg")})
    assert sent.status_code == 200 and len(shop.rows(t.reviews)) == 1
    assert shop.rows(t.review_photos) == []


# -- the way back ------------------------------------------------------------------------------

@pytest.mark.parametrize(("back", "kept"), [
    ("https://www.acme.example/products/mug?lang=fr#reviews", True),
    ("http://acme.example/products/mug", True),
    ("https://WWW.ACME.example/", True),
    ("https://evil.example/products/mug", False),
    ("https://www.acme.example.evil.example/", False),
    ("https://evil.example\\@www.acme.example/", False),  # a browser goes to evil.example
    ("https://www.acme.example@evil.example/", False),
    ("https://user@www.acme.example/", False),
    ("//www.acme.example/products/mug", False),
    ("/products/mug", False),
    ("javascript:alert(1)//www.acme.example", False),
    ("https://www.acme.example:99999/", False),
    ("https://www.acme.example/\n", False),
    ("https://www.acme.example/ x", False),
    ("https://www.acme.exampl\u00e9/", False),
    ("ftp://www.acme.example/", False),
    ("https://www.acme.example/" + "x" * 2048, False),
    ("", False),
])
def test_back_is_only_ever_a_url_on_the_stores_own_hosts(back: str, kept: bool) -> None:
    assert back_link(back, HOSTS) == (back if kept else None)
    assert back_link(back, set()) is None  # a store that declared no host: never a link


def test_the_thank_you_page_links_back_only_to_the_store(shop: Shop) -> None:
    _open_store(shop)
    client = shop.app.test_client()
    for back, link in (("https://www.acme.example/products/mug", True),
                       ("https://evil.example/products/mug", False)):
        visitor = Visitor(client, shop.key)
        query = f"?back={back}"
        visitor.open(query)
        sent = visitor.send(query, **{"rating-0": "5", "author": "Bo", "body-0": "Nice"})
        html = sent.get_data(as_text=True)
        assert sent.status_code == 200
        assert (f'<a href="{back}" id="back">Back to Acme Shop</a>' in html) == link
        assert ("evil.example" in html) is False
        honeypot = visitor.send(query, **{"rating-0": "5", "author": "Bo",
                                          "comment_extra": "x"})
        assert ('id="back"' in honeypot.get_data(as_text=True)) == link
