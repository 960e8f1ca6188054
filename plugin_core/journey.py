"""The journey engine's pure core: fold a profile's events into its purchase cycles.

A profile's journeys are a function of the *set* of its events: events are applied in
(`occurred_at`, `id`) order, so any arrival order gives the same result. The storage layer
applies new events incrementally when they come after everything seen (the common case) and
refolds the profile from its stored events otherwise; both give what `fold` gives.

Rules of a journey (one purchase cycle):
- it opens, in awareness, at the first event after the previous journey converted, or after
  `abandon_after` without activity (the previous one is then abandoned);
- it converts on a conversion event (a paid order) and remembers that order: later events about
  the same order (fulfilment, delivery, review) belong to it, even if a new journey has opened;
- a converted journey of a profile that had converted before is a repeat purchase: loyalty;
- `path` lists the stages in the order they were first reached; its maximum is the stage, and
  `reached` says when (seconds after the journey opened), so reports can time each stage;
- its segments (segments.py) come from its events' properties: `device` and `channel` from the
  first event that has a valid one (how the shopper arrived), `country` from the latest (an
  order's shipping country is better than a guess from the first page view);
- `exposures` keeps, per widget experiment ("widget:experiment", the experiment being the
  widget's salt), the arm of the shopper's first `widget_shown` in the journey and its time.
All of these depend on the order of events only, so `fold` keeps any arrival order's result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from parcours.events import EVENT_BITS, JourneyEvent
from parcours.rules import JourneyRules
from parcours.segments import CHANNELS, DEVICES, country_of
from parcours.stages import Stage

EventKey = tuple[datetime, str]
ARMS = ("exposed", "holdout")
MAX_WIDGET, MAX_EXPERIMENT = 32, 64  # what the experiment rollups hold (tables.py)


def path_code(path: Iterable[Stage]) -> str:
    """A path as digits in order of first reach, e.g. "0124" (awareness, research, ...)."""
    return "".join(str(int(stage)) for stage in path)


def path_stages(code: str) -> tuple[Stage, ...]:
    return tuple(Stage(int(char)) for char in code)


def journey_status(converted_at: datetime | None, last_event_at: datetime, now: datetime,
                   rules: JourneyRules) -> str:
    """converted, abandoned (inactive longer than the window) or open."""
    if converted_at is not None:
        return "converted"
    if now - last_event_at > rules.abandon_after:
        return "abandoned"
    return "open"


def event_key(event: JourneyEvent) -> EventKey:
    return (event.occurred_at, event.id)


def exposure(event: JourneyEvent) -> tuple[str, str] | None:
    """(experiment key "widget:experiment", arm) of a widget_shown event; None when it reports
    no arm, or names that do not fit the rollups (a widget name holds no ":")."""
    if event.name != "widget_shown":
        return None
    widget, arm = event.properties.get("widget"), event.properties.get("bucket")
    experiment = event.properties.get("experiment", "")
    if not (isinstance(widget, str) and 0 < len(widget) <= MAX_WIDGET and ":" not in widget
            and isinstance(experiment, str) and len(experiment) <= MAX_EXPERIMENT
            and arm in ARMS):
        return None
    return f"{widget}:{experiment}", str(arm)


@dataclass
class Journey:
    index: int
    opened_at: datetime
    last_event_at: datetime
    path: tuple[Stage, ...] = (Stage.AWARENESS,)
    events_mask: int = 0
    converted_at: datetime | None = None
    order_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    device: str | None = None
    channel: str | None = None
    country: str | None = None
    reached: tuple[int, ...] = (0,)  # per stage of `path`: seconds after opened_at
    exposures: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    @property
    def stage(self) -> Stage:
        return max(self.path)

    @property
    def converted(self) -> bool:
        return self.converted_at is not None

    def status(self, now: datetime, rules: JourneyRules) -> str:
        return journey_status(self.converted_at, self.last_event_at, now, rules)

    def reach(self, stage: Stage, at: datetime) -> None:
        if stage not in self.path:
            self.path = (*self.path, stage)
            self.reached = (*self.reached, int((at - self.opened_at).total_seconds()))

    def note(self, event: JourneyEvent) -> None:
        """Keep the segments and the experiment exposure `event` tells (events come in order)."""
        properties = event.properties
        device, channel = properties.get("device"), properties.get("channel")
        if self.device is None and device in DEVICES:
            self.device = str(device)
        if self.channel is None and channel in CHANNELS:
            self.channel = str(channel)
        country = country_of(properties.get("country"))
        if country is not None:
            self.country = country
        shown = exposure(event)
        if shown is not None and shown[0] not in self.exposures:
            self.exposures[shown[0]] = (shown[1], event.occurred_at)


@dataclass
class ProfileJourneys:
    """Everything the engine keeps about one profile's cycles."""

    journeys: list[Journey] = field(default_factory=list)
    last_key: EventKey | None = None

    @property
    def stage(self) -> Stage | None:
        """Where the shopper is now: the stage of their latest journey."""
        return self.journeys[-1].stage if self.journeys else None

    def accepts_in_order(self, event: JourneyEvent) -> bool:
        """True when `event` comes after everything applied, so `apply` keeps `fold`'s result."""
        return self.last_key is None or event_key(event) > self.last_key

    def apply(self, event: JourneyEvent, rules: JourneyRules) -> None:
        """Apply one event that comes after every event applied so far."""
        journey = self._journey_for(event, rules)
        journey.last_event_at = max(journey.last_event_at, event.occurred_at)
        journey.events_mask |= EVENT_BITS[event.name]
        journey.note(event)
        stage = rules.stage_of(event.name)
        if stage is not None:
            journey.reach(stage, event.occurred_at)
        if event.name in rules.conversion and not journey.converted:
            self._convert(journey, event)
        self.last_key = event_key(event)

    def _journey_for(self, event: JourneyEvent, rules: JourneyRules) -> Journey:
        order_id = event.order_id
        if order_id is not None:
            for journey in reversed(self.journeys):
                if journey.order_id == order_id:
                    return journey
        current = self.journeys[-1] if self.journeys else None
        if (
            current is None
            or current.converted
            or event.occurred_at - current.last_event_at > rules.abandon_after
        ):
            current = Journey(len(self.journeys), event.occurred_at, event.occurred_at)
            self.journeys.append(current)
        return current

    def _convert(self, journey: Journey, event: JourneyEvent) -> None:
        journey.converted_at = event.occurred_at
        journey.order_id = event.order_id
        amount = event.amount()
        if amount is not None:
            journey.amount, journey.currency = amount
        if any(j.converted for j in self.journeys if j is not journey):
            journey.reach(Stage.LOYALTY, event.occurred_at)


def fold(events: Iterable[JourneyEvent], rules: JourneyRules) -> ProfileJourneys:
    """A profile's journeys from all its events, in any order."""
    state = ProfileJourneys()
    for event in sorted(events, key=event_key):
        state.apply(event, rules)
    return state
