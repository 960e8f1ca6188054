"""The exception tree: everything Parcours raises on purpose derives from `ParcoursError`.

    ParcoursError
    ├── ConfigError      a setting is missing or invalid (raised at start-up)
    ├── StorageError     the database cannot be reached or is not migrated
    ├── ValidationError  outside input (event, file, request) is malformed
    ├── NotFoundError    a store, profile or key that does not exist (or is not yours)
    ├── AuthError        missing or wrong credentials
    ├── Forbidden        known credentials whose role may not do this (an analyst's change)
    └── RateLimited      too many requests for now: `wait` seconds before the next
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ParcoursError(Exception):
    """Root of every error Parcours raises on purpose."""


class ConfigError(ParcoursError):
    """A setting is missing or invalid."""


class StorageError(ParcoursError):
    """The database cannot be reached, or its schema is not at the expected revision."""


class NotFoundError(ParcoursError):
    """The thing asked for does not exist, or the caller may not see it."""


class AuthError(ParcoursError):
    """Credentials are missing or wrong."""


class Forbidden(ParcoursError):
    """The caller is known, but its role may not do this (403): a store out of its scope is a
    NotFoundError instead, so that its existence is not told."""


class ValidationError(ParcoursError):
    """Outside input is malformed.

    `errors` maps a location (a field, or a record index then a field) to messages, as
    marshmallow does, so callers can name precisely what is wrong.
    """

    def __init__(self, message: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors: dict[str, Any] = dict(errors or {})

    def __str__(self) -> str:
        if not self.errors:
            return self.args[0]  # type: ignore[no-any-return]
        return f"{self.args[0]}: {describe_errors(self.errors)}"


def describe_errors(errors: Mapping[str, Any], prefix: str = "") -> str:
    """Flatten marshmallow-style nested errors into `a.b: message; c: message`."""
    parts: list[str] = []
    for key, value in errors.items():
        where = f"{prefix}{key}"
        if isinstance(value, Mapping):
            parts.append(describe_errors(value, prefix=f"{where}."))
        elif isinstance(value, list | tuple):
            parts.append(f"{where}: {' '.join(str(v) for v in value)}")
        else:
            parts.append(f"{where}: {value}")
    return "; ".join(parts)


class RateLimited(ParcoursError):
    """Too many requests for now; `wait` is the seconds before one may pass (Retry-After)."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait
