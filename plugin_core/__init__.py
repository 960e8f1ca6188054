"""Parcours: follow every shopper through the customer journey, and measure it.

The public surface is small on purpose; everything else is reachable through its module.
`Client` (the SDK) is imported on first use, so `import parcours` stays light.
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
    from parcours.sdk import Client

__version__ = "0.1.0"

__all__ = [
    "EVENT_NAMES",
    "AuthError",
    "Client",
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


def __getattr__(name: str) -> Any:
    if name == "Client":
        from parcours.sdk import Client

        return Client
    raise AttributeError(f"module 'parcours' has no attribute {name!r}")
