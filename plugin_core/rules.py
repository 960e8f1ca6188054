"""Journey rules as data: which event moves a journey to which stage, what converts, when it lapses.

The defaults follow the stage descriptions: arriving is awareness; searching, browsing collections
and viewing products is research; working a cart and weighing costs (shipping estimate) is
comparison; the checkout steps are decision; placing and paying is purchase; shipment and delivery
are reception; reviewing is evaluation. Loyalty is reached by a repeat purchase (see journey.py).
Events that do not move the journey (a cancelled order, a widget shown) map to null.
A store can replace any of this with its own dict, validated by `JourneyRules.from_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from parcours.errors import ValidationError
from parcours.events import EVENT_NAMES
from parcours.stages import Stage

DEFAULT_RULES_DATA: dict[str, Any] = {
    "stages": {
        "page_viewed": "awareness",
        "search_submitted": "research",
        "collection_viewed": "research",
        "product_viewed": "research",
        "product_added_to_cart": "comparison",
        "product_removed_from_cart": "comparison",
        "cart_viewed": "comparison",
        "cart_updated": "comparison",
        "shipping_estimate_requested": "comparison",
        "checkout_started": "decision",
        "checkout_updated": "decision",
        "checkout_contact_info_submitted": "decision",
        "checkout_address_info_submitted": "decision",
        "checkout_shipping_info_submitted": "decision",
        "payment_info_submitted": "decision",
        "payment_failed": "decision",
        "checkout_completed": "purchase",
        "order_placed": "purchase",
        "order_paid": "purchase",
        "order_fulfilled": "reception",
        "order_delivered": "reception",
        "review_submitted": "evaluation",
        "customer_created": None,
        "widget_shown": None,
        "widget_engaged": None,
        "order_cancelled": None,
        "order_refunded": None,
        "review_requested": None,
        "review_opened": None,  # evaluation is reached by a review, not by opening the form
    },
    # A journey converts on a paid order, not a placed one (a placed order can still fail).
    "conversion": ["order_paid"],
    "abandon_after_days": 30,
}


@dataclass(frozen=True)
class JourneyRules:
    stages: Mapping[str, Stage | None]
    conversion: frozenset[str]
    abandon_after: timedelta

    def stage_of(self, name: str) -> Stage | None:
        return self.stages.get(name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JourneyRules:
        """Validate rules given as data; ValidationError names every bad key."""
        if not isinstance(data, Mapping):
            raise ValidationError("invalid journey rules",
                                  {"_schema": ["rules must be an object"]})
        errors: dict[str, Any] = {}
        unknown = set(data) - {"stages", "conversion", "abandon_after_days"}
        if unknown:
            errors["_schema"] = [f"unknown key(s): {', '.join(sorted(unknown))}"]
        stages: dict[str, Stage | None] = {}
        given_stages = data.get("stages", {})
        if not isinstance(given_stages, Mapping):
            errors["stages"] = ["must be an object mapping event names to stages"]
            given_stages = {}
        for name, stage in given_stages.items():
            if name not in EVENT_NAMES:
                errors[f"stages.{name}"] = ["unknown event name"]
            elif stage is None:
                stages[name] = None
            else:
                try:
                    stages[name] = Stage.parse(str(stage))
                except ValueError as exc:
                    errors[f"stages.{name}"] = [str(exc)]
        given_conversion = data.get("conversion", ["order_paid"])
        conversion: list[str] = []
        if not isinstance(given_conversion, list | tuple) or not given_conversion:
            errors["conversion"] = ["must be a non-empty list of event names"]
        else:
            conversion = list(given_conversion)
            bad = [name for name in conversion if name not in EVENT_NAMES]
            if bad:
                errors["conversion"] = [f"unknown event name {name!r}" for name in bad]
        days = data.get("abandon_after_days", 30)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            errors["abandon_after_days"] = ["must be a whole number of days from 1 to 365"]
        if errors:
            raise ValidationError("invalid journey rules", errors)
        return cls(stages, frozenset(conversion), timedelta(days=days))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": {n: None if s is None else s.label for n, s in self.stages.items()},
            "conversion": sorted(self.conversion),
            "abandon_after_days": self.abandon_after.days,
        }


DEFAULT_RULES = JourneyRules.from_dict(DEFAULT_RULES_DATA)
