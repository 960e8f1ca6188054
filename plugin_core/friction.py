"""Friction diagnosis: rules written as data read a store's funnel and facts, and name what
makes shoppers leave, the fix, and the numbers behind it. Pure: no I/O but reading a rules file.

A rule's condition is a small tree (docs/friction.md):

- `{"metric": "drop", "from": STEP, "to": STEP, "at_least"|"at_most": RATE, "min_sample": N}`:
  the share of journeys that reached `from` and not `to`, optionally on one `device`. It is
  compared through its Wilson confidence bound (the lower one for `at_least`), so a drop that
  is high by chance on few shoppers does not fire.
- `{"metric": "drop_gap", "from", "to", "device", "baseline", "min_gap", "min_ratio"?,
  "min_sample"}`: the same drop is higher on `device` than on `baseline`: the lower bound of
  the difference (Newcombe's hybrid score interval) is positive and at least `min_gap`, and the
  observed ratio at least `min_ratio`.
- `{"metric": "journeys", "step": STEP, "at_least": N}`: enough journeys reached the step.
- `{"fact": PATH, ...}` / `{"widget": PATH, ...}` with one of `equals`, `not_equals`, `empty`:
  a store fact or widget setting (dotted path). `if_missing` says what a missing one means.
- `{"all": [...]}` / `{"any": [...]}`.

Logic is three-valued: a leaf is unknown when its step is not tracked, its sample is below the
minimum, or its fact is missing (without `if_missing`). `all` is false if any part is false,
else unknown if any part is unknown; `any` is true if any part is true, else unknown if any is.
A rule fires only when its condition is true: what cannot be judged is said so (`assess`), never
guessed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal, Protocol

from parcours.errors import ValidationError
from parcours.events import EVENT_BITS
from parcours.friction_rules import DEFAULT_FRICTION_RULES_DATA
from parcours.friction_schema import (
    DEVICES,
    PLATFORMS,
    SERVER_STEPS,
    SEVERITIES,
    STEPS,
    AllOf,
    AnyOf,
    Condition,
    Drop,
    DropGap,
    Journeys,
    Setting,
    load_rules_data,
)
from parcours.metrics import rounded
from parcours.settings_files import read_settings_file

__all__ = ["DEFAULT_FRICTION_RULES", "DEVICES", "PLATFORMS", "STEPS", "Evidence", "Finding",
           "Fix", "FrictionRules", "Observation", "Source", "Verdict", "assess", "diagnose",
           "load_friction_rules", "step_counts", "wilson"]

State = bool | None


# -- evidence --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evidence:
    """What a diagnosis reads about one store over one period.

    `funnel`: step -> journeys that reached it (`step_counts`); a step absent is not tracked.
    `by_device`: the same counts per device, when the store knows devices.
    `facts`: the store facts (name -> JSON value, as `accounts.store_facts` returns them).
    `widgets`: the store's effective widget settings (defaults included, as the storefront
    config has them); a widget absent is unknown, not off.
    `platform`: the store's platform, for what a fix can do there.
    """

    funnel: Mapping[str, int]
    by_device: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    widgets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    platform: str | None = None

    def __post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        _check_counts(self.funnel, "funnel", errors)
        for device, counts in self.by_device.items():
            if device not in DEVICES:
                errors[f"by_device.{device}"] = [f"unknown device (one of {', '.join(DEVICES)})"]
            else:
                _check_counts(counts, f"by_device.{device}", errors)
        if self.platform is not None and self.platform not in PLATFORMS:
            errors["platform"] = [f"one of {', '.join(PLATFORMS)}"]
        if errors:
            raise ValidationError("invalid friction evidence", errors)

    def counts(self, device: str | None) -> Mapping[str, int]:
        return self.funnel if device is None else self.by_device.get(device, {})


def _check_counts(counts: Mapping[str, Any], where: str, errors: dict[str, list[str]]) -> None:
    for step, count in counts.items():
        if step not in STEPS:
            errors[f"{where}.{step}"] = [f"unknown step (one of {', '.join(STEPS)})"]
        elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
            errors[f"{where}.{step}"] = ["a count of journeys (a whole number, 0 or more)"]


class _Journeys(Protocol):
    """A journeys rollup line (`metrics.JourneyRow`): which events, how many journeys."""

    @property
    def events_mask(self) -> int: ...

    @property
    def journeys(self) -> int: ...


def step_counts(rows: Iterable[_Journeys]) -> dict[str, int]:
    """Journeys that reached each step, from journeys rollup lines (one device's, or all).

    Up to `paid`, a journey reached a step when it did the step's events or a later step's (a
    paid order went through checkout even where the storefront did not report it). After it,
    only paid journeys count: `reviewed` is a buyer's review of the journey's order (not a
    visitor's storefront review), and a reviewed order was `received` even when its delivery
    was never reported. A storefront step no journey reported itself is left out (not tracked:
    counting it from the later steps would blame it for their drop); a server step is always
    counted, zero included.
    """
    steps = list(STEPS)
    masks = {step: sum(EVENT_BITS[name] for name in STEPS[step]) for step in steps}
    buying = steps[:steps.index("paid") + 1]
    own = dict.fromkeys(steps, 0)
    reached = dict.fromkeys(steps, 0)
    for row in rows:
        did = {step: bool(row.events_mask & masks[step]) for step in steps}
        for step in steps:
            own[step] += row.journeys if did[step] else 0
        later = False
        for step in reversed(buying):
            later = later or did[step]
            reached[step] += row.journeys if later else 0
        if did["paid"]:
            reviewed = did["reviewed"]
            reached["reviewed"] += row.journeys if reviewed else 0
            reached["received"] += row.journeys if reviewed or did["received"] else 0
    return {step: reached[step] for step in steps if own[step] or step in SERVER_STEPS}



@dataclass(frozen=True)
class Observation:
    """One number or fact a rule looked at, for the dashboard to show.

    `held`: whether this part of the condition held (None: could not be judged, see `note`,
    or only shown for context).
    """

    kind: str  # drop, drop_gap, journeys, fact, widget
    subject: str  # "cart>checkout", "shipping>paid@mobile", "customer_accounts.login_..."
    held: State
    numbers: Mapping[str, Any]
    note: str | None = None  # not_tracked, too_few, inconsistent, missing, context

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "held": self.held,
                "note": self.note, **self.numbers}


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (good down to small samples and 0 or 1)."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _drop_counts(evidence: Evidence, start: str, end: str, device: str | None
                 ) -> tuple[int | None, int | None, str | None]:
    """(reached `start`, reached `end`, note when they cannot be compared)."""
    counts = evidence.counts(device)
    reached, went_on = counts.get(start), counts.get(end)
    if reached is None or went_on is None:
        return reached, went_on, "not_tracked"
    if went_on > reached:  # the earlier step is under-reported: its drop is unknowable
        return reached, went_on, "inconsistent"
    return reached, went_on, None


def _subject(start: str, end: str, device: str | None) -> str:
    return f"{start}>{end}" + (f"@{device}" if device else "")


def _drop(cond: Drop, evidence: Evidence, z: float) -> Observation:
    reached, went_on, note = _drop_counts(evidence, cond.start, cond.end, cond.device)
    numbers: dict[str, Any] = {"from": cond.start, "to": cond.end, "device": cond.device,
                               "reached": reached, "continued": went_on, "drop": None,
                               "low": None, "high": None, "at_least": cond.at_least,
                               "at_most": cond.at_most, "min_sample": cond.min_sample}
    if note is None and reached is not None and reached < max(cond.min_sample, 1):
        note = "too_few"
    if note is not None or reached is None or went_on is None:
        return Observation("drop", _subject(cond.start, cond.end, cond.device), None,
                           numbers, note)
    low, high = wilson(reached - went_on, reached, z)
    numbers.update(drop=rounded(1 - went_on / reached), low=rounded(low), high=rounded(high))
    held = (low >= cond.at_least) if cond.at_least is not None else (
        high <= cond.at_most if cond.at_most is not None else None)
    return Observation("drop", _subject(cond.start, cond.end, cond.device), held, numbers)


def _gap(cond: DropGap, evidence: Evidence, z: float) -> Observation:
    subject = f"{cond.start}>{cond.end}@{cond.device}-vs-{cond.baseline}"
    numbers: dict[str, Any] = {"from": cond.start, "to": cond.end, "device": cond.device,
                               "baseline": cond.baseline, "min_gap": cond.min_gap,
                               "min_ratio": cond.min_ratio, "min_sample": cond.min_sample}
    sides: dict[str, tuple[int, int]] = {}
    note = None
    for role, device in (("device", cond.device), ("baseline", cond.baseline)):
        reached, went_on, problem = _drop_counts(evidence, cond.start, cond.end, device)
        numbers[f"{role}_reached"], numbers[f"{role}_continued"] = reached, went_on
        if problem is None and reached is not None and reached < max(cond.min_sample, 1):
            problem = "too_few"
        if problem is not None or reached is None or went_on is None:
            note = note or problem
            continue
        sides[role] = (reached - went_on, reached)
        numbers[f"{role}_drop"] = rounded(1 - went_on / reached)
    if note is not None:
        return Observation("drop_gap", subject, None, numbers, note)
    (left_1, n_1), (left_2, n_2) = sides["device"], sides["baseline"]
    p_1, p_2 = left_1 / n_1, left_2 / n_2
    low_1, _ = wilson(left_1, n_1, z)
    _, high_2 = wilson(left_2, n_2, z)
    gap_low = (p_1 - p_2) - math.sqrt((p_1 - low_1) ** 2 + (high_2 - p_2) ** 2)  # Newcombe
    ratio = p_1 / p_2 if p_2 > 0 else None
    held = gap_low > 0 and gap_low >= cond.min_gap and (
        cond.min_ratio is None or (ratio is None and p_1 > 0)
        or (ratio is not None and ratio >= cond.min_ratio))
    numbers.update(gap=rounded(p_1 - p_2), gap_low=rounded(gap_low), ratio=rounded(ratio))
    return Observation("drop_gap", subject, held, numbers)


def _journeys(cond: Journeys, evidence: Evidence) -> Observation:
    count = evidence.counts(cond.device).get(cond.step)
    subject = cond.step + (f"@{cond.device}" if cond.device else "")
    numbers = {"step": cond.step, "device": cond.device, "journeys": count,
               "at_least": cond.at_least}
    if count is None:
        return Observation("journeys", subject, None, numbers, "not_tracked")
    if count < cond.at_least:
        return Observation("journeys", subject, None, numbers, "too_few")
    return Observation("journeys", subject, True, numbers)


_MISSING = object()


def _lookup(root: Mapping[str, Any], path: str) -> Any:
    value: Any = root
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def _setting(cond: Setting, evidence: Evidence) -> Observation:
    root = evidence.facts if cond.source == "fact" else evidence.widgets
    value = _lookup(root, cond.path)
    numbers = {"value": None if value is _MISSING else value, cond.op: cond.value}
    if value is _MISSING:
        return Observation(cond.source, cond.path, cond.if_missing, numbers, "missing")
    if cond.op == "empty":
        is_empty = value is None or (isinstance(value, list | dict | str) and not value)
        held = is_empty is cond.value
    else:
        held = _same(value, cond.value) is (cond.op == "equals")
    return Observation(cond.source, cond.path, held, numbers)


def _evaluate(cond: Condition, evidence: Evidence, z: float, seen: list[Observation]) -> State:
    """The condition's state; every leaf looked at is appended to `seen` (no short cut: the
    dashboard shows all the numbers a rule read)."""
    if isinstance(cond, AllOf | AnyOf):
        states = [_evaluate(part, evidence, z, seen) for part in cond.parts]
        decisive = isinstance(cond, AnyOf)  # any: a true part decides; all: a false one
        if decisive in states:
            return decisive
        return None if None in states else not decisive
    if isinstance(cond, Drop):
        observation = _drop(cond, evidence, z)
    elif isinstance(cond, DropGap):
        observation = _gap(cond, evidence, z)
    elif isinstance(cond, Journeys):
        observation = _journeys(cond, evidence)
    else:
        observation = _setting(cond, evidence)
    seen.append(observation)
    return observation.held


# -- rules -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    title: str
    figure: str
    url: str | None = None


@dataclass(frozen=True)
class Fix:
    """What to change. `one_click`: Parcours (or the store's adapter) can apply it from the
    dashboard; otherwise `where` names the setting the merchant changes (for Shopify, a page of
    its admin settings: customer_accounts, payments, shipping)."""

    kind: str  # widget, review_setting, store_setting
    target: str
    one_click: bool
    where: str | None
    text: Mapping[str, str]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    friction: Mapping[str, str]
    when: Condition
    show: tuple[Drop, ...]
    fix_kind: str
    fix_target: str
    one_click: bool | Mapping[str, bool | Condition]
    where: Mapping[str, str]
    fix_text: Mapping[str, str]
    sources: tuple[Source, ...]

    def fix_for(self, evidence: Evidence, z: float) -> Fix:
        platform = evidence.platform
        if isinstance(self.one_click, bool):
            one_click = self.one_click
        else:
            rule = self.one_click.get(platform or "", False)
            one_click = rule if isinstance(rule, bool) else (
                _evaluate(rule, evidence, z, []) is True)
        return Fix(self.fix_kind, self.fix_target, one_click,
                   self.where.get(platform or ""), self.fix_text)


@dataclass(frozen=True)
class Finding:
    """A friction the store's numbers show, its fix, and the evidence for the dashboard."""

    rule: str
    severity: str
    friction: Mapping[str, str]  # en, fr
    fix: Fix
    evidence: tuple[Observation, ...]
    sources: tuple[Source, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity, "friction": dict(self.friction),
                "fix": {**asdict(self.fix), "text": dict(self.fix.text)},
                "evidence": [o.as_dict() for o in self.evidence],
                "sources": [asdict(s) for s in self.sources]}


@dataclass(frozen=True)
class Verdict:
    """One rule on one store: fires, silent, or unknown (not enough data to judge)."""

    rule: str
    state: Literal["fires", "silent", "unknown"]
    evidence: tuple[Observation, ...]


@dataclass(frozen=True)
class FrictionRules:
    rules: tuple[Rule, ...]
    confidence: float
    data: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> FrictionRules:
        """Validate rules given as data; ValidationError naming every bad key by its path
        (`rules.2.when.all.0.at_least`)."""
        loaded = load_rules_data(data)
        return cls(tuple(_rule(rule) for rule in loaded["rules"]), loaded["confidence"],
                   copy.deepcopy(dict(data)))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.data))


def load_friction_rules(path: Path) -> FrictionRules:
    """A store's own rules from a JSON or TOML file (`[[rules]]` tables), validated whole."""
    raw = read_settings_file(path, "friction rules")
    try:
        return FrictionRules.from_dict(raw)
    except ValidationError as exc:
        raise ValidationError(f"invalid friction rules in {path}", exc.errors) from None


def _rule(data: Mapping[str, Any]) -> Rule:
    fix = data["fix"]
    return Rule(data["id"], data["severity"], data["friction"], data["when"],
                tuple(Drop(s["start"], s["end"], s["device"], None, None, 1)
                      for s in data["show"]),
                fix["kind"], fix["target"], fix["one_click"], fix["where"], fix["text"],
                tuple(Source(**source) for source in data["sources"]))


DEFAULT_FRICTION_RULES = FrictionRules.from_dict(DEFAULT_FRICTION_RULES_DATA)


def assess(evidence: Evidence, rules: FrictionRules = DEFAULT_FRICTION_RULES) -> list[Verdict]:
    """Every rule's verdict on the evidence, in the rules' order."""
    z = _z(rules.confidence)
    verdicts = []
    for rule in rules.rules:
        seen: list[Observation] = []
        state = _evaluate(rule.when, evidence, z, seen)
        verdicts.append(Verdict(rule.id, "fires" if state else "unknown" if state is None
                                else "silent", tuple(seen)))
    return verdicts


def diagnose(evidence: Evidence, rules: FrictionRules = DEFAULT_FRICTION_RULES
             ) -> list[Finding]:
    """The frictions the evidence shows, most severe first (then in the rules' order)."""
    z = _z(rules.confidence)
    findings = []
    for rule, verdict in zip(rules.rules, assess(evidence, rules), strict=True):
        if verdict.state != "fires":
            continue
        shown = tuple(_context(_drop(cond, evidence, z)) for cond in rule.show)
        findings.append(Finding(rule.id, rule.severity, rule.friction,
                                rule.fix_for(evidence, z), verdict.evidence + shown,
                                rule.sources))
    return sorted(findings, key=lambda finding: SEVERITIES.index(finding.severity))


def _context(observation: Observation) -> Observation:
    """A drop shown for context: its numbers without thresholds, judging nothing."""
    numbers = {key: value for key, value in observation.numbers.items()
               if key not in ("at_least", "at_most", "min_sample")}
    return Observation(observation.kind, observation.subject, None, numbers,
                       observation.note or "context")
