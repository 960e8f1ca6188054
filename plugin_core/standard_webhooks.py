"""The Standard Webhooks signature (standardwebhooks.com), both ways: the custom adapter
verifies deliveries signed with it, and Parcours signs what it sends (review requests to a
store's messaging tool, the SDK's deliveries).

`webhook-signature` is `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, keyed with the bytes
of the base64 part of a `whsec_...` secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["SECRET_PREFIX", "secret_bytes", "sign"]

SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a Standard Webhooks secret starts with 'whsec_'")
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one delivery (what the SDK sends)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
