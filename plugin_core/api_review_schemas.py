"""The JSON API's schemas of the reviews' routes (api_reviews.py); the conventions are those
of api_schemas.py: inputs loaded by `api.route`, answers closed and `@complete`, every real
answer validated against the document by the tests.
"""

from __future__ import annotations

import copy
from typing import Any

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from parcours.api_schemas import PageQuery, PeriodQuery, complete, rate_field
from parcours.review_csv import EXPORT_COLUMNS
from parcours.review_timing import ReviewSettings, _SettingsSchema
from parcours.reviews import REJECTION_REASONS, SOURCES, STATUSES

# -- input -----------------------------------------------------------------------------------------


class ReviewListQuery(PageQuery):
    product = fields.Str(load_default=None, validate=validate.Length(1, 64),
                         metadata={"description": "only this product's reviews"})
    status = fields.Str(load_default=None, validate=validate.OneOf(STATUSES))
    rating = fields.Int(load_default=None, validate=validate.Range(1, 5))


class ReviewKpisQuery(PeriodQuery):
    product = fields.Str(load_default=None, validate=validate.Length(1, 64),
                         metadata={"description": "one product's KPIs only"})


class ReviewExportQuery(Schema):
    format = fields.Str(load_default="csv", validate=validate.OneOf(("csv", "json")))


class ModerationBody(Schema):
    status = fields.Str(required=True, validate=validate.OneOf(("published", "rejected")))
    reason = fields.Str(load_default=None, allow_none=True,
                        validate=validate.OneOf(REJECTION_REASONS), metadata={
                            "description": "required to reject; never the rating"})


class ReplyBody(Schema):
    text = fields.Str(required=True, allow_none=True, validate=validate.Length(1, 5000),
                      metadata={"description": "plain text; null removes the reply"})


class PostponeBody(Schema):
    days = fields.Int(load_default=None, validate=validate.Range(1, 365))
    until = fields.AwareDateTime(load_default=None)

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("days") is None) == (data.get("until") is None):
            raise SchemaError("give either days or until", "days")


# The settings' own validator (review_timing.py) is the body's schema: the document cannot
# drift from what is enforced. As an answer, every key is there (defaults filled in).
class ReviewSettingsBody(_SettingsSchema):
    """Review settings (docs/reviews.md, "Settings that affect sending"); keys left out
    follow the defaults."""


ReviewSettingsAnswer = complete(Schema.from_dict(
    {name: copy.copy(field) for name, field in _SettingsSchema._declared_fields.items()},
    name="ReviewSettings"))
assert set(ReviewSettingsAnswer._declared_fields) == set(ReviewSettings.__dataclass_fields__)


# -- answers ---------------------------------------------------------------------------------------

@complete
class ReviewAnswer(Schema):
    """A review as the merchant sees it (never the reviewer's email address)."""

    id = fields.Int()
    product_id = fields.Str()
    rating = fields.Int(validate=validate.Range(1, 5))
    title = fields.Str(allow_none=True)
    body = fields.Str(metadata={"description": "as written: render it as text"})
    author = fields.Str(allow_none=True)
    verified = fields.Bool()
    status = fields.Str(validate=validate.OneOf(STATUSES))
    moderation_reason = fields.Str(allow_none=True, validate=validate.OneOf(REJECTION_REASONS))
    source = fields.Str(allow_none=True, validate=validate.OneOf(SOURCES))
    reply = fields.Str(allow_none=True)
    locale = fields.Str(allow_none=True)
    order_id = fields.Str(allow_none=True)
    incentive = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    sync_status = fields.Str(allow_none=True, validate=validate.OneOf(
        ("pending", "done", "failed")))
    sync_error = fields.Str(allow_none=True)
    external_id = fields.Str(allow_none=True)
    synced_at = fields.DateTime(allow_none=True)


@complete
class ReviewPage(Schema):
    items = fields.List(fields.Nested(ReviewAnswer), metadata={"description": "newest first"})
    next_cursor = fields.Str(allow_none=True, metadata={"description": "null on the last page"})


@complete
class ReviewKpis(Schema):
    """docs/reviews.md ("KPIs") gives each formula."""

    requests_sent = fields.Int()
    requests_opened = fields.Int()
    requests_submitted = fields.Int()
    open_rate = rate_field()
    response_rate = rate_field()
    reviews = fields.Int()
    ratings = fields.Dict(keys=fields.Str(validate=validate.OneOf(("1", "2", "3", "4", "5"))),
                          values=fields.Int())
    average_rating = fields.Float(allow_none=True, validate=validate.Range(1, 5))
    csat = rate_field()
    nps_answers = fields.Int()
    nps = fields.Float(allow_none=True, validate=validate.Range(-100, 100))
    ces_answers = fields.Int()
    ces = fields.Float(allow_none=True, validate=validate.Range(1, 7))


@complete
class MonthKpis(ReviewKpis):
    month = fields.Str(validate=validate.Regexp(r"^[0-9]{4}-[0-9]{2}$"))


@complete
class ProductKpis(ReviewKpis):
    product_id = fields.Str()


@complete
class ReviewKpisReport(Schema):
    store = fields.Str()
    since = fields.Date()
    until = fields.Date()
    product = fields.Str(allow_none=True)
    totals = fields.Nested(ReviewKpis)
    months = fields.List(fields.Nested(MonthKpis), metadata={"description": "oldest first"})
    products = fields.List(fields.Nested(ProductKpis), metadata={
        "optional": True, "description": "the most reviewed first; absent for one product"})


@complete
class ReviewSettingsWrapped(Schema):
    settings = fields.Nested(ReviewSettingsAnswer)


@complete
class ReviewSettingsSaved(Schema):
    settings = fields.Nested(ReviewSettingsAnswer)
    changed = fields.Bool()
    retimed = fields.Int(metadata={"description": "open requests given a new due time"})


@complete
class Postponed(Schema):
    order_id = fields.Str()
    due_at = fields.DateTime()


@complete
class ReviewExportRow(Schema):
    id = fields.Int()
    product_id = fields.Str()
    rating = fields.Int(validate=validate.Range(1, 5))
    title = fields.Str(allow_none=True)
    body = fields.Str()
    author = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    verified = fields.Bool()
    order_id = fields.Str(allow_none=True)
    reply = fields.Str(allow_none=True)
    locale = fields.Str(allow_none=True)
    status = fields.Str(validate=validate.OneOf(STATUSES))
    source = fields.Str(allow_none=True, validate=validate.OneOf(SOURCES))
    incentive = fields.Str(allow_none=True)
    sync_status = fields.Str(allow_none=True)
    external_id = fields.Str(allow_none=True)


@complete
class ReviewExportFile(Schema):
    reviews = fields.List(fields.Nested(ReviewExportRow), metadata={"description": "oldest first"})


assert set(ReviewExportRow._declared_fields) == set(EXPORT_COLUMNS)
