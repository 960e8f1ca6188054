"""The JSON API's schemas for an account's stores side by side and its audit log
(api_access.py). As in api_schemas.py, answers are closed and `@complete`; an audit entry's
`detail` is the one open object (each kind of change says what it changed)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from parcours.api_schemas import (
    PageQuery,
    PeriodAnswer,
    PeriodQuery,
    complete,
    money_field,
    per_currency,
    rate_field,
)
from parcours.audit import INTERFACES


class CrossKpisQuery(PeriodQuery):
    """The period, and which of the key's stores."""

    stores = fields.Str(load_default=None, validate=validate.Length(1, 2000), metadata={
        "description": "a store selector: `all` (the default: every store of the key's scope), "
                       "or a comma list of store keys, `tag:<tag>`, `platform:<name>`; an "
                       "unknown store or tag is a 422 naming `stores`",
        "examples": ["tag:eu,shop-a"]})


@complete
class StoreKpisRow(Schema):
    """One store's KPIs (docs/kpis.md gives each formula)."""

    store = fields.Str()
    name = fields.Str()
    account = fields.Str()
    platform = fields.Str()
    tags = fields.List(fields.Str())
    journeys = fields.Int()
    conversion = rate_field(metadata={"description": "overall: converted journeys / journeys"})
    orders = fields.Int(metadata={"description": "paid orders, every currency"})
    revenue = per_currency(money_field())
    average_order_value = per_currency(money_field())
    cart_abandonment = rate_field()
    checkout_abandonment = rate_field()
    repeat_purchase_rate = rate_field()
    average_rating = fields.Float(allow_none=True, metadata={
        "description": "of the reviews written in the period (not rejected); null: none"})
    reviews = fields.Int()


@complete
class CrossKpisReport(Schema):
    period = fields.Nested(PeriodAnswer)
    stores = fields.List(fields.Nested(StoreKpisRow), metadata={"description": "by store key"})


class AuditQuery(PageQuery):
    """Filters of the audit log, and the page."""

    store = fields.Str(load_default=None, validate=validate.Length(1, 64), metadata={
        "description": "one store's entries (a removed store's too)"})
    interface = fields.Str(load_default=None, validate=validate.OneOf(INTERFACES))
    since = fields.AwareDateTime(load_default=None, metadata={
        "description": "entries at or after this time (ISO 8601 with its offset)"})


@complete
class AuditEntry(Schema):
    id = fields.Int()
    at = fields.DateTime()
    account = fields.Str(allow_none=True)
    store = fields.Str(allow_none=True, metadata={"description": "null: about the account"})
    actor = fields.Str(metadata={"description": "user:<email>, key:prc_<prefix> (<name>), "
                                                "shopify:<shop>, wordpress:<site>, cli:<user>"})
    interface = fields.Str(validate=validate.OneOf(INTERFACES))
    action = fields.Str()
    detail = fields.Dict(metadata={"description": "what changed; never a secret nor a "
                                                  "shopper's personal data"})


@complete
class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEntry), metadata={"description": "newest first"})
    next_cursor = fields.Str(allow_none=True, metadata={"description": "null on the last page"})
