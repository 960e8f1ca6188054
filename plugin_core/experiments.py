"""Widget experiments: did shoppers who could see a widget convert more than its holdout?

Each widget with a holdout share splits shoppers into two arms by a stable hash (docs/widgets.md):
*exposed* shoppers may see the widget, *holdout* shoppers never do. Both arms report
`widget_shown`, so each arm counts the shoppers who reached the widget's place and, of them,
those who converted. This module turns those four counts into what the dashboard shows.
docs/experiments.md explains the figures for merchants.

Formulas (p = conversions / shoppers, q = 1 - p; e = exposed, h = holdout):
- absolute uplift d = p_e - p_h; relative uplift d / p_h.
- test: two-proportion z-test with the *pooled* standard error, the one that holds under the
  null hypothesis p_e = p_h: z = d / sqrt(p q (1/n_e + 1/n_h)) with p = (c_e + c_h) / (n_e + n_h);
  two-sided p-value = erfc(|z| / sqrt 2) (erfc keeps its precision far in the tail, where
  1 - Phi(|z|) would round to 0). It equals Pearson's chi-square test on the 2x2 table without
  continuity correction (R's `prop.test(correct = FALSE)`).
- interval: Wald interval with the *unpooled* standard error sqrt(p_e q_e / n_e + p_h q_h / n_h).
  An interval describes the difference where it is, not under a null hypothesis, so each arm
  keeps its own variance. It is clipped to [-1, 1]. Wald is known to be too narrow with few
  conversions or rates near 0 or 1 (it is [0, 0] when both arms convert nobody); the verdict
  waits for a minimum of conversions per arm, which keeps it where Wald is accurate.
  The test and the interval can disagree right at the boundary; the verdict follows the test.
- sample size: Fleiss' formula without continuity correction (Fleiss, Levin & Paik, *Statistical
  Methods for Rates and Proportions*; R's `power.prop.test`), generalised to unequal arms.
  With r = n_e / n_h = (1 - holdout share) / holdout share and p̄ = (p_h + r p_e) / (1 + r):
      n_h = [z_{1-a/2} sqrt(p̄ q̄ (1 + 1/r)) + z_{1-b} sqrt(p_h q_h + p_e q_e / r)]^2 / d^2
  and n_e = r n_h, each rounded up. With equal arms this is the textbook
      n = [z_{1-a/2} sqrt(2 p̄ q̄) + z_{1-b} sqrt(p_h q_h + p_e q_e)]^2 / d^2.

Why a fixed horizon. A p-value is only a p-value when the sample size was decided before looking.
A dashboard is looked at every day; if it announced "significant" the first time p dipped under
0.05, a widget with no effect at all would be declared a winner far more often than 5 % of the
time: about 19 % with ten looks (Armitage, McPherson & Rowe, 1969), about 28 % with thirty.
So the sample size per arm is planned up front (`Plan`: the baseline conversion known before the
experiment, the smallest uplift worth detecting, alpha 0.05, power 0.8), and until both arms
reach it, and have a minimum of conversions, the state is COLLECTING whatever the p-value says.
A sequential method (mSPRT, group sequential boundaries) would allow stopping early but is harder
to explain to a merchant and spends its error budget across looks; the fixed horizon is simple
and exact. Two duties fall on the caller: fix the plan when the experiment starts (a plan
recomputed from the running arms moves the horizon with the data), and judge the counts as they
stood when the horizon was reached (re-judging as more data come in is peeking again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from parcours.errors import ValidationError

__all__ = [
    "Analysis",
    "Arm",
    "Comparison",
    "Interval",
    "Plan",
    "SampleSize",
    "State",
    "analyze",
    "compare",
    "power",
    "sample_size",
]

_NORMAL = NormalDist()


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"invalid {field}", {field: [message]})


def _check_count(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, f"must be a whole number, got {value!r}")
    if value < 0:
        raise _invalid(field, f"cannot be negative, got {value}")
    return value


def _check_rate(field: str, value: object, *, low: float = 0.0, closed_low: bool = False,
                high: float = 1.0) -> float:
    """A real number strictly between `low` and `high` (or equal to `low` when closed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(field, f"must be a number, got {value!r}")
    above = value >= low if closed_low else value > low
    if not (above and value < high):  # also rejects NaN
        bracket = "[" if closed_low else "("
        raise _invalid(field, f"must be in {bracket}{low:g}, {high:g}), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment: shoppers who reached the widget's place, and how many converted."""

    shoppers: int
    conversions: int

    def __post_init__(self) -> None:
        _check_count("shoppers", self.shoppers)
        _check_count("conversions", self.conversions)
        if self.conversions > self.shoppers:
            raise _invalid("conversions", f"cannot exceed shoppers ({self.conversions} > "
                                          f"{self.shoppers}): converters are among the shoppers")

    @property
    def rate(self) -> float | None:
        """conversions / shoppers; None without shoppers ("no data" is not 0 %)."""
        return self.conversions / self.shoppers if self.shoppers else None


@dataclass(frozen=True)
class Interval:
    """A confidence interval of the difference exposed - holdout."""

    low: float
    high: float
    level: float  # 0.95 for a 95 % interval

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Comparison:
    """The statistics of two arms, with no plan: what the data say, not yet a verdict.

    Every figure is None when it cannot be computed (an arm without shoppers; the relative
    uplift when the holdout converts nobody).
    """

    exposed: Arm
    holdout: Arm
    difference: float | None  # absolute uplift: exposed rate - holdout rate
    relative_uplift: float | None  # difference / holdout rate
    interval: Interval | None  # Wald, unpooled standard error
    z: float | None  # pooled standard error; positive when exposed converts more
    p_value: float | None  # two-sided

    @property
    def exposed_rate(self) -> float | None:
        return self.exposed.rate

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout.rate


def compare(exposed: Arm, holdout: Arm, *, confidence: float = 0.95) -> Comparison:
    """Uplift, its confidence interval (unpooled Wald) and the two-sided pooled z-test."""
    confidence = _check_rate("confidence", confidence)
    p_e, p_h = exposed.rate, holdout.rate
    if p_e is None or p_h is None:
        return Comparison(exposed, holdout, None, None, None, None, None)
    difference = p_e - p_h
    relative = difference / p_h if p_h else None

    # 1/n rather than p/n keeps huge counts (beyond float range) from overflowing.
    inv_e, inv_h = 1 / exposed.shoppers, 1 / holdout.shoppers
    unpooled = math.sqrt(p_e * (1 - p_e) * inv_e + p_h * (1 - p_h) * inv_h)
    margin = _NORMAL.inv_cdf(0.5 + confidence / 2) * unpooled
    interval = Interval(max(-1.0, difference - margin), min(1.0, difference + margin), confidence)

    pooled_rate = ((exposed.conversions + holdout.conversions)
                   / (exposed.shoppers + holdout.shoppers))
    pooled = math.sqrt(pooled_rate * (1 - pooled_rate) * (inv_e + inv_h))
    if pooled == 0:
        # Both arms at 0 % or both at 100 %: the pooled rate is 0 or 1, so the rates are equal
        # and nothing separates the arms. (Only an underflow of 1/n could give a difference.)
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    else:
        z = difference / pooled
    p_value = min(1.0, math.erfc(abs(z) / math.sqrt(2)))
    return Comparison(exposed, holdout, difference, relative, interval, z, p_value)


@dataclass(frozen=True)
class Plan:
    """What an experiment must be able to detect, fixed when it starts.

    baseline_rate    the conversion expected without the widget (the store's, before the test)
    minimum_effect   the smallest absolute uplift worth detecting (0.02: two points)
    alpha            false-positive rate of the two-sided test
    power            chance of detecting an uplift of `minimum_effect` when there is one
    holdout_share    the widget's holdout setting: the share of shoppers in the holdout arm
    min_conversions  conversions each arm needs before a verdict (the normal approximation)
    """

    baseline_rate: float
    minimum_effect: float
    alpha: float = 0.05
    power: float = 0.8
    holdout_share: float = 0.5
    min_conversions: int = 10

    def __post_init__(self) -> None:
        _check_rate("baseline_rate", self.baseline_rate)
        effect = _check_rate("minimum_effect", self.minimum_effect)
        if self.baseline_rate + effect >= 1:
            raise _invalid("minimum_effect", f"baseline_rate + minimum_effect must stay below 1 "
                                             f"(got {self.baseline_rate!r} + {effect!r})")
        _check_rate("alpha", self.alpha)
        _check_rate("power", self.power, low=0.5, closed_low=True)
        _check_rate("holdout_share", self.holdout_share)
        _check_count("min_conversions", self.min_conversions)

    @classmethod
    def relative(cls, baseline_rate: float, relative_effect: float, *, alpha: float = 0.05,
                 power: float = 0.8, holdout_share: float = 0.5,
                 min_conversions: int = 10) -> Plan:
        """A plan from a relative uplift: `Plan.relative(0.03, 0.10)` detects 3 % -> 3.3 %."""
        _check_rate("baseline_rate", baseline_rate)
        if (isinstance(relative_effect, bool) or not isinstance(relative_effect, int | float)
                or not relative_effect > 0):
            raise _invalid("relative_effect", f"must be a positive number, got {relative_effect!r}")
        return cls(baseline_rate, baseline_rate * relative_effect, alpha=alpha, power=power,
                   holdout_share=holdout_share, min_conversions=min_conversions)

    @property
    def target_rate(self) -> float:
        """The exposed arm's conversion if the widget has exactly the minimum effect."""
        return self.baseline_rate + self.minimum_effect

    @property
    def ratio(self) -> float:
        """Exposed shoppers per holdout shopper."""
        return (1 - self.holdout_share) / self.holdout_share


@dataclass(frozen=True)
class SampleSize:
    """Shoppers needed in each arm."""

    exposed: int
    holdout: int

    @property
    def total(self) -> int:
        return self.exposed + self.holdout


def sample_size(plan: Plan) -> SampleSize:
    """Shoppers per arm for the two-sided test to detect `plan.minimum_effect` (Fleiss, no
    continuity correction, unequal arms; see the module docstring)."""
    p_h, p_e, r = plan.baseline_rate, plan.target_rate, plan.ratio
    mean = (p_h + r * p_e) / (1 + r)
    z_alpha = _NORMAL.inv_cdf(1 - plan.alpha / 2)
    z_beta = _NORMAL.inv_cdf(plan.power)
    root = (z_alpha * math.sqrt(mean * (1 - mean) * (1 + 1 / r))
            + z_beta * math.sqrt(p_h * (1 - p_h) + p_e * (1 - p_e) / r))
    holdout = root**2 / plan.minimum_effect**2
    return SampleSize(exposed=math.ceil(r * holdout), holdout=math.ceil(holdout))


def power(plan: Plan, *, exposed: int, holdout: int) -> float:
    """Chance that the two-sided test detects `plan.minimum_effect` with these arm sizes.

    The same approximation as `sample_size` (the far tail, a significant result in the wrong
    direction, is left out), so the sizes `sample_size(plan)` gives reach `plan.power`.
    """
    _check_count("exposed", exposed)
    _check_count("holdout", holdout)
    if not exposed or not holdout:
        return 0.0
    p_h, p_e = plan.baseline_rate, plan.target_rate
    inv_e, inv_h = 1 / exposed, 1 / holdout
    mean = (holdout * p_h + exposed * p_e) / (holdout + exposed)
    null_se = math.sqrt(mean * (1 - mean) * (inv_e + inv_h))
    true_se = math.sqrt(p_h * (1 - p_h) * inv_h + p_e * (1 - p_e) * inv_e)
    z_alpha = _NORMAL.inv_cdf(1 - plan.alpha / 2)
    return _NORMAL.cdf((plan.minimum_effect - z_alpha * null_se) / true_se)


class State(StrEnum):
    """Where an experiment stands.

    COLLECTING     below the planned sample in an arm, or too few conversions: no verdict yet,
                   whatever the p-value (this is the "not significant yet" of the dashboard)
    NO_DIFFERENCE  horizon reached, p-value >= alpha: no difference detected (an effect as large
                   as the plan's minimum would have been found with the plan's power)
    SIGNIFICANT    horizon reached, p-value < alpha: the sign of the difference says which way
    """

    COLLECTING = "collecting"
    NO_DIFFERENCE = "no_difference"
    SIGNIFICANT = "significant"


@dataclass(frozen=True)
class Analysis:
    """An experiment's figures and its fixed-horizon verdict."""

    comparison: Comparison
    plan: Plan
    required: SampleSize
    state: State

    @property
    def enough(self) -> bool:
        """Both arms have reached the planned sample size."""
        return (self.comparison.exposed.shoppers >= self.required.exposed
                and self.comparison.holdout.shoppers >= self.required.holdout)

    @property
    def remaining(self) -> SampleSize:
        """Shoppers each arm still needs (0 once reached)."""
        return SampleSize(
            exposed=max(0, self.required.exposed - self.comparison.exposed.shoppers),
            holdout=max(0, self.required.holdout - self.comparison.holdout.shoppers))

    @property
    def progress(self) -> float:
        """Share of the planned sample collected, in [0, 1], by the arm that lags most."""
        return min(min(arm.shoppers, need) / need for arm, need in (
            (self.comparison.exposed, self.required.exposed),
            (self.comparison.holdout, self.required.holdout)))


def analyze(exposed: Arm, holdout: Arm, plan: Plan) -> Analysis:
    """Statistics at the plan's confidence (1 - alpha) and the state under the fixed horizon."""
    comparison = compare(exposed, holdout, confidence=1 - plan.alpha)
    required = sample_size(plan)
    reached = exposed.shoppers >= required.exposed and holdout.shoppers >= required.holdout
    converted = min(exposed.conversions, holdout.conversions) >= plan.min_conversions
    if not (reached and converted) or comparison.p_value is None:
        state = State.COLLECTING
    elif comparison.p_value < plan.alpha:
        state = State.SIGNIFICANT
    else:
        state = State.NO_DIFFERENCE
    return Analysis(comparison, plan, required, state)
