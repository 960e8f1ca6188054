"""Shopify webhooks: signature, topic, dedupe key and shop of a delivery, and their meaning.

Shopify signs every delivery with the app's API secret: `X-Shopify-Hmac-Sha256` is
base64(HMAC-SHA256(raw body, secret)). The secret is the app's, not the store's (`app_signed`),
so the receiver finds the store from `X-Shopify-Shop-Domain` after the signature holds. While the
secret is rotated, deliveries may be signed with the old or the new one: every listed secret is
tried. No timestamp is signed, so a captured delivery could be replayed; the inbox stores it once
per `X-Shopify-Webhook-Id`, which Shopify keeps across its retries.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click
from flask import Flask

from parcours.adapters.base import (
    Delivery,
    Normalized,
    PlatformAdapter,
    PublishedReview,
    StoreAccess,
    Verification,
    body_hmac,
    matches_any,
)
from parcours.adapters.shopify.normalize import normalize
from parcours.adapters.shopify.storefront import STOREFRONT

__all__ = ["ShopifyAdapter", "sign"]

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
MAX_KEY_LENGTH = 255


def sign(secret: str, body: bytes) -> str:
    """The `X-Shopify-Hmac-Sha256` value Shopify sends with `body` (for fakes and tests)."""
    return base64.b64encode(body_hmac(secret, body)).decode()


class ShopifyAdapter(PlatformAdapter):
    name = "shopify"
    kept_header_prefixes = ("x-shopify-",)
    app_signed = True
    storefront = STOREFRONT

    def init_app(self, app: Flask) -> None:
        """OAuth, embedded admin and app proxy routes, and the post-install job."""
        from parcours.adapters.shopify.dashboard_login import register as register_dashboard
        from parcours.adapters.shopify.install import init_jobs
        from parcours.adapters.shopify.routes import register_routes

        register_routes(app)
        register_dashboard(app)
        if "parcours.shopify.post_install" not in app.extensions:
            init_jobs(app)

    def widgets_changed(self, store: StoreAccess) -> list[str]:
        """The app embed inlines the config from the app's metafield: rewrite it."""
        from parcours.adapters.shopify.install import rewrite_config

        if rewrite_config(store.db, store.vault, store.config, store.key):
            return ["widget config written to the app's metafield"]
        return ["widget config metafield already current"]

    def commands(self) -> Sequence[click.Command]:
        from parcours.adapters.shopify.cli import shopify

        return (shopify,)

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: list[str],
               now: float | None = None) -> Verification:
        # An empty secret would let anyone sign: it counts as no secret.
        keys = [secret for secret in secrets if secret]
        if not keys:
            return Verification(False, "no Shopify API secret is set")
        header = headers.get(SIGNATURE_HEADER, "").strip()
        if not header:
            return Verification(False, "missing X-Shopify-Hmac-Sha256 header")
        try:
            given = base64.b64decode(header, validate=True)
        except ValueError:  # binascii.Error, or a non-ASCII header
            return Verification(False, "X-Shopify-Hmac-Sha256 is not base64")
        if matches_any(given, body, keys):
            return Verification(True)
        return Verification(False, "X-Shopify-Hmac-Sha256 matches no Shopify API secret")

    def topic(self, headers: Mapping[str, str]) -> str:
        return headers.get("x-shopify-topic", "").strip()

    def delivery_key(self, store_key: str, headers: Mapping[str, str], body: bytes) -> str:
        """`shopify:<webhook id>`: the id is unique across shops and kept across retries, and
        the store may not be known yet when the delivery arrives (so `store_key` is not used).
        Without the header, the same body on the same topic is taken as the same delivery."""
        webhook_id = headers.get("x-shopify-webhook-id", "").strip()
        if webhook_id:
            key = f"shopify:{webhook_id}"
        else:
            key = f"shopify:{self.topic(headers)}:{hashlib.sha256(body).hexdigest()}"
        if len(key) <= MAX_KEY_LENGTH:
            return key
        return "shopify:sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def shop_domain(self, headers: Mapping[str, str]) -> str | None:
        return headers.get("x-shopify-shop-domain", "").strip().lower() or None

    def normalize(self, store: str, topic: str, payload: Any) -> Normalized:
        return normalize(store, topic, payload)

    def reconcile(self, store: StoreAccess, since: datetime) -> Iterable[Delivery]:
        """Orders updated since `since`, read through GraphQL with the store's token."""
        from parcours.adapters.shopify.reconcile import reconcile_store

        return reconcile_store(store, since)

    def publish_review(self, store: StoreAccess, review: PublishedReview) -> str | None:
        """Shopify keeps no review of its own: the storefront reads Parcours' copy through the
        app proxy and the widgets. The product's standard rating metafields are recomputed from
        all its published reviews, so themes and Google Shopping show the stars."""
        from parcours.adapters.shopify.reviews import sync_product_rating

        sync_product_rating(store, review.product_id)
        return None

    def withdraw_review(self, store: StoreAccess, review: PublishedReview) -> None:
        """The rating metafields are recomputed without the rejected review (deleted with the
        product's last review)."""
        from parcours.adapters.shopify.reviews import sync_product_rating

        sync_product_rating(store, review.product_id)

    def retryable(self, exc: BaseException) -> bool:
        from parcours.adapters.shopify.errors import ShopifyThrottled, ShopifyUnreachable

        return isinstance(exc, ShopifyUnreachable | ShopifyThrottled) or super().retryable(exc)
