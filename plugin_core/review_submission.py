"""What the hosted review pages read and write (no Flask here: review_form.py and
review_storefront.py are the web).

A submission is validated whole before anything is written: ratings are whole numbers from 1 to
5, texts bounded, the survey's CES 1-7 and NPS 0-10; a shopper may rate only some products but
at least one. Then one transaction takes the link (a compare-and-set on the request's nonce, so
two concurrent posts of one form write once), writes one published review per rated product,
its photo, the survey answers, and journals `review_submitted` through the inbox.

Every review is published the same way whatever its rating, and the incentive (when the store
offers one) is recorded on every review alike: consumer-protection rules forbid gating or
rewarding reviews by their rating.

A store may also take reviews from its storefront's visitors (`storefront_reviews`): one
product, the same fields, a name required; published at once like the others, never verified
and never with an incentive.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from marshmallow import Schema, validate
from marshmallow import ValidationError as SchemaError
from marshmallow import fields as f
from sqlalchemy import Connection, func, select, update

from parcours import tables as t
from parcours.accounts import store_facts, store_hosts
from parcours.db import upsert
from parcours.errors import ValidationError
from parcours.inbox import receive_order_fact
from parcours.review_form_text import TEXT
from parcours.review_photos import Photo, store_photo
from parcours.review_requests import cancel_requests, review_settings
from parcours.review_timing import ReviewSettings
from parcours.reviews import LIMITS

__all__ = ["FormItem", "FormRefused", "FormRequest", "ItemReview", "StorefrontProduct",
           "Submission", "load_request", "mark_opened", "read_storefront_review",
           "read_submission", "storefront_product", "submit", "submit_storefront_review",
           "unsubscribe", "unsubscribe_context"]

CLOSED = ("cancelled", "skipped")  # a withdrawn request's link no longer works
REDACTED = "redacted"
SURVEY = ("ces", "nps")
RESENT_WITHIN = timedelta(minutes=10)  # the same storefront review again: a form sent twice


@dataclass(frozen=True)
class FormItem:
    """A product of the order as the form shows it (`image` only when https)."""

    product_id: str
    title: str | None
    image: str | None


@dataclass(frozen=True)
class FormRequest:
    """A review request with what its form needs: its store and settings, its products."""

    id: int
    store_id: int
    store_name: str
    order_id: str
    profile_id: int | None
    name: str | None
    locale: str | None
    status: str
    reason: str | None
    nonce: str
    opened_at: datetime | None
    items: tuple[FormItem, ...]
    settings: ReviewSettings

    @property
    def withdrawn(self) -> bool:
        """Cancelled, skipped or redacted: the shop no longer asks (or may no longer keep
        anything of) this shopper."""
        return self.status in CLOSED or self.reason == REDACTED


def _form_items(items: Any) -> tuple[FormItem, ...]:
    """The order's products, one entry each (variants of a product share one review)."""
    found: dict[str, FormItem] = {}
    for item in items if isinstance(items, list) else []:
        product_id = item.get("product_id") if isinstance(item, dict) else None
        if not isinstance(product_id, str) or not product_id.strip() or \
                len(product_id) > LIMITS["product_id"] or product_id in found:
            continue
        title, image = item.get("title"), item.get("image")
        found[product_id] = FormItem(
            product_id, title if isinstance(title, str) and title.strip() else None,
            image if isinstance(image, str) and image.startswith("https://")
            and len(image) <= 2048 else None)
    return tuple(found.values())


def load_request(conn: Connection, request_id: int) -> FormRequest | None:
    """The request, unless it or its store is gone (deleted, uninstalled)."""
    r, s = t.review_requests.c, t.stores.c
    row = conn.execute(select(t.review_requests, s.name.label("store_name"))
                       .join_from(t.review_requests, t.stores, s.id == r.store_id)
                       .where(r.id == request_id, s.uninstalled_at.is_(None))).first()
    if row is None:
        return None
    settings = review_settings(conn, row.store_id)
    return FormRequest(
        id=row.id, store_id=row.store_id, store_name=settings.sender_name or row.store_name,
        order_id=row.order_id, profile_id=row.profile_id, name=row.name, locale=row.locale,
        status=row.status, reason=row.reason, nonce=row.nonce, opened_at=row.opened_at,
        items=_form_items(row.items), settings=settings)


def mark_opened(conn: Connection, request: FormRequest, now: datetime) -> None:
    """The first opening only (the KPIs count opened forms), journaled as `review_opened`."""
    r = t.review_requests.c
    if conn.execute(update(t.review_requests).where(r.id == request.id, r.opened_at.is_(None))
                    .values(opened_at=now)).rowcount:
        receive_order_fact(conn, request.store_id, request.order_id, "review_opened", now)


# -- reading the form ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ItemReview:
    index: int  # into FormRequest.items
    rating: int
    title: str | None
    body: str  # "" when the shopper gave stars only


@dataclass(frozen=True)
class Submission:
    reviews: tuple[ItemReview, ...]
    ces: int | None
    nps: int | None
    author: str | None

    @property
    def average_rating(self) -> float:
        return round(sum(r.rating for r in self.reviews) / len(self.reviews), 2)


class FormRefused(ValidationError):
    """The fields in error (`rating-0`, `title-0`, `ces`, ...): `codes` names each problem
    (a key of review_form_text.TEXT, so the form words it in the shopper's language),
    `errors` says it in English."""

    def __init__(self, codes: Mapping[str, str]) -> None:
        super().__init__("the review form has errors",
                         {name: [TEXT["en"][code]] for name, code in codes.items()})
        self.codes = dict(codes)


class _ItemSchema(Schema):
    rating = f.Int(validate=validate.Range(1, 5))
    title = f.Str(validate=validate.Length(max=LIMITS["title"]))
    body = f.Str(validate=validate.Length(max=LIMITS["body"]))


class _SubmissionSchema(Schema):
    items = f.List(f.Nested(_ItemSchema), required=True)
    ces = f.Int(validate=validate.Range(1, 7))
    nps = f.Int(validate=validate.Range(0, 10))
    author = f.Str(validate=validate.Length(max=LIMITS["author"]))


_SCHEMA = _SubmissionSchema()
# The problem each field can have, as review_form_text names it.
_CODES = {"rating": "rating_range", "title": "title_long", "body": "body_long",
          "ces": "ces_range", "nps": "nps_range", "author": "author_long"}


def _text(form: Mapping[str, str], name: str) -> str | None:
    """A field's text without surrounding blanks, newlines as the browser shows them (a form
    posts CRLF, which would count twice against the limits); None when empty."""
    value = (form.get(name) or "").replace("\r\n", "\n").strip()
    return value or None


def read_submission(form: Mapping[str, str], items: int, *, survey: bool,
                    photos: Sequence[int] = ()) -> Submission:
    """The submission of a form showing `items` products; FormRefused naming every field in
    error. `photos`: the items a photo came with (a photo needs stars too)."""
    data: dict[str, Any] = {"items": [
        {key: value for key in ("rating", "title", "body")
         if (value := _text(form, f"{key}-{index}")) is not None}
        for index in range(items)]}
    for name in (*(SURVEY if survey else ()), "author"):
        if (value := _text(form, name)) is not None:
            data[name] = value
    codes: dict[str, str] = {}
    loaded: dict[str, Any] = {}
    try:
        loaded = _SCHEMA.load(data)
    except SchemaError as exc:
        messages = dict(exc.normalized_messages())
        for index, fields in dict(messages.pop("items", {})).items():
            codes.update({f"{key}-{index}": _CODES[key] for key in fields})
        codes.update({key: _CODES[key] for key in messages})
    for index, entry in enumerate(data["items"]):
        if "rating" not in entry and (entry or index in photos):
            codes[f"rating-{index}"] = "rating_needed"
    if codes:
        raise FormRefused(codes)
    reviews = tuple(ItemReview(index, entry["rating"], entry.get("title"), entry.get("body", ""))
                    for index, entry in enumerate(loaded["items"]) if "rating" in entry)
    if not reviews:
        raise FormRefused({"rating-0": "rating_one"})
    return Submission(reviews, loaded.get("ces"), loaded.get("nps"), loaded.get("author"))


# -- writing it ---------------------------------------------------------------------------------

def submit(conn: Connection, request: FormRequest, submission: Submission,
           photos: Mapping[int, Photo], *, locale: str, now: datetime) -> list[int] | None:
    """Take the link (the request's nonce as it was read) and write the submission; the new
    reviews' ids, or None when the link was used meanwhile (nothing is written). The caller
    wakes the inbox drain after commit."""
    r, m = t.review_requests.c, t.review_messages.c
    taken = conn.execute(
        update(t.review_requests)
        .where(r.id == request.id, r.nonce == request.nonce, r.status.not_in(CLOSED),
               r.reason.is_distinct_from(REDACTED))
        .values(nonce=secrets.token_hex(16), status="submitted", submitted_at=now,
                opened_at=func.coalesce(r.opened_at, now), ces=submission.ces,
                nps=submission.nps, updated_at=now)).rowcount
    if taken != 1:
        return None
    # A reminder still to come would ask for what was just given.
    conn.execute(update(t.review_messages).where(m.request_id == request.id, m.status == "due")
                 .values(status="cancelled", reason="the shopper reviewed"))
    ids: list[int] = []
    for review in submission.reviews:
        review_id = int(conn.execute(t.reviews.insert().values(
            store_id=request.store_id, product_id=request.items[review.index].product_id,
            profile_id=request.profile_id, order_id=request.order_id, rating=review.rating,
            title=review.title, body=review.body, author=submission.author, locale=locale,
            verified=True, status="published", created_at=now, source="request",
            request_id=request.id, incentive=request.settings.incentive,
            sync_status="pending", sync_attempts=0).returning(t.reviews.c.id)).scalar_one())
        ids.append(review_id)
        if review.index in photos:
            store_photo(conn, request.store_id, review_id, photos[review.index], now)
    properties: dict[str, Any] = {"reviews": len(ids),
                                  "average_rating": submission.average_rating}
    properties.update({name: value for name in SURVEY
                       if (value := getattr(submission, name)) is not None})
    receive_order_fact(conn, request.store_id, request.order_id, "review_submitted", now,
                       properties)
    return ids


# -- reviews from the storefront ------------------------------------------------------------------

@dataclass(frozen=True)
class StorefrontProduct:
    """A product a store's visitors may review on its hosted storefront page."""

    store_id: int
    store_name: str
    item: FormItem  # its name and picture when the store's catalog fact has them
    hosts: frozenset[str]  # the store's own hosts (accounts.store_hosts)
    settings: ReviewSettings


def storefront_product(conn: Connection, store_key: str, product_id: str
                       ) -> StorefrontProduct | None:
    """The product, unless the store is gone, takes no reviews from its storefront (the
    default), or its catalog says the product is closed to reviews (WooCommerce's
    `reviews_allowed`). The name comes from the store's `product:<id>` fact when there is one
    (WooCommerce stores), never from the visitor's request."""
    s = t.stores.c
    row = conn.execute(select(s.id, s.name).where(s.key == store_key,
                                                  s.uninstalled_at.is_(None))).first()
    if row is None:
        return None
    settings = review_settings(conn, row.id)
    if not settings.storefront_reviews:
        return None
    fact = f"product:{product_id}"
    catalog = store_facts(conn, row.id, fact).get(fact)
    catalog = catalog if isinstance(catalog, dict) else {}
    if catalog.get("reviews_allowed") is False:
        return None
    items = _form_items([{"product_id": product_id, "title": catalog.get("name"),
                          "image": catalog.get("image")}])
    if not items:  # an empty or overlong product id
        return None
    return StorefrontProduct(row.id, settings.sender_name or row.name, items[0],
                             frozenset(store_hosts(conn, row.id)), settings)


def read_storefront_review(form: Mapping[str, str], *, photo: bool) -> tuple[ItemReview, str]:
    """The review of the storefront page's one product (fields `rating-0`, `title-0`,
    `body-0`) and its author's name, which is required there; FormRefused naming every field
    in error."""
    codes: dict[str, str] = {}
    try:
        submission = read_submission(form, 1, survey=False, photos=[0] if photo else [])
    except FormRefused as exc:
        codes.update(exc.codes)
        if codes.get("rating-0") in ("rating_one", "rating_needed"):
            codes["rating-0"] = "rating_missing"  # one product: "rate at least one" misleads
    if _text(form, "author") is None:
        codes["author"] = "author_needed"
    if codes:
        raise FormRefused(codes)
    assert submission.author is not None
    return submission.reviews[0], submission.author


def submit_storefront_review(conn: Connection, product: StorefrontProduct, review: ItemReview,
                             author: str, photo: Photo | None, *, locale: str, now: datetime
                             ) -> int | None:
    """Write a visitor's review: published at once like every genuine review (whatever its
    rating), never verified (Parcours cannot tie it to an order, even when its author did buy),
    no incentive (those are for buyers asked after an order). Its id, or None when the very
    same review was written moments ago (a form sent twice: nothing more is written)."""
    r = t.reviews.c
    product_id = product.item.product_id
    again = conn.execute(select(r.id).where(
        r.store_id == product.store_id, r.product_id == product_id, r.source == "storefront",
        r.author == author, r.rating == review.rating, r.title.is_not_distinct_from(review.title),
        r.body == review.body, r.created_at >= now - RESENT_WITHIN).limit(1)).scalar()
    if again is not None:
        return None
    review_id = int(conn.execute(t.reviews.insert().values(
        store_id=product.store_id, product_id=product_id, rating=review.rating,
        title=review.title, body=review.body, author=author, locale=locale, verified=False,
        status="published", created_at=now, source="storefront", incentive=None,
        sync_status="pending", sync_attempts=0).returning(r.id)).scalar_one())
    if photo is not None:
        store_photo(conn, product.store_id, review_id, photo, now)
    return review_id


# -- unsubscribing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnsubscribeContext:
    store_name: str
    locale: str | None  # of the address's latest request
    default_locale: str


def unsubscribe_context(conn: Connection, store_id: int, key: str
                        ) -> UnsubscribeContext | None:
    """What the unsubscribe page says, in which language; None when the store is gone."""
    s, r = t.stores.c, t.review_requests.c
    name = conn.execute(select(s.name).where(s.id == store_id, s.uninstalled_at.is_(None))
                        ).scalar()
    if name is None:
        return None
    settings = review_settings(conn, store_id)
    locale = conn.execute(select(r.locale).where(r.store_id == store_id, r.customer_key == key)
                          .order_by(r.id.desc()).limit(1)).scalar()
    return UnsubscribeContext(settings.sender_name or name, locale, settings.default_locale)


def unsubscribe(conn: Connection, store_id: int, key: str, now: datetime) -> int:
    """Record that the address `key` (its hash) wants no more review requests from the store
    (idempotent) and stop asking it (review_requests.cancel_requests). How many requests it
    had."""
    upsert(conn, t.review_unsubscribes,
           [{"store_id": store_id, "email_hash": key, "created_at": now}],
           ["store_id", "email_hash"])
    return cancel_requests(conn, store_id, email_hashes=[key], reason="unsubscribed", now=now)
