"""The JSON API's schemas for insights (insights.py): step funnel, segments, stage times,
experiments, friction and the shoppers who dropped. As in api_schemas.py, answers are closed and
`@complete`; the friction evidence is the one open object (each kind of observation carries its
own numbers, docs/friction.md)."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from parcours.api_schemas import STAGES, PageQuery, PeriodAnswer, PeriodQuery, complete, rate_field
from parcours.experiments import State
from parcours.friction_schema import STEPS

STEP_NAMES = [*STEPS, "repeat"]
_DIMENSION = fields.Str(validate=validate.OneOf(("returning", "device", "channel", "country")))


@complete
class StepAnswer(Schema):
    step = fields.Str(validate=validate.OneOf(STEP_NAMES))
    journeys = fields.Int()
    conversion = rate_field(metadata={"description": "from the previous tracked step (repeat: "
                                                     "from paid)"})
    drop_off = rate_field()


@complete
class SegmentAnswer(Schema):
    dimension = _DIMENSION
    value = fields.Str()


@complete
class StepFunnelReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    segment = fields.Nested(SegmentAnswer, allow_none=True)
    journeys = fields.Int()
    steps = fields.List(fields.Nested(StepAnswer), metadata={
        "description": "tracked steps only: a storefront step no journey reported is absent"})


@complete
class SegmentValue(Schema):
    value = fields.Str(metadata={"description": "`unknown` gathers journeys that do not know it"})
    journeys = fields.Int()
    conversion = rate_field()
    steps = fields.List(fields.Nested(StepAnswer))


@complete
class SegmentsReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    dimension = _DIMENSION
    values = fields.List(fields.Nested(SegmentValue), metadata={
        "description": "most journeys first"})


@complete
class StageTime(Schema):
    stage = fields.Str(validate=validate.OneOf(STAGES))
    journeys = fields.Int(metadata={"description": "journeys that went on to another stage"})
    median_seconds = fields.Int(allow_none=True)


@complete
class StageTimesReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    stages = fields.List(fields.Nested(StageTime))


@complete
class ArmAnswer(Schema):
    shoppers = fields.Int()
    conversions = fields.Int()
    conversion = rate_field()


@complete
class IntervalAnswer(Schema):
    low = fields.Float()
    high = fields.Float()
    level = fields.Float()


@complete
class UpliftAnswer(Schema):
    absolute = fields.Float(allow_none=True)
    relative = fields.Float(allow_none=True)
    interval = fields.Nested(IntervalAnswer, allow_none=True)


@complete
class SampleAnswer(Schema):
    exposed = fields.Int()
    holdout = fields.Int()


@complete
class PlanAnswer(Schema):
    baseline = rate_field()
    minimum_effect = fields.Float()
    alpha = fields.Float()
    power = fields.Float()
    required = fields.Nested(SampleAnswer)
    progress = rate_field()


@complete
class ExperimentAnswer(Schema):
    widget = fields.Str()
    experiment = fields.Str(metadata={"description": "the widget's salt when it started"})
    running = fields.Bool()
    holdout_share = rate_field()
    exposed = fields.Nested(ArmAnswer)
    holdout = fields.Nested(ArmAnswer)
    state = fields.Str(validate=validate.OneOf(["planning", *(s.value for s in State)]),
                       metadata={"description": "docs/experiments.md, States"})
    plan = fields.Nested(PlanAnswer, allow_none=True)
    pilot_shoppers_needed = fields.Int(metadata={"optional": True,
                                                 "description": "while planning"})
    uplift = fields.Nested(UpliftAnswer)
    p_value = fields.Float(allow_none=True)


@complete
class ExperimentsReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    experiments = fields.List(fields.Nested(ExperimentAnswer))


class ObservationAnswer(Schema):
    """One number or setting a rule read; its numbers depend on its kind (docs/friction.md)."""

    class Meta:
        unknown = INCLUDE

    kind = fields.Str(required=True)
    subject = fields.Str(required=True)
    held = fields.Bool(allow_none=True, required=True)
    note = fields.Str(allow_none=True, required=True)


@complete
class FixAnswer(Schema):
    kind = fields.Str()
    target = fields.Str()
    one_click = fields.Bool(metadata={"description": "the dashboard can apply it"})
    where = fields.Str(allow_none=True)
    text = fields.Dict(keys=fields.Str(), values=fields.Str())


@complete
class SourceAnswer(Schema):
    title = fields.Str()
    figure = fields.Str()
    url = fields.Str(allow_none=True)


@complete
class FindingAnswer(Schema):
    rule = fields.Str()
    severity = fields.Str(validate=validate.OneOf(("high", "medium", "low")))
    friction = fields.Dict(keys=fields.Str(), values=fields.Str())
    fix = fields.Nested(FixAnswer)
    evidence = fields.List(fields.Nested(ObservationAnswer))
    sources = fields.List(fields.Nested(SourceAnswer))


@complete
class UnknownVerdict(Schema):
    rule = fields.Str()
    evidence = fields.List(fields.Nested(ObservationAnswer))


@complete
class FrictionReport(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    funnel = fields.Dict(keys=fields.Str(validate=validate.OneOf(list(STEPS))),
                         values=fields.Int())
    findings = fields.List(fields.Nested(FindingAnswer), metadata={
        "description": "most severe first"})
    # `unknown` is marshmallow's own option on a Schema: the field is named apart.
    cannot_judge = fields.List(fields.Nested(UnknownVerdict), data_key="unknown", metadata={
        "description": "rules that cannot judge yet, with what they lack"})


class DroppedQuery(PeriodQuery, PageQuery):
    step = fields.Str(required=True, validate=validate.OneOf(list(STEPS)[:-1]), metadata={
        "description": "the step they reached and went no further than"})
    idle_hours = fields.Int(load_default=24, validate=validate.Range(1, 24 * 90), metadata={
        "description": "hours without activity before a shopper counts as dropped"})


@complete
class DroppedItem(Schema):
    profile_id = fields.Int(metadata={"description": "its timeline: GET .../profiles/{id}"})
    journey = fields.Int()
    opened_at = fields.DateTime()
    last_event_at = fields.DateTime()
    stage = fields.Str(validate=validate.OneOf(STAGES))
    device = fields.Str()
    channel = fields.Str()
    country = fields.Str()


@complete
class DroppedPage(Schema):
    store = fields.Str()
    period = fields.Nested(PeriodAnswer)
    step = fields.Str()
    items = fields.List(fields.Nested(DroppedItem))
    next_cursor = fields.Str(allow_none=True)
