"""Every error the WooCommerce adapter raises on purpose, under one `WooCommerceError`."""

from __future__ import annotations

from parcours.errors import AuthError, ParcoursError, ValidationError

__all__ = ["StoreURLError", "WooCommerceAuthError", "WooCommerceError",
           "WooCommerceUnreachable"]


class WooCommerceError(ParcoursError):
    """The store answered with an error: `code` and `message` are WooCommerce's own
    (e.g. "rest_setting_value_invalid"), `status` its HTTP status."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class WooCommerceAuthError(WooCommerceError, AuthError):
    """401/403: the keys are wrong, revoked, or lack the permission (read vs read_write)."""


class WooCommerceUnreachable(WooCommerceError):
    """The store could not be reached, timed out, or kept answering 429/5xx: try later."""


class StoreURLError(ValidationError):
    """A store URL Parcours will not call: not https, not public, or malformed."""
