"""Experiment statistics against hand-computed and published figures, then properties.

Every expected figure is worked out in the comments, by hand or from a published source, never
with the code under test. Constants used by hand:
  z_0.975 = 1.959964 (two-sided 5 %), z_0.8 = 0.841621 (power 80 %), z_0.9 = 1.281552.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.errors import ValidationError
from parcours.experiments import (
    Arm,
    Plan,
    SampleSize,
    State,
    analyze,
    compare,
    power,
    sample_size,
)

# --- the z-test, a known result ----------------------------------------------------------------


def test_z_test_200_of_1000_against_250_of_1000() -> None:
    # Exposed 200/1000 = 0.20, holdout 250/1000 = 0.25: the widget looks harmful.
    # Pooled rate p = 450/2000 = 0.225; p q = 0.225 * 0.775 = 0.174375.
    # SE = sqrt(0.174375 * (1/1000 + 1/1000)) = sqrt(0.00034875) = 0.0186748.
    # z = (0.20 - 0.25) / 0.0186748 = -2.67740.
    # Independent check, Pearson's chi-square on the 2x2 table (equal to z^2 for two groups):
    #   observed [[200, 800], [250, 750]], expected [[225, 775], [225, 775]],
    #   chi2 = 2 * 25^2/225 + 2 * 25^2/775 = 5.55556 + 1.61290 = 7.16846, sqrt = 2.67740.
    # Two-sided p: normal table Phi(2.68) = 0.99632 -> 2 * 0.00368 = 0.00736 at z = 2.68;
    # at 2.6774 it is 0.00742 (R: prop.test(c(200, 250), c(1000, 1000), correct = FALSE)
    # prints X-squared = 7.1685, p-value = 0.00742).
    result = compare(Arm(shoppers=1000, conversions=200), Arm(shoppers=1000, conversions=250))
    assert result.exposed_rate == 0.2 and result.holdout_rate == 0.25
    assert result.z == pytest.approx(-2.67740, abs=1e-5)
    assert result.z**2 == pytest.approx(7.16846, abs=1e-5)
    assert result.p_value == pytest.approx(0.00742, abs=1e-5)
    assert result.difference == pytest.approx(-0.05)
    # Relative uplift: -0.05 / 0.25 = -0.20.
    assert result.relative_uplift == pytest.approx(-0.20)


def test_wald_interval_of_the_difference() -> None:
    # Exposed 250/1000, holdout 200/1000: d = +0.05, relative +0.05/0.20 = +25 %.
    # Unpooled SE = sqrt(0.25*0.75/1000 + 0.20*0.80/1000) = sqrt(0.0001875 + 0.00016)
    #            = sqrt(0.0003475) = 0.0186414.
    # 95 %: 0.05 +- 1.959964 * 0.0186414 = 0.05 +- 0.0365364 -> [0.0134636, 0.0865364].
    result = compare(Arm(1000, 250), Arm(1000, 200))
    assert result.relative_uplift == pytest.approx(0.25)
    assert result.interval is not None
    assert result.interval.low == pytest.approx(0.0134636, abs=1e-6)
    assert result.interval.high == pytest.approx(0.0865364, abs=1e-6)
    assert result.interval.level == 0.95
    # 99 %: z_0.995 = 2.575829; margin 2.575829 * 0.0186414 = 0.0480170 -> [0.001983, 0.098017].
    wider = compare(Arm(1000, 250), Arm(1000, 200), confidence=0.99).interval
    assert wider is not None
    assert (wider.low, wider.high) == pytest.approx((0.001983, 0.098017), abs=1e-6)


def test_unequal_arms() -> None:
    # Exposed 4000 shoppers, 480 converted (0.12); holdout 1000, 100 converted (0.10).
    # Pooled p = 580/5000 = 0.116; SE = sqrt(0.116*0.884*(1/4000 + 1/1000))
    #   = sqrt(0.102544 * 0.00125) = sqrt(0.00012818) = 0.0113216; z = 0.02/0.0113216 = 1.76653.
    # p = 2 * (1 - Phi(1.7665)) = 2 * 0.03866 = 0.0773.
    # Unpooled SE = sqrt(0.12*0.88/4000 + 0.1*0.9/1000) = sqrt(0.0000264 + 0.00009)
    #   = sqrt(0.0001164) = 0.0107889; 95 %: 0.02 +- 0.0211459 -> [-0.0011459, 0.0411459].
    result = compare(Arm(4000, 480), Arm(1000, 100))
    assert result.z == pytest.approx(1.76653, abs=1e-5)
    assert result.p_value == pytest.approx(0.0773, abs=1e-4)
    assert result.interval is not None
    assert (result.interval.low, result.interval.high) == pytest.approx(
        (-0.0011459, 0.0411459), abs=1e-6)


# --- edge cases --------------------------------------------------------------------------------


def test_an_arm_without_shoppers_gives_no_figures() -> None:
    result = compare(Arm(0, 0), Arm(100, 10))
    assert result.exposed_rate is None and result.holdout_rate == 0.1
    assert (result.difference, result.relative_uplift, result.interval, result.z,
            result.p_value) == (None, None, None, None, None)
    analysis = analyze(Arm(0, 0), Arm(0, 0), Plan(0.1, 0.02))
    assert analysis.state is State.COLLECTING
    assert analysis.progress == 0.0 and not analysis.enough


@pytest.mark.parametrize("conversions", [0, 500])
def test_both_arms_at_0_or_100_percent(conversions: int) -> None:
    # Pooled rate 0 or 1: the standard error is 0, the rates are equal: z = 0, p = 1.
    result = compare(Arm(500, conversions), Arm(500, conversions))
    assert result.z == 0.0 and result.p_value == 1.0 and result.difference == 0.0
    assert result.interval is not None and (result.interval.low, result.interval.high) == (0, 0)
    # A holdout converting nobody has no relative uplift (a division by zero), not an error.
    assert result.relative_uplift == (None if conversions == 0 else 0.0)


def test_each_arm_at_an_extreme() -> None:
    # 0/100 vs 100/100: unpooled SE 0 (Wald degenerates); pooled p = 0.5,
    # SE = sqrt(0.25 * 0.02) = 0.0707107, z = 1/0.0707107 = 14.142, p ~ 2e-45.
    result = compare(Arm(100, 100), Arm(100, 0))
    assert result.z == pytest.approx(14.1421, abs=1e-4)
    assert result.p_value is not None and 0 < result.p_value < 1e-40
    assert result.interval is not None and (result.interval.low, result.interval.high) == (1, 1)
    assert result.relative_uplift is None


def test_interval_is_clipped_to_possible_differences() -> None:
    # 2/2 vs 0/3: d = 1, SE = 0; 1/2 vs 0/2: d = 0.5, SE = sqrt(0.125) = 0.354,
    # 0.5 + 1.96 * 0.354 = 1.19 -> clipped to 1.
    interval = compare(Arm(2, 1), Arm(2, 0)).interval
    assert interval is not None and interval.high == 1.0 and interval.low < 0


def test_huge_counts() -> None:
    # A billion shoppers per arm, 3.0 % vs 3.01 %: d = 0.0001,
    # pooled p = 0.03005, SE = sqrt(0.03005*0.96995*2e-9) = sqrt(5.82940e-11) = 7.63505e-6,
    # z = 0.0001 / 7.63505e-6 = 13.0975.
    result = compare(Arm(10**9, 30_100_000), Arm(10**9, 30_000_000))
    assert result.z == pytest.approx(13.0975, abs=1e-3)
    assert result.p_value is not None and 0 <= result.p_value < 1e-30
    # Beyond float range the counts still work (only ratios are turned into floats).
    beyond = compare(Arm(10**400, 10**399), Arm(10**400, 2 * 10**399))
    assert beyond.difference == pytest.approx(-0.1)
    assert beyond.p_value == 0.0
    plan = Plan(0.1, 0.02)
    assert analyze(Arm(10**400, 10**399), Arm(10**400, 10**399), plan).state is (
        State.NO_DIFFERENCE)


# --- sample size -------------------------------------------------------------------------------


def test_sample_size_baseline_10_percent_mde_2_points() -> None:
    # Fleiss without continuity correction (R's power.prop.test), equal arms:
    #   n = [z_a sqrt(2 p̄ q̄) + z_b sqrt(p1 q1 + p2 q2)]^2 / d^2, p1 = 0.10, p2 = 0.12.
    #   p̄ = 0.11: sqrt(2 * 0.11 * 0.89) = sqrt(0.1958) = 0.442493; * 1.959964 = 0.867271.
    #   sqrt(0.09 + 0.1056) = sqrt(0.1956) = 0.442267; * 0.841621 = 0.372221.
    #   (0.867271 + 0.372221)^2 / 0.0004 = 1.239492^2 / 0.0004 = 1.536340 / 0.0004 = 3840.85
    #   -> 3841 per arm (R: power.prop.test(p1 = .10, p2 = .12, power = .8) gives n = 3840.8).
    # (The simpler unpooled (z_a + z_b)^2 (p1 q1 + p2 q2) / d^2 would say 3838.1 -> 3839.)
    assert sample_size(Plan(baseline_rate=0.10, minimum_effect=0.02)) == SampleSize(3841, 3841)


def test_sample_size_published_example() -> None:
    # R's documentation of power.prop.test: power.prop.test(p1 = .50, p2 = .75, power = .90)
    # "=> n = 76.7". By hand: p̄ = 0.625, sqrt(2*0.625*0.375) = 0.684653 * 1.959964 = 1.341895;
    # sqrt(0.25 + 0.1875) = 0.661438 * 1.281552 = 0.847667; 2.189562^2 / 0.0625 = 76.707 -> 77.
    assert sample_size(Plan(0.50, 0.25, power=0.9)) == SampleSize(77, 77)


def test_power_published_example() -> None:
    # Same page: power.prop.test(n = 50, p1 = .50, p2 = .75) "=> power = 0.740".
    # By hand: (sqrt(50) * 0.25 - 1.341895) / 0.661438 = (1.767767 - 1.341895) / 0.661438
    #   = 0.643857 -> Phi = 0.7401.
    assert power(Plan(0.50, 0.25), exposed=50, holdout=50) == pytest.approx(0.740, abs=5e-4)
    assert power(Plan(0.50, 0.25), exposed=0, holdout=50) == 0.0


def test_sample_size_with_a_20_percent_holdout() -> None:
    # r = 0.8 / 0.2 = 4 exposed per holdout shopper; p_h = 0.10, p_e = 0.12.
    # p̄ = (0.10 + 4 * 0.12) / 5 = 0.116; p̄ q̄ (1 + 1/4) = 0.102544 * 1.25 = 0.12818,
    #   sqrt = 0.358022 * 1.959964 = 0.701711.
    # p_h q_h + p_e q_e / 4 = 0.09 + 0.0264 = 0.1164, sqrt = 0.341174 * 0.841621 = 0.287140.
    # n_h = (0.988851)^2 / 0.0004 = 2444.56 -> 2445; n_e = 4 * 2444.56 = 9778.25 -> 9779.
    # More shoppers in all (12224) than the 7682 of equal arms: a small holdout costs time.
    assert sample_size(Plan(0.10, 0.02, holdout_share=0.2)) == SampleSize(9779, 2445)


def test_relative_plan() -> None:
    # 3 % baseline, +10 % relative = +0.3 points: 3 % -> 3.3 %.
    plan = Plan.relative(0.03, 0.10)
    assert plan.minimum_effect == pytest.approx(0.003)
    assert plan.target_rate == pytest.approx(0.033)
    assert Plan.relative(0.03, 0.10, holdout_share=0.1).holdout_share == 0.1


# --- the fixed horizon -------------------------------------------------------------------------

# Plan(0.20, 0.05): p̄ = 0.225, sqrt(2 * 0.225 * 0.775) = 0.590551 * 1.959964 = 1.157459;
# sqrt(0.16 + 0.1875) = 0.589491 * 0.841621 = 0.496127; 1.653586^2 / 0.0025 = 1093.73 -> 1094.
HORIZON = Plan(baseline_rate=0.20, minimum_effect=0.05)


def test_horizon_of_the_plan() -> None:
    assert sample_size(HORIZON) == SampleSize(1094, 1094)


def test_a_tiny_significant_looking_sample_is_still_collecting() -> None:
    # 15/20 vs 3/20: pooled p = 0.45, SE = sqrt(0.2475 * 0.1) = 0.157321, z = 0.6/0.157321
    # = 3.8139, p = 0.00014: "significant" at a glance, but 20 shoppers of the 3841 planned.
    analysis = analyze(Arm(20, 15), Arm(20, 3), Plan(0.10, 0.02))
    assert analysis.comparison.p_value == pytest.approx(0.000137, abs=1e-6)
    assert analysis.state is State.COLLECTING
    assert not analysis.enough
    assert analysis.remaining == SampleSize(3821, 3821)
    assert analysis.progress == pytest.approx(20 / 3841)


def test_one_shopper_short_is_still_collecting() -> None:
    # 0.25 vs 0.20 with 1093 and 1094 shoppers: z ~ 2.8, p ~ 0.005, yet the holdout lacks one.
    analysis = analyze(Arm(1094, 273), Arm(1093, 219), HORIZON)
    assert analysis.comparison.p_value is not None and analysis.comparison.p_value < 0.01
    assert analysis.state is State.COLLECTING
    assert analysis.remaining == SampleSize(0, 1)


def test_verdicts_at_the_horizon() -> None:
    # 275/1100 (0.25) vs 220/1100 (0.20): pooled 0.225, SE = sqrt(0.174375 * 2/1100)
    # = 0.0178049, z = 2.80822, p = 0.00498 < 0.05.
    better = analyze(Arm(1100, 275), Arm(1100, 220), HORIZON)
    assert better.state is State.SIGNIFICANT and better.enough and better.progress == 1.0
    assert better.comparison.p_value == pytest.approx(0.00498, abs=1e-5)
    # The same, reversed: significant too, and the difference says the widget hurts.
    worse = analyze(Arm(1100, 220), Arm(1100, 275), HORIZON)
    assert worse.state is State.SIGNIFICANT
    assert worse.comparison.difference is not None and worse.comparison.difference < 0
    # 225/1100 vs 220/1100: d = 0.004545, pooled 0.202273, SE = sqrt(0.161359 * 2/1100)
    # = 0.0171275, z = 0.2654, p = 0.79: no difference detected.
    same = analyze(Arm(1100, 225), Arm(1100, 220), HORIZON)
    assert same.state is State.NO_DIFFERENCE
    assert same.comparison.p_value == pytest.approx(0.79, abs=0.005)


def test_too_few_conversions_is_still_collecting() -> None:
    # The planned 3841 shoppers per arm are there, but 9 conversions in the holdout (< 10).
    plan = Plan(0.10, 0.02)
    assert analyze(Arm(4000, 40), Arm(4000, 9), plan).state is State.COLLECTING
    assert analyze(Arm(4000, 40), Arm(4000, 10), plan).state is State.SIGNIFICANT
    assert analyze(Arm(4000, 40), Arm(4000, 9),
                   Plan(0.10, 0.02, min_conversions=5)).state is State.SIGNIFICANT


def test_interval_level_follows_alpha() -> None:
    analysis = analyze(Arm(1100, 275), Arm(1100, 220), Plan(0.20, 0.05, alpha=0.01))
    assert analysis.comparison.interval is not None
    assert analysis.comparison.interval.level == pytest.approx(0.99)


# --- impossible inputs -------------------------------------------------------------------------


@pytest.mark.parametrize(("shoppers", "conversions", "field", "words"), [
    (10, 11, "conversions", "cannot exceed shoppers (11 > 10)"),
    (-1, 0, "shoppers", "cannot be negative"),
    (10, -2, "conversions", "cannot be negative"),
    (10.0, 1, "shoppers", "whole number"),
    (True, 1, "shoppers", "whole number"),
])
def test_impossible_arms(shoppers: int, conversions: int, field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Arm(shoppers, conversions)
    assert field in caught.value.errors
    assert words in str(caught.value)


@pytest.mark.parametrize(("options", "field"), [
    ({"baseline_rate": 0.0}, "baseline_rate"),
    ({"baseline_rate": 1.0}, "baseline_rate"),
    ({"baseline_rate": -0.1}, "baseline_rate"),
    ({"baseline_rate": math.nan}, "baseline_rate"),
    ({"baseline_rate": "0.1"}, "baseline_rate"),
    ({"minimum_effect": 0.0}, "minimum_effect"),
    ({"minimum_effect": -0.01}, "minimum_effect"),
    ({"baseline_rate": 0.95, "minimum_effect": 0.05}, "minimum_effect"),
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 1.0}, "alpha"),
    ({"power": 1.0}, "power"),
    ({"power": 0.3}, "power"),
    ({"holdout_share": 0.0}, "holdout_share"),
    ({"holdout_share": 1.0}, "holdout_share"),
    ({"min_conversions": -1}, "min_conversions"),
])
def test_impossible_plans(options: dict[str, object], field: str) -> None:
    values: dict[str, Any] = {"baseline_rate": 0.1, "minimum_effect": 0.02, **options}
    with pytest.raises(ValidationError) as caught:
        Plan(**values)
    assert field in caught.value.errors
    assert field in str(caught.value)


def test_impossible_relative_plan_and_confidence() -> None:
    with pytest.raises(ValidationError, match="relative_effect"):
        Plan.relative(0.1, 0.0)
    with pytest.raises(ValidationError, match="minimum_effect"):
        Plan.relative(0.6, 1.0)  # 60 % -> 120 %
    with pytest.raises(ValidationError, match="confidence"):
        compare(Arm(10, 1), Arm(10, 2), confidence=1.0)


# --- properties --------------------------------------------------------------------------------


@st.composite
def arms(draw: st.DrawFn, max_shoppers: int = 10**12) -> Arm:
    shoppers = draw(st.integers(0, max_shoppers))
    return Arm(shoppers, draw(st.integers(0, shoppers)))


@settings(max_examples=300)
@given(arms(), arms())
def test_p_value_is_a_probability_and_symmetric(exposed: Arm, holdout: Arm) -> None:
    forward, backward = compare(exposed, holdout), compare(holdout, exposed)
    if forward.p_value is None:
        assert backward.p_value is None and 0 in (exposed.shoppers, holdout.shoppers)
        return
    assert backward.p_value is not None and forward.z is not None and backward.z is not None
    assert 0.0 <= forward.p_value <= 1.0
    assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9, abs=1e-300)
    assert forward.z == pytest.approx(-backward.z, rel=1e-9)


@settings(max_examples=300)
@given(arms(), arms(), st.floats(0.5, 0.999))
def test_interval_contains_the_difference(exposed: Arm, holdout: Arm, level: float) -> None:
    result = compare(exposed, holdout, confidence=level)
    if result.difference is None:
        return
    assert result.interval is not None
    assert -1.0 <= result.interval.low <= result.difference <= result.interval.high <= 1.0
    mirrored = compare(holdout, exposed, confidence=level).interval
    assert mirrored is not None
    assert mirrored.low == pytest.approx(-result.interval.high, abs=1e-12)


@settings(max_examples=200)
@given(arms(10_000), arms(10_000))
def test_z_squared_is_pearsons_chi_square(exposed: Arm, holdout: Arm) -> None:
    # An independent route to the same test: sum of (observed - expected)^2 / expected over the
    # 2x2 table of arm x converted, whose square root is |z| when every expected count is > 0.
    result = compare(exposed, holdout)
    total = exposed.shoppers + holdout.shoppers
    converted = exposed.conversions + holdout.conversions
    if result.z is None or converted in (0, total):
        return
    chi2 = 0.0
    for arm in (exposed, holdout):
        for observed, column in ((arm.conversions, converted),
                                 (arm.shoppers - arm.conversions, total - converted)):
            expected = arm.shoppers * column / total
            chi2 += (observed - expected) ** 2 / expected
    assert result.z**2 == pytest.approx(chi2, rel=1e-9, abs=1e-9)


@settings(max_examples=200)
@given(st.floats(0.005, 0.9), st.floats(0.002, 0.1), st.sampled_from([0.1, 0.2, 0.5, 0.7]),
       st.sampled_from([0.8, 0.9]))
def test_planned_sample_reaches_the_planned_power(baseline: float, effect: float, share: float,
                                                  target: float) -> None:
    if baseline + effect >= 1:
        return
    plan = Plan(baseline, effect, power=target, holdout_share=share)
    need = sample_size(plan)
    assert need.holdout >= 1 and need.exposed >= 1
    assert power(plan, exposed=need.exposed, holdout=need.holdout) >= target - 1e-9
    if share == 0.5:  # equal arms: the formula's n is the least that reaches the power
        assert need.exposed == need.holdout
        assert power(plan, exposed=need.holdout - 1, holdout=need.holdout - 1) < target
    # A larger effect never needs more shoppers.
    if baseline + 2 * effect < 1:
        bigger = sample_size(Plan(baseline, 2 * effect, power=target, holdout_share=share))
        assert bigger.holdout <= need.holdout and bigger.exposed <= need.exposed


@settings(max_examples=200)
@given(arms(5000), arms(5000))
def test_no_verdict_before_the_horizon(exposed: Arm, holdout: Arm) -> None:
    # Plan(0.10, 0.02) needs 3841 per arm: below it, whatever the data, the state is collecting.
    analysis = analyze(exposed, holdout, Plan(0.10, 0.02))
    if exposed.shoppers < 3841 or holdout.shoppers < 3841:
        assert analysis.state is State.COLLECTING and not analysis.enough
        assert 0.0 <= analysis.progress < 1.0
    elif min(exposed.conversions, holdout.conversions) >= 10:
        assert analysis.state is not State.COLLECTING
        assert analysis.progress == 1.0 and analysis.remaining == SampleSize(0, 0)


@settings(max_examples=300)
@given(st.integers(1, 10**6), st.data())
def test_equal_arms_significant_test_means_interval_excludes_zero(shoppers: int,
                                                                   data: st.DataObject) -> None:
    # With equal arms the pooled variance exceeds the unpooled one by (p_e - p_h)^2 / (2n) >= 0,
    # so |d| > 1.96 * pooled SE implies |d| > 1.96 * unpooled SE.
    exposed = Arm(shoppers, data.draw(st.integers(0, shoppers)))
    holdout = Arm(shoppers, data.draw(st.integers(0, shoppers)))
    result = compare(exposed, holdout)
    assert result.p_value is not None and result.interval is not None
    if result.p_value < 0.05:
        assert 0.0 not in result.interval
