"""Collected reviews to WooCommerce: product reviews, published as the shopper wrote them.

`POST products/reviews` with the product, the reviewer's name and email, the text and the 1-5
rating, status "approved"; WooCommerce answers the review's id, which Parcours keeps as the
review's `external_id`. Every genuine review is published whatever its rating. A review that
moderation rejects (spam, abuse) is deleted from WooCommerce (`DELETE products/reviews/<id>`
with `force=true`: a trashed comment would come back with "untrash").

A review published before and marked for publication again (its author's data redacted, its
text scrubbed) is rewritten in place with `PUT products/reviews/<id>`: name, address, text and
rating, never its status (the merchant's WordPress moderation is left alone). If the copy is gone
from WooCommerce (404), it is published again: Parcours' copy is the canonical one.

What WooCommerce gets, and why:

- The text is the title, a blank line, the body, then the incentive's disclosure when the
  shopper was offered one. WordPress stores comment text as HTML and, for an administrator's
  API key (unfiltered_html), stores it unfiltered: the shopper's plain text is HTML-escaped so
  that `<b>` shows as typed and never runs as markup. Parcours' own copy is never changed.
- `reviewer_email`: the address of the order's review request while Parcours still holds it
  (so WooCommerce's own "verified owner" check, wc_customer_bought_product, can match the
  order), else `no-reply@<the store's host>` (an imported review, a storefront review, or a
  request whose contact was redacted): WooCommerce requires an address and Parcours never makes
  one up on a domain the store does not own. `verified` is read-only in WooCommerce's API:
  WooCommerce decides it, Parcours never claims it.
- `date_created_gmt`: the review's own time, so imported reviews keep their dates.
- The merchant's reply is not sent: the products/reviews API has no replies (it sets
  comment_parent to 0), so replies show in Parcours' widgets and the merchant's WordPress admin.

A POST that timed out may have created the review; the client does not repeat it, the
publication job does later, and WooCommerce then refuses it as a duplicate (409
`woocommerce_rest_comment_duplicate`): the copy is then found by product, address and text and
its id adopted, so a review is never published twice.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from parcours.adapters.base import PublishedReview, StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.errors import WooCommerceError
from parcours.adapters.woocommerce.keys import client_for
from parcours.errors import ValidationError

__all__ = ["placeholder_email", "publish", "publish_review", "review_text", "withdraw"]

DUPLICATE = "woocommerce_rest_comment_duplicate"
DISCLOSURES = {
    "en": "(The reviewer was offered {incentive} for a review, whatever its rating.)",
    "fr": "(L'auteur de cet avis s'est vu offrir {incentive} pour un avis, quelle que soit "
          "sa note.)",
}
ANONYMOUS = {"en": "Anonymous", "fr": "Anonyme"}


def _language(locale: str | None) -> str:
    language = (locale or "en").split("-")[0].split("_")[0].lower()
    return language if language in DISCLOSURES else "en"


def review_text(review: PublishedReview) -> str:
    """The review's text as WooCommerce stores it: HTML-escaped plain text (see above)."""
    parts = [review.title, review.body]
    if review.incentive:
        parts.append(DISCLOSURES[_language(review.locale)].format(incentive=review.incentive))
    text = "\n\n".join(part.strip() for part in parts if part and part.strip())
    return html.escape(text, quote=False)


def placeholder_email(store_url: str) -> str:
    """The reviewer address used when Parcours holds none: no-reply@ the store's own host."""
    host = (urlsplit(store_url).hostname or "").strip(".")
    return f"no-reply@{host}" if "." in host else "no-reply@example.invalid"


def _product_id(review: PublishedReview) -> int:
    if not review.product_id.isdigit() or int(review.product_id) <= 0:
        raise ValidationError("not a WooCommerce product id",
                              {"product_id": [f"{review.product_id!r} is not a numeric id"]})
    return int(review.product_id)


def _adopt_duplicate(client: WooClient, product_id: int, email: str, text: str) -> str | None:
    """The id of the copy WooCommerce already holds (an earlier POST whose answer was lost)."""
    for item in client.pages("products/reviews", product=product_id, reviewer_email=email,
                             status="all", context="edit"):
        if isinstance(item, dict) and item.get("review") == text and item.get("id"):
            return str(item["id"])
    return None


def publish(store: StoreAccess, review: PublishedReview) -> str:
    """Publish `review`, or rewrite the copy published before: its WooCommerce id."""
    product_id = _product_id(review)
    client = client_for(store)
    email = review.email or placeholder_email(client.url)
    text = review_text(review)
    language = _language(review.locale)
    fields = {"review": text, "rating": review.rating, "reviewer_email": email,
              "reviewer": (review.author or "").strip() or ANONYMOUS[language]}
    if review.external_id:
        try:
            client.put(f"products/reviews/{int(review.external_id)}", fields)
            return review.external_id
        except WooCommerceError as exc:
            if exc.status != 404:
                raise
    data = {"product_id": product_id, **fields, "status": "approved",
            "date_created_gmt": review.created_at.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        answer = client.post("products/reviews", data)
    except WooCommerceError as exc:
        if exc.status == 409 and exc.code == DUPLICATE:
            found = _adopt_duplicate(client, product_id, email, text)
            if found is not None:
                return found
        raise
    if not isinstance(answer, dict) or not answer.get("id"):
        raise WooCommerceError(f"{client.url}: products/reviews answered without an id")
    return str(answer["id"])


def withdraw(store: StoreAccess, review: PublishedReview) -> None:
    """Delete the review's WooCommerce copy for good; nothing when there is none (any more)."""
    if not review.external_id:
        return
    try:
        client_for(store).delete(f"products/reviews/{int(review.external_id)}", force="true")
    except WooCommerceError as exc:
        if exc.status == 404:  # deleted already (by the merchant, or by an earlier attempt)
            return
        raise


def publish_review(store: StoreAccess, *, product_id: int, reviewer: str, reviewer_email: str,
                   review: str, rating: int) -> dict[str, Any]:
    """One product review posted as given (no escaping, no disclosure): the review as
    WooCommerce stored it (its `id`, `verified`, `status`). The publication job uses `publish`."""
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = ["an integer from 1 to 5"]
    if not reviewer.strip():
        errors["reviewer"] = ["required"]
    if "@" not in reviewer_email:
        errors["reviewer_email"] = ["an email address"]
    if not review.strip():
        errors["review"] = ["required"]
    if errors:
        raise ValidationError("invalid review", errors)
    answer: dict[str, Any] = client_for(store).post("products/reviews", {
        "product_id": product_id, "reviewer": reviewer, "reviewer_email": reviewer_email,
        "review": review, "rating": rating})
    return answer
