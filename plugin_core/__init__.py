"""Parcours: follow every shopper through the customer journey, and measure it.

The public surface is small on purpose; everything else is reachable through its module.
`Client` (the SDK) and `JourneyEngine` (the embedded engine) are imported on first use, and
`Parcours` (the Flask extension, also `parcours.flask.Parcours`) too, so `import parcours`
stays light and never imports Flask.
"""

from typing import TYPE_CHECKING, Any

from parcours.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    ParcoursError,
    StorageError,
    ValidationError,
)
from parcours.events import EVENT_NAMES, JourneyEvent, load_event, load_events
from parcours.stages import Stage

if TYPE_CHECKING:
    from parcours.embedded import JourneyEngine
    from parcours.flask import Parcours
    from parcours.sdk import Client

__version__ = "0.1.0"

__all__ = [
    "EVENT_NAMES",
    "AuthError",
    "Client",
    "ConfigError",
    "JourneyEngine",
    "JourneyEvent",
    "NotFoundError",
    "Parcours",
    "ParcoursError",
    "Stage",
    "StorageError",
    "ValidationError",
    "__version__",
    "load_event",
    "load_events",
]


_LAZY = {"Client": "parcours.sdk", "JourneyEngine": "parcours.embedded",
         "Parcours": "parcours.flask"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'parcours' has no attribute {name!r}")
