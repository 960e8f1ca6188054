"""Product ratings to Shopify: the standard `reviews.rating` and `reviews.rating_count` metafields.

These are Shopify's standard product-rating metafield definitions (namespace `reviews`, keys
`rating` of type `rating` and `rating_count` of type `number_integer`), which themes read for
star ratings and Shopify's search and Google Shopping integrations understand. They are not
app-reserved: any app allowed to edit products (`write_products`) may set them, which is what
review apps do. A product whose last review is removed loses both metafields rather than
showing a rating of nothing.

Ratings are published as they are: every review counts, whatever its rating (no gating).

Shopify keeps no review of its own: Parcours holds the canonical copy and the storefront reads it
through the app proxy (`/apps/parcours/reviews/<product>`) and the widgets. Publishing a review
(or withdrawing one that moderation rejected) is therefore `sync_product_rating`: the product's
average and count recomputed from all its published reviews, then written at once. Writing the
whole aggregate (never an increment) makes it safe to repeat and lets any later run correct a
value two concurrent runs left stale.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from parcours import tables as t
from parcours.adapters.base import StoreAccess
from parcours.adapters.shopify.client import ShopifyClient
from parcours.errors import NotFoundError, ValidationError
from parcours.reviews import product_rating

__all__ = ["RATING_NAMESPACE", "publish_rating", "sync_product_rating"]

RATING_NAMESPACE = "reviews"
SCALE_MIN, SCALE_MAX = Decimal("1.0"), Decimal("5.0")
PRODUCT_GID = re.compile(r"^gid://shopify/Product/[1-9][0-9]*$")

SET_RATING = """mutation ParcoursRatingSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key } userErrors { field message code }
  }
}"""
DELETE_RATING = """mutation ParcoursRatingDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { ownerId namespace key } userErrors { field message }
  }
}"""


def _decimal_text(value: Decimal) -> str:
    """At most two decimals, at least one: 4.5 -> "4.5", 4.777 -> "4.78", 5 -> "5.0"."""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = format(rounded.normalize(), "f")
    return text if "." in text else text + ".0"


def rating_value(rating: Decimal, scale_min: Decimal = SCALE_MIN,
                 scale_max: Decimal = SCALE_MAX) -> str:
    """The JSON value of a `rating` metafield: decimal strings for value and scale."""
    return json.dumps({"value": _decimal_text(rating), "scale_min": _decimal_text(scale_min),
                       "scale_max": _decimal_text(scale_max)})


def publish_rating(client: ShopifyClient, product_gid: str, rating: Decimal, count: int, *,
                   scale_min: Decimal = SCALE_MIN, scale_max: Decimal = SCALE_MAX) -> None:
    """Set a product's average rating and review count (both at once, atomically).

    `count` 0 deletes both metafields. Raises ValueError on a bad product id, a negative count
    or a rating outside the scale, and ShopifyUserErrors when Shopify refuses the values.
    """
    if not PRODUCT_GID.match(product_gid):
        raise ValueError(f"not a product id: {product_gid!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"the review count must be a non-negative integer, not {count!r}")
    if count == 0:
        client.mutate(DELETE_RATING, {"metafields": [
            {"ownerId": product_gid, "namespace": RATING_NAMESPACE, "key": key}
            for key in ("rating", "rating_count")]}, "metafieldsDelete")
        return
    rating = Decimal(rating)
    if not rating.is_finite() or not scale_min <= rating <= scale_max:
        raise ValueError(f"the rating {rating} is outside the scale {scale_min}-{scale_max}")
    client.mutate(SET_RATING, {"metafields": [
        {"ownerId": product_gid, "namespace": RATING_NAMESPACE, "key": "rating",
         "type": "rating", "value": rating_value(rating, scale_min, scale_max)},
        {"ownerId": product_gid, "namespace": RATING_NAMESPACE, "key": "rating_count",
         "type": "number_integer", "value": str(count)},
    ]}, "metafieldsSet")


def sync_product_rating(store: StoreAccess, product_id: str) -> tuple[Decimal, int]:
    """Write a product's rating metafields from its published reviews in Parcours (deleting
    them when it has none left); the average and count written."""
    if not product_id.isdigit() or int(product_id) <= 0:
        raise ValidationError("not a Shopify product id",
                              {"product_id": [f"{product_id!r} is not a numeric product id"]})
    from parcours.adapters.shopify.install import shop_client

    with store.db.read() as conn:
        store_id = conn.execute(select(t.stores.c.id).where(t.stores.c.key == store.key)).scalar()
        if store_id is None:
            raise NotFoundError(f"no store {store.key!r}")
        average, count = product_rating(conn, store_id, product_id)
    with shop_client(store.db, store.vault, store.config, store.key) as client:
        publish_rating(client, f"gid://shopify/Product/{int(product_id)}", average, count)
    return average, count
