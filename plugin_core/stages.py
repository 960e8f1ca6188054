"""The eight stages of the customer journey, in the order a purchase cycle goes through them."""

from __future__ import annotations

from enum import IntEnum


class Stage(IntEnum):
    """A journey stage. The integer order is the journey's order: later stages compare greater.

    awareness   the shopper arrives (any first contact opens a journey here)
    research    looks for information: searches, browses collections, views products
    comparison  weighs options: cart, shipping cost, removing and re-adding items
    decision    commits to checking out: the checkout steps up to payment
    purchase    places and pays an order
    reception   the order is shipped and delivered
    evaluation  reviews what was received
    loyalty     buys again: a repeat purchase
    """

    AWARENESS = 0
    RESEARCH = 1
    COMPARISON = 2
    DECISION = 3
    PURCHASE = 4
    RECEPTION = 5
    EVALUATION = 6
    LOYALTY = 7

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Stage:
        """Stage from its lower-case name; ValueError names the accepted values."""
        try:
            return cls[value.upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown stage {value!r} (expected one of: {names})") from None


STAGES: tuple[Stage, ...] = tuple(Stage)
