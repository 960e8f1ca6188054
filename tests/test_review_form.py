"""The hosted review form and unsubscribe, over HTTP (SQLite and PostgreSQL).

The form as a shopper's browser uses it (keyboard only, no JavaScript, hostile text, French,
screenshots) is tests/test_review_form_browser.py. Requests are set up as the sender leaves
them: a `review_requests` row, status "sent", and the link review_links signs for it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
import requests
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from PIL import ExifTags, Image
from sqlalchemy import func, select, update

from parcours import tables as t
from parcours.credentials import Vault, generate_key
from parcours.events import email_hash
from parcours.inbox import process_pending
from parcours.review_links import FORM_SALT, form_token, unsubscribe_token
from parcours.reviews import product_reviews
from tests import review_form_support
from tests.review_form_support import ITEMS, NOW, MakeShop, Shop, Shopper, text
from tests.storefront_support import served

make_shop = review_form_support.make_shop  # the fixtures
shop = review_form_support.shop


def nothing_written(shop: Shop, request_id: int) -> None:
    row = shop.row(request_id)
    assert (row.status, row.nonce, row.submitted_at, row.ces, row.nps) == (
        "sent", "a" * 32, None, None, None)
    assert shop.rows(t.reviews) == [] and shop.rows(t.review_photos) == []
    assert journaled(shop) <= {"review_opened"}  # nothing submitted


def journaled(shop: Shop) -> set[str]:
    """The names of the journey events the form sent to the inbox."""
    return {event["name"] for row in shop.rows(t.inbox)
            for event in json.loads(row.body)["events"]}


# -- the page ----------------------------------------------------------------------------------

def test_the_form_lists_every_product_and_is_locked_down(shop: Shop) -> None:
    shop.settings(incentive="10% off your next order")
    request_id, token = shop.request()
    page = Shopper(shop.app.test_client(), token).open()
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Content-Language"] == "en"
    for n, item in enumerate(ITEMS):
        assert f'<h2 id="product-{n}">{item["title"]}</h2>' in html
        assert f"<legend>Your rating for {item['title']}</legend>" in html
        assert [int(v) for v in re.findall(rf'name="rating-{n}" value="(\d)"', html)] == [
            1, 2, 3, 4, 5]
        assert f'name="title-{n}" maxlength="200"' in html
        assert f'name="body-{n}" rows="5" maxlength="5000"' in html
        assert f'type="file" id="photo-{n}"' in html
    # Only https pictures are shown (the page is https in production: no mixed content).
    assert 'src="https://cdn.example/mug.png"' in html and "http://cdn.example" not in html
    assert re.findall(r'name="ces" value="(\d+)"', html) == [str(n) for n in range(1, 8)]
    assert re.findall(r'name="nps" value="(\d+)"', html) == [str(n) for n in range(11)]
    assert 'name="author" maxlength="100" autocomplete="nickname" value="Ada"' in html
    assert "As a thank you: 10% off your next order. You get it whatever your rating" in html
    assert '<div class="hp" aria-hidden="true">' in html and 'tabindex="-1" autocomplete="off"' \
        in html
    assert "<script" not in html and 'style="' not in html
    csp = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    assert f'<style nonce="{nonce}">' in html
    for directive in ("default-src 'none'", "img-src 'self' https:", "form-action 'self'",
                      "frame-ancestors 'none'"):
        assert directive in csp
    assert (page.headers["X-Frame-Options"], page.headers["Referrer-Policy"],
            page.headers["Cache-Control"]) == ("DENY", "no-referrer", "no-store")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/r/" in cookie
    assert "Secure" not in cookie
    secure = shop.app.test_client().get(f"/r/{token}", base_url="https://shop.example")
    assert "Secure" in secure.headers["Set-Cookie"]
    # Opening is remembered, and journaled, once.
    opened = shop.row(request_id).opened_at
    assert opened is not None and journaled(shop) == {"review_opened"}
    Shopper(shop.app.test_client(), token).open()
    assert shop.row(request_id).opened_at == opened and len(shop.rows(t.inbox)) == 1


def test_settings_leave_out_photos_and_survey(shop: Shop) -> None:
    shop.settings(photos=False, survey=False)
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    html = shopper.open().get_data(as_text=True)
    assert 'type="file"' not in html and 'name="ces"' not in html and 'name="nps"' not in html
    assert "As a thank you" not in html
    sent = shopper.send(**{"rating-0": "4", "ces": "7", "nps": "10"})
    assert sent.status_code == 200
    row = shop.row(request_id)
    assert (row.status, row.ces, row.nps) == ("submitted", None, None)
    assert [(r.product_id, r.incentive) for r in shop.rows(t.reviews)] == [("mug", None)]


# -- a submission ------------------------------------------------------------------------------

def test_a_one_star_review_is_published_exactly_like_a_five_star_one(shop: Shop) -> None:
    shop.settings(incentive="a free sample")
    request_id, token = shop.request()
    with shop.db.write() as conn:  # the reminder, still to come
        conn.execute(t.review_messages.insert().values(
            request_id=request_id, store_id=shop.store_id, kind="reminder",
            due_at=NOW + timedelta(days=13), status="due", attempts=0))
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    sent = shopper.send(**{"rating-0": "1", "title-0": "Chipped", "body-0": "Chipped\r\nat once",
                           "rating-1": "5", "body-1": "Lovely", "ces": "2", "nps": "9",
                           "author": "  Ada L.  "})
    assert sent.status_code == 200, text(sent)
    assert "Thank you! Your review was sent to Acme Shop." in text(sent)
    mug, tee = shop.rows(t.reviews)  # the cap was not rated: no review for it
    assert (mug.product_id, mug.rating, mug.title, mug.body) == ("mug", 1, "Chipped",
                                                                 "Chipped\nat once")
    assert (tee.product_id, tee.rating, tee.title, tee.body) == ("tee", 5, None, "Lovely")
    same = {"store_id": shop.store_id, "order_id": "1001", "profile_id": None,
            "author": "Ada L.", "locale": "en", "verified": True, "status": "published",
            "source": "request", "request_id": request_id, "incentive": "a free sample",
            "sync_status": "pending", "sync_attempts": 0, "reply": None}
    for review in (mug, tee):
        assert {name: getattr(review, name) for name in same} == same
    assert mug.created_at == tee.created_at
    row = shop.row(request_id)
    assert (row.status, row.ces, row.nps) == ("submitted", 2, 9)
    assert row.submitted_at is not None and row.nonce != "a" * 32
    [reminder] = shop.rows(t.review_messages)
    assert (reminder.status, reminder.reason) == ("cancelled", "the shopper reviewed")
    with shop.db.read() as conn:
        listed = product_reviews(conn, shop.store_id, "mug")
    assert listed["rating"] == {"average": 1.0, "count": 1, "best": 5, "worst": 1}


def test_opening_and_submitting_are_journaled_through_the_inbox(shop: Shop) -> None:
    _, token = shop.request(order_id="A-7")
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    shopper.open()  # the first opening only
    [opened] = shop.rows(t.inbox)
    assert opened.delivery_key == "parcours:order:A-7:review_opened"
    assert json.loads(opened.body)["events"][0]["identities"] == {"order_id": "A-7"}
    assert shopper.send(**{"rating-0": "2", "rating-2": "5", "nps": "0"}).status_code == 200
    [row] = [row for row in shop.rows(t.inbox) if row.id != opened.id]
    assert (row.source, row.topic, row.delivery_key, row.status) == (
        "custom", "events", "parcours:order:A-7:review_submitted", "pending")
    [event] = json.loads(row.body)["events"]
    assert event["name"] == "review_submitted" and event["source"] == "parcours"
    assert event["identities"] == {"order_id": "A-7"}
    assert event["properties"] == {"reviews": 2, "average_rating": 3.5, "nps": 0}
    process_pending(shop.db)
    assert {row.status for row in shop.rows(t.inbox)} == {"done"}
    assert {e.name for e in shop.rows(t.events)} == {"review_opened", "review_submitted"}
    [recorded] = [e for e in shop.rows(t.events) if e.name == "review_submitted"]
    assert recorded.properties["average_rating"] == 3.5


def test_the_link_works_once(shop: Shop) -> None:
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    assert shopper.send(**{"rating-0": "4"}).status_code == 200
    again = shopper.send(**{"rating-0": "1"})
    assert again.status_code == 410 and "This link was already used" in text(again)
    reopened = shopper.open()
    assert reopened.status_code == 410 and "already used" in text(reopened)
    assert [r.rating for r in shop.rows(t.reviews)] == [4]


def _race(origin: str, token: str, csrf: str, cookie: str) -> list[int]:
    """Post one filled form twice at the same moment; the statuses."""
    start = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        start.wait()
        statuses.append(requests.post(
            f"{origin}/r/{token}", data={"csrf": csrf, "rating-0": "3"},
            files={"photo-0": ("", b"")}, cookies={"parcours_review": cookie},
            timeout=30).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_two_concurrent_posts_of_one_form_write_it_once(shop: Shop) -> None:
    with served(shop.app) as origin:
        for order in ("c1", "c2", "c3"):
            request_id, token = shop.request(order_id=order)
            client = shop.app.test_client()
            shopper = Shopper(client, token)
            shopper.open()
            cookie = client.get_cookie("parcours_review", path="/r/")
            assert cookie is not None
            assert sorted(_race(origin, token, shopper.csrf, cookie.value)) == [200, 410]
            with shop.db.read() as conn:
                assert conn.execute(select(func.count()).select_from(t.reviews).where(
                    t.reviews.c.request_id == request_id)).scalar() == 1
    assert len(shop.rows(t.inbox)) == 6  # each order: opened once, submitted once


# -- links that do not open the form -----------------------------------------------------------

class _LongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 61 * 86400


def test_an_expired_link_says_so_in_the_shoppers_language(shop: Shop) -> None:
    request_id, _ = shop.request(locale="fr-FR")
    old = URLSafeTimedSerializer(shop.vault.signing_keys(FORM_SALT), salt=FORM_SALT,
                                 signer=_LongAgo).dumps([request_id, "a" * 32])
    client = shop.app.test_client()
    for page in (client.get(f"/r/{old}"), client.post(f"/r/{old}", data={"rating-0": "5"})):
        assert page.status_code == 410 and page.headers["Content-Language"] == "fr"
        assert "Ce lien a expiré" in text(page) and "60 jours" in text(page)
        assert "Traceback" not in page.get_data(as_text=True)
    assert client.get(f"/r/{old}?lang=en").headers["Content-Language"] == "en"
    shop.settings(link_days=90)  # the store's own link lifetime counts
    assert client.get(f"/r/{old}").status_code == 200
    nothing_written(shop, request_id)


@pytest.mark.parametrize("tamper", ["signature", "other key", "unsubscribe token", "garbage"])
def test_a_forged_link_is_refused(shop: Shop, tamper: str) -> None:
    request_id, token = shop.request()
    forged = {
        "signature": token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        "other key": form_token(Vault(generate_key()), request_id, "a" * 32),
        "unsubscribe token": unsubscribe_token(shop.vault, request_id, "a" * 32),
        "garbage": "not-a-token"}[tamper]
    client = shop.app.test_client()
    page = client.get(f"/r/{forged}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert page.status_code == 403 and "Ce lien n'est pas valide" in text(page)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert client.post(f"/r/{forged}", data={"rating-0": "5"}).status_code == 403
    nothing_written(shop, request_id)


def test_a_withdrawn_request_no_longer_opens(shop: Shop) -> None:
    _, cancelled = shop.request(order_id="x1", status="cancelled", reason="refunded")
    _, redacted = shop.request(order_id="x2", reason="redacted", email=None)
    client = shop.app.test_client()
    for token in (cancelled, redacted):
        page = client.get(f"/r/{token}")
        assert page.status_code == 410 and "This link no longer works" in text(page)


def test_an_order_without_products_says_there_is_nothing_to_review(shop: Shop) -> None:
    request_id, token = shop.request(items=[{"title": "no product id"}])
    shopper = Shopper(shop.app.test_client(), token)
    page = shopper.open()
    assert page.status_code == 200 and "This order has no product to review." in text(page)
    assert "<form" not in page.get_data(as_text=True)
    assert shopper.send(**{"rating-0": "5"}).status_code == 403  # no form, no CSRF token
    nothing_written(shop, request_id)


# -- what is refused ---------------------------------------------------------------------------

def test_a_post_without_the_csrf_token_and_cookie_is_refused(shop: Shop) -> None:
    request_id, token = shop.request()
    _, other_token = shop.request(order_id="1002")
    client = shop.app.test_client()
    shopper = Shopper(client, token)
    shopper.open()
    missing = shopper.send(with_csrf=False, **{"rating-0": "5"})
    assert missing.status_code == 403 and "Your review could not be sent" in text(missing)
    assert f'href="http://localhost/r/{token}"' in missing.get_data(as_text=True)
    other = Shopper(client, other_token)
    other.open()
    other.token = token  # the token of another request's form
    assert other.send(**{"rating-0": "5"}).status_code == 403
    stranger = Shopper(shop.app.test_client(), token)  # a page elsewhere: no cookie
    stranger.csrf = shopper.csrf
    assert stranger.send(**{"rating-0": "5"}).status_code == 403
    client.set_cookie("parcours_review", "x" * 32, path="/r/")
    assert shopper.send(**{"rating-0": "5"}).status_code == 403
    assert shop.rows(t.reviews) == [] and shop.row(request_id).status == "sent"


def test_a_filled_honeypot_is_thanked_and_forgotten(shop: Shop) -> None:
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    robot = shopper.send(**{"rating-0": "5", "body-0": "Buy pills", "comment_extra": "http://x"})
    assert robot.status_code == 200 and "Thank you!" in text(robot)
    nothing_written(shop, request_id)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"rating-0": "6"}, "rating-0", "Your rating for Enamel mug: Choose from 1 to 5 stars."),
    ({"rating-0": "0"}, "rating-0", "Choose from 1 to 5 stars."),
    ({"rating-0": "3.5"}, "rating-0", "Choose from 1 to 5 stars."),
    ({"rating-1": "five"}, "rating-1", "Your rating for Linen tee: Choose from 1 to 5 stars."),
    ({"rating-0": "4", "title-0": "t" * 201}, "title-0",
     "Title (optional), Enamel mug: Write at most 200 characters."),
    ({"rating-0": "4", "body-0": "b" * 5001}, "body-0", "Write at most 5000 characters."),
    ({"ces": "8"}, "ces", "How easy was buying?: Choose a number from 1 to 7."),
    ({"nps": "11"}, "nps", "Would you recommend us?: Choose a number from 0 to 10."),
    ({"nps": "-1"}, "nps", "Choose a number from 0 to 10."),
    ({"author": "a" * 101}, "author", "Name shown with your reviews: Write at most 100"),
    ({"title-1": "Nice"}, "rating-1", "Choose a rating to review this product"),
])
def test_an_invalid_submission_names_the_field_and_writes_nothing(
        shop: Shop, fields: dict[str, str], field: str, message: str) -> None:
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    # A valid review of the cap beside the error (its text at the limit: a form posts CRLF).
    page = shopper.send(**{"rating-2": "5", "body-2": "Warm\r\n" + "w" * 4995, **fields})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert re.search(r'<div class="summary" id="error-summary" tabindex="-1" autofocus', html)
    assert message in text(page)
    assert f'<p class="error" id="{field}-error">' in html
    tag = re.search(rf'<(?:input|textarea|fieldset)[^>]* id="{field}"[^>]*>', html)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)
    assert f"{field}-error" in tag.group(0)  # aria-describedby
    assert html.count('aria-invalid="true"') == 1
    # The shopper's input comes back.
    assert 'id="rating-2-5" name="rating-2" value="5" checked' in html
    assert "Warm\r\n" + "w" * 4995 + "</textarea>" in html
    nothing_written(shop, request_id)


def test_at_least_one_product_must_be_rated(shop: Shop) -> None:
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    page = shopper.send(**{"nps": "9", "author": "Ada"})
    assert page.status_code == 400
    assert "Your rating for Enamel mug: Rate at least one product." in text(page)
    assert 'id="nps-9" name="nps" value="9" checked' in page.get_data(as_text=True)
    nothing_written(shop, request_id)


def test_posts_are_rate_limited_per_address(make_shop: MakeShop) -> None:
    shop = make_shop(REVIEW_FORM_POSTS=2)
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    assert [shopper.send().status_code for _ in range(2)] == [400, 400]
    limited = shopper.send(**{"rating-0": "5"})
    assert limited.status_code == 429 and "Too many attempts" in text(limited)
    assert int(limited.headers["Retry-After"]) > 0
    assert shop.rows(t.reviews) == []


def test_a_body_over_the_limit_gets_a_clear_page(shop: Shop) -> None:
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    big = shopper.send(**{"rating-0": "5", **{f"photo-{n}": (BytesIO(b"\0" * 5 * 2**20), "p.jpg")
                                               for n in range(3)}, "body-0": "x" * (7 * 2**20)})
    assert big.status_code == 413 and "Your photos are too large" in text(big)
    assert "21 MB" in text(big)
    nothing_written(shop, request_id)


# -- photos ------------------------------------------------------------------------------------

def _jpeg_with_gps() -> bytes:
    """A 3000x2000 photo to be turned a quarter clockwise (EXIF orientation 6), that says
    where it was taken."""
    image = Image.new("RGB", (3000, 2000), (180, 40, 40))
    image.paste((20, 20, 200), (0, 0, 600, 600))  # a blue top-left corner, to follow the turn
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"Ada's holiday")
    data = out.getvalue()
    assert Image.open(BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it has GPS
    return data


def _encoded(fmt: str, size: tuple[int, int], mode: str = "RGBA") -> bytes:
    out = BytesIO()
    Image.new(mode, size, (0, 120, 0, 128) if mode == "RGBA" else 0).save(out, fmt)
    return out.getvalue()


def test_a_photo_is_stored_upright_without_any_metadata(shop: Shop) -> None:
    _, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    sent = shopper.send(**{
        "rating-0": "5", "photo-0": (BytesIO(_jpeg_with_gps()), "IMG_0001.JPG", "image/jpeg"),
        "rating-1": "2", "photo-1": (BytesIO(_encoded("PNG", (400, 300))), "a.png", "image/png"),
        "rating-2": "3", "photo-2": (BytesIO(_encoded("WEBP", (640, 480))), "b.bin",
                                     "application/octet-stream")})
    assert sent.status_code == 200, text(sent)
    photos = shop.rows(t.review_photos)
    assert [p.content_type for p in photos] == ["image/jpeg"] * 3
    gps, png, webp = photos
    stored = Image.open(BytesIO(gps.data))
    assert stored.format == "JPEG" and stored.size == (1067, 1600) == (gps.width, gps.height)
    assert len(stored.getexif()) == 0 and "exif" not in stored.info
    assert not {"comment", "icc_profile", "xmp"} & set(stored.info)
    assert b"PhoneMaker" not in gps.data and b"holiday" not in gps.data
    assert stored.convert("RGB").getpixel((1060, 5))[2] > 150  # the blue corner, now top right
    assert Image.open(BytesIO(png.data)).getpixel((10, 10)) > (100, 150, 100)  # on white
    assert (webp.width, webp.height) == (640, 480)
    client = shop.app.test_client()
    served_photo = client.get(f"/r/photos/{gps.id}.jpg")
    assert served_photo.status_code == 200 and served_photo.data == gps.data
    assert served_photo.headers["Content-Type"] == "image/jpeg"
    assert served_photo.headers["X-Content-Type-Options"] == "nosniff"
    assert served_photo.headers["Cache-Control"].startswith("public, max-age=")
    with shop.db.write() as conn:  # moderated away (spam): no longer public
        conn.execute(update(t.reviews).where(t.reviews.c.id == gps.review_id)
                     .values(status="rejected"))
    assert client.get(f"/r/photos/{gps.id}.jpg").status_code == 404
    assert client.get("/r/photos/999999.jpg").status_code == 404


@pytest.mark.parametrize(("upload", "message"), [
    ((b"%PDF-1.7 not a picture", "photo.jpg", "image/jpeg"),
     "This file is not a JPEG, PNG or WebP picture."),
    ((b"GIF89a" + b"\0" * 64, "anim.gif", "image/gif"),
     "This file is not a JPEG, PNG or WebP picture."),
    ((b"\xff" * (5 * 2**20 + 1), "huge.jpg", "image/jpeg"),
     "This photo is over 5 MB: choose a smaller one."),
    ("bomb", "This picture has too many pixels (over 50 megapixels)."),
    ("truncated", "This file is not a JPEG, PNG or WebP picture."),
])
def test_a_file_that_is_not_a_photo_we_take_is_refused(
        shop: Shop, upload: Any, message: str) -> None:
    if upload == "bomb":  # 64 megapixels in a few kilobytes
        upload = (_encoded("PNG", (8000, 8000), mode="1"), "small.png", "image/png")
    elif upload == "truncated":
        upload = (_jpeg_with_gps()[:5000], "cut.jpg", "image/jpeg")
    request_id, token = shop.request()
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    data, name, kind = upload
    page = shopper.send(**{"rating-0": "5", "body-0": "kept", "rating-1": "4",
                           "photo-1": (BytesIO(data), name, kind)})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and message in text(page)
    assert 'id="photo-1-error"' in html and "Your photo could not be kept" not in html
    assert ">kept</textarea>" in html
    nothing_written(shop, request_id)


def test_at_most_four_photos_are_taken_at_once(shop: Shop) -> None:
    items = [{"product_id": f"p{n}", "title": f"Product {n}"} for n in range(5)]
    request_id, token = shop.request(items=items)
    shopper = Shopper(shop.app.test_client(), token)
    shopper.open()
    photo = _encoded("PNG", (20, 20))
    page = shopper.send(**{key: value for n in range(5) for key, value in (
        (f"rating-{n}", "5"), (f"photo-{n}", (BytesIO(photo), "p.png")))})
    assert page.status_code == 400 and "Send at most 4 photos at once." in text(page)
    assert 'id="photo-4-error"' in page.get_data(as_text=True)
    nothing_written(shop, request_id)


# -- languages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("locale", "default", "query", "language"), [
    ("fr-CA", "en", "", "fr"), ("fr", "en", "?lang=en", "en"), (None, "fr", "", "fr"),
    ("de-DE", "en", "", "en"), ("de-DE", "fr", "", "fr"), ("en-US", "en", "?lang=fr", "fr")])
def test_the_form_speaks_the_shoppers_language(shop: Shop, locale: str | None, default: str,
                                               query: str, language: str) -> None:
    shop.settings(default_locale=default)
    _, token = shop.request(locale=locale)
    shopper = Shopper(shop.app.test_client(), token)
    page = shopper.open(query)
    html = page.get_data(as_text=True)
    assert f'<html lang="{language}">' in html and page.headers["Content-Language"] == language
    french = "Donnez votre avis sur votre commande" in html
    assert french == (language == "fr")
    # The choice holds through the post, and the review records it.
    assert f'action="/r/{token}{query}"' in html
    refused = shopper.send(query)
    assert refused.headers["Content-Language"] == language
    assert ("Notez au moins un produit." in text(refused)) == (language == "fr")
    thanks = shopper.send(query, **{"rating-0": "5"})
    assert ("Merci ! Votre avis a été transmis à Acme Shop." in text(thanks)) == french
    assert [r.locale for r in shop.rows(t.reviews)] == [language]


# -- unsubscribe -------------------------------------------------------------------------------

def test_unsubscribe_asks_then_stops_every_request_to_that_address(shop: Shop) -> None:
    ada = email_hash("ada@example.com")
    scheduled, _ = shop.request(order_id="u1", status="scheduled", locale="fr")
    sent, form = shop.request(order_id="u2", status="sent", locale="fr")
    other, _ = shop.request(order_id="u3", status="scheduled", customer_key=email_hash("b@x.y"))
    with shop.db.write() as conn:
        for request_id, kind in ((scheduled, "request"), (sent, "reminder"), (other, "request")):
            conn.execute(t.review_messages.insert().values(
                request_id=request_id, store_id=shop.store_id, kind=kind, due_at=NOW,
                status="due", attempts=0))
    link = f"/r/unsubscribe/{unsubscribe_token(shop.vault, shop.store_id, ada)}"
    client = shop.app.test_client()
    asked = client.get(link)  # a mail scanner following the link unsubscribes nobody
    assert asked.status_code == 200 and asked.headers["Content-Language"] == "fr"
    assert "Ne plus recevoir de demandes d'avis ?" in text(asked)
    assert f'<form method="post" action="{link}">' in asked.get_data(as_text=True)
    assert shop.rows(t.review_unsubscribes) == []
    for _ in range(2):  # the button, then again: nothing more happens
        done = client.post(link)
        assert done.status_code == 200
        assert "Vous ne recevrez plus de demandes d'avis de Acme Shop." in text(done)
    [row] = shop.rows(t.review_unsubscribes)
    assert (row.store_id, row.email_hash) == (shop.store_id, ada)
    statuses = {r.order_id: (r.status, r.reason) for r in shop.rows(t.review_requests)}
    assert statuses == {"u1": ("cancelled", "unsubscribed"), "u2": ("sent", None),
                        "u3": ("scheduled", None)}
    messages = {m.request_id: m.status for m in shop.rows(t.review_messages)}
    assert messages == {scheduled: "cancelled", sent: "cancelled", other: "due"}
    # The form of a request already sent still takes the review the shopper chooses to give.
    assert client.get(f"/r/{form}").status_code == 200


def test_one_click_unsubscribe_from_a_mail_client(shop: Shop) -> None:
    key = email_hash("carl@example.com")
    token = unsubscribe_token(shop.vault, shop.store_id, key)
    # RFC 8058: the mail provider posts this body, without cookie, CSRF token or referrer.
    done = shop.app.test_client().post(
        f"/r/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200
    assert "You will not receive review requests from Acme Shop any more." in text(done)
    assert [r.email_hash for r in shop.rows(t.review_unsubscribes)] == [key]
    forged = shop.app.test_client().post(f"/r/unsubscribe/{token[:-2]}xx")
    assert forged.status_code == 403 and "This unsubscribe link is not valid" in text(forged)
    assert len(shop.rows(t.review_unsubscribes)) == 1
