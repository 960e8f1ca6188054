"""Friction diagnosis: each default rule fires on a funnel built to trigger it, with the numbers
that triggered it; stays silent on a healthy store and unknown on one too small to judge; and a
bad rules file is refused naming the field.

Expected rates are hand-computed: the Wilson 95% bound of 700 drops out of 1000 is
(0.6709, 0.7276) (p = 0.7, z = 1.96: centre 0.70192 / 1.00384, half-width 0.02836).
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from parcours.errors import ValidationError
from parcours.events import EVENT_BITS
from parcours.friction import (
    DEFAULT_FRICTION_RULES,
    Evidence,
    Finding,
    FrictionRules,
    Observation,
    assess,
    diagnose,
    load_friction_rules,
    step_counts,
    wilson,
)
from parcours.friction_rules import DEFAULT_FRICTION_RULES_DATA
from parcours.friction_schema import FIX_TARGETS
from parcours.metrics import JourneyRow
from parcours.widgets.config import DEFAULT_WIDGETS

RULE_IDS = ["shipping_estimate", "guest_checkout", "guest_checkout_prompt", "express_pay",
            "express_pay_wallets", "review_requests"]
BAYMARD = "Baymard Institute, Cart Abandonment Rate Statistics"

# A store that converts well at every step; the devices leave at payment alike.
HEALTHY_FUNNEL = {"product": 10_000, "cart": 1_500, "checkout": 900, "contact": 750,
                  "address": 700, "shipping": 650, "payment": 600, "paid": 560,
                  "received": 540, "reviewed": 60}
HEALTHY_DEVICES = {"mobile": {"checkout": 500, "shipping": 350, "paid": 300},
                   "desktop": {"checkout": 400, "shipping": 300, "paid": 260}}
# Every widget off, nobody asking for reviews: only the numbers keep the rules silent.
ALL_OFF = {name: {"enabled": False} for name in DEFAULT_WIDGETS}
GOOD_FACTS = {"customer_accounts": {"login_required_at_checkout": False},
              "accelerated_checkout": {"wallets": ["apple_pay", "google_pay"],
                                       "supported": True},
              "review_settings": {"enabled": False},
              "platform_review_requests": {"available": True, "enabled": False}}


def healthy(**changes: Any) -> Evidence:
    evidence = Evidence(funnel=dict(HEALTHY_FUNNEL), by_device=copy.deepcopy(HEALTHY_DEVICES),
                        facts=copy.deepcopy(GOOD_FACTS), widgets=copy.deepcopy(ALL_OFF),
                        platform="woocommerce")
    return replace(evidence, **changes)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [finding.rule for finding in findings]
    return findings[0]


def observed(finding: Finding, subject: str) -> Observation:
    return next(o for o in finding.evidence if o.subject == subject)


def states(evidence: Evidence) -> dict[str, str]:
    return {verdict.rule: verdict.state for verdict in assess(evidence)}


# -- the rules as data -------------------------------------------------------------------------

def test_default_rules_are_valid_data_and_round_trip() -> None:
    assert [rule.id for rule in DEFAULT_FRICTION_RULES.rules] == RULE_IDS
    assert DEFAULT_FRICTION_RULES.confidence == 0.95
    assert DEFAULT_FRICTION_RULES.to_dict() == DEFAULT_FRICTION_RULES_DATA
    again = FrictionRules.from_dict(json.loads(json.dumps(DEFAULT_FRICTION_RULES_DATA)))
    assert again.rules == DEFAULT_FRICTION_RULES.rules
    for rule in DEFAULT_FRICTION_RULES.rules:
        assert rule.sources and all(source.figure for source in rule.sources)
        assert set(rule.friction) == set(rule.fix_text) == {"en", "fr"}


def test_widget_names_are_the_storefront_widgets() -> None:
    assert set(FIX_TARGETS["widget"]) == set(DEFAULT_WIDGETS)


# -- one test per rule ----------------------------------------------------------------------------

def test_drop_before_checkout_without_early_shipping_cost_asks_for_the_estimate() -> None:
    funnel = {**HEALTHY_FUNNEL, "product": 5_000, "cart": 1_000, "checkout": 300}
    finding = only(diagnose(healthy(funnel=funnel)))
    assert finding.rule == "shipping_estimate"
    assert finding.severity == "high"
    drop = observed(finding, "cart>checkout")
    assert drop.held is True
    assert drop.numbers["reached"] == 1_000
    assert drop.numbers["continued"] == 300
    assert drop.numbers["drop"] == 0.7
    assert (drop.numbers["low"], drop.numbers["high"]) == (0.6709, 0.7276)
    assert drop.numbers["at_least"] == 0.6
    assert drop.numbers["min_sample"] == 200
    widget = observed(finding, "shipping_estimate.enabled")
    assert (widget.held, widget.numbers["value"]) == (True, False)
    context = observed(finding, "product>cart")
    assert (context.held, context.note, context.numbers["drop"]) == (None, "context", 0.8)
    assert "at_least" not in context.numbers
    assert (finding.fix.kind, finding.fix.target, finding.fix.one_click) == (
        "widget", "shipping_estimate", True)
    figures = {source.title: source.figure for source in finding.sources}
    assert "40-48%" in figures[BAYMARD]
    assert "64%" in figures["Baymard, product page shipping"]
    assert "43%" in figures["Baymard, product page shipping"]
    # The same drop with the estimate on names nothing: the fix is already there.
    widgets = {**ALL_OFF, "shipping_estimate": {"enabled": True}}
    assert diagnose(healthy(funnel=funnel, widgets=widgets)) == []


def test_login_required_at_checkout_asks_for_guest_checkout() -> None:
    facts = {**GOOD_FACTS, "customer_accounts": {"login_required_at_checkout": True}}
    finding = only(diagnose(healthy(facts=facts)))
    assert finding.rule == "guest_checkout"
    assert finding.severity == "high"
    fact = observed(finding, "customer_accounts.login_required_at_checkout")
    assert (fact.held, fact.numbers["value"]) == (True, True)
    checkouts = observed(finding, "checkout")
    assert (checkouts.held, checkouts.numbers["journeys"]) == (True, 900)
    contact = observed(finding, "checkout>contact")
    assert contact.note == "context"
    assert (contact.numbers["reached"], contact.numbers["continued"]) == (900, 750)
    assert contact.numbers["drop"] == 0.1667
    assert "18-26%" in finding.sources[0].figure
    # WooCommerce: the adapter changes the store setting; Shopify: the merchant does, there.
    woo = finding.fix
    assert (woo.kind, woo.target, woo.one_click) == ("store_setting", "guest_checkout", True)
    shopify = only(diagnose(healthy(facts=facts, platform="shopify"))).fix
    assert (shopify.one_click, shopify.where) == (False, "customer_accounts")


def test_drop_at_the_contact_step_asks_for_the_guest_prompt() -> None:
    funnel = {**HEALTHY_FUNNEL, "checkout": 1_000, "contact": 550}
    finding = only(diagnose(healthy(funnel=funnel)))
    assert finding.rule == "guest_checkout_prompt"
    assert finding.severity == "medium"
    drop = observed(finding, "checkout>contact")
    assert drop.numbers["drop"] == 0.45
    assert drop.numbers["low"] == 0.4194  # Wilson lower bound of 450 / 1000
    assert drop.numbers["at_least"] == 0.35
    assert observed(finding, "guest_checkout.enabled").held is True
    assert (finding.fix.kind, finding.fix.target, finding.fix.one_click) == (
        "widget", "guest_checkout", True)
    # Where the store's login rule is not known yet, the prompt is not suggested blindly.
    facts = {key: value for key, value in GOOD_FACTS.items() if key != "customer_accounts"}
    assert states(healthy(funnel=funnel, facts=facts))["guest_checkout_prompt"] == "unknown"


MOBILE_LEAVES_AT_PAYMENT = {"mobile": {"checkout": 600, "shipping": 400, "paid": 240},
                            "desktop": {"checkout": 500, "shipping": 400, "paid": 340}}


def test_payment_drop_on_mobile_asks_for_express_pay() -> None:
    finding = only(diagnose(healthy(by_device=MOBILE_LEAVES_AT_PAYMENT)))
    assert finding.rule == "express_pay"
    gap = observed(finding, "shipping>paid@mobile-vs-desktop")
    assert gap.held is True
    assert (gap.numbers["device_reached"], gap.numbers["device_continued"]) == (400, 240)
    assert (gap.numbers["baseline_reached"], gap.numbers["baseline_continued"]) == (400, 340)
    assert (gap.numbers["device_drop"], gap.numbers["baseline_drop"]) == (0.4, 0.15)
    assert gap.numbers["gap"] == 0.25
    assert gap.numbers["ratio"] == 2.6667
    # Newcombe: 0.25 - sqrt((0.4 - 0.3532)^2 + (0.1883 - 0.15)^2)
    assert gap.numbers["gap_low"] == pytest.approx(0.1895, abs=1e-4)
    whole = observed(finding, "checkout>paid@mobile-vs-desktop")
    assert (whole.numbers["device_drop"], whole.numbers["baseline_drop"]) == (0.6, 0.32)
    assert observed(finding, "express_pay.enabled").held is True
    assert observed(finding, "accelerated_checkout.wallets").held is True
    assert (finding.fix.kind, finding.fix.target, finding.fix.one_click) == (
        "widget", "express_pay", True)
    assert "17-22%" in finding.sources[0].figure
    # Without a split by device the rule cannot judge: it says so and names nothing.
    assert states(healthy(by_device={}))["express_pay"] == "unknown"


def test_payment_drop_on_mobile_without_wallets_asks_for_wallets() -> None:
    facts = {**GOOD_FACTS, "accelerated_checkout": {"wallets": [], "supported": True}}
    finding = only(diagnose(healthy(by_device=MOBILE_LEAVES_AT_PAYMENT, facts=facts)))
    assert finding.rule == "express_pay_wallets"
    assert observed(finding, "accelerated_checkout.wallets").numbers["value"] == []
    assert (finding.fix.kind, finding.fix.target) == ("store_setting", "express_pay")
    assert finding.fix.one_click is True  # an enabled Stripe / WooPayments gateway
    unsupported = {**facts, "accelerated_checkout": {"wallets": [], "supported": False}}
    fix = only(diagnose(healthy(by_device=MOBILE_LEAVES_AT_PAYMENT, facts=unsupported))).fix
    assert (fix.one_click, fix.where) == (False, "payment_gateways")
    shopify = only(diagnose(healthy(by_device=MOBILE_LEAVES_AT_PAYMENT, facts=facts,
                                    platform="shopify"))).fix
    assert (shopify.one_click, shopify.where) == (False, "payments")


def test_received_but_unreviewed_orders_ask_for_review_requests() -> None:
    funnel = {**HEALTHY_FUNNEL, "received": 500, "reviewed": 5}
    finding = only(diagnose(healthy(funnel=funnel)))
    assert finding.rule == "review_requests"
    assert finding.severity == "low"
    drop = observed(finding, "received>reviewed")
    assert (drop.numbers["reached"], drop.numbers["continued"]) == (500, 5)
    assert (drop.numbers["drop"], drop.numbers["low"]) == (0.99, 0.9768)
    assert observed(finding, "review_settings.enabled").held is True
    assert observed(finding, "platform_review_requests.enabled").held is True
    assert (finding.fix.kind, finding.fix.target, finding.fix.one_click) == (
        "review_setting", "enabled", True)
    # Someone already asks: Parcours by default, or the platform's own request.
    defaults = {k: v for k, v in GOOD_FACTS.items() if k != "review_settings"}
    assert diagnose(healthy(funnel=funnel, facts=defaults)) == []
    platform_asks = {**GOOD_FACTS, "platform_review_requests": {"enabled": True}}
    assert diagnose(healthy(funnel=funnel, facts=platform_asks)) == []
    shopify = {k: v for k, v in GOOD_FACTS.items() if k != "platform_review_requests"}
    assert only(diagnose(healthy(funnel=funnel, facts=shopify))).rule == "review_requests"


# -- silent, unknown, ordering -------------------------------------------------------------------

def test_healthy_funnel_fires_nothing_even_with_every_widget_off() -> None:
    evidence = healthy()
    assert diagnose(evidence) == []
    assert states(evidence) == dict.fromkeys(RULE_IDS, "silent")


def test_a_funnel_too_small_to_judge_names_nothing() -> None:
    # Twelve shoppers, every friction in the settings and awful rates: nothing can be judged.
    tiny = {"product": 12, "cart": 10, "checkout": 3, "contact": 1, "shipping": 1, "paid": 1,
            "received": 1, "reviewed": 0}
    devices = {"mobile": {"checkout": 2, "shipping": 1, "paid": 0},
               "desktop": {"checkout": 1, "shipping": 0, "paid": 1}}
    facts = {"customer_accounts": {"login_required_at_checkout": True},
             "accelerated_checkout": {"wallets": []}, "review_settings": {"enabled": False}}
    evidence = Evidence(tiny, devices, facts, ALL_OFF, "shopify")
    assert diagnose(evidence) == []
    verdicts = assess(evidence)
    # Each friction the settings point at is "unknown"; the two rules for the other case of
    # the same setting (guest prompt where login is allowed, express widget with wallets) are
    # silent whatever the numbers.
    assert {verdict.rule: verdict.state for verdict in verdicts} == {
        "shipping_estimate": "unknown", "guest_checkout": "unknown",
        "guest_checkout_prompt": "silent", "express_pay": "silent",
        "express_pay_wallets": "unknown", "review_requests": "unknown"}
    notes = {o.note for verdict in verdicts for o in verdict.evidence if o.held is None}
    assert "too_few" in notes
    cart = next(o for o in verdicts[0].evidence if o.subject == "cart>checkout")
    assert (cart.numbers["reached"], cart.numbers["drop"], cart.note) == (10, None, "too_few")


def test_untracked_or_inconsistent_steps_are_unknown_not_a_drop() -> None:
    untracked = {k: v for k, v in HEALTHY_FUNNEL.items() if k != "contact"}
    verdict = assess(healthy(funnel=untracked))[2]
    assert verdict.rule == "guest_checkout_prompt" and verdict.state == "unknown"
    assert verdict.evidence[0].note == "not_tracked"
    inconsistent = {**HEALTHY_FUNNEL, "cart": 500, "checkout": 900}
    verdict = assess(healthy(funnel=inconsistent))[0]
    assert verdict.evidence[0].note == "inconsistent"


def test_findings_come_most_severe_first() -> None:
    funnel = {**HEALTHY_FUNNEL, "checkout": 1_000, "contact": 550, "received": 500,
              "reviewed": 5, "cart": 3_000}
    facts = {**GOOD_FACTS, "customer_accounts": {"login_required_at_checkout": True}}
    found = [finding.rule for finding in diagnose(healthy(funnel=funnel, facts=facts))]
    assert found == ["shipping_estimate", "guest_checkout", "review_requests"]
    as_json = json.loads(json.dumps([f.as_dict() for f in diagnose(healthy(funnel=funnel))]))
    assert as_json[0]["rule"] == "shipping_estimate"
    assert as_json[0]["evidence"][0]["drop"] == round(1 - 1_000 / 3_000, 4)
    assert as_json[0]["sources"][0]["url"].startswith("https://baymard.com/")


def test_a_store_may_replace_the_rules() -> None:
    data = copy.deepcopy(DEFAULT_FRICTION_RULES_DATA)
    data["rules"] = [data["rules"][0]]
    data["rules"][0]["when"]["all"][0]["at_least"] = 0.75
    strict = FrictionRules.from_dict(data)
    funnel = {**HEALTHY_FUNNEL, "cart": 1_000, "checkout": 300}
    assert diagnose(healthy(funnel=funnel), strict) == []  # 0.7 is not 0.75 or more
    assert only(diagnose(healthy(funnel=funnel))).rule == "shipping_estimate"


def test_rules_file_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "friction.toml"
    path.write_text('''
confidence = 0.9

[[rules]]
id = "mobile_checkout"
severity = "medium"
friction = { en = "Mobile shoppers leave checkout.", fr = "Les clients mobiles partent." }
sources = [{ title = "Our own study", figure = "Half of mobile checkouts fail." }]

[rules.when]
metric = "drop"
from = "checkout"
to = "paid"
device = "mobile"
at_least = 0.5
min_sample = 100

[rules.fix]
kind = "widget"
target = "express_pay"
one_click = true
text = { en = "Turn on express pay.", fr = "Activez le paiement express." }
''', encoding="utf-8")
    rules = load_friction_rules(path)
    assert rules.confidence == 0.9
    finding = only(diagnose(healthy(by_device=MOBILE_LEAVES_AT_PAYMENT), rules))
    assert finding.rule == "mobile_checkout"
    assert observed(finding, "checkout>paid@mobile").numbers["drop"] == 0.6


# -- validation -----------------------------------------------------------------------------------

def _bad(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT_FRICTION_RULES_DATA)
    change(data)
    with pytest.raises(ValidationError) as info:
        FrictionRules.from_dict(data)
    assert str(info.value).startswith("invalid friction rules")
    errors: dict[str, Any] = info.value.errors
    return errors


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value
    return change


@pytest.mark.parametrize(("path", "value", "named"), [
    ("rules.0.when.all.0.at_least", "0.6", "rules.0.when.all.0.at_least"),
    ("rules.0.when.all.0.at_least", 1.5, "rules.0.when.all.0.at_least"),
    ("rules.0.when.all.0.min_sample", 20.5, "rules.0.when.all.0.min_sample"),
    ("rules.0.when.all.0.from", "basket", "rules.0.when.all.0.from"),
    ("rules.0.when.all.0.to", "product", "rules.0.when.all.0.to"),
    ("rules.0.when.all.0.colour", "red", "rules.0.when.all.0.colour"),
    ("rules.0.when.all.1.widget", "popup.enabled", "rules.0.when.all.1.widget"),
    ("rules.0.when.all.1.empty", True, "rules.0.when.all.1._schema"),
    ("rules.0.colour", "red", "rules.0.colour"),
    ("rules.0.severity", "urgent", "rules.0.severity"),
    ("rules.0.friction.fr", None, "rules.0.friction.fr"),
    ("rules.0.fix.target", "popup", "rules.0.fix.target"),
    ("rules.1.fix.one_click.magento", True, "rules.1.fix.one_click.magento"),
    ("rules.3.when.all.0.any.0.baseline", "mobile", "rules.3.when.all.0.any.0.baseline"),
    ("rules.3.when.all.0.any.1.metric", "conversion", "rules.3.when.all.0.any.1.metric"),
    ("rules.5.when.all.1.if_missing", "no", "rules.5.when.all.1.if_missing"),
    ("rules.5.sources", [], "rules.5.sources"),
    ("rules.5.id", "shipping_estimate", "rules.5.id"),
    ("confidence", 2, "confidence"),
])
def test_bad_rules_are_refused_naming_the_field(path: str, value: Any, named: str) -> None:
    errors = _bad(_set(path, value))
    assert named in errors, errors


def test_unknown_top_level_key_and_wrong_shapes_are_named() -> None:
    assert "colour" in _bad(_set("colour", "red"))
    assert "rules" in _bad(_set("rules", {"id": "x"}))
    assert "rules.0.when" in _bad(_set("rules.0.when", {"metric": "drop", "fact": "x"}))
    assert "rules.0.when.all" in _bad(_set("rules.0.when", {"all": []}))
    with pytest.raises(ValidationError) as info:
        FrictionRules.from_dict(["not", "an", "object"])
    assert info.value.errors == {"_schema": ["an object"]}


def test_bad_rules_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "friction.json"
    data = copy.deepcopy(DEFAULT_FRICTION_RULES_DATA)
    data["rules"][0]["when"]["all"][0]["min_sample"] = "many"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_friction_rules(path)
    assert str(path) in str(info.value)
    assert "rules.0.when.all.0.min_sample" in info.value.errors
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid json"):
        load_friction_rules(path)


def test_evidence_is_checked() -> None:
    with pytest.raises(ValidationError) as info:
        Evidence({"carts": 10, "checkout": -1}, {"phone": {}}, platform="magento")
    assert set(info.value.errors) == {"funnel.carts", "funnel.checkout", "by_device.phone",
                                      "platform"}


# -- from the rollups ----------------------------------------------------------------------------

def _mask(*names: str) -> int:
    return sum(EVENT_BITS[name] for name in names)


def test_step_counts_from_journey_rollups() -> None:
    rows = [
        JourneyRow(_mask("page_viewed", "product_viewed"), "01", False, 60),
        JourneyRow(_mask("product_viewed", "product_added_to_cart"), "012", False, 20),
        JourneyRow(_mask("product_viewed", "cart_updated", "checkout_started"), "0123", False,
                   10),
        # paid without the storefront reporting the cart: it still went through it
        JourneyRow(_mask("checkout_started", "order_paid", "order_fulfilled"), "0345", True, 6),
        JourneyRow(_mask("product_viewed", "product_added_to_cart", "checkout_started",
                         "order_paid", "review_submitted"), "0123456", True, 4),
        # a visitor's storefront review: not a buyer's
        JourneyRow(_mask("product_viewed", "review_submitted"), "016", False, 3),
    ]
    counts = step_counts(rows)
    assert counts == {"product": 103, "cart": 40, "checkout": 20, "paid": 10, "received": 10,
                      "reviewed": 4}
    # contact, address, shipping, payment: never reported, so not tracked (left out), and the
    # contact drop cannot be judged rather than being the whole checkout's
    verdict = assess(Evidence({key: n * 100 for key, n in counts.items()}))[2]
    assert (verdict.rule, verdict.evidence[0].note) == ("guest_checkout_prompt", "not_tracked")


def test_wilson_interval_hand_computed() -> None:
    low, high = wilson(700, 1_000, 1.959964)
    assert (round(low, 4), round(high, 4)) == (0.6709, 0.7276)
    assert wilson(0, 10, 1.959964)[0] == 0.0
