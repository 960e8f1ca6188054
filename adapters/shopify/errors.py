"""Every error the Shopify adapter raises on purpose, under one `ShopifyError`.

OAuth, session tokens, the token store and the GraphQL client all say "Shopify refused us" with
the same `ShopifyAuthError`, so a caller (a route, a job) handles it once whatever raised it.
"""

from __future__ import annotations

from typing import Any

from parcours.errors import AuthError, ParcoursError, ValidationError

__all__ = [
    "ShopUnavailable",
    "ShopifyAuthError",
    "ShopifyError",
    "ShopifyGrantError",
    "ShopifyGraphQLError",
    "ShopifyRequestError",
    "ShopifyThrottled",
    "ShopifyUnreachable",
    "ShopifyUserErrors",
]


class ShopifyError(ParcoursError):
    """Shopify answered with an error, or something about a shop is wrong.

    `status` is Shopify's HTTP status when there was an answer; `errors` what it said.
    """

    def __init__(self, message: str, *, status: int | None = None, errors: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors


class ShopifyAuthError(ShopifyError, AuthError):
    """Something from or about Shopify did not verify (HMAC, state, session token), or Shopify
    refused our credentials: 401 (token unknown, expired, revoked: uninstalled?) or 403 (scope)."""


class ShopifyGrantError(ShopifyAuthError):
    """Shopify refused a grant (code already used, refresh token retired, bad session token).

    `error` is Shopify's OAuth error code (e.g. "invalid_grant").
    """

    def __init__(self, message: str, *, error: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.error = error


class ShopifyUnreachable(ShopifyError):
    """Shopify could not be reached, timed out or kept failing (5xx, 429) after the retries:
    try again later."""


class ShopUnavailable(ShopifyError):
    """402 (shop frozen), 404 (no such shop) or 423 (shop locked): retrying will not help."""


class ShopifyThrottled(ShopifyError):
    """Still THROTTLED after the retries."""


class ShopifyGraphQLError(ShopifyError):
    """Top-level GraphQL `errors` (a bad query or variable, ACCESS_DENIED, MAX_COST_EXCEEDED).

    `data` holds what Shopify answered besides the errors (fields may be null).
    """

    def __init__(self, message: str, *, errors: list[dict[str, Any]],
                 data: dict[str, Any] | None) -> None:
        super().__init__(message, status=200, errors=errors)
        self.data = data

    @property
    def codes(self) -> set[str]:
        return {str((error.get("extensions") or {}).get("code")) for error in self.errors
                if isinstance(error, dict)}


class ShopifyUserErrors(ShopifyError):
    """A mutation refused its input: `errors` are its `userErrors` ({field, message, code?})."""

    def __init__(self, operation: str, errors: list[dict[str, Any]]) -> None:
        described = "; ".join(
            f"{'.'.join(error.get('field') or []) or '(input)'}: {error.get('message')}"
            for error in errors)
        super().__init__(f"Shopify {operation} refused the input: {described}", status=200,
                         errors=errors)

    @property
    def fields(self) -> list[str]:
        """The dotted path of each refused field, e.g. "webhookSubscription.uri"."""
        return [".".join(str(part) for part in error.get("field") or []) for error in self.errors]

    @property
    def codes(self) -> set[str]:
        return {str(error["code"]) for error in self.errors if error.get("code")}


class ShopifyRequestError(ValidationError):
    """A request meant for the Shopify routes is malformed (missing parameter, foreign shop)."""
