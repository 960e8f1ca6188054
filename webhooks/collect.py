"""`POST /collect`: storefront events from browsers (Shopify web pixel, widgets, JS beacon).

Unlike webhooks these are not signed: the store key in the body is public. So the endpoint
defends itself differently: the batch is validated in full before anything is stored (422
naming each bad record), bodies are small, the Origin must be one of the store's own when the
store has declared any (an opaque "null" origin, a sandboxed pixel, passes), and each client
address gets a token bucket per store (429 with Retry-After). An accepted batch goes into the
same inbox as webhooks; identical bodies (a beacon sent twice) are stored once, and event ids
are deterministic anyway.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import store_facts
from parcours.db import Database
from parcours.errors import AuthError, NotFoundError, ValidationError
from parcours.events import load_events
from parcours.inbox import receive
from parcours.webhooks.stores import KnownStore, StoreDirectory

collect = Blueprint("collect", __name__)

MAX_BODY = 64 * 1024
MAX_EVENTS = 100
# Crawlers and headless tools that run pages' scripts: their visits are not shoppers'. A match
# is answered like an accepted batch (a bot gains nothing by learning it was spotted) and
# nothing is stored.
BOTS = re.compile(r"bot\b|crawler|spider|slurp|headlesschrome|lighthouse|pagespeed|"
                  r"facebookexternalhit|preview", re.IGNORECASE)
RATE, BURST = 10.0, 60.0  # per client address and store: batches per second, and a burst


class RateLimiter:
    """A token bucket per key, in this process (each server process limits on its own)."""

    def __init__(self, rate: float = RATE, burst: float = BURST) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_for(self, *key: str) -> float:
        """0 when a request may pass now (and takes a token), else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) > 100_000:  # forget idle clients rather than grow forever
                self._buckets.clear()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1, now)
            return 0.0


def _hosts(db: Database, store: KnownStore) -> set[str]:
    """The hosts the store's pages are served from: its domain and its primary domain."""
    with db.read() as conn:
        domain = conn.execute(select(t.stores.c.domain)
                              .where(t.stores.c.id == store.id)).scalar()
        shop = store_facts(conn, store.id, "shop").get("shop")
    hosts = {domain.lower()} if domain else set()
    primary = shop.get("primary_domain") if isinstance(shop, dict) else None
    if isinstance(primary, str) and primary:
        hosts.add((urlsplit(primary).hostname or primary).lower())
    return hosts


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


@collect.route("/collect", methods=["OPTIONS"])
def preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return _cors(response, request.headers.get("Origin"))


@collect.post("/collect")
def collect_events() -> Any:
    """`{"key": "<store key>", "events": [...]}`, any content type (sendBeacon sends text)."""
    request.max_content_length = MAX_BODY  # a 413 past it, before anything is read
    body = request.get_data(cache=False)
    if BOTS.search(request.headers.get("User-Agent", "")):
        response = jsonify(accepted=0, duplicate=False)
        response.status_code = 202
        return _cors(response, request.headers.get("Origin"))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", {"body": [str(exc)]}) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("key"), str):
        raise ValidationError("invalid body", {"key": ["the store key is required"]})
    records = payload.get("events")
    if not isinstance(records, list) or not 0 < len(records) <= MAX_EVENTS:
        raise ValidationError("invalid body", {"events": [f"1 to {MAX_EVENTS} events"]})

    directory: StoreDirectory = current_app.extensions["parcours.store_directory"]
    db: Database = current_app.extensions["parcours.db"]
    store = directory.any_by_key(payload["key"])
    if store is None:
        raise NotFoundError(f"no store {payload['key']!r}")
    origin = request.headers.get("Origin")
    # "null" is the opaque origin of sandboxed senders (Shopify's strict web pixel worker):
    # there is no host to compare, and the store key is public anyway.
    if origin is not None and origin != "null":
        allowed = _hosts(db, store)
        if allowed and (urlsplit(origin).hostname or "").lower() not in allowed:
            raise AuthError(f"origin {origin!r} is not one of the store's")
    wait = current_app.extensions["parcours.collect_limiter"].wait_for(
        store.key, request.remote_addr or "")
    if wait:
        response = jsonify(error={"message": "too many requests"})
        response.status_code = 429
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return _cors(response, origin)
    load_events(store.key, records)  # all or nothing, naming every bad record
    digest = hashlib.sha256(body).hexdigest()
    with db.write() as conn:
        new = receive(conn, store_id=store.id, source="custom", topic="collect",
                      delivery_key=f"collect:{store.key}:{digest}", body=body)
    if new:
        current_app.extensions["parcours.jobs"].wake()
    response = jsonify(accepted=len(records), duplicate=not new)
    response.status_code = 202
    return _cors(response, origin)
