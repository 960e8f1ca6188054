"""Standard Webhooks (standardwebhooks.com) for custom shops and the SDK.

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a
space-separated list of `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, keyed with the bytes
of the base64 part of a `whsec_…` secret. Any listed signature may match (the sender may sign with
old and new secrets while rotating); timestamps more than five minutes away, in either direction,
are refused so that a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from parcours.adapters.base import (
    Action,
    Normalized,
    PlatformAdapter,
    Verification,
    order_contact,
)
from parcours.errors import ValidationError
from parcours.events import load_events
from parcours.standard_webhooks import SECRET_PREFIX, secret_bytes

TOLERANCE_SECONDS = 5 * 60


def _signatures(header: str) -> list[bytes]:
    """The v1 signatures of a header; other versions are skipped, malformed ones dropped."""
    found = []
    for part in header.split():
        version, _, value = part.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except binascii.Error:
            continue
    return found


class CustomAdapter(PlatformAdapter):
    name = "custom"
    kept_header_prefixes = ("webhook-",)

    def verify(self, headers: Mapping[str, str], body: bytes, secrets: list[str],
               now: float | None = None) -> Verification:
        msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        header = headers.get("webhook-signature", "")
        if not (msg_id and stamp and header):
            return Verification(False, "missing webhook-id, webhook-timestamp or "
                                       "webhook-signature header")
        # isdigit() alone admits "²" or "١٢٣", which int() refuses or reads as another number.
        if not (stamp.isascii() and stamp.isdigit()):
            return Verification(False, "webhook-timestamp is not Unix seconds")
        if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
            return Verification(False, "webhook-timestamp is more than 5 minutes away")
        given = _signatures(header)
        if not given:
            return Verification(False, "webhook-signature holds no v1 signature")
        signed = f"{msg_id}.{stamp}.".encode() + body
        for secret in secrets:
            try:
                key = secret_bytes(secret)
            except ValueError:
                continue
            if not key:  # an empty key would let anyone sign
                continue
            expected = hmac.new(key, signed, hashlib.sha256).digest()
            # Compare with every listed signature, never stopping early on a mismatch.
            if any([hmac.compare_digest(expected, sig) for sig in given]):
                return Verification(True)
        return Verification(False, "no signature matches" if secrets else "no secret is set")

    def topic(self, headers: Mapping[str, str]) -> str:
        return "events"

    def delivery_key(self, store_key: str, headers: Mapping[str, str], body: bytes) -> str:
        return f"custom:{store_key}:{headers.get('webhook-id', '')[:180]}"

    def new_secret(self) -> str:
        return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()

    def normalize(self, store: str, topic: str, payload: Any) -> Normalized:
        """`{"events": [...]}`, bare or in a Standard Webhooks envelope `{"type", "data"}`."""
        if isinstance(payload, dict) and "events" not in payload and "data" in payload:
            payload = payload["data"]
        records = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(records, list):
            raise ValidationError("invalid body", {"events": ["a list of events is required"]})
        contacts = payload.get("contacts", [])
        return Normalized(events=load_events(store, records), actions=_contacts(contacts))


def _contacts(contacts: Any) -> list[Action]:
    """`contacts`: whom to ask for reviews of an order (a custom shop's orders carry no email
    in their events): `[{"order_id", "email", "name"?, "locale"?, "items": [{"product_id",
    "title", "image"?}]}]`."""
    if not isinstance(contacts, list):
        raise ValidationError("invalid body", {"contacts": ["a list of order contacts"]})
    found: list[Action] = []
    for n, entry in enumerate(contacts):
        items = entry.get("items") if isinstance(entry, dict) else None
        order_id = entry.get("order_id") if isinstance(entry, dict) else None
        if not isinstance(order_id, str) or not 0 < len(order_id) <= 64 \
                or not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValidationError("invalid body", {f"contacts.{n}": [
                "an object with order_id (text, up to 64 characters) and items (a list of "
                "objects with product_id and title)"]})
        contact = order_contact(order_id, email=entry.get("email"), name=entry.get("name"),
                                locale=entry.get("locale"), customer_id=None,
                                items=[(i.get("product_id"), i.get("title"), i.get("image"))
                                       for i in items])
        if entry.get("email") and contact.email is None:
            raise ValidationError("invalid body", {f"contacts.{n}.email": ["an email address"]})
        found.append(contact)
    return found
