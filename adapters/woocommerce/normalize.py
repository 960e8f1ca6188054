"""WooCommerce webhook payloads to canonical journey events: pure, no I/O, no clock.

WooCommerce builds a webhook body when the delivery runs, not when the event happened, and the
deliveries arrive in any order: order.created may already show "completed", order.updated may come
first. An order payload is therefore read as a *snapshot*: it yields every fact its state implies,
each under a stable key ("order:12:paid") so that the same fact told by several snapshots is one
event, dated by the payload's own date for that fact (never the arrival time). Snapshots carry
`Resource("order", id, date_modified_gmt)`, so the newest one wins in storage.

    order snapshot                        event             key                      occurred_at
    status checkout-draft, pending        checkout_started  order:{id}:checkout_started  created
    status processing, on-hold,           order_placed      order:{id}:placed            created
      completed; or date_paid_gmt set
    date_paid_gmt set (any status)        order_paid        order:{id}:paid              paid
    status completed                      order_fulfilled   order:{id}:fulfilled         completed
    status failed                         payment_failed    order:{id}:payment_failed:{modified}
    status cancelled                      order_cancelled   order:{id}:cancelled         modified
    each entry of `refunds`               order_refunded    refund:{refund id}           modified
    status refunded, `refunds` empty      order_refunded    order:{id}:refunded          modified

(created, paid, completed, modified: the payload's date_*_gmt; completed falls back to modified.)

A cancelled order counts as placed only when it was paid (date_paid_gmt stays set): most
cancellations are unpaid pending orders that WooCommerce's hold-stock timer cancels, which were
never placed. A refund record holds no date, so it is dated by the first snapshot that shows it
(the earliest report of a fact wins). Deleted resources (order/customer/product.deleted) are sent
as `{"id": N}` with no date and mean "moved to the trash" (order.restored can bring them back):
no event. `action.woocommerce_*` bodies hold only the hook's name and its first argument
(`{"action": "woocommerce_order_status_completed", "arg": 13}`): no date, no state, so no event;
the order webhooks report the same change with its facts.

Products are not shopper events: each snapshot becomes a `StorefrontFact` named "product:{id}"
with the catalog data that review requests need. Personal data never leaves this module: emails
become `email_hash`; names, addresses, phones, IPs and notes are not read. Of an order's user
agent, addresses and order attribution (WooCommerce 8.5+ writes `_wc_order_attribution_*` meta
at checkout), only three coarse segments are kept (segments.py): device, channel, country.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from parcours.adapters.base import Normalized, OrderContact, StorefrontFact, order_contact
from parcours.errors import ValidationError
from parcours.events import JourneyEvent, Resource, email_identity
from parcours.segments import DEVICES, channel_of, country_of, device_of

__all__ = ["normalize"]

SOURCE = "woocommerce"
MAX_ID = 2**63 - 1  # PHP_INT_MAX: WooCommerce ids are database integers
MAX_PRODUCT_IDS = 200  # far above any real basket; keeps properties under the schema's 16 KiB
MAX_TEXT = 2000  # a gateway id, a product name, a URL

CHECKOUT_STATUSES = frozenset({"checkout-draft", "pending"})
PLACED_STATUSES = frozenset({"processing", "on-hold", "completed"})
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)?", re.ASCII)
_DATE_HINT = "must be a date such as 2026-11-22T10:51:40"
_STAMP = re.compile(r"[0-9a-f]{32}")
_ATTRIBUTION = "_wc_order_attribution_"
# Attribution source types that come from a storefront visit; the others (admin, mobile_app,
# pos, unknown) say the order was not made in the storefront, or that the visit is unknown.
_VISIT_SOURCES = frozenset({"typein", "organic", "referral", "utm"})


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"invalid WooCommerce payload: {field} {message}", {field: [message]})


def _object(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise ValidationError("invalid WooCommerce payload",
                              {"_schema": ["the body must be a JSON object"]})
    return payload


def _mapping(data: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = data.get(field)
    return value if isinstance(value, Mapping) else {}


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _id(value: Any, field: str) -> str:
    """A WooCommerce id (a positive integer, sometimes sent as a string of digits) as a string."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise _invalid(field, "must be a positive integer id")
    return str(value)


def _optional_gmt(data: Mapping[str, Any], field: str) -> datetime | None:
    """A `*_gmt` date: WooCommerce writes them without a zone, and they are UTC."""
    value = data.get(field)
    if _absent(value):
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _invalid(field, _DATE_HINT)
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid(field, _DATE_HINT) from None


def _gmt(data: Mapping[str, Any], field: str) -> datetime:
    moment = _optional_gmt(data, field)
    if moment is None:
        raise _invalid(field, "is required")
    return moment


def _decimal(value: Any, field: str) -> Decimal | None:
    """A money amount or rating (WooCommerce sends strings such as "29.90"); None when absent."""
    if _absent(value):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid(field, "must be a decimal number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(field, "must be a decimal number") from None
    if not number.is_finite():
        raise _invalid(field, "must be a decimal number")
    return number


def _currency(value: Any) -> str | None:
    if _absent(value):
        return None
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()):
        raise _invalid("currency", "must be an ISO 4217 code such as EUR")
    return value.upper()


def _money(total: Decimal | None, currency: str | None) -> dict[str, Any]:
    money: dict[str, Any] = {}
    if total is not None:
        money["total"] = str(total)
    if currency is not None:
        money["currency"] = currency
    return money


def _text(value: Any) -> str | None:
    """Short free text (a gateway id, a product name, a URL); None when absent or oversized."""
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


def _identities(customer_id: str | None, email: Any) -> dict[str, str]:
    """Customer id and email hash. Only what looks like an address is hashed: a placeholder
    that many guests share must not stitch them into one profile."""
    identities: dict[str, str] = {}
    if customer_id is not None:
        identities["customer_id"] = customer_id
    hashed = email_identity(email)
    if hashed is not None:
        identities["email_hash"] = hashed
    return identities


def _session_stamp(meta: Any) -> str | None:
    """The shopper's session stamp the Parcours plugin writes on the order at checkout
    (`_parcours_session`: a keyed hash of the WooCommerce session, 32 hex digits). The storefront
    beacon sends the same value as its `cart_token`, so the visit and the order stitch."""
    if not isinstance(meta, list):
        return None
    for entry in meta:
        if isinstance(entry, Mapping) and entry.get("key") == "_parcours_session":
            value = entry.get("value")
            if isinstance(value, str) and _STAMP.fullmatch(value):
                return value
    return None


def _attribution(meta: Any) -> dict[str, str]:
    """The order attribution meta, by name without its prefix ("source_type", "utm_source")."""
    found: dict[str, str] = {}
    for entry in meta if isinstance(meta, list) else []:
        key = entry.get("key") if isinstance(entry, Mapping) else None
        value = _text(entry.get("value")) if isinstance(entry, Mapping) else None
        if isinstance(key, str) and key.startswith(_ATTRIBUTION) and value is not None:
            found[key.removeprefix(_ATTRIBUTION)] = value
    return found


def _segments(payload: Mapping[str, Any]) -> dict[str, str]:
    """The order's device (the checkout's user agent, else attribution's device type),
    channel (order attribution: a typed-in visit is direct; organic and referral visits have
    their source in utm_source) and country (shipping, else billing), those known."""
    seen = _attribution(payload.get("meta_data"))
    device = (device_of(payload.get("customer_user_agent")) or device_of(seen.get("user_agent"))
              or seen.get("device_type", "").lower())
    source_type = seen.get("source_type")
    channel = None
    if source_type == "typein":
        channel = "direct"
    elif source_type in _VISIT_SOURCES:
        # Organic and referral visits may leave the medium out: their source type is it.
        medium = seen.get("utm_medium") or (None if source_type == "utm" else source_type)
        channel = channel_of(seen.get("referrer"), seen.get("utm_source"), medium)
    found = {
        "device": device if device in DEVICES else None,
        "channel": channel,
        "country": country_of(_mapping(payload, "shipping").get("country"))
        or country_of(_mapping(payload, "billing").get("country")),
    }
    return {name: value for name, value in found.items() if value is not None}


def _customer_id(value: Any) -> str | None:
    """The order's customer; 0 (a guest order) and absence both mean none."""
    return None if value in (None, 0, "0") else _id(value, "customer_id")


def _product_ids(items: Any) -> list[str]:
    """Distinct product ids of the line items; 0 (a product deleted since) is skipped."""
    found: list[str] = []
    for item in items if isinstance(items, list) else []:
        value = item.get("product_id") if isinstance(item, Mapping) else None
        if type(value) is int and 0 < value <= MAX_ID and str(value) not in found:
            found.append(str(value))
            if len(found) == MAX_PRODUCT_IDS:
                break
    return found


@dataclass(frozen=True)
class _Order:
    """What every fact of one order snapshot shares."""

    store: str
    identities: dict[str, str]
    properties: dict[str, Any]
    resource: Resource

    def fact(self, name: str, key: str, at: datetime,
             properties: dict[str, Any] | None = None) -> JourneyEvent:
        return JourneyEvent(
            store=self.store, name=name, occurred_at=at, identities=self.identities,
            properties=self.properties if properties is None else properties,
            source=SOURCE, resource=self.resource, key=key,
        )


def _refunds(order: _Order, refunds: Any, currency: str | None,
             at: datetime) -> list[JourneyEvent]:
    """One order_refunded per refund record (their totals are negative: money going back)."""
    if refunds is None:
        return []
    if not isinstance(refunds, list) or not all(isinstance(r, Mapping) for r in refunds):
        raise _invalid("refunds", "must be a list of objects")
    events = []
    for refund in refunds:
        refund_id = _id(refund.get("id"), "refunds")
        amount = _decimal(refund.get("total"), "refunds")
        properties = _money(None if amount is None else abs(amount), currency)
        events.append(order.fact("order_refunded", f"refund:{refund_id}", at, properties))
    return events


def _order_events(store: str, payload: Mapping[str, Any]) -> list[JourneyEvent]:
    order_id = _id(payload.get("id"), "id")
    status = payload.get("status")
    if not isinstance(status, str) or not status:
        raise _invalid("status", "is required")
    modified = _gmt(payload, "date_modified_gmt")
    paid_at = _optional_gmt(payload, "date_paid_gmt")
    total = _decimal(payload.get("total"), "total")
    if total is not None and total < 0:
        raise _invalid("total", "must not be negative")
    currency = _currency(payload.get("currency"))
    money = _money(total, currency)

    properties = {**money, "product_ids": _product_ids(payload.get("line_items")),
                  **_segments(payload)}
    gateway = _text(payload.get("payment_method"))
    if gateway is not None:
        properties["payment_method"] = gateway
    identities = _identities(_customer_id(payload.get("customer_id")),
                             _mapping(payload, "billing").get("email"))
    identities["order_id"] = order_id
    stamp = _session_stamp(payload.get("meta_data"))
    if stamp is not None:
        identities["cart_token"] = stamp
    order = _Order(store, identities, properties, Resource("order", order_id, modified))

    prefix = f"order:{order_id}"
    events: list[JourneyEvent] = []
    if status in CHECKOUT_STATUSES:
        events.append(order.fact("checkout_started", f"{prefix}:checkout_started",
                                 _gmt(payload, "date_created_gmt")))
    if status in PLACED_STATUSES or paid_at is not None:
        events.append(order.fact("order_placed", f"{prefix}:placed",
                                 _gmt(payload, "date_created_gmt")))
    if paid_at is not None:
        for field in ("total", "currency"):
            if field not in money:
                raise _invalid(field, "is required on a paid order")
        events.append(order.fact("order_paid", f"{prefix}:paid", paid_at))
    if status == "completed":
        completed = _optional_gmt(payload, "date_completed_gmt")
        events.append(order.fact("order_fulfilled", f"{prefix}:fulfilled", completed or modified))
    elif status == "failed":
        # Each failed attempt is its own fact; its snapshot's date tells attempts apart.
        attempt = modified.strftime("%Y-%m-%dT%H:%M:%S")
        events.append(order.fact("payment_failed", f"{prefix}:payment_failed:{attempt}", modified))
    elif status == "cancelled":
        events.append(order.fact("order_cancelled", f"{prefix}:cancelled", modified))
    refunds = _refunds(order, payload.get("refunds"), currency, modified)
    if status == "refunded" and not refunds:
        refunds.append(order.fact("order_refunded", f"{prefix}:refunded", modified, money))
    return events + refunds


def _orders(store: str, payload: Mapping[str, Any]) -> Normalized:
    return Normalized(events=_order_events(store, payload), actions=[_order_contact(payload)])


def _order_contact(payload: Mapping[str, Any]) -> OrderContact:
    """Whom a review request for this order goes to: the billing email and first name. A
    WooCommerce order has no language of its own: the store's default applies."""
    billing = _mapping(payload, "billing")
    lines = payload.get("line_items")
    return order_contact(
        _id(payload.get("id"), "id"), email=billing.get("email"),
        name=billing.get("first_name"), locale=None,
        customer_id=_customer_id(payload.get("customer_id")),
        items=[(line.get("product_id"), line.get("name"), _mapping(line, "image").get("src"))
               for line in (lines if isinstance(lines, list) else [])
               if isinstance(line, Mapping)])


def _customer(store: str, payload: Mapping[str, Any]) -> Normalized:
    customer_id = _id(payload.get("id"), "id")
    email = payload.get("email") or _mapping(payload, "billing").get("email")
    return Normalized(events=[JourneyEvent(
        store=store, name="customer_created", occurred_at=_gmt(payload, "date_created_gmt"),
        identities=_identities(customer_id, email), source=SOURCE,
        key=f"customer:{customer_id}:created",
    )])


def _product(store: str, payload: Mapping[str, Any]) -> Normalized:
    """The catalog entry that review requests and review pages will need."""
    product_id = _id(payload.get("id"), "id")
    modified = _gmt(payload, "date_modified_gmt")
    images = payload.get("images")
    first = images[0] if isinstance(images, list) and images else None
    parent = payload.get("parent_id")
    rating = _decimal(payload.get("average_rating"), "average_rating")
    count = payload.get("rating_count")
    value = {
        "id": product_id,
        "parent_id": None if parent in (None, 0, "0") else _id(parent, "parent_id"),
        "name": _text(payload.get("name")),
        "permalink": _text(payload.get("permalink")),
        "status": _text(payload.get("status")),
        "image": _text(first.get("src")) if isinstance(first, Mapping) else None,
        "average_rating": None if rating is None else str(rating),
        "rating_count": count if type(count) is int and count >= 0 else None,
        "reviews_allowed": payload.get("reviews_allowed") is not False,
    }
    return Normalized(actions=[StorefrontFact(f"product:{product_id}", value, modified)])


def _trashed(store: str, payload: Mapping[str, Any]) -> Normalized:
    _id(payload.get("id"), "id")
    return Normalized()


def _action(store: str, payload: Mapping[str, Any]) -> Normalized:
    if not isinstance(payload.get("action"), str):
        raise _invalid("action", "must name the hook")
    return Normalized()


_HANDLERS: dict[str, Callable[[str, Mapping[str, Any]], Normalized]] = {
    "order.created": _orders,
    "order.updated": _orders,
    "order.restored": _orders,
    "order.deleted": _trashed,
    "customer.created": _customer,
    "customer.updated": _customer,
    "customer.deleted": _trashed,
    "product.created": _product,
    "product.updated": _product,
    "product.restored": _product,
    "product.deleted": _trashed,
}


def normalize(store: str, topic: str, payload: Any) -> Normalized:
    """One parsed webhook body to events and actions; unknown topics give nothing.

    Raises ValidationError, naming the field, when the body is not an object or a field the
    facts depend on (an id, a date, an amount) is missing or malformed.
    """
    handler = _HANDLERS.get(topic)
    if handler is None and topic.startswith("action.woocommerce_"):
        handler = _action
    return Normalized() if handler is None else handler(store, _object(payload))
