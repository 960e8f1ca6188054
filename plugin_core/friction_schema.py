"""The friction rule language: its vocabulary (steps, devices, platforms, fixes), the condition
types, and the marshmallow schemas that admit a rules file. `parcours.friction` evaluates it;
docs/friction.md describes every key.

Errors keep their path, so a bad file is refused naming the field: `rules.2.when.all.0.at_least`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from marshmallow import fields as f

from parcours.errors import ValidationError

__all__ = ["DEVICES", "FIX_TARGETS", "PLATFORMS", "SERVER_STEPS", "SEVERITIES", "STEPS",
           "AllOf", "AnyOf", "Condition", "Drop", "DropGap", "Journeys", "Setting",
           "load_rules_data"]

# The funnel's steps in journey order and the events that mark each (any of them). A journey
# "reached" a step when it did one of its events or any later step's (a paid order went through
# checkout even when the storefront did not report it).
STEPS: dict[str, tuple[str, ...]] = {
    "product": ("product_viewed",),
    "cart": ("product_added_to_cart", "cart_updated"),
    "checkout": ("checkout_started", "checkout_updated"),
    "contact": ("checkout_contact_info_submitted",),
    "address": ("checkout_address_info_submitted",),
    "shipping": ("checkout_shipping_info_submitted",),
    "payment": ("payment_info_submitted",),
    "paid": ("order_paid",),
    "received": ("order_fulfilled", "order_delivered"),
    "reviewed": ("review_submitted",),
}
STEP_ORDER = {step: index for index, step in enumerate(STEPS)}
# Reported by the platform's server whenever they happen: zero journeys there is a real zero.
# The earlier steps come from the storefront (beacon, web pixel), which a store may not send.
SERVER_STEPS = ("paid", "received", "reviewed")
DEVICES = ("mobile", "desktop", "tablet")
PLATFORMS = ("shopify", "woocommerce", "custom")
SEVERITIES = ("high", "medium", "low")
# What a fix changes: a Parcours widget, a Parcours review setting, or the store's own setting
# on its platform (which only some adapters can change: `one_click`).
FIX_TARGETS: dict[str, tuple[str, ...]] = {
    "widget": ("shipping_estimate", "review_stars", "review_list", "express_pay",
               "guest_checkout"),
    "review_setting": ("enabled",),
    "store_setting": ("guest_checkout", "express_pay"),
}


@dataclass(frozen=True)
class Drop:
    start: str
    end: str
    device: str | None
    at_least: float | None
    at_most: float | None
    min_sample: int


@dataclass(frozen=True)
class DropGap:
    start: str
    end: str
    device: str
    baseline: str
    min_gap: float
    min_ratio: float | None
    min_sample: int


@dataclass(frozen=True)
class Journeys:
    step: str
    device: str | None
    at_least: int


@dataclass(frozen=True)
class Setting:
    source: str  # fact, widget
    path: str
    op: str  # equals, not_equals, empty
    value: Any
    if_missing: bool | None


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


Condition = Drop | DropGap | Journeys | Setting | AllOf | AnyOf


def _flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, list | tuple):
        return {prefix or "_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in dict(messages).items():
        flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


class _Number(f.Float):
    """A JSON number: "0.5" and true are refused (marshmallow's Float would take the string)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return float(super()._deserialize(value, attr, data, **kwargs))


def _bool() -> f.Boolean:
    return f.Boolean(truthy={True}, falsy={False})


_RATE = validate.Range(0, 1)
_STEP = validate.OneOf(list(STEPS))
_DEVICE = validate.OneOf(DEVICES)
_PATH = validate.Regexp(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
                        error="a dotted path such as customer_accounts.login_required")


def _ordered(data: Mapping[str, Any]) -> None:
    if STEP_ORDER[data["start"]] >= STEP_ORDER[data["end"]]:
        raise SchemaError("must be a later step than `from`", "to")


class _DropSchema(Schema):
    metric = f.Str(required=True, validate=validate.Equal("drop"))
    start = f.Str(required=True, data_key="from", validate=_STEP)
    end = f.Str(required=True, data_key="to", validate=_STEP)
    device = f.Str(validate=_DEVICE, load_default=None)
    at_least = _Number(validate=_RATE, load_default=None)
    at_most = _Number(validate=_RATE, load_default=None)
    min_sample = f.Int(strict=True, required=True, validate=validate.Range(1, 10**9))

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _ordered(data)
        if (data["at_least"] is None) == (data["at_most"] is None):
            raise SchemaError("give exactly one of at_least and at_most", "at_least")


class _ShowSchema(Schema):
    """A drop shown with a finding for context: no threshold."""

    metric = f.Str(required=True, validate=validate.Equal("drop"))
    start = f.Str(required=True, data_key="from", validate=_STEP)
    end = f.Str(required=True, data_key="to", validate=_STEP)
    device = f.Str(validate=_DEVICE, load_default=None)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _ordered(data)


class _GapSchema(Schema):
    metric = f.Str(required=True, validate=validate.Equal("drop_gap"))
    start = f.Str(required=True, data_key="from", validate=_STEP)
    end = f.Str(required=True, data_key="to", validate=_STEP)
    device = f.Str(required=True, validate=_DEVICE)
    baseline = f.Str(required=True, validate=_DEVICE)
    min_gap = _Number(required=True, validate=_RATE)
    min_ratio = _Number(validate=validate.Range(1, 100), load_default=None)
    min_sample = f.Int(strict=True, required=True, validate=validate.Range(1, 10**9))

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        _ordered(data)
        if data["device"] == data["baseline"]:
            raise SchemaError("must differ from device", "baseline")


class _JourneysSchema(Schema):
    metric = f.Str(required=True, validate=validate.Equal("journeys"))
    step = f.Str(required=True, validate=_STEP)
    device = f.Str(validate=_DEVICE, load_default=None)
    at_least = f.Int(strict=True, required=True, validate=validate.Range(1, 10**9))


class _SettingSchema(Schema):
    fact = f.Str(validate=_PATH)
    widget = f.Str(validate=_PATH)
    equals = f.Raw(allow_none=True)
    not_equals = f.Raw(allow_none=True)
    empty = _bool()
    if_missing = _bool()

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        ops = [op for op in ("equals", "not_equals", "empty") if op in data]
        if len(ops) != 1:
            raise SchemaError("give exactly one of equals, not_equals, empty", "_schema")
        widget = data.get("widget")
        if widget is not None and widget.split(".")[0] not in FIX_TARGETS["widget"]:
            raise SchemaError(f"unknown widget (one of {', '.join(FIX_TARGETS['widget'])})",
                              "widget")


_METRICS: dict[str, type[Schema]] = {"drop": _DropSchema, "drop_gap": _GapSchema,
                                     "journeys": _JourneysSchema}
_KINDS = ("metric", "fact", "widget", "all", "any")


class _ConditionField(f.Field[Condition]):
    """A condition tree; errors keep their path (`all.1.at_least`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any
                     ) -> Condition:
        if not isinstance(value, Mapping):
            raise SchemaError("a condition (an object)")
        kinds = [kind for kind in _KINDS if kind in value]
        if len(kinds) != 1:
            raise SchemaError(f"give exactly one of {', '.join(_KINDS)}")
        kind = kinds[0]
        if kind in ("all", "any"):
            return self._combined(kind, value)
        if kind == "metric":
            schema = _METRICS.get(value["metric"]) if isinstance(value["metric"], str) else None
            if schema is None:
                raise SchemaError({"metric": [f"one of {', '.join(_METRICS)}"]})
            loaded = schema().load(dict(value))
            loaded.pop("metric")
            if schema is _DropSchema:
                return Drop(**loaded)
            return DropGap(**loaded) if schema is _GapSchema else Journeys(**loaded)
        if "fact" in value and "widget" in value:
            raise SchemaError("give exactly one of fact, widget")
        loaded = _SettingSchema().load(dict(value))
        op = next(op for op in ("equals", "not_equals", "empty") if op in loaded)
        return Setting(kind, loaded[kind], op, loaded[op], loaded.get("if_missing"))

    def _combined(self, kind: str, value: Mapping[str, Any]) -> Condition:
        extra = sorted(set(value) - {kind})
        if extra:
            raise SchemaError({key: ["Unknown field."] for key in extra})
        parts = value[kind]
        if not isinstance(parts, list) or not parts:
            raise SchemaError({kind: ["a non-empty list of conditions"]})
        loaded: list[Condition] = []
        errors: dict[int, Any] = {}
        for index, part in enumerate(parts):
            try:
                loaded.append(self._deserialize(part, None, None))
            except SchemaError as exc:
                errors[index] = exc.messages
        if errors:
            raise SchemaError({kind: errors})
        return AllOf(tuple(loaded)) if kind == "all" else AnyOf(tuple(loaded))


class _OneClickField(f.Field[bool | dict[str, bool | Condition]]):
    """true/false everywhere, or per platform: true/false or a condition on the evidence."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any
                     ) -> bool | dict[str, bool | Condition]:
        if isinstance(value, bool):
            return value
        if not isinstance(value, Mapping):
            raise SchemaError("true, false, or an object per platform")
        result: dict[str, bool | Condition] = {}
        errors: dict[str, Any] = {}
        for platform, rule in value.items():
            if platform not in PLATFORMS:
                errors[str(platform)] = [f"unknown platform (one of {', '.join(PLATFORMS)})"]
            elif isinstance(rule, bool):
                result[platform] = rule
            else:
                try:
                    result[platform] = _ConditionField()._deserialize(rule, None, None)
                except SchemaError as exc:
                    errors[platform] = exc.messages
        if errors:
            raise SchemaError(errors)
        return result


class _TextSchema(Schema):
    en = f.Str(required=True, validate=validate.Length(1, 500))
    fr = f.Str(required=True, validate=validate.Length(1, 500))


class _SourceSchema(Schema):
    title = f.Str(required=True, validate=validate.Length(1, 200))
    figure = f.Str(required=True, validate=validate.Length(1, 500))
    url = f.Url(schemes={"https"}, load_default=None)


class _FixSchema(Schema):
    kind = f.Str(required=True, validate=validate.OneOf(list(FIX_TARGETS)))
    target = f.Str(required=True)
    one_click = _OneClickField(required=True)
    where = f.Dict(keys=f.Str(validate=validate.OneOf(PLATFORMS)),
                   values=f.Str(validate=validate.Length(1, 200)), load_default=dict)
    text = f.Nested(_TextSchema, required=True)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        targets = FIX_TARGETS.get(data.get("kind", ""), ())
        if targets and data.get("target") not in targets:
            raise SchemaError(f"one of {', '.join(targets)} for a {data['kind']} fix", "target")


class _RuleSchema(Schema):
    id = f.Str(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9_]{0,63}$", error="lower-case letters, digits and _ (at most 64)"))
    severity = f.Str(required=True, validate=validate.OneOf(SEVERITIES))
    friction = f.Nested(_TextSchema, required=True)
    when = _ConditionField(required=True)
    show = f.List(f.Nested(_ShowSchema), load_default=list)
    fix = f.Nested(_FixSchema, required=True)
    sources = f.List(f.Nested(_SourceSchema), required=True, validate=validate.Length(min=1))


class _RulesSchema(Schema):
    confidence = _Number(validate=validate.Range(0.5, 0.999), load_default=0.95)
    rules = f.List(f.Nested(_RuleSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique(self, data: dict[str, Any], **_: Any) -> None:
        seen: set[str] = set()
        for index, rule in enumerate(data.get("rules", [])):
            if rule["id"] in seen:
                raise SchemaError({"rules": {index: {"id": ["duplicate rule id"]}}})
            seen.add(rule["id"])


def load_rules_data(data: Any) -> dict[str, Any]:
    """`{"confidence": float, "rules": [dict with conditions loaded]}`, or ValidationError."""
    if not isinstance(data, Mapping):
        raise ValidationError("invalid friction rules", {"_schema": ["an object"]})
    try:
        return dict(_RulesSchema().load(dict(data)))
    except SchemaError as exc:
        raise ValidationError("invalid friction rules", _flat(exc.messages)) from None
