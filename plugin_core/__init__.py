"""Parcours: follow every shopper through the customer journey, and measure it.

The public surface is small on purpose; everything else is reachable through its module.
"""

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

__version__ = "0.1.0"

__all__ = [
    "EVENT_NAMES",
    "AuthError",
    "ConfigError",
    "JourneyEvent",
    "NotFoundError",
    "ParcoursError",
    "Stage",
    "StorageError",
    "ValidationError",
    "__version__",
    "load_event",
    "load_events",
]
