"""Shopify webhook payloads to canonical journey events and lifecycle actions (pure).

Shopify sends *snapshots* (an order as it is now), at least once, in no order, up to a day late,
and one order reaches us under several topics (orders/create, orders/updated, orders/paid, ...).
So every snapshot emits every fact its state implies, each under a stable key such as
"order:1001:paid": the same fact from any topic is one event, and storage keeps the earliest time
reported for it. Times come from the payload, never from the clock, so replays are identical.

A fact that several topics report (a fulfilment, a refund) is built by one function from the same
sub-object in every topic, with the same resource and properties: otherwise what is stored would
depend on which delivery came first. Only order snapshots carry the order resource (whose newest
`updated_at` is the order's state); a fulfilment's or refund's own times must not pass for a
newer order snapshot.

Personal data stays out of events: emails become `email_hash`, and names, addresses, phones,
notes and IPs are never read. Of an order's user agent, addresses and landing page, only three
coarse segments are kept (segments.py): the device, the channel the shopper came by, the country
it ships to. Privacy requests do carry the subject's email and phone: finding
that data is their purpose.

Payloads differ by API version and `include_fields`: absent fields are tolerated (a fact without
its time is not emitted); a missing resource id or a misshapen field raises ValidationError.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from parcours.adapters.base import (
    Action,
    Normalized,
    OrderContact,
    PrivacyRequest,
    StorefrontFact,
    Uninstalled,
    order_contact,
)
from parcours.errors import ValidationError
from parcours.events import JourneyEvent, Resource, email_identity
from parcours.segments import channel_of, country_of, device_of, utm_of

__all__ = ["normalize"]

SOURCE = "shopify"
# "paid" in the journey's sense: the money was captured. A refunded order was paid first.
# partially_paid (a manual capture below the total) is left out: the order is not paid yet, and
# its order_paid would count the full total as revenue; it comes with the snapshot that says paid.
# pending, authorized, expired and voided mean nothing was captured.
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
FULFILLED_STATUSES = frozenset({"fulfilled", "partial"})  # an order's fulfillment_status
# A fulfilment's status: only "success" means shipped; pending and open (deprecated) wait on a
# fulfilment service, cancelled, error and failure never shipped.
SHIPPED = "success"
FAILED_FULFILMENTS = frozenset({"cancelled", "error", "failure"})

MAX_ID_LENGTH = 200  # keeps every key ("checkout:<token>:updated:<time>") within 255
MAX_TEXT_LENGTH = 64  # product ids, gateway names, cancel reasons
MAX_LISTED = 100  # product ids and gateways per event: properties stay far below 16 KiB
MAX_ID = 2**64
MAX_AMOUNT_LENGTH = 40

Payload = dict[str, Any]


# -- reading fields ----------------------------------------------------------------------------

def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"invalid Shopify payload: {field} {message}", {field: [message]})


def _object(data: Payload, name: str, path: str = "") -> Payload:
    """An optional nested object: {} when absent or null."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(path + name, "must be an object")
    return value


def _objects(data: Payload, name: str, path: str = "") -> list[Payload]:
    """An optional list of objects: [] when absent or null."""
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _invalid(path + name, "must be a list of objects")
    return value


def _as_id(value: Any, field: str, max_length: int = MAX_ID_LENGTH) -> str | None:
    """A Shopify id or token as text; None when null, 0 or empty (a guest's customer id is 0)."""
    if isinstance(value, bool) or not isinstance(value, int | str | None):
        raise _invalid(field, "must be an integer or a string")
    if value is None or value == 0 or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not 0 < value < MAX_ID:
        raise _invalid(field, "is out of range")
    text = str(value)
    if len(text) > max_length:
        raise _invalid(field, f"is longer than {max_length} characters")
    return text


def _id(data: Payload, name: str, path: str = "") -> str | None:
    return _as_id(data.get(name), path + name)


def _required_id(data: Payload, name: str, path: str = "") -> str:
    """The id of the resource a payload is about: without it there is nothing to record."""
    value = _id(data, name, path)
    if value is None:
        raise _invalid(path + name, "is required")
    return value


def _text(data: Payload, name: str, path: str = "") -> str | None:
    """A short optional string (a status, a reason); None when absent, null or empty."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
        raise _invalid(path + name, f"must be a string of at most {MAX_TEXT_LENGTH} characters")
    return value


def _time(data: Payload, name: str, path: str = "") -> datetime | None:
    """An ISO 8601 time with its offset, in UTC; None when absent or null."""
    value = data.get(name)
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        if moment is not None and moment.utcoffset() is not None:
            return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise _invalid(path + name, "must be an ISO 8601 date-time with an offset")


def _snapshot_time(data: Payload, *names: str) -> datetime:
    """The time a snapshot shows its resource at: the first of `names` present."""
    for name in names:
        moment = _time(data, name)
        if moment is not None:
            return moment
    raise _invalid(names[0], "is required")


def _money(data: Payload, name: str, path: str = "") -> str | None:
    """A non-negative decimal amount as text (Shopify sends strings); None when absent."""
    value = data.get(name)
    if value is None or value == "":
        return None
    text = str(value).strip()
    number = Decimal("NaN")
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with suppress(InvalidOperation):
            number = Decimal(text)
    if len(text) > MAX_AMOUNT_LENGTH or not number.is_finite() or number < 0:
        raise _invalid(path + name, "must be a non-negative decimal amount")
    return text


def _currency(data: Payload, name: str, path: str = "") -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()):
        raise _invalid(path + name, "must be an ISO 4217 currency code")
    return value.upper()


def _email_hash(*candidates: tuple[Payload, str, str]) -> str | None:
    """The hash of the first email present among (object, field, path) candidates."""
    for data, name, path in candidates:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _invalid(path + name, "must be a string")
        hashed = email_identity(value)
        if hashed is not None:
            return hashed
    return None


def _identities(**kinds: str | None) -> dict[str, str]:
    return {kind: value for kind, value in kinds.items() if value is not None}


def _product_ids(data: Payload) -> list[str]:
    """Distinct product ids of the line items, in order (custom items have none)."""
    found: dict[str, None] = {}
    for item in _objects(data, "line_items"):
        product_id = _as_id(item.get("product_id"), "line_items.product_id", MAX_TEXT_LENGTH)
        if product_id is not None:
            found[product_id] = None
    return list(found)[:MAX_LISTED]


def _amount(data: Payload, total_field: str) -> dict[str, str]:
    """`total` and `currency` when the payload states them (each may be left out)."""
    properties = {"total": _money(data, total_field), "currency": _currency(data, "currency")}
    return {name: value for name, value in properties.items() if value is not None}


def _event(store: str, name: str, at: datetime, identities: dict[str, str], key: str,
           properties: dict[str, Any] | None = None, resource: Resource | None = None
           ) -> JourneyEvent:
    return JourneyEvent(store=store, name=name, occurred_at=at, identities=identities,
                        properties=properties or {}, source=SOURCE, resource=resource, key=key)


# -- orders ------------------------------------------------------------------------------------

def _order_identities(order: Payload, order_id: str) -> dict[str, str]:
    customer = _object(order, "customer")
    return _identities(
        customer_id=_id(customer, "id", "customer."),
        email_hash=_email_hash((order, "email", ""), (order, "contact_email", ""),
                               (customer, "email", "customer.")),
        checkout_token=_id(order, "checkout_token"),
        cart_token=_id(order, "cart_token"),
        order_id=order_id,
    )


def _gateways(order: Payload) -> dict[str, str]:
    names = order.get("payment_gateway_names")
    if names is None:
        return {}
    if not isinstance(names, list) or not all(
        isinstance(name, str) and len(name) <= MAX_TEXT_LENGTH for name in names
    ):
        raise _invalid("payment_gateway_names", "must be a list of short strings")
    listed = [name for name in names if name][:MAX_LISTED]
    return {"gateway": ", ".join(listed)} if listed else {}


def _segments(order: Payload) -> dict[str, str]:
    """The order's device (the checkout's user agent), channel and country (shipping address,
    else billing), those known. The channel is read from how the shopper's visit began:
    `referring_site` and the utm parameters of `landing_site`. It is unknown when the payload
    leaves both fields out (`include_fields`), and when the order came from no storefront
    visit (point of sale, draft order, the admin apps: a `source_name` other than "web", and
    no landing or referrer). The store's own hosts, which mean "direct", are those of the
    order status page and of an absolute landing URL."""
    client = _object(order, "client_details")
    referrer, landing = order.get("referring_site"), order.get("landing_site")
    channel = None
    visit = referrer or landing or order.get("source_name") in (None, "", "web")
    if ("referring_site" in order or "landing_site" in order) and visit:
        own = [url for url in (order.get("order_status_url"), landing) if isinstance(url, str)]
        channel = channel_of(referrer, *utm_of(landing), own)
    found = {
        "device": device_of(client.get("user_agent")),
        "channel": channel,
        "country": country_of(_object(order, "shipping_address").get("country_code"))
        or country_of(_object(order, "billing_address").get("country_code")),
    }
    return {name: value for name, value in found.items() if value is not None}


def _order(store: str, order: Payload) -> list[JourneyEvent]:
    """Every fact an order snapshot implies; see the module docstring for why."""
    order_id = _required_id(order, "id")
    updated_at = _snapshot_time(order, "updated_at", "processed_at", "created_at")
    identities = _order_identities(order, order_id)
    properties: dict[str, Any] = {**_amount(order, "total_price"), **_gateways(order),
                                  "product_ids": _product_ids(order), **_segments(order)}
    resource = Resource("order", order_id, updated_at)

    def fact(name: str, suffix: str, at: datetime, extra: dict[str, Any] | None = None
             ) -> JourneyEvent:
        return _event(store, name, at, identities, f"order:{order_id}:{suffix}",
                      {**properties, **(extra or {})}, resource)

    events = []
    # processed_at is the date Shopify reports the order under (imported orders set it in the
    # past); created_at is when the order record was made, the same moment for web orders.
    placed_at = _time(order, "processed_at") or _time(order, "created_at")
    if placed_at is not None:
        events.append(fact("order_placed", "placed", placed_at))
    if _text(order, "financial_status") in PAID_STATUSES:
        for name, field in (("total", "total_price"), ("currency", "currency")):
            if name not in properties:  # the event schema requires both on order_paid
                raise _invalid(field, "is required on a paid order")
        events.append(fact("order_paid", "paid", updated_at))
    cancelled_at = _time(order, "cancelled_at")
    if cancelled_at is not None:
        reason = _text(order, "cancel_reason")
        events.append(fact("order_cancelled", "cancelled", cancelled_at,
                           {"reason": reason} if reason else None))
    if _text(order, "fulfillment_status") in FULFILLED_STATUSES:
        # The fulfilments listed below usually say when more precisely: the earliest key wins.
        events.append(_event(store, "order_fulfilled", updated_at, identities,
                             f"order:{order_id}:fulfilled"))
    for fulfillment in _objects(order, "fulfillments"):
        events += _fulfillment_facts(store, fulfillment, order_id, identities)
    for refund in _objects(order, "refunds"):
        events += _refund_facts(store, refund, order_id, identities)
    return events


# -- fulfilments and refunds (their own topics, and inside order snapshots) --------------------

def _fulfillment_facts(store: str, fulfillment: Payload, order_id: str,
                       identities: dict[str, str], path: str = "fulfillments."
                       ) -> list[JourneyEvent]:
    status = _text(fulfillment, "status", path)
    delivered = (_text(fulfillment, "shipment_status", path) == "delivered"
                 and status not in FAILED_FULFILMENTS)
    events = []
    created_at = _time(fulfillment, "created_at", path)
    if created_at is not None and (status == SHIPPED or delivered):
        events.append(_event(store, "order_fulfilled", created_at, identities,
                             f"order:{order_id}:fulfilled"))
    updated_at = _time(fulfillment, "updated_at", path)
    if updated_at is not None and delivered:
        events.append(_event(store, "order_delivered", updated_at, identities,
                             f"order:{order_id}:delivered"))
    return events


def _fulfillment(store: str, fulfillment: Payload) -> list[JourneyEvent]:
    order_id = _required_id(fulfillment, "order_id")
    identities = _identities(order_id=order_id,
                             email_hash=_email_hash((fulfillment, "email", "")))
    return _fulfillment_facts(store, fulfillment, order_id, identities, path="")


def _refunded_amount(refund: Payload, path: str) -> dict[str, str]:
    """The sum of the refund's successful refund transactions, when their currency is stated.

    An amount without its currency would be unreadable, so both or neither are given.
    """
    total, currencies = Decimal(0), set[str | None]()
    for transaction in _objects(refund, "transactions", path):
        where = path + "transactions."
        if (_text(transaction, "kind", where), _text(transaction, "status", where)) != (
            "refund", "success"
        ):
            continue
        total += Decimal(_money(transaction, "amount", where) or 0)
        currencies.add(_currency(transaction, "currency", where))
    if len(currencies) != 1 or None in currencies:
        return {}
    return {"total": str(total), "currency": str(currencies.pop())}


def _refund_facts(store: str, refund: Payload, order_id: str, identities: dict[str, str],
                  path: str = "refunds.") -> list[JourneyEvent]:
    refund_id = _required_id(refund, "id", path)
    at = _time(refund, "created_at", path) or _time(refund, "processed_at", path)
    if at is None:
        return []
    return [_event(store, "order_refunded", at, identities, f"refund:{refund_id}",
                   _refunded_amount(refund, path))]


def _refund(store: str, refund: Payload) -> list[JourneyEvent]:
    order_id = _required_id(refund, "order_id")
    return _refund_facts(store, refund, order_id, {"order_id": order_id}, path="")


# -- checkouts, carts, customers ---------------------------------------------------------------

def _checkout(store: str, checkout: Payload) -> list[JourneyEvent]:
    token = _required_id(checkout, "token")
    customer = _object(checkout, "customer")
    identities = _identities(
        checkout_token=token,
        cart_token=_id(checkout, "cart_token"),
        email_hash=_email_hash((checkout, "email", ""), (customer, "email", "customer.")),
        customer_id=_id(customer, "id", "customer."),
    )
    properties = {**_amount(checkout, "total_price"), "product_ids": _product_ids(checkout)}
    created_at = _time(checkout, "created_at")
    updated_at = _snapshot_time(checkout, "updated_at", "created_at")
    resource = Resource("checkout", token, updated_at)
    events = []
    if created_at is not None:
        events.append(_event(store, "checkout_started", created_at, identities,
                             f"checkout:{token}:started", properties, resource))
    # A snapshot whose updated_at is its created_at shows the creation only: checkout_started
    # says it, and counting it as an update too would inflate checkout activity.
    if created_at is None or updated_at > created_at:
        events.append(_event(store, "checkout_updated", updated_at, identities,
                             f"checkout:{token}:updated:{updated_at.isoformat()}", properties,
                             resource))
    return events


def _cart(store: str, cart: Payload) -> list[JourneyEvent]:
    """A cart snapshot (there is no cart_created: a new cart is a cart updated from empty)."""
    token = _required_id(cart, "token")
    updated_at = _snapshot_time(cart, "updated_at", "created_at")
    quantities = [item.get("quantity") for item in _objects(cart, "line_items")]
    if not all(isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in quantities):
        raise _invalid("line_items.quantity", "must be a non-negative integer")
    properties: dict[str, Any] = {"item_count": sum(quantities), "product_ids": _product_ids(cart)}
    return [_event(store, "cart_updated", updated_at, {"cart_token": token},
                   f"cart:{token}:updated:{updated_at.isoformat()}", properties,
                   Resource("cart", token, updated_at))]


def _customer(store: str, customer: Payload) -> list[JourneyEvent]:
    customer_id = _required_id(customer, "id")
    identities = _identities(customer_id=customer_id,
                             email_hash=_email_hash((customer, "email", "")))
    created_at = _time(customer, "created_at")
    if created_at is None:
        return []
    return [_event(store, "customer_created", created_at, identities,
                   f"customer:{customer_id}:created")]


EventTopic = Callable[[str, Payload], list[JourneyEvent]]
EVENT_TOPICS: dict[str, EventTopic] = {
    "carts/create": _cart,
    "carts/update": _cart,
    "checkouts/create": _checkout,
    "checkouts/update": _checkout,
    # checkouts/delete is deliberately absent: Shopify deletes checkouts on its own schedule (or
    # the merchant purges them); it says nothing the shopper did, and abandonment is measured
    # from inactivity, so a deletion must not count as an event.
    "orders/create": _order,
    "orders/updated": _order,
    "orders/paid": _order,
    "orders/cancelled": _order,
    "orders/fulfilled": _order,
    "orders/partially_fulfilled": _order,
    "fulfillments/create": _fulfillment,
    "fulfillments/update": _fulfillment,
    "refunds/create": _refund,
    "customers/create": _customer,
    "customers/update": _customer,
}


# -- actions: settings, uninstall, privacy -----------------------------------------------------

ACCOUNT_SETTINGS: dict[str, type] = {
    "customer_accounts_version": str,
    "login_required_at_checkout": bool,
    "login_links_visible_on_storefront_and_checkout": bool,
    "url": str,
}


def _account_settings(payload: Payload) -> list[Action]:
    """The customer account settings, as one fact (guest checkout is allowed unless login is
    required). The payload has no time: a future `updated_at` is used, else None (the worker
    then dates it by the delivery's arrival)."""
    value: dict[str, Any] = {}
    for name, kind in ACCOUNT_SETTINGS.items():
        setting = payload.get(name)
        if setting is not None and not isinstance(setting, kind):
            raise _invalid(name, f"must be a {kind.__name__}")
        if name in payload:
            value[name] = setting
    if not value:
        return []
    return [StorefrontFact("customer_accounts", value, _time(payload, "updated_at"))]


def _order_ids(payload: Payload, name: str) -> tuple[str, ...]:
    listed = payload.get(name)
    if listed is None:
        return ()
    if not isinstance(listed, list):
        raise _invalid(name, "must be a list of order ids")
    ids = (_as_id(entry, name) for entry in listed)
    return tuple(order_id for order_id in ids if order_id is not None)


def _contact(customer: Payload, name: str) -> str | None:
    value = customer.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid("customer." + name, "must be a string")
    return value or None


def _privacy(kind: Literal["data_request", "redact_customer"], orders_field: str
             ) -> Callable[[Payload], list[Action]]:
    def request(payload: Payload) -> list[Action]:
        customer = _object(payload, "customer")
        customer_id = _id(customer, "id", "customer.")
        email, phone = _contact(customer, "email"), _contact(customer, "phone")
        if customer_id is None and email is None and phone is None:
            raise _invalid("customer", "must name the customer (id, email or phone)")
        return [PrivacyRequest(
            kind,
            customer_id=customer_id, email=email, phone=phone,
            order_ids=_order_ids(payload, orders_field),
            reference=_id(_object(payload, "data_request"), "id", "data_request."),
        )]
    return request


ActionTopic = Callable[[Payload], list[Action]]
ACTION_TOPICS: dict[str, ActionTopic] = {
    "customer_account_settings/update": _account_settings,
    "app/uninstalled": lambda payload: [Uninstalled()],
    "customers/data_request": _privacy("data_request", "orders_requested"),
    "customers/redact": _privacy("redact_customer", "orders_to_redact"),
    "shop/redact": lambda payload: [PrivacyRequest("redact_shop")],
}
# Shopify's mandatory privacy topics: subscribed in the app config, never through the Admin API.
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


def _earliest(events: list[JourneyEvent]) -> list[JourneyEvent]:
    """One event per fact: a snapshot may imply one fact twice (storage would keep the earliest)."""
    kept: dict[str | None, JourneyEvent] = {}
    for event in events:
        if event.key not in kept or event.occurred_at < kept[event.key].occurred_at:
            kept[event.key] = event
    return list(kept.values())


def normalize(store: str, topic: str, payload: Any) -> Normalized:
    """One Shopify delivery's meaning; nothing for topics Parcours does not follow."""
    if topic not in EVENT_TOPICS and topic not in ACTION_TOPICS:
        return Normalized()
    if not isinstance(payload, dict):
        raise ValidationError(f"invalid Shopify {topic} payload",
                              {"_schema": ["the payload must be a JSON object"]})
    if topic in ACTION_TOPICS:
        return Normalized(actions=ACTION_TOPICS[topic](payload))
    events = _earliest(EVENT_TOPICS[topic](store, payload))
    if topic.startswith("orders/"):
        return Normalized(events=events, actions=[_order_contact(payload)])
    return Normalized(events=events)


def _order_contact(order: Payload) -> OrderContact:
    """Whom a review request for this order goes to: the order's email, the customer's first
    name and the language they shopped in (`customer_locale`, e.g. "fr" or "en-CA")."""
    customer = _object(order, "customer")
    return order_contact(
        _required_id(order, "id"),
        email=order.get("email") or order.get("contact_email") or customer.get("email"),
        name=customer.get("first_name"), locale=order.get("customer_locale"),
        customer_id=_id(customer, "id", "customer."),
        items=[(item.get("product_id"), item.get("title") or item.get("name"), None)
               for item in _objects(order, "line_items")])
