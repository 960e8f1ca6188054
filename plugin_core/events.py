"""Canonical journey events: their names, their shape, and the schema that admits them.

Every source (platform webhooks, the storefront beacon, the SDK, the API, imports) is turned into
`JourneyEvent`s before the engine sees it, so the engine knows one vocabulary only. Names follow
Shopify's standard customer events where one exists, so the web pixel passes them through.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from parcours.errors import ValidationError
from parcours.segments import CHANNELS, DEVICES, country_of

# The position of a name is its bit in a journey's event mask (see journey.py): only ever append.
STOREFRONT_EVENTS = (
    "page_viewed",
    "search_submitted",
    "collection_viewed",
    "product_viewed",
    "product_added_to_cart",
    "product_removed_from_cart",
    "cart_viewed",
    "checkout_started",
    "checkout_contact_info_submitted",
    "checkout_address_info_submitted",
    "checkout_shipping_info_submitted",
    "payment_info_submitted",
    "checkout_completed",
)
WIDGET_EVENTS = ("widget_shown", "widget_engaged", "shipping_estimate_requested")
SERVER_EVENTS = (
    "customer_created",
    "cart_updated",
    "checkout_updated",
    "order_placed",
    "order_paid",
    "payment_failed",
    "order_fulfilled",
    "order_delivered",
    "order_cancelled",
    "order_refunded",
    "review_requested",
    "review_submitted",
    "review_opened",  # the shopper opened the review form (appended: names keep their bits)
)
EVENT_NAMES: tuple[str, ...] = STOREFRONT_EVENTS + WIDGET_EVENTS + SERVER_EVENTS
EVENT_BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(EVENT_NAMES)}

# Identity kinds that stitch events to one profile. Emails are never kept in clear: the schema
# turns `email` into `email_hash`, which is also what platforms' normalizers must emit.
# `order_id` lets facts that name only their order (a refund, a fulfilment) find its shopper.
IDENTITY_KINDS = (
    "customer_id", "email_hash", "checkout_token", "cart_token", "anonymous_id", "order_id",
)

MAX_PROPERTIES_BYTES = 16 * 1024
MAX_IDENTITY_LENGTH = 255
MAX_KEY_LENGTH = 255


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: Any, path: str = "") -> str | None:
    """The path (dotted) of the first key or text of a JSON value that no database takes: the
    NUL character (PostgreSQL text and jsonb refuse it) or a lone surrogate (JSON's "\\ud800"
    parses to one, and it has no UTF-8). None when everything can be stored. Checked on outside
    input before it is recorded: one such value would otherwise fail its whole batch."""
    if isinstance(value, str):
        return path or "_schema" if _UNSTORABLE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return path or "_schema"
            found = unstorable_text(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def email_hash(email: str) -> str:
    """Stable pseudonymous key for an email: sha256 of the trimmed, lower-cased address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def email_identity(value: object) -> str | None:
    """The email hash of a platform field, when it holds what looks like an address.

    Placeholders ("[redacted]", "none", a shared "no-email@") are not hashed: one would
    stitch every shopper who has it into one profile.
    """
    if isinstance(value, str) and _EMAIL.fullmatch(value.strip()):
        return email_hash(value)
    return None


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Resource:
    """The platform object a server event is a snapshot of (an order, a checkout).

    `updated_at` orders snapshots of the same resource: the newest wins, whatever the arrival order.
    """

    type: str
    id: str
    updated_at: datetime


@dataclass(frozen=True)
class JourneyEvent:
    """One thing a shopper did (or that happened to their order), in one store.

    `occurred_at` is when it happened according to the source, never when it arrived.
    `key`, when given, names the fact the event records (for example "order:1001:paid"), so that
    two deliveries of the same fact are one event even if their payloads differ.
    """

    store: str
    name: str
    occurred_at: datetime
    identities: Mapping[str, str]
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = "api"
    resource: Resource | None = None
    key: str | None = None
    stored_id: str | None = field(default=None, compare=False, repr=False)

    @cached_property
    def id(self) -> str:
        """Deterministic id, so a replayed event is recognised as the same one."""
        if self.stored_id is not None:  # read back from storage: keep the id it was filed under
            return self.stored_id
        if self.key is not None:
            basis: list[Any] = [self.store, self.name, self.key]
        else:
            basis = [
                self.store,
                self.name,
                self.occurred_at.isoformat(),
                sorted(self.identities.items()),
                self.properties,
                None if self.resource is None else [self.resource.type, self.resource.id],
            ]
        raw = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()

    @property
    def order_id(self) -> str | None:
        """The order the event is about: its resource, else its `order_id` identity (a refund
        or a fulfilment names only its order)."""
        if self.resource is not None and self.resource.type == "order":
            return self.resource.id
        return self.identities.get("order_id")

    def amount(self) -> tuple[Decimal, str] | None:
        """(total, currency) when the event carries an order amount."""
        total, currency = self.properties.get("total"), self.properties.get("currency")
        if total is None or currency is None:
            return None
        return Decimal(str(total)), str(currency)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form the schema reads back (identities are already pseudonymous here)."""
        data: dict[str, Any] = {
            "name": self.name,
            "occurred_at": self.occurred_at.isoformat(),
            "identities": dict(self.identities),
            "properties": dict(self.properties),
            "source": self.source,
        }
        if self.resource is not None:
            data["resource"] = {
                "type": self.resource.type,
                "id": self.resource.id,
                "updated_at": self.resource.updated_at.isoformat(),
            }
        if self.key is not None:
            data["key"] = self.key
        return data


def _decimal_string(value: Any) -> bool:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return number.is_finite() and number >= 0


def check_properties(name: str | None, props: Mapping[str, Any]) -> None:
    """The schema's rules on an event's properties; SchemaError keyed "properties".

    A function of its own so that the SDK (parcours.sdk) applies the server's very rules at
    each `track()` without paying for a whole schema load.
    """
    size = len(json.dumps(props, default=str))
    if size > MAX_PROPERTIES_BYTES:
        raise SchemaError(f"{size} bytes, over the {MAX_PROPERTIES_BYTES} limit", "properties")
    if "total" in props and not _decimal_string(props["total"]):
        raise SchemaError({"total": ["must be a non-negative decimal"]}, "properties")
    currency = props.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
    ):
        raise SchemaError({"currency": ["must be an ISO 4217 code such as EUR"]}, "properties")
    for prop, allowed in (("device", DEVICES), ("channel", CHANNELS)):
        if prop in props and props[prop] not in allowed:
            raise SchemaError({prop: [f"one of {', '.join(allowed)}"]}, "properties")
    if "country" in props and country_of(props["country"]) is None:
        raise SchemaError({"country": ["an ISO 3166-1 alpha-2 code such as FR"]}, "properties")
    if name == "order_paid" and ("total" not in props or currency is None):
        raise SchemaError({"total": ["required for order_paid, with currency"]}, "properties")


class ResourceSchema(Schema):
    type = fields.Str(required=True, validate=validate.OneOf(["order", "checkout", "cart"]))
    id = fields.Str(required=True, validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))
    updated_at = fields.AwareDateTime(load_default=None)


class IdentitiesSchema(Schema):
    """At least one identity; `email` is accepted and hashed on the spot."""

    customer_id = fields.Str(validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))
    email = fields.Email()
    email_hash = fields.Str(validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    checkout_token = fields.Str(validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))
    cart_token = fields.Str(validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))
    anonymous_id = fields.Str(validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))
    order_id = fields.Str(validate=validate.Length(min=1, max=MAX_IDENTITY_LENGTH))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise SchemaError("at least one identity is required", "_schema")

    @post_load
    def _hash_email(self, data: dict[str, Any], **_: Any) -> dict[str, str]:
        email = data.pop("email", None)
        if email is not None:
            data.setdefault("email_hash", email_hash(email))
        return {kind: str(value) for kind, value in data.items()}


class EventSchema(Schema):
    """A canonical event as JSON. Unknown top-level keys are refused so typos are seen."""

    name = fields.Str(
        required=True,
        validate=validate.OneOf(EVENT_NAMES, error="unknown event name {input!r}"),
    )
    occurred_at = fields.AwareDateTime(required=True)
    identities = fields.Nested(IdentitiesSchema, required=True)
    properties = fields.Dict(keys=fields.Str(), load_default=dict)
    source = fields.Str(load_default="api", validate=validate.Length(min=1, max=32))
    resource = fields.Nested(ResourceSchema, load_default=None, allow_none=True)
    key = fields.Str(load_default=None, validate=validate.Length(min=1, max=MAX_KEY_LENGTH))

    @validates_schema
    def _properties(self, data: dict[str, Any], **_: Any) -> None:
        check_properties(data.get("name"), data.get("properties") or {})


_SCHEMA = EventSchema(unknown=EXCLUDE)
_STRICT_SCHEMA = EventSchema()


def _build(store: str, data: dict[str, Any]) -> JourneyEvent:
    occurred_at = to_utc(data["occurred_at"])
    resource = data.get("resource")
    properties = dict(data["properties"])
    if "currency" in properties:
        properties["currency"] = str(properties["currency"]).upper()
    if "country" in properties:
        properties["country"] = country_of(properties["country"])
    return JourneyEvent(
        store=store,
        name=data["name"],
        occurred_at=occurred_at,
        identities=data["identities"],
        properties=properties,
        source=data["source"],
        resource=None
        if resource is None
        else Resource(
            type=resource["type"],
            id=resource["id"],
            updated_at=to_utc(resource["updated_at"] or occurred_at),
        ),
        key=data["key"],
    )


def load_event(store: str, record: Any, *, strict: bool = True) -> JourneyEvent:
    """Validate one JSON record into an event; ValidationError names the field."""
    schema = _STRICT_SCHEMA if strict else _SCHEMA
    if not isinstance(record, Mapping):
        raise ValidationError("invalid event", {"_schema": ["an event must be a JSON object"]})
    where = unstorable_text(record)
    if where:
        raise ValidationError("invalid event", {where: [
            "text may not hold the NUL character or a lone surrogate"]})
    try:
        data = schema.load(record)
    except SchemaError as exc:
        raise ValidationError("invalid event", exc.normalized_messages()) from None
    return _build(store, data)


def load_events(store: str, records: Iterable[Any], *, strict: bool = True) -> list[JourneyEvent]:
    """Validate a batch, all or nothing: any bad record rejects the batch, naming every one."""
    events: list[JourneyEvent] = []
    errors: dict[str, Any] = {}
    for index, record in enumerate(records):
        try:
            events.append(load_event(store, record, strict=strict))
        except ValidationError as exc:
            errors[f"record {index}"] = exc.errors
    if errors:
        raise ValidationError(f"{len(errors)} invalid event(s), nothing was recorded", errors)
    return events
