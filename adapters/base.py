"""The contract every platform adapter implements, and the registry that finds them.

Like sentry-python's integrations: one subpackage per platform, one small contract, and the
rest of Parcours (the webhook receiver, the inbox worker, the jobs) speaks only this contract.

The receiver calls `verify` on the raw bytes, then `topic` and `delivery_key` on the verified
request, and stores the body untouched. The worker later parses it and calls `normalize`, which is
pure: a payload in, canonical events and lifecycle actions out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from parcours.errors import ConfigError, ValidationError
from parcours.events import JourneyEvent

if TYPE_CHECKING:
    import click
    from flask import Flask

    from parcours.credentials import Vault
    from parcours.db import Database

__all__ = [
    "Action",
    "Delivery",
    "Normalized",
    "OrderContact",
    "PlatformAdapter",
    "PrivacyRequest",
    "PublishedReview",
    "ReviewItem",
    "StoreAccess",
    "StorefrontFact",
    "Uninstalled",
    "Verification",
    "adapter_for",
    "adapters",
    "app_secrets",
    "body_hmac",
    "lower_headers",
    "matches_any",
    "order_contact",
    "register",
]


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a delivery's signature; never an exception on bad input."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class PrivacyRequest:
    """A data subject's request, as a platform relays it (Shopify's compliance topics).

    `kind` is "data_request" (export what is held), "redact_customer" (remove that customer's
    personal data) or "redact_shop" (delete the whole store's data).
    """

    kind: Literal["data_request", "redact_customer", "redact_shop"]
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    order_ids: tuple[str, ...] = ()
    reference: str | None = None  # the platform's id for the request, when it gives one


@dataclass(frozen=True)
class Uninstalled:
    """The store removed the app: credentials go at once, data on schedule."""


@dataclass(frozen=True)
class StorefrontFact:
    """A setting of the store that widgets and friction diagnosis read (e.g. guest checkout).

    `updated_at` None: the payload has no time; the worker uses the delivery's arrival.
    """

    name: str
    value: Any
    updated_at: datetime | None


@dataclass(frozen=True)
class ReviewItem:
    """A product of an order that its buyer may review."""

    product_id: str
    title: str
    image: str | None = None


@dataclass(frozen=True)
class OrderContact:
    """Whom to ask for reviews of an order, in which language, about which products.

    Events hold no email (only its hash); this action carries the address the review request
    is sent to, and is stored apart from events with the request (redaction clears it).
    """

    order_id: str
    email: str | None
    name: str | None = None
    locale: str | None = None
    customer_id: str | None = None
    items: tuple[ReviewItem, ...] = ()


MAX_REVIEW_ITEMS = 50


def _clip(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def order_contact(order_id: str, *, email: Any, name: Any, locale: Any, customer_id: str | None,
                  items: Iterable[tuple[Any, Any, Any]]) -> OrderContact:
    """An OrderContact from a payload's raw values (product id, title, image URL per line):
    lenient, as a review request is never worth failing an order's delivery for. An address
    that does not look like one is dropped, texts are clipped, lines without a product (custom
    items, tips) skipped, one entry per product."""
    address = email.strip() if isinstance(email, str) else ""
    seen: dict[str, ReviewItem] = {}
    for product_id, title, image in items:
        key = str(product_id) if isinstance(product_id, int | str) and str(product_id) else ""
        if not key or key == "0" or key in seen or len(key) > 64:
            continue
        picture = _clip(image, 500)
        seen[key] = ReviewItem(key, _clip(title, 200) or key,
                               picture if picture and picture.startswith("https://") else None)
    return OrderContact(
        order_id=order_id,
        email=address if "@" in address and len(address) <= 320 and " " not in address else None,
        name=_clip(name, 100), locale=_clip(locale, 16), customer_id=customer_id,
        items=tuple(list(seen.values())[:MAX_REVIEW_ITEMS]))


Action = PrivacyRequest | Uninstalled | StorefrontFact | OrderContact


@dataclass(frozen=True)
class Normalized:
    """What one delivery means: journey events, plus actions that are not shopper events."""

    events: list[JourneyEvent] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """A delivery obtained by polling the platform (reconciliation), fed to the inbox as if sent."""

    topic: str
    key: str
    body: bytes


def app_secrets(config: Mapping[str, Any], platform: str) -> list[str]:
    """An app's secrets from `<PLATFORM>_API_SECRET` and `<PLATFORM>_API_SECRET_PREVIOUS`
    (comma-separated): current first; empty ones dropped, as one would let anyone sign."""
    prefix = platform.upper()
    current = str(config.get(f"{prefix}_API_SECRET") or "")
    previous = str(config.get(f"{prefix}_API_SECRET_PREVIOUS") or "")
    return [s.strip() for s in [current, *previous.split(",")] if s.strip()]


def body_hmac(secret: str, body: bytes) -> bytes:
    """HMAC-SHA256 of a raw body: how Shopify and WooCommerce sign their webhooks."""
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def matches_any(given: bytes, body: bytes, secrets: list[str]) -> bool:
    """Whether `given` is the body's HMAC under any non-empty secret. Every secret is compared
    (each in constant time), so timing tells nothing about which one, or whether any, matched."""
    return any([hmac.compare_digest(body_hmac(key, body), given) for key in secrets if key])


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: every adapter reads them lower-cased."""
    return {name.lower(): value for name, value in headers.items()}


@dataclass(frozen=True)
class StoreAccess:
    """What an adapter needs to call one store's platform on Parcours' behalf: the store, the
    database that holds its encrypted credentials, the vault that opens them, the app's config."""

    key: str
    db: Database
    vault: Vault
    config: Mapping[str, Any]


@dataclass(frozen=True)
class PublishedReview:
    """A review as a platform receives it for publication (`publish_review`).

    Parcours keeps the canonical copy; this is what a platform's copy is made from. `body` and
    `title` are the shopper's plain text, never HTML: an adapter escapes them for a platform
    that stores HTML. `email` is the address of the order's review request while Parcours still
    holds it (None once redacted, or for imported and storefront reviews); it is personal data,
    kept out of `repr`. `incentive` is disclosed with the review wherever it is published.
    `external_id` is the platform's id of a copy published earlier.
    """

    id: int
    product_id: str
    rating: int
    title: str | None
    body: str
    author: str | None
    email: str | None = field(repr=False)
    verified: bool
    reply: str | None
    created_at: datetime
    incentive: str | None = None
    locale: str | None = None
    external_id: str | None = None


class PlatformAdapter(ABC):
    """What Parcours needs from a platform. `headers` are always lower-cased (`lower_headers`)."""

    name: str
    # Headers worth keeping with a delivery (dedupe evidence, support): names starting with these.
    kept_header_prefixes: tuple[str, ...] = ()
    # True when deliveries are signed with the app's secret (config), not a per-store one.
    app_signed: bool = False
    # How the platform's storefront works, for the widgets (cart and checkout paths, the
    # platform's own express buttons, estimate routes): data, never code the widgets import.
    # Keys and placeholders: docs/widgets.md; what is left out comes from the widget defaults.
    storefront: Mapping[str, Any] = MappingProxyType({})

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, secrets: list[str],
               now: float | None = None) -> Verification:
        """Check the signature on the raw body against any of `secrets` (rotation). Never raises.

        `now` (Unix time, default the clock) matters to platforms that sign a timestamp.
        """

    @abstractmethod
    def topic(self, headers: Mapping[str, str]) -> str:
        """The delivery's topic (e.g. "orders/paid"), from a verified request."""

    @abstractmethod
    def delivery_key(self, store_key: str, headers: Mapping[str, str], body: bytes) -> str:
        """A key unique per delivery (at most 255 characters), for deduplication in the inbox."""

    @abstractmethod
    def normalize(self, store: str, topic: str, payload: Any) -> Normalized:
        """Pure: one parsed payload to canonical events and actions (nothing for unknown topics)."""

    def init_app(self, app: Flask) -> None:
        """Add the platform's routes and jobs to the app (OAuth, embedded admin, app proxy)."""
        return None  # most platforms need nothing beyond the webhook receiver

    def commands(self) -> Sequence[click.Command]:
        """Commands the platform adds to `parcours` (e.g. `parcours shopify ...`)."""
        return ()

    def new_secret(self) -> str:
        """A fresh signing secret in the platform's format (for stores signed per store)."""
        return secrets.token_urlsafe(32)

    def shop_domain(self, headers: Mapping[str, str]) -> str | None:
        """The store's domain when the platform names it in the request (Shopify does)."""
        return None

    def ping_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The id of an unsigned creation ping (WooCommerce sends one); None for anything else."""
        return None

    def connect_with_keys(self, store: StoreAccess, *, account: str, url: str,
                          consumer_key: str, consumer_secret: str) -> list[str]:
        """Connect `store.key` to the platform with existing API keys (agencies, the CLI): check
        them, store them, set the store up; what was done. Most platforms have no such keys."""
        raise ValidationError(f"{self.name} stores are not connected with API keys", {
            "url": ["only WooCommerce stores connect with --url, --key and --secret"]})

    def uninstall(self, store: StoreAccess) -> list[str]:
        """Leave the platform as the merchant had it, before the credentials are dropped (what
        was done, one line each). Platforms that uninstall on their side do nothing."""
        return []

    def widgets_changed(self, store: StoreAccess) -> list[str]:
        """Push the store's new widget config where its storefront reads it inline (what was
        done, one line each). Storefronts that fetch `/w/<store>/config.json` need nothing."""
        return []

    def apply_fix(self, store: StoreAccess, target: str) -> list[str]:
        """Change a setting of the store on its platform for a friction fix whose kind is
        `store_setting` (`guest_checkout`, `express_pay`), from the dashboard's one-click
        action; what was done, one line each. The change is remembered and undone at uninstall.
        Platforms where Parcours may not change it refuse, naming `fix`."""
        raise ValidationError(f"{self.name} stores change {target!r} in their own admin", {
            "fix": [f"Parcours cannot change {target!r} on {self.name}"]})

    def revert_fix(self, store: StoreAccess, target: str) -> list[str]:
        """Put back what `apply_fix(store, target)` changed, as the merchant had it (a
        configuration apply that failed later on undoes its fixes); what was done. Platforms
        whose `apply_fix` refuses have nothing to put back."""
        return []

    def reconcile(self, store: StoreAccess, since: datetime) -> Iterable[Delivery]:
        """Poll the platform for what changed since `since` (what webhooks may have missed).

        The deliveries go through the same inbox, dedupe and normalizers as webhooks. Platforms
        that cannot be polled yield nothing. Called outside any transaction.
        """
        return ()

    def publish_review(self, store: StoreAccess, review: PublishedReview) -> str | None:
        """Publish a review (or bring its published copy up to date) on the platform: the
        platform's id of the copy, or None when the platform keeps no copy of its own.

        Must be safe to call again for the same review (a worker may die after the platform
        answered). Every genuine review is published, whatever its rating. Called outside any
        transaction. Custom shops read reviews from Parcours itself: nothing to publish.
        """
        return None

    def withdraw_review(self, store: StoreAccess, review: PublishedReview) -> None:
        """Remove a review's published copy (moderation rejected it as spam or abuse). Safe to
        call when there is no copy, or none any more."""
        return None

    def retryable(self, exc: BaseException) -> bool:
        """Whether a call that raised `exc` may succeed later (network trouble, 429, 5xx), as
        opposed to a refusal that repeating cannot change (4xx, invalid input, no access).
        Platforms refine it with their own error types."""
        if isinstance(exc, OSError | TimeoutError):
            return True
        status = getattr(exc, "status", None)
        return isinstance(status, int) and (status == 429 or status >= 500)


_REGISTRY: dict[str, PlatformAdapter] = {}


def register(adapter: PlatformAdapter) -> None:
    _REGISTRY[adapter.name] = adapter


def adapters() -> list[PlatformAdapter]:
    """Every registered adapter (the built-in ones at least)."""
    adapter_for("custom")  # imports the built-in ones on first use
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def adapter_for(platform: str) -> PlatformAdapter:
    """The adapter of `platform`, importing the built-in ones on first use."""
    if not _REGISTRY:
        from parcours.adapters import builtin  # noqa: F401  (registers shopify, woocommerce, custom)
    try:
        return _REGISTRY[platform]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none yet"
        raise ConfigError(f"no adapter for platform {platform!r} (registered: {known})") from None
