"""The GraphQL Admin API client against the fake Shopify on a real loopback port.

Waits are recorded, not slept: the test clock advances by what the client asks to sleep, and
the fake's leaky bucket reads the same clock, so throttling is exact and instant.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests

from parcours.adapters.shopify.client import API_VERSION, ShopifyClient
from parcours.adapters.shopify.errors import (
    ShopifyAuthError,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyThrottled,
    ShopifyUnreachable,
    ShopifyUserErrors,
    ShopUnavailable,
)
from tests.fake_shopify import FakeShop, FakeShopify, running

SHOP = "parcours-test.myshopify.com"
TOKEN = "shpat_client-test-token"
SHOP_QUERY = "query { shop { currencyCode ianaTimezone } }"  # the fake costs it 3 points
CREATE = """mutation Create($topic: WebhookSubscriptionTopic!,
    $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id } userErrors { field message }
  }
}"""


@dataclass
class Clock:
    now: float = 1000.0
    waits: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[tuple[FakeShop, str, Clock]]:
    clock = Clock()
    with running(FakeShopify()) as (state, origin):
        shop = state.shop(SHOP)
        shop.access_tokens[TOKEN] = time.time() + 3600
        shop.clock = clock.time
        yield shop, origin, clock


def client_for(origin: str, clock: Clock, token: str | Callable[[], str] = TOKEN,
               max_retries: int = 4) -> ShopifyClient:
    return ShopifyClient(SHOP, token, origin_template=origin, sleep=clock.sleep,
                         clock=clock.time, max_retries=max_retries)


def test_answers_data_from_the_pinned_version_with_its_cost(fake: tuple[FakeShop, str, Clock]
                                                           ) -> None:
    shop, origin, clock = fake
    data = client_for(origin, clock).graphql(SHOP_QUERY)
    assert data["shop"] == {**data["shop"], "currencyCode": "EUR", "ianaTimezone": "Europe/Paris"}
    assert shop.calls[-1]["version"] == API_VERSION == "2026-07"
    assert shop.calls[-1]["fields"] == ["shop"]


def test_waits_for_the_bucket_before_a_query_it_cannot_afford(
        fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.bucket_max, shop.restore_rate, shop.bucket_available, shop.bucket_at = 10, 2.0, 5, 1000
    client = client_for(origin, clock)
    client.graphql(SHOP_QUERY)  # 5 - 3 = 2 left
    assert client.last_cost is not None and client.last_cost.available == 2
    client.graphql(SHOP_QUERY)  # needs 3: waits (3 - 2) / 2 points per second
    assert clock.waits == [0.5]
    assert [call["status"] for call in shop.calls] == [200, 200]  # never throttled


def test_throttled_answer_is_retried_after_the_refill_time(
        fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.bucket_max, shop.restore_rate, shop.bucket_available, shop.bucket_at = 10, 4.0, 1, 1000
    data = client_for(origin, clock).graphql(SHOP_QUERY)
    assert data["shop"]["currencyCode"] == "EUR"
    assert clock.waits == [0.5]  # (3 requested - 1 available) / 4 per second
    assert len(shop.calls) == 2


def test_keeps_being_throttled_raises_after_the_retries(
        fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.bucket_max, shop.restore_rate, shop.bucket_available, shop.bucket_at = 3, 1.0, 0, 1000
    shop.clock = Clock().time  # the shop's clock stands still: its bucket never refills
    with pytest.raises(ShopifyThrottled, match="kept throttling"):
        client_for(origin, clock, max_retries=2).graphql(SHOP_QUERY)
    assert len(shop.calls) == 3


def test_a_query_costing_more_than_the_bucket_fails_at_once(
        fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.bucket_max = 2  # the query costs 3
    with pytest.raises(ShopifyThrottled, match="more than the bucket holds"):
        client_for(origin, clock).graphql(SHOP_QUERY)
    assert clock.waits == [] and len(shop.calls) == 1


def test_429_and_5xx_are_retried_with_backoff_honouring_retry_after(
        fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.fail_next = [429, 503, 500]
    data = client_for(origin, clock).graphql(SHOP_QUERY)
    assert data["shop"]["currencyCode"] == "EUR"
    assert clock.waits == [1.0, 2.0, 4.0]  # Retry-After: 1.0, then 2 ** attempt
    assert [call["status"] for call in shop.calls] == [429, 503, 500, 200]


def test_5xx_until_the_retries_run_out_raises(fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.fail_next = [502] * 10
    with pytest.raises(ShopifyUnreachable) as caught:
        client_for(origin, clock).graphql(SHOP_QUERY)
    assert caught.value.status == 502 and "5 attempts" in str(caught.value)
    assert clock.waits == [1.0, 2.0, 4.0, 8.0]


def test_unreachable_shop_is_retried_then_raises(fake: tuple[FakeShop, str, Clock]) -> None:
    _, _, clock = fake
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{port}/shops/{{shop}}", clock, max_retries=2)
    with pytest.raises(ShopifyUnreachable, match="network error"):
        client.graphql(SHOP_QUERY)
    assert clock.waits == [1.0, 2.0]


@pytest.mark.parametrize("token", ["shpat_unknown", "shpat_timed-out"])
def test_bad_or_expired_token_is_an_auth_error_that_never_shows_the_token(
        fake: tuple[FakeShop, str, Clock], token: str, caplog: pytest.LogCaptureFixture) -> None:
    shop, origin, clock = fake
    if token == "shpat_timed-out":
        shop.access_tokens[token] = time.time() - 1
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ShopifyAuthError) as caught:
        client_for(origin, clock, token=token).graphql(SHOP_QUERY)
    assert caught.value.status == 401
    assert "Invalid API key or access token" in str(caught.value)
    assert token not in str(caught.value) and token not in caplog.text


def test_a_token_refreshed_meanwhile_is_tried_once_more(fake: tuple[FakeShop, str, Clock]
                                                       ) -> None:
    shop, origin, clock = fake
    tokens = iter(["shpat_stale", TOKEN, TOKEN, TOKEN])
    data = client_for(origin, clock, token=lambda: next(tokens)).graphql(SHOP_QUERY)
    assert data["shop"]["currencyCode"] == "EUR"
    assert [call["status"] for call in shop.calls] == [401, 200]


@pytest.mark.parametrize(("status", "error"), [(403, ShopifyAuthError), (402, ShopUnavailable),
                                               (423, ShopUnavailable),
                                               (404, ShopUnavailable)])
def test_statuses_that_retrying_cannot_fix_raise_at_once(
        fake: tuple[FakeShop, str, Clock], status: int, error: type[Exception]) -> None:
    shop, origin, clock = fake
    shop.fail_next = [status]
    with pytest.raises(error):
        client_for(origin, clock).graphql(SHOP_QUERY)
    assert clock.waits == [] and len(shop.calls) == 1


def test_user_errors_raise_naming_the_field(fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    client = client_for(origin, clock)
    variables = {"topic": "ORDERS_PAID",
                 "webhookSubscription": {"uri": "http://parcours.example.com/webhooks/shopify"}}
    with pytest.raises(ShopifyUserErrors) as caught:
        client.mutate(CREATE, variables, "webhookSubscriptionCreate")
    assert caught.value.fields == ["webhookSubscription.uri"]
    assert "webhookSubscription.uri: Address protocol http:// is not supported" in str(
        caught.value)
    assert shop.webhook_subscriptions == {}


def test_invalid_variables_are_graphql_errors(fake: tuple[FakeShop, str, Clock]) -> None:
    _, origin, clock = fake
    variables = {"topic": "ORDERS_EXPLODED",
                 "webhookSubscription": {"uri": "https://parcours.example.com/webhooks/shopify"}}
    with pytest.raises(ShopifyGraphQLError, match=r"Variable \$topic"):
        client_for(origin, clock).mutate(CREATE, variables, "webhookSubscriptionCreate")


def test_missing_scope_is_access_denied(fake: tuple[FakeShop, str, Clock]) -> None:
    shop, origin, clock = fake
    shop.scopes = "read_orders"
    query = "query { themes(roles: [MAIN], first: 1) { nodes { id } } }"
    with pytest.raises(ShopifyGraphQLError) as caught:
        client_for(origin, clock).graphql(query)
    assert caught.value.codes == {"ACCESS_DENIED"}
    assert caught.value.data == {"themes": None}


def test_only_shop_domains_are_accepted() -> None:
    for shop in ("evil.com", "x.myshopify.com.evil.com", "x.myshopify.com/admin", ""):
        with pytest.raises(ShopifyError):
            ShopifyClient(shop, TOKEN)


def test_fake_serves_an_unsupported_version_as_the_oldest_supported_one(
        fake: tuple[FakeShop, str, Clock]) -> None:
    _, origin, _ = fake
    base = origin.format(shop=SHOP)
    headers = {"X-Shopify-Access-Token": TOKEN}
    old = requests.post(f"{base}/admin/api/2023-01/graphql.json", json={"query": SHOP_QUERY},
                        headers=headers, timeout=5)
    assert old.status_code == 200 and old.headers["X-Shopify-API-Version"] == "2026-07"
    bad = requests.post(f"{base}/admin/api/latest/graphql.json", json={"query": SHOP_QUERY},
                        headers=headers, timeout=5)
    assert bad.status_code == 404
