"""The JSON API's marshmallow schemas: what routes read (query, body) and answer, and the
shared pieces (period, segment and page queries, the error body, field builders).

Input schemas are loaded by `api.route`: unknown keys are refused, and a bad value is a 422
naming it. Answer schemas are never used to serialize (the report functions build their
dicts); they describe the answers in the OpenAPI document, and the tests validate every real
answer against that document, so an answer that drifts from its schema fails a test. Answers
are closed (no key beyond those listed) and `@complete` (every key listed is present, null where
"no data"): clients may rely on both.

Adding a route: write its answer schema (decorated `@complete`), and its query or body schema if
it reads one, here or in the module of its area when this one grows past ~600 lines (the
reviews' are in api_review_schemas.py); then name them in the route's declaration (api.py).
A period report's query is `ReportQuery`; a list's subclasses `PageQuery`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from marshmallow import Schema, fields, post_load, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from parcours.errors import ValidationError
from parcours.events import IDENTITY_KINDS, EventSchema
from parcours.insights import DIMENSIONS, UNKNOWN, Segment
from parcours.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from parcours.privacy import Subject
from parcours.reports import Period
from parcours.segments import CHANNELS, DEVICES, country_of
from parcours.stages import Stage

MAX_PERIOD_DAYS = 731
STAGES = [stage.label for stage in Stage]
_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
S = TypeVar("S", bound=type[Schema])


def complete(schema: S) -> S:
    """Mark every field of an answer schema required (present in every answer, maybe null),
    except those declared with `metadata={"optional": True}`: the document then says which keys
    a client can count on, and answer validation catches a key that went missing."""
    for field in schema._declared_fields.values():
        if not field.metadata.get("optional"):
            field.required = True
    return schema


def rate_field(**kwargs: Any) -> fields.Float:
    """A share from 0 to 1 (4 decimals); null when its denominator is zero ("no data")."""
    return fields.Float(allow_none=True, validate=validate.Range(0, 1), **kwargs)


def money_field() -> fields.Str:
    return fields.Str(validate=validate.Regexp(_DECIMAL),
                      metadata={"description": "a decimal amount, as a string"})


def per_currency(values: fields.Field[Any]) -> fields.Dict:
    return fields.Dict(keys=fields.Str(validate=validate.Regexp(r"^[A-Z]{3}$")), values=values,
                       metadata={"description": "per ISO 4217 currency"})


# -- input: query strings --------------------------------------------------------------------------

class PeriodQuery(Schema):
    """`?from=&to=`: inclusive ISO dates (UTC days); by default the 30 days up to today, or
    the 30 days from `from`. Loaded as `period` (a reports.Period)."""

    start = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "first day (UTC), included"})
    end = fields.Date(data_key="to", load_default=None,
                      metadata={"description": "last day (UTC), included"})

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise SchemaError("must not be after 'to'", "from")
        if start and end and (end - start).days > MAX_PERIOD_DAYS:
            raise SchemaError(f"the period is limited to {MAX_PERIOD_DAYS} days", "from")

    @post_load
    def _period(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        start: date | None = data.pop("start")
        end: date | None = data.pop("end")
        end = end or (start + timedelta(days=29) if start else datetime.now(UTC).date())
        data["period"] = Period(start or end - timedelta(days=29), end)
        return data


# The values each segment dimension takes in the rollups (rollups.py, docs/kpis.md "Segment
# dimensions"); `unknown` gathers the journeys that do not know theirs.
SEGMENT_VALUES: dict[str, tuple[str, ...] | None] = {
    "returning": ("new", "returning"), "device": DEVICES, "channel": CHANNELS,
    "country": None,  # ISO 3166-1 alpha-2
}
assert tuple(SEGMENT_VALUES) == DIMENSIONS


class SegmentField(fields.Field[Segment]):
    """`dimension:value`, loaded as an insights.Segment. The value is checked against the
    dimension's vocabulary here, so that a typo (`device:phone`) is a 422 rather than a report
    of zero journeys."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Segment:
        if not isinstance(value, str):
            raise SchemaError("a string, dimension:value")
        try:
            segment = Segment.parse(value.strip())
        except ValidationError:
            raise SchemaError("write it dimension:value, with a dimension among "
                              f"{', '.join(DIMENSIONS)} (e.g. device:mobile)") from None
        known = SEGMENT_VALUES[segment.dimension]
        if segment.dimension == "country" and segment.value != UNKNOWN:
            code = country_of(segment.value)
            if code is None:
                raise SchemaError("country is an ISO 3166-1 alpha-2 code such as FR, or unknown")
            return Segment("country", code)
        if known is not None and segment.value not in (*known, UNKNOWN):
            raise SchemaError(f"{segment.dimension} is one of {', '.join(known)} or {UNKNOWN}")
        return segment


class ReportQuery(PeriodQuery):
    """A period report's query: the period and an optional segment."""

    segment = SegmentField(load_default=None, metadata={
        "description": "narrow the report to the journeys of one segment, `dimension:value`: "
                       "returning:new|returning, device:" + "|".join(DEVICES) + ", channel:"
                       + "|".join(CHANNELS) + ", country:<ISO 3166-1 alpha-2>, or any "
                       "dimension:unknown; a report that cannot be segmented yet answers 422 "
                       "naming `segment`",
        "type": "string", "pattern": f"^({'|'.join(DIMENSIONS)}):.+$",
        "examples": ["device:mobile"]})


class PageQuery(Schema):
    """`?limit=&cursor=` of a list (pagination.py); loaded as `page` (a PageRequest)."""

    limit = fields.Int(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                       metadata={"description": "items per page"})
    cursor = fields.Str(load_default=None, validate=validate.Length(1, 1000), metadata={
        "description": "the `next_cursor` of the previous page (opaque); none: the first page"})

    @post_load
    def _page(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["page"] = PageRequest(data.pop("limit"), data.pop("cursor"))
        return data




# -- input: bodies ---------------------------------------------------------------------------------

class EventBatch(Schema):
    """A batch of canonical events (docs/events.md); all or nothing."""

    events = fields.List(fields.Nested(EventSchema), required=True,
                         validate=validate.Length(min=1), metadata={
                             "description": "at most MAX_EVENTS_PER_REQUEST (1000 by default); "
                                            "one invalid record rejects the batch"})


class SubjectSchema(Schema):
    """Whom a privacy request is about (the dashboard's privacy form loads it too)."""

    email = fields.Email(load_default=None)
    customer_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=255))
    phone = fields.Str(load_default=None, validate=validate.Length(min=1, max=64),
                       metadata={"description": "also scrubbed from texts when given"})
    order_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=255)),
                            load_default=list, validate=validate.Length(max=1000))

    @validates_schema
    def _someone(self, data: dict[str, Any], **_: Any) -> None:
        if not (data.get("email") or data.get("customer_id") or data.get("order_ids")):
            raise SchemaError("name the customer: email, customer_id or order_ids", "_schema")


def subject(data: dict[str, Any]) -> Subject:
    """The privacy.Subject of a loaded SubjectSchema."""
    return Subject(customer_id=data["customer_id"], email=data["email"], phone=data["phone"],
                   order_ids=tuple(data["order_ids"]))


class UninstallBody(Schema):
    delete_now = fields.Bool(load_default=False, metadata={
        "description": "delete the data at the next purge instead of after the retention"})




# -- answers: errors -------------------------------------------------------------------------------

@complete
class ErrorDetail(Schema):
    message = fields.Str()
    problems = fields.Dict(data_key="fields", keys=fields.Str(), values=fields.Raw(), metadata={
        "optional": True,
        "description": "422 only: each bad field (or record, then field) and its messages"})


@complete
class ErrorAnswer(Schema):
    error = fields.Nested(ErrorDetail)


# -- answers: reports ------------------------------------------------------------------------------

@complete
class PeriodAnswer(Schema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")


@complete
class FunnelStep(Schema):
    stage = fields.Str(validate=validate.OneOf(STAGES))
    journeys = fields.Int(metadata={"description": "journeys that reached the stage"})
    conversion = rate_field(metadata={"description": "from the previous stage"})
    drop_off = rate_field()


@complete
class FunnelReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    journeys = fields.Int()
    overall_conversion = rate_field()
    steps = fields.List(fields.Nested(FunnelStep))


@complete
class DayEvents(Schema):
    day = fields.Date()
    events = fields.Dict(keys=fields.Str(validate=validate.OneOf(STAGES)), values=fields.Int())


@complete
class Flow(Schema):
    start = fields.Str(data_key="from", validate=validate.OneOf(STAGES))
    end = fields.Str(data_key="to", validate=validate.OneOf([*STAGES, "end"]),
                     metadata={"description": "`end`: the journey's last stage so far"})
    journeys = fields.Int()


def per_stage() -> fields.Dict:
    return fields.Dict(keys=fields.Str(validate=validate.OneOf(STAGES)), values=fields.Int(),
                       metadata={"description": "profiles whose latest journey is at the stage"})


@complete
class StagesReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    profiles_now = per_stage()
    events_by_day = fields.List(fields.Nested(DayEvents))
    flows = fields.List(fields.Nested(Flow), metadata={"description": "most journeys first"})


@complete
class Conversion(Schema):
    overall = rate_field()
    per_step = fields.Dict(keys=fields.Str(validate=validate.OneOf(STAGES)), values=rate_field())


@complete
class KpisReport(Schema):
    """docs/kpis.md gives each formula."""

    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    journeys = fields.Int()
    conversion = fields.Nested(Conversion)
    cart_abandonment = rate_field()
    checkout_abandonment = rate_field()
    payment_failure_rate = rate_field()
    orders = per_currency(fields.Int())
    revenue = per_currency(money_field())
    average_order_value = per_currency(money_field())
    repeat_purchase_rate = rate_field()
    customer_lifetime_value = per_currency(money_field())
    median_time_to_convert_seconds = fields.Int(allow_none=True)
    stage_distribution = per_stage()


@complete
class JourneyAnswer(Schema):
    index = fields.Int()
    opened_at = fields.DateTime()
    last_event_at = fields.DateTime()
    converted_at = fields.DateTime(allow_none=True)
    order_id = fields.Str(allow_none=True)
    status = fields.Str(validate=validate.OneOf(("open", "converted", "abandoned")))
    stage = fields.Str(validate=validate.OneOf(STAGES))
    path = fields.List(fields.Str(validate=validate.OneOf(STAGES)))


@complete
class ResourceAnswer(Schema):
    type = fields.Str()
    id = fields.Str()


@complete
class ProfileEvent(Schema):
    id = fields.Str()
    name = fields.Str()
    occurred_at = fields.DateTime()
    source = fields.Str()
    properties = fields.Dict(keys=fields.Str())
    resource = fields.Nested(ResourceAnswer, allow_none=True)


@complete
class ProfileReport(Schema):
    id = fields.Int()
    store = fields.Str()
    stage = fields.Str(allow_none=True, validate=validate.OneOf(STAGES))
    identities = fields.List(fields.Str(validate=validate.OneOf(IDENTITY_KINDS)), metadata={
        "description": "the kinds of identity known (never their values)"})
    journeys = fields.List(fields.Nested(JourneyAnswer), metadata={"description": "newest first"})
    events = fields.List(fields.Nested(ProfileEvent), metadata={
        "description": "newest first, the latest 200"})


# -- answers: intake, privacy, lifecycle -----------------------------------------------------------

@complete
class EventsAccepted(Schema):
    accepted = fields.Int()
    duplicate = fields.Bool(metadata={"description": "the same body was accepted before"})


@complete
class ExportProfile(Schema):
    id = fields.Int()
    created_at = fields.DateTime()
    stage = fields.Str(allow_none=True, validate=validate.OneOf(STAGES))
    last_event_at = fields.DateTime(allow_none=True)
    identities = fields.List(fields.Dict())
    events = fields.List(fields.Dict())
    journeys = fields.List(fields.Dict())
    resources = fields.List(fields.Dict())
    reviews = fields.List(fields.Dict())
    review_requests = fields.List(fields.Dict())


@complete
class ExportDocument(Schema):
    store = fields.Str()
    generated_at = fields.DateTime()
    subject = fields.Dict(metadata={"description": "pseudonymous: customer_id, email_hash, "
                                                   "order_ids"})
    profiles = fields.List(fields.Nested(ExportProfile))
    deliveries = fields.List(fields.Dict(), metadata={
        "description": "stored webhook deliveries that mention the customer"})


@complete
class PrivacyExport(Schema):
    id = fields.Int(metadata={"description": "the data request's id"})
    export = fields.Nested(ExportDocument)


@complete
class RedactionSummary(Schema):
    """How many records of each kind were deleted or scrubbed."""

    profiles = fields.Int()
    identities = fields.Int()
    events = fields.Int()
    resources = fields.Int()
    reviews = fields.Int()
    review_photos = fields.Int()
    review_requests = fields.Int()
    deliveries = fields.Int()
    exports = fields.Int()
    request = fields.Int(metadata={"description": "the id of the recorded redaction request"})


@complete
class UninstallAnswer(Schema):
    store = fields.Str()
    delete_after = fields.DateTime()
    notes = fields.List(fields.Str(), metadata={"description": "what the platform kept"})
