"""Collected reviews to WooCommerce: product reviews, published as the shopper wrote them.

`POST products/reviews` with the product, the reviewer's name and email, the text and the 1-5
rating; WooCommerce itself sets `verified` from the buyer's orders (wc_customer_bought_product),
so Parcours never claims it. Every genuine review is published whatever its rating.
"""

from __future__ import annotations

from typing import Any

from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.keys import client_for
from parcours.errors import ValidationError

__all__ = ["publish_review"]


def publish_review(store: StoreAccess, *, product_id: int, reviewer: str, reviewer_email: str,
                   review: str, rating: int) -> dict[str, Any]:
    """The review as WooCommerce stored it (its `id`, `verified`, `status`)."""
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
