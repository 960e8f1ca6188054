"""A thin client for Shopify's GraphQL Admin API, pinned to one API version.

Shopify limits each app on each shop with a leaky bucket of query-cost points (the cost of every
answer is in `extensions.cost`), so this client keeps the last `throttleStatus` it saw and waits,
before sending, until the bucket holds what the query cost last time; a query Shopify still
refuses as THROTTLED is retried after the time the bucket needs to refill. 429 and 5xx answers
and network errors are retried with exponential backoff (Retry-After honoured): every operation
Parcours sends is safe to repeat (reads, `metafieldsSet`, and creations whose repeat Shopify
refuses as "taken", which the callers treat as done). Everything else raises a typed error.

The access token is read from its provider on every request (a refreshed token is picked up at
once) and never appears in a message or a log line.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from parcours.adapters.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyThrottled,
    ShopifyUnreachable,
    ShopifyUserErrors,
    ShopUnavailable,
)
from parcours.adapters.shopify.oauth import SHOP_DOMAIN

__all__ = [
    "API_VERSION",
    "Cost",
    "ShopifyClient",
]

# The one place the Admin API version is pinned; everything else imports it.
API_VERSION = "2026-07"

MAX_BACKOFF = 30.0  # seconds between two attempts at most
MAX_RETRY_AFTER = 60.0  # a worker never sleeps longer than this on a server's word
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cost:
    """`extensions.cost` of an answer, and when it was read (the client's clock)."""

    requested: float
    actual: float | None
    maximum: float
    available: float
    restore_rate: float
    at: float

    @classmethod
    def parse(cls, extensions: Any, at: float) -> Cost | None:
        try:
            cost = extensions["cost"]
            status = cost["throttleStatus"]
            actual = cost.get("actualQueryCost")
            return cls(float(cost["requestedQueryCost"]),
                       None if actual is None else float(actual),
                       float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                       float(status["restoreRate"]), at)
        except (KeyError, TypeError, ValueError):
            return None

    def available_at(self, moment: float) -> float:
        """Points in the bucket at `moment`: it refills at `restore_rate` up to `maximum`."""
        return min(self.maximum, self.available + max(0.0, moment - self.at) * self.restore_rate)


TokenProvider = Callable[[], str]


class ShopifyClient:
    """GraphQL Admin API calls for one shop. Not thread-safe: one per job or request."""

    def __init__(self, shop: str, token: TokenProvider | str, *,
                 origin_template: str = "https://{shop}",
                 timeout: tuple[float, float] = (5, 15), max_retries: int = 4,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 session: requests.Session | None = None) -> None:
        if not SHOP_DOMAIN.fullmatch(shop):
            # The domain goes into a URL that carries the token: only Shopify's own pattern.
            raise ShopifyError(f"not a shop domain: {shop!r}")
        self.shop = shop
        self.endpoint = (origin_template.format(shop=shop).rstrip("/")
                         + f"/admin/api/{API_VERSION}/graphql.json")
        self._token: TokenProvider = token if callable(token) else (lambda: token)
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self.session = session or requests.Session()
        self.last_cost: Cost | None = None
        self._costs: dict[str, float] = {}  # query text -> its last requested cost
        self._version_warned = False

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------
    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *,
                cost: float | None = None) -> dict[str, Any]:
        """The `data` of the answer. `cost`: the expected query cost, when known in advance
        (else the cost this query had last time is used to wait for the bucket)."""
        failures = throttled = 0
        token_retried = False
        while True:
            self._wait_for_budget(cost if cost is not None else self._costs.get(query))
            token = self._token()
            try:
                response = self.session.post(
                    self.endpoint, json={"query": query, "variables": dict(variables or {})},
                    headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
                    timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures = self._retry(failures, f"network error ({type(exc).__name__})", None)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failures = self._retry(failures, f"HTTP {status}", response)
                continue
            if status == 401 and not token_retried and self._token() != token:
                token_retried = True  # the token was refreshed meanwhile: one more try
                continue
            if status != 200:
                self._raise_for_status(response)
            self._check_version(response)
            body = self._json(response)
            found = Cost.parse(body.get("extensions"), self._clock())
            if found is not None:
                self.last_cost = found
                self._costs[query] = found.requested
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise ShopifyError("Shopify answered without data", status=status)
                return data
            if _is_throttled(errors) and found is not None:
                if found.requested > found.maximum:  # would never fit: waiting cannot help
                    raise ShopifyThrottled(
                        f"Shopify {self.shop}: the query costs {found.requested:g} points, more "
                        f"than the bucket holds ({found.maximum:g})", status=status, errors=errors)
                if throttled >= self.max_retries:
                    raise ShopifyThrottled(f"Shopify kept throttling {self.shop}", status=status,
                                           errors=errors)
                throttled += 1
                self._sleep(_refill_time(found, found.requested))
                continue
            raise ShopifyGraphQLError(_describe(errors), errors=_as_list(errors),
                                      data=body.get("data"))

    def mutate(self, query: str, variables: Mapping[str, Any], payload_field: str
               ) -> dict[str, Any]:
        """Run a mutation and return its payload; ShopifyUserErrors when it has `userErrors`."""
        payload = self.graphql(query, variables).get(payload_field)
        if not isinstance(payload, dict):
            raise ShopifyError(f"Shopify answered without {payload_field}")
        user_errors = payload.get("userErrors") or []
        if user_errors:
            raise ShopifyUserErrors(payload_field, list(user_errors))
        return payload

    # -- throttling and retries -----------------------------------------------------------------
    def _wait_for_budget(self, needed: float | None) -> None:
        """Sleep until the bucket (as last reported, refilled since) holds `needed` points."""
        last = self.last_cost
        if last is None or not needed or last.restore_rate <= 0:
            return
        needed = min(needed, last.maximum)
        available = last.available_at(self._clock())
        if needed - available > 1e-3:  # not for float noise
            wait = (needed - available) / last.restore_rate
            log.info("Shopify %s: waiting %.2fs for %s query points", self.shop, wait, needed)
            self._sleep(wait)

    def _retry(self, failures: int, reason: str, response: requests.Response | None) -> int:
        if failures >= self.max_retries:
            status = response.status_code if response is not None else None
            raise ShopifyUnreachable(f"Shopify {self.shop}: {reason}, {failures + 1} attempts",
                               status=status)
        wait = _retry_after(response) if response is not None else None
        if wait is None:
            wait = min(MAX_BACKOFF, 2.0 ** failures)
        log.warning("Shopify %s: %s; retrying in %.1fs", self.shop, reason, wait)
        self._sleep(wait)
        return failures + 1

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        detail = _error_text(response)
        if status in (401, 403):
            what = "the access token is invalid or expired" if status == 401 else \
                "the app lacks a required access scope"
            raise ShopifyAuthError(f"Shopify {self.shop}: {what} ({status}: {detail})",
                                   status=status)
        if status in (402, 404, 423):
            what = {402: "the shop is frozen (unpaid)", 404: "no such shop or endpoint",
                    423: "the shop is locked"}[status]
            raise ShopUnavailable(f"Shopify {self.shop}: {what} ({status})", status=status)
        raise ShopifyError(f"Shopify {self.shop}: HTTP {status}: {detail}", status=status)

    def _check_version(self, response: requests.Response) -> None:
        """Shopify answers an unsupported version with the oldest supported one, and says so."""
        served = response.headers.get("X-Shopify-API-Version")
        if served and served != API_VERSION and not self._version_warned:
            self._version_warned = True
            log.warning("Shopify served API version %s instead of %s: update API_VERSION",
                        served, API_VERSION)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise ShopifyError("Shopify answered with invalid JSON",
                               status=response.status_code) from None
        if not isinstance(body, dict):
            raise ShopifyError("Shopify answered with an unexpected body",
                               status=response.status_code)
        return body


def _as_list(errors: Any) -> list[dict[str, Any]]:
    if isinstance(errors, list):
        return [error if isinstance(error, dict) else {"message": str(error)} for error in errors]
    return [{"message": str(errors)}]


def _is_throttled(errors: Any) -> bool:
    return any((error.get("extensions") or {}).get("code") == "THROTTLED"
               for error in _as_list(errors))


def _describe(errors: Any) -> str:
    return "Shopify GraphQL error: " + "; ".join(
        str(error.get("message")) for error in _as_list(errors))


def _refill_time(cost: Cost, needed: float) -> float:
    """How long the bucket needs to hold `needed` points (at least one point's worth)."""
    if cost.restore_rate <= 0:
        return MAX_BACKOFF
    missing = max(min(needed, cost.maximum) - cost.available, 1.0)
    return missing / cost.restore_rate


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (a number or an HTTP date), capped; None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def _error_text(response: requests.Response) -> str:
    """Shopify's error text (`{"errors": "..."}`), short; never the request's headers."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    text = errors if isinstance(errors, str) else response.reason or ""
    return str(text)[:200]
