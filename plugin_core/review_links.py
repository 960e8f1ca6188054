"""The signed links of review requests: the form link and the unsubscribe link.

itsdangerous tokens, one salt per purpose, keys derived from PARCOURS_SECRET_KEYS (a rotation
keeps older links valid while the old key is listed). The form link names the request and its
current nonce: submitting the form replaces the nonce, so a link works once. It expires after
the store's `link_days`. The unsubscribe link names the store and the address's hash (never the
address) and does not expire: an old email must still let its reader stop the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from parcours.credentials import Vault
from parcours.errors import AuthError

__all__ = ["FORM_SALT", "UNSUBSCRIBE_SALT", "FormLink", "Unsubscribe", "form_token",
           "read_form_token", "read_unsubscribe_token", "unsubscribe_token"]

FORM_SALT = "parcours.review-form"
UNSUBSCRIBE_SALT = "parcours.review-unsubscribe"


@dataclass(frozen=True)
class FormLink:
    request_id: int
    nonce: str
    issued_at: datetime

    def expired(self, days: int, now: datetime) -> bool:
        """Whether the link is older than the store's `link_days` (known only once the
        request, and so its store, is read from the link)."""
        return now - self.issued_at > timedelta(days=days)


@dataclass(frozen=True)
class Unsubscribe:
    store_id: int
    email_hash: str


def form_token(vault: Vault, request_id: int, nonce: str) -> str:
    return URLSafeTimedSerializer(vault.signing_keys(FORM_SALT), salt=FORM_SALT).dumps(
        [request_id, nonce])


def read_form_token(vault: Vault, token: str) -> FormLink:
    """The request a form link names and when it was issued; AuthError when it is not ours.
    (Whether it expired is `FormLink.expired`; whether it was used, the request's nonce.)"""
    serializer = URLSafeTimedSerializer(vault.signing_keys(FORM_SALT), salt=FORM_SALT)
    try:
        data, issued_at = serializer.loads(token, return_timestamp=True)
    except BadSignature:
        raise AuthError("this is not a review link from this shop") from None
    if (not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], int)
            or not isinstance(data[1], str)):
        raise AuthError("this is not a review link from this shop")
    return FormLink(data[0], data[1], issued_at)


def unsubscribe_token(vault: Vault, store_id: int, email_hash: str) -> str:
    return URLSafeSerializer(vault.signing_keys(UNSUBSCRIBE_SALT), salt=UNSUBSCRIBE_SALT).dumps(
        [store_id, email_hash])


def read_unsubscribe_token(vault: Vault, token: str) -> Unsubscribe:
    serializer = URLSafeSerializer(vault.signing_keys(UNSUBSCRIBE_SALT), salt=UNSUBSCRIBE_SALT)
    try:
        data = serializer.loads(token)
    except BadSignature:
        raise AuthError("this is not an unsubscribe link from this shop") from None
    if (not isinstance(data, list) or len(data) != 2 or not isinstance(data[0], int)
            or not isinstance(data[1], str)):
        raise AuthError("this is not an unsubscribe link from this shop")
    return Unsubscribe(data[0], data[1])
