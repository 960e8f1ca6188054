"""The hosted review form a shopper reaches from a review-request email, and unsubscribe.

    GET  /r/<token>                  the form: every product of the order, stars, texts, photos
    POST /r/<token>                  the submission (multipart/form-data; works without script)
    GET  /r/photos/<id>.jpg          a published review's photo
    GET  /r/unsubscribe/<token>      asks to confirm
    POST /r/unsubscribe/<token>      unsubscribes (the button, or a mail client's RFC 8058
                                     one-click POST: the signed token is the proof)

The link is the shopper's only credential, so it is kept out of everywhere it could leak
(Referrer-Policy no-referrer, no-store, no third-party resource at all) and works once (the
request's nonce changes on submission). Pages are plain HTML with a nonce-allowed style sheet
and no script, under a CSP that would stop any script that slipped in; the form also carries a
CSRF token bound to a cookie, a honeypot and a per-address rate limit on posts (review_pages.py,
which the storefront's review page, review_storefront.py, shares). What the form reads and
writes is review_submission.py; the photos, review_photos.py; the words, review_form_text.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, NotFound

from parcours.errors import AuthError, ParcoursError
from parcours.review_form_text import TEXT
from parcours.review_links import read_form_token, read_unsubscribe_token
from parcours.review_pages import (
    HONEYPOT,
    MAX_BODY,
    MAX_PHOTOS,
    PHOTO_CODES,
    csrf_cookie,
    csrf_token,
    csrf_valid,
    db,
    http_error,
    init_limit,
    message,
    page,
    parcours_error,
    protect,
    rate_limited,
    read_photo,
    robot,
    set_csrf_cookie,
    shopper_language,
    vault,
)
from parcours.review_photos import Photo, PhotoRefused, published_photo
from parcours.review_storefront import storefront_reviews
from parcours.review_submission import (
    FormRefused,
    FormRequest,
    load_request,
    mark_opened,
    read_submission,
    submit,
    unsubscribe,
    unsubscribe_context,
)
from parcours.reviews import LIMITS

__all__ = ["HONEYPOT", "MAX_PHOTOS", "review_form"]

review_form = Blueprint("review_form", __name__, template_folder="templates")
# The storefront's review page (its routes under /w/): the same headers, errors and limits.
review_form.register_blueprint(storefront_reviews)

MAX_FORM_MEMORY = 2 * 2**20  # the texts of an order with many products
PHOTO_MAX_AGE = 7 * 86400  # long, yet a rejected or redacted photo leaves caches in a week


@review_form.record_once
def _init(state: BlueprintSetupState) -> None:
    init_limit(state.app)


@review_form.before_request
def _prepare() -> None:
    if request.method == "POST" and request.endpoint == "review_form.send":
        request.max_content_length = MAX_BODY
        request.max_form_memory_size = MAX_FORM_MEMORY


review_form.after_request(protect)
review_form.register_error_handler(HTTPException, http_error)
review_form.register_error_handler(ParcoursError, parcours_error)


# -- the link --------------------------------------------------------------------------------

def _open(token: str) -> tuple[FormRequest, str] | Response:
    """The request a form link names and the page's language, or the page saying why the
    link does not open the form (forged 403; used, withdrawn or expired 410)."""
    try:
        link = read_form_token(vault(), token)
    except AuthError:
        return message(shopper_language(), "forged", 403)
    with db().read() as conn:
        found = load_request(conn, link.request_id)
    if found is None:
        return message(shopper_language(), "unavailable", 410)
    language = shopper_language(found.locale, found.settings.default_locale)
    if found.nonce != link.nonce:  # both from this server (the token is signed)
        return message(language, "used", 410)
    if found.withdrawn:
        return message(language, "unavailable", 410)
    if link.expired(found.settings.link_days, datetime.now(UTC)):
        return message(language, "expired", 410, days=found.settings.link_days)
    return found, language


# -- the form --------------------------------------------------------------------------------

def _form(found: FormRequest, token: str, language: str, status: int = 200, *,
          values: Mapping[str, str] | None = None, codes: Mapping[str, str] | None = None,
          photo_again: Sequence[int] = ()) -> Response:
    """The form, with the shopper's input and the errors when it comes back."""
    words = TEXT[language]
    errors = {name: words[code].format(count=MAX_PHOTOS) for name, code in (codes or {}).items()}
    cookie = csrf_cookie()
    override = request.args.get("lang")
    query: dict[str, Any] = {"lang": override} if override in TEXT else {}
    response = page(
        "form.html", language, status, switch=True, req=found, values=values or {},
        errors=errors, summary=_summary(found, errors, words), photo_again=photo_again,
        csrf=csrf_token(found.id, cookie), honeypot=HONEYPOT, limits=LIMITS,
        action=url_for("review_form.send", token=token, **query))
    set_csrf_cookie(response, cookie, "/r/")
    return response


def _summary(found: FormRequest, errors: Mapping[str, str], words: Mapping[str, str]
             ) -> list[tuple[str, str, str]]:
    """(anchor, field, message) of each error, in the page's order."""
    order = [name for index in range(len(found.items))
             for name in (f"rating-{index}", f"title-{index}", f"body-{index}",
                          f"photo-{index}")] + ["ces", "nps", "author"]
    rows = []
    for name in sorted(errors, key=order.index):
        kind, _, index = name.partition("-")
        product = (found.items[int(index)].title or words["product"]) if index else ""
        label = {"rating": words["rating_legend"].format(product=product),
                 "title": f"{words['review_title']}, {product}",
                 "body": f"{words['review_body']}, {product}",
                 "photo": f"{words['photo']}, {product}",
                 "ces": words["ces_legend"], "nps": words["nps_legend"],
                 "author": words["author"]}[kind]
        anchor = {"rating": f"{name}-1", "ces": "ces-1", "nps": "nps-0"}.get(kind, name)
        rows.append((anchor, label, errors[name]))
    return rows


@review_form.get("/r/<token>")
def show(token: str) -> Response:
    opened = _open(token)
    if isinstance(opened, Response):
        return opened
    found, language = opened
    if found.opened_at is None:
        with db().write() as conn:
            mark_opened(conn, found, datetime.now(UTC))
        current_app.extensions["parcours.jobs"].wake()  # record review_opened
    return _form(found, token, language)


def _photos(found: FormRequest) -> tuple[dict[int, Photo], dict[str, str], list[int]]:
    """The cleaned photos by item, the codes of the refused ones, and every item a file came
    with (refused or not)."""
    if not found.settings.photos:
        return {}, {}, []
    uploads = [(index, upload) for index in range(len(found.items))
               if (upload := request.files.get(f"photo-{index}")) is not None
               and upload.filename]
    photos: dict[int, Photo] = {}
    codes: dict[str, str] = {}
    for count, (index, upload) in enumerate(uploads):
        if count >= MAX_PHOTOS:
            codes[f"photo-{index}"] = "photo_too_many"
            continue
        try:
            photos[index] = read_photo(upload.stream)
        except PhotoRefused as exc:
            codes[f"photo-{index}"] = PHOTO_CODES[exc.reason]
    return photos, codes, [index for index, _ in uploads]


@review_form.post("/r/<token>")
def send(token: str) -> Response:
    refused = rate_limited()
    if refused is not None:
        return refused
    opened = _open(token)
    if isinstance(opened, Response):
        return opened
    found, language = opened
    if not csrf_valid(found.id):
        return message(language, "csrf", 403, again=request.url)
    if not found.items:  # nothing to review: the page says so
        return _form(found, token, language, 400)
    if robot():  # it is thanked, nothing is kept
        return page("thanks.html", language, store=found.store_name, reviews=[],
                    incentive=None)
    photos, codes, uploaded = _photos(found)
    try:
        submission = read_submission(request.form, len(found.items),
                                     survey=found.settings.survey, photos=uploaded)
    except FormRefused as exc:
        codes = {**exc.codes, **codes}
    if codes:
        # A file input cannot be filled again: say so where a good photo was dropped.
        return _form(found, token, language, 400, values=request.form, codes=codes,
                     photo_again=[i for i in uploaded if f"photo-{i}" not in codes])
    with db().write() as conn:
        ids = submit(conn, found, submission, photos, locale=language, now=datetime.now(UTC))
    if ids is None:  # another post of this form was faster
        return message(language, "used", 410)
    current_app.extensions["parcours.jobs"].wake()  # record review_submitted
    current_app.extensions["parcours.reviews.publish"]()  # publish the reviews now
    reviews = [{"product": found.items[r.index].title or TEXT[language]["product"],
                "rating": r.rating, "title": r.title, "body": r.body}
               for r in submission.reviews]
    return page("thanks.html", language, store=found.store_name, reviews=reviews,
                incentive=found.settings.incentive)


# -- photos and unsubscribe -------------------------------------------------------------------

@review_form.get("/r/photos/<int:photo_id>.jpg")
def photo(photo_id: int) -> Response:
    """Public like the review it belongs to, only while that review is published."""
    with db().read() as conn:
        data = published_photo(conn, photo_id)
    if data is None:
        raise NotFound()
    response = Response(data, mimetype="image/jpeg")
    # Opened on its own (a storefront's thumbnail links to it), the browser shows it in a page
    # of its own making, styled inline: allowed, and nothing else is.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
    response.headers["Cache-Control"] = f"public, max-age={PHOTO_MAX_AGE}"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # storefronts show it
    return response


@review_form.route("/r/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> Response:
    """GET asks (a mail scanner following links must not unsubscribe anyone); POST does it,
    whether from the page's button or a mail client's one-click (`List-Unsubscribe=One-Click`
    body, no cookie, no CSRF token possible: the signed token is the proof). Idempotent."""
    try:
        link = read_unsubscribe_token(vault(), token)
    except AuthError:
        return message(shopper_language(), "unsubscribe_forged", 403)
    with db().read() as conn:
        context = unsubscribe_context(conn, link.store_id, link.email_hash)
    if context is None:
        return message(shopper_language(), "unavailable", 410)
    language = shopper_language(context.locale, context.default_locale)
    if request.method == "GET":
        return page("unsubscribe.html", language, switch=True, store=context.store_name,
                    action=request.full_path.rstrip("?"))
    with db().write() as conn:
        unsubscribe(conn, link.store_id, link.email_hash, datetime.now(UTC))
    return message(language, "unsubscribed", 200, store=context.store_name)
