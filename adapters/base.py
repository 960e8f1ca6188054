"""The contract every platform adapter implements, and the registry that finds them.

Like sentry-python's integrations: one subpackage per platform, one small contract, and the
rest of Parcours (the webhook receiver, the jobs) speaks only this contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parcours.errors import ConfigError
from parcours.events import JourneyEvent


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a delivery's signature; never an exception on bad input."""

    ok: bool
    reason: str = ""


class PlatformAdapter(ABC):
    """What Parcours needs from a platform."""

    name: str

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes,
               secrets: list[str]) -> Verification:
        """Check the signature on the raw body against any of `secrets` (rotation)."""

    @abstractmethod
    def delivery_key(self, headers: Mapping[str, str], body: bytes) -> str:
        """A key unique per delivery, for deduplication in the inbox."""

    @abstractmethod
    def normalize(self, store: str, topic: str, payload: Any) -> list[JourneyEvent]:
        """Pure: one platform payload to canonical events (none for unknown topics)."""


_REGISTRY: dict[str, PlatformAdapter] = {}


def register(adapter: PlatformAdapter) -> None:
    _REGISTRY[adapter.name] = adapter


def adapter_for(platform: str) -> PlatformAdapter:
    try:
        return _REGISTRY[platform]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none yet"
        raise ConfigError(f"no adapter for platform {platform!r} (registered: {known})") from None
