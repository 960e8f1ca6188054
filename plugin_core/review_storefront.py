"""A store's own review page for its storefront's visitors, buyers or not.

    GET  /w/<store>/reviews/<product>/write    the page: stars, title, text, photo, a name
    POST /w/<store>/reviews/<product>/write    the review (multipart/form-data; no script)

Off unless the store switched `storefront_reviews` on (review settings): then both answer 404,
as they do for a product the store's catalog closes to reviews. The review_list widget links
here when it is on (the `write` path of the reviews JSON), with the page's language (`lang`)
and the page the visitor came from (`back`). The thank-you page links back there only when
`back` is a plain http(s) URL on one of the store's own hosts (accounts.store_hosts, what
`/collect` checks Origins against): anything else gets no link at all, never an open redirect.

What a visitor writes is published at once like every genuine review, whatever its rating,
and never verified, since nothing ties it to an order (review_submission.py). The page is the
email form's sibling (review_pages.py): the same headers, words and templates, a CSRF token
bound to the store and product, the honeypot, and the same per-address limit on posts; its
photo is cleaned the same way. The blueprint is registered inside review_form's, whose
headers and error pages it shares.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.exceptions import NotFound

from parcours.review_form_text import TEXT
from parcours.review_pages import (
    HONEYPOT,
    PHOTO_CODES,
    csrf_cookie,
    csrf_token,
    csrf_valid,
    db,
    message,
    page,
    rate_limited,
    read_photo,
    robot,
    set_csrf_cookie,
    shopper_language,
)
from parcours.review_photos import MAX_BYTES, Photo, PhotoRefused
from parcours.review_submission import (
    FormRefused,
    StorefrontProduct,
    read_storefront_review,
    storefront_product,
    submit_storefront_review,
)
from parcours.reviews import LIMITS

__all__ = ["back_link", "storefront_reviews", "write_path"]

storefront_reviews = Blueprint("storefront", __name__)
PATH = "/w/<store>/reviews/<product>/write"
MAX_BODY = MAX_BYTES + 2**20  # one photo and the texts
MAX_FORM_MEMORY = 2**20
BACK_MAX = 2048
_FIELDS = ("rating-0", "title-0", "body-0", "photo-0", "author")  # the page's order


def write_path(store_key: str, product_id: str) -> str:
    """The page's path on Parcours' origin (what the reviews JSON gives the widget)."""
    return f"/w/{quote(store_key, safe='')}/reviews/{quote(product_id, safe='')}/write"


def back_link(raw: str | None, hosts: Set[str]) -> str | None:
    """`raw` when it is an http(s) URL on one of `hosts`, else None.

    Strict on purpose: printable ASCII only, no backslash (browsers read `\\` as `/`, so
    "https://evil.example\\@shop.example" goes to evil.example while a URL parser may say
    shop.example), no user name or password, a valid port."""
    if not raw or len(raw) > BACK_MAX or not hosts or not raw.isascii() or "\\" in raw:
        return None
    if any(ord(char) < 33 or ord(char) == 127 for char in raw):
        return None
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018  (a bad port raises)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc:
        return None
    return raw if (parts.hostname or "").lower() in hosts else None


@storefront_reviews.before_request
def _prepare() -> None:
    if request.method == "POST":
        request.max_content_length = MAX_BODY
        request.max_form_memory_size = MAX_FORM_MEMORY


def _open(store: str, product: str) -> tuple[StorefrontProduct, str]:
    """The product and the page's language; NotFound when the store takes no storefront
    reviews (or not for this product)."""
    with db().read() as conn:
        found = storefront_product(conn, store, product)
    if found is None:
        raise NotFound()
    return found, shopper_language(None, found.settings.default_locale)


def _subject(found: StorefrontProduct) -> list[Any]:
    """What the CSRF token is for: this store's page of this product."""
    return ["storefront", found.store_id, found.item.product_id]


def _query() -> dict[str, Any]:
    """The query the page keeps through its post: `lang` when chosen, `back`."""
    query: dict[str, Any] = ({"lang": request.args["lang"]}
                             if request.args.get("lang") in TEXT else {})
    back = request.args.get("back", "")
    if back and len(back) <= BACK_MAX:
        query["back"] = back
    return query


def _form(store: str, found: StorefrontProduct, language: str, status: int = 200, *,
          values: Mapping[str, str] | None = None, codes: Mapping[str, str] | None = None,
          photo_again: bool = False) -> Response:
    words = TEXT[language]
    errors = {name: words[code] for name, code in (codes or {}).items()}
    name = found.item.title or words["this_product"]
    labels = {"rating-0": words["rating_legend"].format(product=name),
              "title-0": words["review_title"], "body-0": words["review_body"],
              "photo-0": words["photo"], "author": words["storefront_author"]}
    summary = [("rating-0-1" if field == "rating-0" else field, labels[field], errors[field])
               for field in _FIELDS if field in errors]
    query = _query()
    other = "en" if language == "fr" else "fr"
    cookie = csrf_cookie()
    product = found.item.product_id
    response = page(
        "storefront.html", language, status, switch=True,
        switch_query="?" + urlencode({**query, "lang": other}), item=found.item,
        heading=(words["storefront_title_named"].format(product=found.item.title)
                 if found.item.title else words["storefront_title"]),
        store=found.store_name, photos=found.settings.photos, values=values or {},
        errors=errors, summary=summary, photo_again=[0] if photo_again else [],
        csrf=csrf_token(_subject(found), cookie), honeypot=HONEYPOT, limits=LIMITS,
        action=url_for("review_form.storefront.send", store=store, product=product, **query))
    set_csrf_cookie(response, cookie, f"/w/{store}/reviews/")
    return response


@storefront_reviews.get(PATH)
def show(store: str, product: str) -> Response:
    found, language = _open(store, product)
    return _form(store, found, language)


def _thanks(found: StorefrontProduct, language: str, reviews: list[dict[str, Any]]
            ) -> Response:
    return page("thanks.html", language, store=found.store_name, reviews=reviews,
                incentive=None, back=back_link(request.args.get("back"), found.hosts))


@storefront_reviews.post(PATH)
def send(store: str, product: str) -> Response:
    refused = rate_limited()
    if refused is not None:
        return refused
    found, language = _open(store, product)
    if not csrf_valid(_subject(found)):
        return message(language, "csrf", 403, again=request.url)
    if robot():  # thanked, and nothing is kept
        return _thanks(found, language, [])
    photo: Photo | None = None
    codes: dict[str, str] = {}
    upload = request.files.get("photo-0") if found.settings.photos else None
    sent_photo = upload is not None and bool(upload.filename)
    if upload is not None and sent_photo:
        try:
            photo = read_photo(upload.stream)
        except PhotoRefused as exc:
            codes["photo-0"] = PHOTO_CODES[exc.reason]
    try:
        review, author = read_storefront_review(request.form, photo=sent_photo)
    except FormRefused as exc:
        codes = {**exc.codes, **codes}
    if codes:
        # A file input cannot be filled again: say so when a good photo was dropped.
        return _form(store, found, language, 400, values=request.form, codes=codes,
                     photo_again=photo is not None)
    with db().write() as conn:
        written = submit_storefront_review(conn, found, review, author, photo,
                                           locale=language, now=datetime.now(UTC))
    if written is not None:
        current_app.extensions["parcours.reviews.publish"]()  # to the platform, now
    return _thanks(found, language, [{"product": found.item.title, "rating": review.rating,
                                      "title": review.title, "body": review.body}])
