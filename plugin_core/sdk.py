"""The Python SDK: `from parcours import Client`, then `client.track(...)` from any backend.

Events go to the custom shops' receiver (`POST /webhooks/custom/<store_key>`) as canonical
events (docs/events.md), in batches signed with the store's Standard Webhooks secret: the same
door and the same checks as any custom shop's webhooks, so the SDK needs no endpoint of its own.

    client = Client("my-shop", "whsec_...", url="https://parcours.example.com")
    client.track("product_viewed", anonymous_id="a-1", properties={"product_id": "42"})
    client.identify(customer_id="c-7", anonymous_id="a-1")   # stitch the two profiles

`track()` checks and serialises the event at once (so one bad event never sinks a batch, and
what the caller changes afterwards is not what is sent), then returns; a background thread
sends. The policies (batching, the bounded queue and what happens when it is full, retries,
fork, exit, dev vs prod errors) are in docs/sdk.md.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from marshmallow import ValidationError as SchemaError

from parcours.errors import ConfigError, ValidationError
from parcours.events import (
    EVENT_NAMES,
    IDENTITY_KINDS,
    MAX_IDENTITY_LENGTH,
    MAX_KEY_LENGTH,
    check_properties,
    email_identity,
    load_event,
)
from parcours.sdk_batching import (
    DeliveryError,
    ErrorHook,
    Record,
    Sender,
    Timeout,
    Transport,
    batch_body,
    encode,
    new_batch_id,
)
from parcours.standard_webhooks import secret_bytes

__all__ = ["Client", "DeliveryError"]

log = logging.getLogger("parcours.sdk")

SOURCE = "sdk"
MIN_BATCH_BYTES = 64 * 1024  # one event (properties up to 16 KiB) must always fit a batch
SERVER_BODY_LIMIT = 5 * 1024 * 1024  # the receiver's default MAX_CONTENT_LENGTH

_clients: weakref.WeakSet[Client] = weakref.WeakSet()

_NAMES = frozenset(EVENT_NAMES)
_PLAIN_KINDS = frozenset(IDENTITY_KINDS) - {"email_hash"}
_EMAIL_HASH = re.compile(r"[0-9a-f]{64}")


def _plainly_valid(record: Record) -> bool:
    """Whether the schema would surely accept the record's name, identities, property keys
    and key: the parts typed arguments can still get wrong (`occurred_at` and `source` are
    the client's own). Stricter than the schema is harmless: a False only means the schema
    itself is asked, and it names the field."""
    name = record["name"]
    if not isinstance(name, str) or name not in _NAMES or not record["identities"]:
        return False
    for kind, value in record["identities"].items():
        if not (isinstance(value, str) and 0 < len(value) <= MAX_IDENTITY_LENGTH):
            return False
        if kind not in _PLAIN_KINDS and not (kind == "email_hash"
                                             and _EMAIL_HASH.fullmatch(value)):
            return False
    key = record["key"]
    return (isinstance(key, str) and 0 < len(key) <= MAX_KEY_LENGTH
            and all(isinstance(prop, str) for prop in record["properties"]))


def check(store_key: str, record: Record) -> bytes:
    """The record's JSON once the server's schema would accept it; else ValidationError
    naming the field (and, for oversize properties, the limit).

    The whole marshmallow schema costs some 100 µs an event, more than sending it; so the
    schema runs only when the cheap checks above cannot vouch for the record, and the
    property rules, the only ones left, are the schema's own function (check_properties).
    """
    if not _plainly_valid(record):
        load_event(store_key, record)
    else:
        try:
            check_properties(record["name"], record["properties"])
        except SchemaError as exc:
            raise ValidationError("invalid event", exc.normalized_messages()) from None
    try:
        return encode(record)
    except (TypeError, ValueError) as exc:
        raise ValidationError("invalid event", {"properties": [str(exc)]}) from None


def _log_error(exc: Exception, records: list[Record]) -> None:
    """The default on_error: a warning with the count and the reason, never the events (they
    may carry customer data) and never the secret."""
    log.warning("parcours SDK dropped %d event(s): %s", len(records), exc)


class Client:
    """Sends journey events of one store to a Parcours server.

    Thread-safe; one per process is enough (share it). `track()` never blocks on the network
    and never raises in production mode (`debug=False`): bad events and failed deliveries go to
    `on_error(exc, events)`. With `debug=True`, an invalid event raises `ValidationError` at the
    call, naming the field, so mistakes show up while developing.
    """

    def __init__(self, store_key: str, secret: str, *, url: str,
                 flush_at: int = 100, flush_interval: float = 0.5,
                 max_batch_bytes: int = 512 * 1024, max_queue_size: int = 10_000,
                 timeout: Timeout = (3.05, 10.0), max_retries: int = 8,
                 backoff: float = 0.5, backoff_cap: float = 30.0,
                 sync_mode: bool = False, debug: bool = False,
                 on_error: ErrorHook | None = None, shutdown_timeout: float = 5.0) -> None:
        if not store_key or "/" in store_key:
            raise ConfigError("store_key: the store's key, as in /webhooks/custom/<store_key>")
        try:
            if not secret_bytes(secret):
                raise ValueError("empty")
        except (ValueError, TypeError, AttributeError):  # binascii.Error is a ValueError
            # Never echo the value: it is (or is close to) a secret.
            raise ConfigError("secret: the store's Standard Webhooks secret, 'whsec_' followed "
                              "by base64") from None
        if not url.startswith(("http://", "https://")):
            raise ConfigError("url: the Parcours server, such as https://parcours.example.com")
        if flush_at < 1 or max_queue_size < 1 or flush_interval < 0 or max_retries < 0:
            raise ConfigError("flush_at and max_queue_size must be positive, flush_interval "
                              "and max_retries not negative")
        if not MIN_BATCH_BYTES <= max_batch_bytes <= SERVER_BODY_LIMIT:
            raise ConfigError(f"max_batch_bytes must be between {MIN_BATCH_BYTES} and "
                              f"{SERVER_BODY_LIMIT} (the server's body limit)")
        from parcours import __version__

        self.store_key = store_key
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/webhooks/custom/{quote(store_key, safe='')}"
        self.sync_mode = sync_mode
        self.debug = debug
        self.shutdown_timeout = shutdown_timeout
        self._on_error: ErrorHook = on_error or _log_error
        self._transport = Transport(self.endpoint, secret, timeout=timeout,
                                    max_retries=max_retries, backoff=backoff,
                                    backoff_cap=backoff_cap,
                                    user_agent=f"parcours-python/{__version__}")
        self._sender = Sender(self._transport, flush_at=flush_at, flush_interval=flush_interval,
                              max_batch_bytes=max_batch_bytes, max_queue_size=max_queue_size,
                              report=self._report)
        _clients.add(self)

    def __repr__(self) -> str:  # the secret is never shown
        mode = "sync" if self.sync_mode else "background"
        return f"<parcours.Client store={self.store_key!r} url={self.url!r} {mode}>"

    # -- public calls --------------------------------------------------------------------------
    def track(self, name: str, *, identities: Mapping[str, str] | None = None,
              anonymous_id: str | None = None, customer_id: str | None = None,
              email: str | None = None, properties: Mapping[str, Any] | None = None,
              occurred_at: datetime | None = None, key: str | None = None) -> None:
        """Record that `name` (a canonical event name, docs/events.md) happened to a shopper.

        Identities say who: `anonymous_id` (a visitor), `customer_id` (your account id),
        `email` (hashed here: the address never leaves this process), or any canonical kind in
        `identities`. An event carrying identities of two profiles merges them.
        `occurred_at` must be timezone-aware (default: now, UTC). `key` names the fact, so that
        two sends of it are one event; by default each call is its own event (a random key,
        like Segment's messageId), which also makes any re-delivery harmless.
        """
        record = self._record(name, identities, anonymous_id, customer_id, email, properties,
                              occurred_at, key)
        if record is None:
            return
        try:
            part = check(self.store_key, record)
        except ValidationError as exc:
            self._invalid(exc, record)
            return
        self._enqueue(record, part)

    def page(self, url: str | None = None, *, title: str | None = None,
             referrer: str | None = None, identities: Mapping[str, str] | None = None,
             anonymous_id: str | None = None, customer_id: str | None = None,
             email: str | None = None, properties: Mapping[str, Any] | None = None,
             occurred_at: datetime | None = None, key: str | None = None) -> None:
        """A `page_viewed` (server-rendered pages). `referrer` and utm properties set the
        journey's channel, as the storefront beacon's do."""
        props = dict(properties or {})
        for field, value in (("url", url), ("title", title), ("referrer", referrer)):
            if value is not None:
                props.setdefault(field, value)
        self.track("page_viewed", identities=identities, anonymous_id=anonymous_id,
                   customer_id=customer_id, email=email, properties=props,
                   occurred_at=occurred_at, key=key)

    def identify(self, *, customer_id: str | None = None, anonymous_id: str | None = None,
                 email: str | None = None, identities: Mapping[str, str] | None = None,
                 properties: Mapping[str, Any] | None = None,
                 occurred_at: datetime | None = None, key: str | None = None) -> None:
        """Say that these identities are one shopper (sign-up or log-in): their profiles merge.

        Sent as `customer_created`, the canonical event for an account becoming known (it moves
        no journey stage). Its default key is derived from the identities, so identifying the
        same pair again (every log-in) records nothing new. Needs at least two identities.
        """
        found = self._identities(identities, anonymous_id, customer_id, email)
        if found is not None and len(found) < 2:
            self._invalid(ValidationError("invalid event", {"identities": [
                "identify() links identities: give at least two (for example customer_id and "
                "anonymous_id)"]}), {"name": "customer_created", "identities": found})
            return
        if key is None and found is not None:
            digest = hashlib.sha256(repr(sorted(found.items())).encode()).hexdigest()[:32]
            key = f"identify:{digest}"
        self.track("customer_created", identities=found, properties=properties,
                   occurred_at=occurred_at, key=key)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued; True once it is all sent (or dropped and reported), False
        if `timeout` seconds pass first (the server unreachable, say). Sending goes on."""
        if self.sync_mode:
            return True
        return self._sender.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush (up to `timeout`, default `shutdown_timeout`), then stop the sender; events
        left are reported through on_error. Runs at interpreter exit (atexit)."""
        _clients.discard(self)
        if self.sync_mode:
            return True
        return self._sender.shutdown(self.shutdown_timeout if timeout is None else timeout)

    # -- building and checking an event --------------------------------------------------------
    def _identities(self, identities: Mapping[str, str] | None, anonymous_id: str | None,
                    customer_id: str | None, email: str | None) -> dict[str, str] | None:
        found = dict(identities or {})
        if "email" in found:
            email = email or found["email"]
            del found["email"]
        if anonymous_id is not None:
            found["anonymous_id"] = anonymous_id
        if customer_id is not None:
            found["customer_id"] = customer_id
        if email is not None:
            hashed = email_identity(email)
            if hashed is None:
                self._invalid(ValidationError("invalid event", {"identities.email": [
                    "not an email address"]}), {"identities": found})
                return None
            found["email_hash"] = hashed
        return found

    def _record(self, name: str, identities: Mapping[str, str] | None,
                anonymous_id: str | None, customer_id: str | None, email: str | None,
                properties: Mapping[str, Any] | None, occurred_at: datetime | None,
                key: str | None) -> Record | None:
        """The canonical record, with the checks that need the caller's objects (the email
        before it is hashed, the datetime before it is text)."""
        found = self._identities(identities, anonymous_id, customer_id, email)
        if found is None:
            return None
        if occurred_at is None:
            moment = datetime.now(UTC).isoformat()
        elif not isinstance(occurred_at, datetime) or occurred_at.utcoffset() is None:
            self._invalid(ValidationError("invalid event", {"occurred_at": [
                "a timezone-aware datetime (a naive one is ambiguous: use "
                "datetime.now(timezone.utc))"]}), {"name": name, "identities": found})
            return None
        else:
            moment = occurred_at.isoformat()
        # The default key is 128 random bits, like a uuid4 (Segment's messageId) at a fifth
        # of its cost; fresh after a fork too, as os.urandom is.
        return {"name": name, "occurred_at": moment, "identities": found,
                "properties": dict(properties or {}), "source": SOURCE,
                "key": key if key is not None else f"sdk:{os.urandom(16).hex()}"}

    def _invalid(self, exc: ValidationError, record: Record) -> None:
        if self.debug:
            raise exc
        self._report(exc, [record])

    def _report(self, exc: Exception, records: list[Record]) -> None:
        try:
            self._on_error(exc, records)
        except Exception:
            log.exception("parcours SDK: the on_error hook raised")

    def _enqueue(self, record: Record, part: bytes) -> None:
        if self.sync_mode:
            self._send_now(record, part)
        elif not self._sender.put(record, part):
            self._report(DeliveryError(f"the queue is full ({self._sender.max_queue_size} "
                                       "events): event dropped"), [record])

    def _send_now(self, record: Record, part: bytes) -> None:
        """Sync mode: sign and send in the caller's thread, with the same retries."""
        try:
            self._transport.send(new_batch_id(), batch_body([part]))
        except DeliveryError as exc:
            self._report(exc, [record])

    def _after_fork(self) -> None:
        self._sender.after_fork()


def _after_fork_in_child() -> None:
    for client in list(_clients):
        client._after_fork()


def _at_exit() -> None:
    for client in list(_clients):
        try:
            client.shutdown()
        except Exception:  # never let one client's trouble stop the interpreter's exit
            log.exception("parcours SDK: flush at exit failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
