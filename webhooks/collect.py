"""`POST /collect`: storefront events from browsers (Shopify web pixel, widgets, JS beacon).

Unlike webhooks these are not signed: the store key in the body is public. So the endpoint
defends itself differently, and answers in ways a browser script can read (CORS headers on
every answer but a refused origin's):

- bodies are small (413 past `MAX_BODY`) and batches are validated in full before anything is
  stored: bad input, unparsable or invalid, is a `400` naming each bad field or record (the
  JSON API answers 422; this public endpoint keeps to one plain "bad request" for all of it);
- an unknown store key is a `404`;
- the Origin must be one of the store's own hosts when the store has declared any (an opaque
  "null" origin, a sandboxed pixel, passes); another origin is a `403` naming it;
- three token buckets, in this process: per client address on a store, per store across all
  addresses, per address across all stores (`429` with Retry-After, naming the limit). Their
  rates are app config keys, `COLLECT_RATE_PER_CLIENT`, `COLLECT_BURST_PER_CLIENT` and the same
  with `_PER_STORE` and `_PER_IP` (batches per second, and a burst);
- crawlers and headless tools, by user agent, are answered 202 and nothing is stored.

An accepted batch goes into the same inbox as webhooks; identical bodies (a beacon sent twice)
are stored once, and event ids are deterministic anyway. The row keeps the request's
User-Agent: the worker derives each event's `device` from it, and page views' `channel` from
their referrer and utm properties (segments.with_segments), off the acknowledgement's path.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge

from parcours.accounts import store_hosts
from parcours.db import Database
from parcours.errors import ConfigError, ValidationError
from parcours.events import load_events
from parcours.inbox import COLLECT_TOPIC, USER_AGENT, receive
from parcours.segments import BOTS
from parcours.webhooks.stores import KnownStore, StoreDirectory

collect = Blueprint("collect", __name__)

MAX_BODY = 64 * 1024
MAX_EVENTS = 100
MAX_USER_AGENT = 512  # what segments.device_of reads of it
# Default limits, as (batches per second, burst). A shopper's browser sends a batch every few
# seconds; one address may hide many shoppers (an office, a carrier's NAT), of several stores;
# all the shoppers of a busy store together send far more than any one address.
RATE, BURST = 10.0, 60.0  # one client address on one store
STORE_RATE, STORE_BURST = 200.0, 1000.0  # one store, all addresses together
IP_RATE, IP_BURST = 20.0, 120.0  # one address, all stores together


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


def _limiter(config: Mapping[str, Any], scope: str, rate: float, burst: float) -> RateLimiter:
    """The bucket of one scope, from `COLLECT_RATE_PER_<scope>` and `COLLECT_BURST_PER_<scope>`."""
    try:
        rate = float(config.get(f"COLLECT_RATE_PER_{scope}", rate))
        burst = float(config.get(f"COLLECT_BURST_PER_{scope}", burst))
    except (TypeError, ValueError):
        raise ConfigError(f"COLLECT_RATE_PER_{scope} and COLLECT_BURST_PER_{scope} "
                          "must be numbers") from None
    if not (rate > 0 and burst >= 1):  # a zero rate would never refill (and divide by zero)
        raise ConfigError(f"COLLECT_RATE_PER_{scope} must be over 0 and "
                          f"COLLECT_BURST_PER_{scope} at least 1")
    return RateLimiter(rate, burst)


@dataclass(frozen=True)
class Limits:
    """The three token buckets of `/collect`, one per scope."""

    per_client: RateLimiter  # (store key, address)
    per_store: RateLimiter  # (store key,)
    per_ip: RateLimiter  # (address,)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(per_client=_limiter(config, "CLIENT", RATE, BURST),
                   per_store=_limiter(config, "STORE", STORE_RATE, STORE_BURST),
                   per_ip=_limiter(config, "IP", IP_RATE, IP_BURST))


@collect.record_once
def _init_limits(state: BlueprintSetupState) -> None:
    # Once per app, when the blueprint is registered: the config is final by then, and each
    # app (each test) gets its own buckets.
    state.app.extensions["parcours.collect_limits"] = Limits.from_config(state.app.config)


def _hosts(db: Database, store: KnownStore) -> set[str]:
    """The hosts the store's pages are served from (accounts.store_hosts)."""
    with db.read() as conn:
        return store_hosts(conn, store.id)


def _origin_host(origin: str) -> str:
    """The lower-cased host of an Origin header; "" for one that is not a URL ("http://[" makes
    urlsplit raise), which then matches no store host."""
    try:
        return (urlsplit(origin).hostname or "").lower()
    except ValueError:
        return ""


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _error(status: int, message: str, fields: Mapping[str, Any] | None = None,
           retry_after: float | None = None) -> Response:
    """The app's error body (`parcours.app.error_response`), built here because this module is
    imported while `parcours.app` is still loading."""
    body: dict[str, Any] = {"message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify(error=body)
    response.status_code = status
    if retry_after is not None:
        # Whole seconds, rounded up: rounding down would invite a retry that is refused again.
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


@collect.route("/collect", methods=["OPTIONS"])
def preflight() -> Response:
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return _cors(response, request.headers.get("Origin"))


@collect.post("/collect")
def collect_events() -> Response:
    """`{"key": "<store key>", "events": [...]}`, any content type (sendBeacon sends text)."""
    origin = request.headers.get("Origin")
    try:
        response = _collect(origin)
    except ValidationError as exc:
        # Handled here rather than by the app's handler, which answers 422 for the JSON API.
        response = _error(400, str(exc.args[0]), exc.errors)
    except RequestEntityTooLarge:
        response = _error(413, f"a batch is at most {MAX_BODY} bytes")
    if response.status_code == 403:
        return response  # a refused origin is not granted a read of anything, this included
    return _cors(response, origin)


def parse_batch(body: bytes) -> tuple[str, list[Any]]:
    """The store key and the records of a beacon's body (`{"key", "events"}`), before the
    records' own schema; ValidationError naming the field. Shared with the shops that collect
    on their own origin (parcours.flask)."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON", {"body": [str(exc)]}) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("key"), str):
        raise ValidationError("invalid body", {"key": ["the store key is required"]})
    records = payload.get("events")
    if not isinstance(records, list) or not 0 < len(records) <= MAX_EVENTS:
        raise ValidationError("invalid body", {"events": [f"1 to {MAX_EVENTS} events"]})
    return payload["key"], records


def _collect(origin: str | None) -> Response:
    request.max_content_length = MAX_BODY  # a 413 past it, before anything is read
    body = request.get_data(cache=False)
    agent = request.headers.get("User-Agent", "")[:MAX_USER_AGENT]
    # Crawlers and headless tools (segments.BOTS): answered like an accepted batch (a bot gains
    # nothing by learning it was spotted), and nothing is stored.
    if BOTS.search(agent):
        response = jsonify(accepted=0, duplicate=False)
        response.status_code = 202
        return response
    limits: Limits = current_app.extensions["parcours.collect_limits"]
    address = request.remote_addr or ""
    # The address's own bucket first, before parsing or any database read, so that one client
    # cannot make the server work for it past its share, whatever it sends.
    wait = limits.per_ip.wait_for(address)
    if wait:
        return _error(429, "too many requests from this address", retry_after=wait)
    key, records = parse_batch(body)

    directory: StoreDirectory = current_app.extensions["parcours.store_directory"]
    db: Database = current_app.extensions["parcours.db"]
    store = directory.any_by_key(key)
    if store is None:
        return _error(404, f"no store {key!r}")
    # "null" is the opaque origin of sandboxed senders (Shopify's strict web pixel worker):
    # there is no host to compare, and the store key is public anyway.
    if origin is not None and origin != "null":
        allowed = _hosts(db, store)
        if allowed and _origin_host(origin) not in allowed:
            # 403, not 401: the caller is known (the key is public), and no credential would
            # change the answer.
            return _error(403, f"origin {origin!r} is not one of the store's")
    # The client's bucket on this store before the store's: a client over its own limit must
    # not use up the tokens the store's other shoppers share.
    wait = limits.per_client.wait_for(store.key, address)
    if wait:
        return _error(429, "too many requests from this address for this store",
                      retry_after=wait)
    wait = limits.per_store.wait_for(store.key)
    if wait:
        return _error(429, "too many requests for this store", retry_after=wait)
    load_events(store.key, records)  # all or nothing, naming every bad record
    digest = hashlib.sha256(body).hexdigest()
    with db.write() as conn:
        new = receive(conn, store_id=store.id, source="custom", topic=COLLECT_TOPIC,
                      delivery_key=f"collect:{store.key}:{digest}", body=body,
                      headers={USER_AGENT: agent} if agent else None)
    if new:
        current_app.extensions["parcours.jobs"].wake()
    response = jsonify(accepted=len(records), duplicate=not new)
    response.status_code = 202
    return response
