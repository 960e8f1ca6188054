"""A thin client for a store's WooCommerce REST API (wc/v3), on the `woocommerce` library.

The library signs requests as WooCommerce wants them: HTTP Basic with the consumer key and
secret over https, OAuth 1.0a in the query string over plain http (local stores only; see
site.py). This class adds what the library leaves out:

- explicit (connect, read) timeouts on every call;
- retries with exponential backoff (Retry-After honoured) on network errors, 429 and 5xx, for
  reads and idempotent writes (GET, PUT, DELETE). A POST is retried only on 429, which says
  the request was not processed: a POST that timed out may have created its webhook or review,
  and repeating it would make a second one;
- typed errors carrying WooCommerce's own `code` and `message`, never the keys or the signed URL;
- `pages`, which follows `X-WP-TotalPages`.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from woocommerce import API

from parcours.adapters.woocommerce.errors import (
    WooCommerceAuthError,
    WooCommerceError,
    WooCommerceUnreachable,
)

__all__ = ["PER_PAGE", "WooClient"]

PER_PAGE = 100  # WooCommerce's maximum
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 60.0
log = logging.getLogger(__name__)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min((moment - datetime.now(UTC)).total_seconds(), MAX_RETRY_AFTER))


def _error(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200].strip()
    if isinstance(body, dict):
        return str(body.get("code") or ""), str(body.get("message") or "")[:500]
    return "", ""


class WooClient:
    """REST calls to one store. Cheap to build; one per job or request."""

    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *,
                 timeout: tuple[float, float] = (5, 20), max_retries: int = 4,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url.rstrip("/")
        self._api = API(url=self.url, consumer_key=consumer_key,
                        consumer_secret=consumer_secret, version="wc/v3", timeout=timeout,
                        user_agent="Parcours")
        self.max_retries = max_retries
        self._sleep = sleep

    def __repr__(self) -> str:  # never the keys
        return f"WooClient({self.url!r})"

    # -- one call ---------------------------------------------------------------------------
    def response(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None,
                 data: Any = None) -> requests.Response:
        """The answer to one call (2xx), after the retries; typed errors otherwise."""
        failures = 0
        while True:
            try:
                response: requests.Response = self._call(method, endpoint, params, data)
            except requests.RequestException as exc:
                if method == "POST":
                    raise WooCommerceUnreachable(
                        f"{self.url}: {type(exc).__name__} on POST {endpoint} (not retried: "
                        f"it may have been carried out)") from None
                failures = self._retry(failures, f"{type(exc).__name__}", None, endpoint)
                continue
            status = response.status_code
            if status < 300:
                return response
            if status == 429 or (status >= 500 and method != "POST"):
                failures = self._retry(failures, f"HTTP {status}", response, endpoint)
                continue
            code, message = _error(response)
            text = f"{self.url}: {method} {endpoint}: {status} {code} {message}".strip()
            if status in (401, 403):
                raise WooCommerceAuthError(text, code=code, status=status)
            if status >= 500:
                raise WooCommerceUnreachable(text, code=code, status=status)
            raise WooCommerceError(text, code=code, status=status)

    def _call(self, method: str, endpoint: str, params: Mapping[str, Any] | None,
              data: Any) -> requests.Response:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        if method == "GET":
            return self._api.get(endpoint, params=query)  # type: ignore[no-any-return]
        if method == "DELETE":
            return self._api.delete(endpoint, params=query)  # type: ignore[no-any-return]
        if method == "PUT":
            return self._api.put(endpoint, data, params=query)  # type: ignore[no-any-return]
        return self._api.post(endpoint, data, params=query)  # type: ignore[no-any-return]

    def _retry(self, failures: int, reason: str, response: requests.Response | None,
               endpoint: str) -> int:
        if failures >= self.max_retries:
            status = response.status_code if response is not None else None
            raise WooCommerceUnreachable(f"{self.url}: {endpoint}: {reason} after "
                                         f"{failures + 1} attempts", status=status)
        wait = _retry_after(response) if response is not None else None
        if wait is None:
            wait = min(MAX_BACKOFF, 2.0 ** failures)
        log.warning("WooCommerce %s: %s on %s; retrying in %.1fs", self.url, reason, endpoint,
                    wait)
        self._sleep(wait)
        return failures + 1

    # -- JSON -------------------------------------------------------------------------------
    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise WooCommerceError(f"{self.url}: the answer is not JSON (is this the "
                                   f"store's address?)", status=response.status_code) from None

    def get(self, endpoint: str, **params: Any) -> Any:
        return self._json(self.response("GET", endpoint, params=params))

    def post(self, endpoint: str, data: Any) -> Any:
        return self._json(self.response("POST", endpoint, data=data))

    def put(self, endpoint: str, data: Any) -> Any:
        return self._json(self.response("PUT", endpoint, data=data))

    def delete(self, endpoint: str, **params: Any) -> Any:
        return self._json(self.response("DELETE", endpoint, params=params))

    def pages(self, endpoint: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, page after page (X-WP-TotalPages says how many)."""
        page = 1
        while True:
            response = self.response("GET", endpoint,
                                     params={**params, "page": page, "per_page": PER_PAGE})
            items = self._json(response)
            if not isinstance(items, list):
                raise WooCommerceError(f"{self.url}: {endpoint} did not answer a list")
            yield from items
            try:
                total = int(response.headers.get("X-WP-TotalPages", "1"))
            except ValueError:
                total = 1
            if page >= total or not items:
                return
            page += 1
