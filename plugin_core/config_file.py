"""Configuration as code: an agency's YAML file of store settings, read with the line of every
key and checked whole before any store is touched.

    version: 1
    defaults: SECTION          # every store the command selects
    tags: {TAG: SECTION}       # the stores with that tag
    stores: {STORE: SECTION}   # one store

A SECTION holds any of `widgets` (per widget: enabled, pages, per_page), `experiments` (per
widget: holdout, salt), `storefront` (lang, consent_required), `reviews` (the review settings of
docs/reviews.md) and `platform` (settings Parcours changes on the platform: guest_checkout,
express_pay; a custom shop's currency, storefront, shipping_zones, wallets). A store's wanted
configuration is defaults, then its tags' sections, then its own, each deeper one overriding
the keys it names; keys no level names are left as the store has them. docs/config.md.

Every error names the file, the line and the key path, and all of them are reported at once.
What needs the database (do the stores and tags exist, does the platform allow a setting) is
checked by config_apply before anything changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError

from parcours.accounts import STORE_KEY, TAG
from parcours.errors import ValidationError
from parcours.review_timing import ReviewSettings
from parcours.widgets.config import DEFAULT_WIDGETS, LANGUAGES
from parcours.widgets.settings import PAGE_TYPES, PLATFORM_KEYS, check_settings

__all__ = ["SECTIONS", "ConfigFile", "Where", "load_config", "merge", "widget_settings"]

SECTIONS = ("widgets", "experiments", "storefront", "reviews", "platform")
# The fixes the adapter contract's `apply_fix` knows: Parcours only ever turns them on.
PLATFORM_FIXES = ("guest_checkout", "express_pay")

Path_ = tuple[str | int, ...]


class _WidgetEntry(Schema):
    enabled = fields.Bool()
    pages = fields.List(fields.Str(validate=validate.OneOf(PAGE_TYPES)),
                        validate=validate.Length(min=1))
    per_page = fields.Int(validate=validate.Range(1, 20))


class _Experiment(Schema):
    holdout = fields.Float(validate=validate.Range(0, 1))
    salt = fields.Str(validate=validate.Length(1, 64))


class _Storefront(Schema):
    lang = fields.Str(validate=validate.OneOf(LANGUAGES), allow_none=True)
    consent_required = fields.Bool()


class _Platform(Schema):
    guest_checkout = fields.Bool()
    express_pay = fields.Bool()
    currency = fields.Raw()  # the custom shop's facts: checked by widgets.settings
    storefront = fields.Raw()
    shipping_zones = fields.Raw()
    wallets = fields.Raw()


def _widget_dict(values: type[Schema]) -> fields.Dict:
    return fields.Dict(keys=fields.Str(validate=validate.OneOf(list(DEFAULT_WIDGETS))),
                       values=fields.Nested(values))


class _Section(Schema):
    widgets = _widget_dict(_WidgetEntry)
    experiments = _widget_dict(_Experiment)
    storefront = fields.Nested(_Storefront)
    reviews = fields.Dict(keys=fields.Str())  # checked by ReviewSettings
    platform = fields.Nested(_Platform)


class _File(Schema):
    version = fields.Int(required=True, strict=True,
                         validate=validate.Equal(1, error="this Parcours reads version 1"))
    defaults = fields.Nested(_Section)
    tags = fields.Dict(keys=fields.Str(validate=validate.Regexp(
        TAG, error="a tag: lower-case letters, digits, '-' and '_'")),
        values=fields.Nested(_Section))
    stores = fields.Dict(keys=fields.Str(validate=validate.Regexp(
        STORE_KEY, error="a store key: lower-case letters, digits and '-'")),
        values=fields.Nested(_Section))


@dataclass(frozen=True)
class Where:
    """Where a level of the file is: `("defaults",)`, `("tags", "eu")` or `("stores", "a")`."""

    path: tuple[str, ...]

    @property
    def label(self) -> str:
        return "defaults" if len(self.path) == 1 else f"{self.path[0][:-1]} {self.path[1]}"


@dataclass(frozen=True)
class ConfigFile:
    """A checked configuration file: its levels and the line of every key in it."""

    path: Path
    defaults: dict[str, Any]
    tags: dict[str, dict[str, Any]]
    stores: dict[str, dict[str, Any]]
    lines: Mapping[Path_, int]

    def line(self, at: Path_) -> int:
        """The line of `at`, or of its nearest ancestor written in the file."""
        while at and at not in self.lines:
            at = at[:-1]
        return self.lines.get(at, 1)

    def error(self, problems: Mapping[Path_, list[str]], message: str | None = None
              ) -> ValidationError:
        """A ValidationError naming, for each problem, its key path and its line."""
        return ValidationError(message or f"invalid configuration in {self.path}", {
            f"{_dotted(at)} (line {self.line(at)})": messages
            for at, messages in sorted(problems.items(), key=lambda item: self.line(item[0]))})

    def levels(self, store: str, tags: Iterable[str]) -> list[tuple[Where, dict[str, Any]]]:
        """The levels that apply to `store` with `tags`, from the weakest to the strongest."""
        found = [(Where(("defaults",)), self.defaults)] if self.defaults else []
        wanted = set(tags)
        found += [(Where(("tags", tag)), section) for tag, section in self.tags.items()
                  if tag in wanted]
        if store in self.stores:
            found.append((Where(("stores", store)), self.stores[store]))
        return found


def _dotted(at: Path_) -> str:
    return ".".join(f"[{part}]" if isinstance(part, int) else part for part in at) or "(file)"


# -- reading: YAML with lines --------------------------------------------------------------------

def _build(node: yaml.Node, at: Path_, lines: dict[Path_, int],
           problems: dict[Path_, list[str]]) -> Any:
    lines.setdefault(at, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                problems[at] = ["keys are plain names (no merge keys or nested keys)"]
                continue
            key = str(key_node.value)
            if key in out:  # PyYAML keeps the last silently: a copy-paste slip must be seen
                lines[(*at, key)] = key_node.start_mark.line + 1
                problems[(*at, key)] = ["written twice"]
                continue
            lines[(*at, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*at, key), lines, problems)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*at, index), lines, problems)
                for index, item in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node)


def _read(path: Path) -> tuple[Any, dict[Path_, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read {path}", {"file": [str(exc)]}) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        raise ValidationError(f"{path} is not valid YAML", {
            where: [str(getattr(exc, "problem", None) or exc)]}) from None
    lines: dict[Path_, int] = {}
    problems: dict[Path_, list[str]] = {}
    data = {} if node is None else _build(node, (), lines, problems)
    if problems:
        raise ConfigFile(path, {}, {}, {}, lines).error(problems)
    return data, lines


# -- checking ------------------------------------------------------------------------------------

def _flatten(errors: Any, at: Path_, out: dict[Path_, list[str]]) -> None:
    """marshmallow's nested messages as key path -> messages (a Dict field's `key`/`value`
    levels folded into the key they are about)."""
    if isinstance(errors, Mapping):
        if set(errors) <= {"key", "value"} and at:
            if "key" in errors:
                out[at] = [str(m) for m in errors["key"]]
            if "value" in errors:
                _flatten(errors["value"], at, out)
            return
        for key, value in errors.items():
            _flatten(value, at if key == "_schema" else (*at, key), out)
    elif isinstance(errors, list | tuple) and errors and all(isinstance(m, str) for m in errors):
        out.setdefault(at, []).extend(errors)
    elif isinstance(errors, list | tuple):
        for index, value in enumerate(errors):
            _flatten(value, (*at, index), out)
    else:
        out.setdefault(at, []).append(str(errors))


def widget_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    """A section's widgets, experiments, storefront and a custom shop's platform facts as the
    widget settings document of `parcours widgets set` (widgets.settings)."""
    widgets: dict[str, dict[str, Any]] = {}
    for part in ("widgets", "experiments"):
        for name, values in (section.get(part) or {}).items():
            widgets.setdefault(name, {}).update(values)
    settings: dict[str, Any] = {"widgets": widgets} if widgets else {}
    storefront = section.get("storefront") or {}
    if "lang" in storefront:
        settings["lang"] = storefront["lang"]
    if "consent_required" in storefront:
        settings["consent_required"] = storefront["consent_required"]
    platform = section.get("platform") or {}
    settings.update({key: platform[key] for key in PLATFORM_KEYS if key in platform})
    return settings


def _settings_path(at: Path_) -> Path_:
    """Where in a section a widget-settings error path (widgets.settings' keys) was written."""
    if at[:1] == ("widgets",) and len(at) >= 3:
        part = "experiments" if at[2] in _Experiment().fields else "widgets"
        return (part, *at[1:])
    if at[:1] in (("lang",), ("consent_required",)):
        return ("storefront", *at)
    return ("platform", *at)


def section_problems(section: Mapping[str, Any], at: Path_) -> dict[Path_, list[str]]:
    """What is wrong with one level's section beyond its shape: the widget settings and the
    review settings, checked by the same code as `parcours widgets set` and `reviews settings`.
    """
    problems: dict[Path_, list[str]] = {}
    settings = widget_settings(section)
    if settings:
        try:
            check_settings(settings)
        except ValidationError as exc:
            found: dict[Path_, list[str]] = {}
            _flatten(exc.errors, (), found)
            for where, messages in found.items():
                problems[at + _settings_path(where)] = messages
    if "reviews" in section:
        try:
            ReviewSettings.from_dict(section["reviews"])
        except ValidationError as exc:
            for key, messages in exc.errors.items():
                problems[(*at, "reviews", *key.split("."))] = list(messages)
    return problems


def load_config(path: Path) -> ConfigFile:
    """The configuration in `path`, checked whole; ValidationError naming the file and, for
    every problem, its line and key path."""
    data, lines = _read(path)
    if not isinstance(data, dict):
        raise ConfigFile(path, {}, {}, {}, lines).error({(): ["a mapping with `version: 1`"]})
    problems: dict[Path_, list[str]] = {}
    try:
        loaded = _File().load(data)
    except SchemaError as exc:
        _flatten(exc.normalized_messages(), (), problems)
        loaded = {}
    config = ConfigFile(path, loaded.get("defaults") or {}, loaded.get("tags") or {},
                        loaded.get("stores") or {}, lines)
    if not problems:
        levels: list[tuple[Path_, dict[str, Any]]] = [(("defaults",), config.defaults)]
        levels += [(("tags", tag), section) for tag, section in config.tags.items()]
        levels += [(("stores", key), section) for key, section in config.stores.items()]
        for at, section in levels:
            problems.update(section_problems(section, at))
    if problems:
        raise config.error(problems)
    return config


def merge(levels: Iterable[tuple[Where, Mapping[str, Any]]]
          ) -> tuple[dict[str, Any], dict[Path_, Where]]:
    """The levels merged, the later overriding the earlier key by key (a list is one value);
    also where each leaf came from. Two tags setting one key differently is an error: neither
    is stronger, so the file must say it on the store."""
    merged: dict[str, Any] = {}
    origin: dict[Path_, Where] = {}
    conflicts: list[str] = []

    def put(target: dict[str, Any], source: Mapping[str, Any], at: Path_, where: Where) -> None:
        for key, value in source.items():
            if isinstance(value, Mapping):
                put(target.setdefault(key, {}), value, (*at, key), where)
                continue
            before = origin.get((*at, key))
            if (before is not None and before.path[0] == where.path[0] == "tags"
                    and target.get(key) != value):
                conflicts.append(f"{_dotted((*at, key))}: {before.label} and {where.label} "
                                 "differ (set it under the store)")
            target[key] = value
            origin[(*at, key)] = where

    for where, section in levels:
        put(merged, section, (), where)
    if conflicts:
        raise ValidationError("tags disagree", {"tags": conflicts})
    return merged, origin
