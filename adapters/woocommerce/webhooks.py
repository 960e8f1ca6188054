"""WooCommerce webhooks: the signature, the creation ping, topics and delivery keys.

Each WooCommerce webhook has its own secret (Parcours sets it when it creates the webhook), and
WooCommerce signs a delivery with `X-WC-Webhook-Signature` = base64(HMAC-SHA256(raw body,
secret)). No timestamp is signed, so no replay window can be checked: the inbox's delivery key
is the guard against a replayed body.

`X-WC-Webhook-Delivery-ID` is wp_hash(webhook id . current second): two deliveries of one
webhook in the same second share it (a bulk edit), so the delivery key adds the webhook id and
a hash of the body.

When a webhook is created WooCommerce first sends an unsigned ping, `webhook_id=N` form-encoded
and without any X-WC-Webhook-* header, and keeps the webhook only if it gets a 200: `ping_id`
recognises exactly that body so the receiver can answer it without storing anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
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
from parcours.adapters.woocommerce.normalize import normalize
from parcours.adapters.woocommerce.storefront import STOREFRONT

SIGNATURE_HEADER = "x-wc-webhook-signature"
_PING = re.compile(rb"webhook_id=([1-9][0-9]{0,18})")


def sign(secret: str, body: bytes) -> str:
    """The `X-WC-Webhook-Signature` WooCommerce sends for `body` (what a fake store sends)."""
    return base64.b64encode(body_hmac(secret, body)).decode()


class WooCommerceAdapter(PlatformAdapter):
    name = "woocommerce"
    storefront = STOREFRONT
    kept_header_prefixes = ("x-wc-webhook-",)
    app_signed = False  # every webhook has its own secret

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: list[str],
               now: float | None = None) -> Verification:
        header = headers.get(SIGNATURE_HEADER, "")
        if not header:
            return Verification(False, f"missing {SIGNATURE_HEADER} header")
        try:
            given = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
            given = b""
        if len(given) != hashlib.sha256().digest_size:
            return Verification(False, f"{SIGNATURE_HEADER} is not a base64 HMAC-SHA256")
        keys = [secret for secret in secrets if secret]
        if not keys:
            return Verification(False, "no secret is set")
        return Verification(True) if matches_any(given, body, keys) else Verification(
            False, f"{SIGNATURE_HEADER} matches no secret")

    def ping_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        if SIGNATURE_HEADER in headers:
            return None
        match = _PING.fullmatch(body)
        return match.group(1).decode() if match else None

    def topic(self, headers: Mapping[str, str]) -> str:
        return headers.get("x-wc-webhook-topic", "")

    def delivery_key(self, store_key: str, headers: Mapping[str, str], body: bytes) -> str:
        webhook_id = headers.get("x-wc-webhook-id", "")[:40]
        delivery_id = headers.get("x-wc-webhook-delivery-id", "")[:64]
        digest = hashlib.sha256(body).hexdigest()
        return f"woocommerce:{store_key}:{webhook_id}:{delivery_id}:{digest}"

    def normalize(self, store: str, topic: str, payload: Any) -> Normalized:
        return normalize(store, topic, payload)

    def commands(self) -> Sequence[click.Command]:
        from parcours.adapters.woocommerce.cli import woocommerce

        return (woocommerce,)

    def init_app(self, app: Flask) -> None:
        """The key-approval routes, the setup job and the webhook health check."""
        from parcours.adapters.woocommerce.connect import register_routes
        from parcours.adapters.woocommerce.dashboard_login import register as register_dashboard
        from parcours.adapters.woocommerce.jobs import init_jobs

        register_routes(app)
        register_dashboard(app)
        if "parcours.woocommerce.setup" not in app.extensions:
            init_jobs(app, self.new_secret)

    def reconcile(self, store: StoreAccess, since: datetime) -> Iterable[Delivery]:
        """Orders modified since `since` (WooCommerce never retries a failed delivery)."""
        from parcours.adapters.woocommerce.reconcile import reconcile_store

        return reconcile_store(store, since)

    def connect_with_keys(self, store: StoreAccess, *, account: str, url: str,
                          consumer_key: str, consumer_secret: str) -> list[str]:
        from parcours.adapters.woocommerce.connect import connect_with_keys

        return connect_with_keys(store, account=account, url=url, consumer_key=consumer_key,
                                 consumer_secret=consumer_secret, new_secret=self.new_secret())

    def uninstall(self, store: StoreAccess) -> list[str]:
        """Delete Parcours' webhooks and put back the settings it changed, while the keys work."""
        from parcours.adapters.woocommerce.uninstall import uninstall_store

        return uninstall_store(store)

    def apply_fix(self, store: StoreAccess, target: str) -> list[str]:
        """Allow guest checkout, or turn on an enabled gateway's express buttons; then read the
        store's facts again so the diagnosis sees the change."""
        from parcours.adapters.woocommerce.settings import apply_fix

        return apply_fix(store, target)

    def revert_fix(self, store: StoreAccess, target: str) -> list[str]:
        """Put the setting back from the value remembered when the fix first changed it."""
        from parcours.adapters.woocommerce.settings import revert_fix

        return revert_fix(store, target)

    def publish_review(self, store: StoreAccess, review: PublishedReview) -> str | None:
        """A WooCommerce product review, created once; its comment id."""
        from parcours.adapters.woocommerce.reviews import publish

        return publish(store, review)

    def withdraw_review(self, store: StoreAccess, review: PublishedReview) -> None:
        """Delete the WooCommerce copy for good (force=true)."""
        from parcours.adapters.woocommerce.reviews import withdraw

        withdraw(store, review)

    def retryable(self, exc: BaseException) -> bool:
        from parcours.adapters.woocommerce.errors import WooCommerceUnreachable

        return isinstance(exc, WooCommerceUnreachable) or super().retryable(exc)
