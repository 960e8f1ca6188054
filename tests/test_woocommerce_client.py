"""The WooCommerce REST client against the fake store: both auth modes, pages, retries, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.errors import (
    WooCommerceAuthError,
    WooCommerceError,
    WooCommerceUnreachable,
)
from parcours.adapters.woocommerce.install import TOPICS, sync_webhooks
from tests.fake_woocommerce import running
from tests.fake_woocommerce.resources import add_key, place_order
from tests.fake_woocommerce.state import FakeWooStore


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(params=["http", "https"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[FakeWooStore, str]]:
    """Plain http (OAuth 1.0a in the query) and https (Basic auth, verified certificate)."""
    with running(https=request.param == "https") as (fake, base, ca):
        if ca:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        yield fake, base


def client(fake: FakeWooStore, base: str, sleeps: Sleeps | None = None) -> WooClient:
    key = add_key(fake)
    return WooClient(base, key.consumer_key, key.consumer_secret,
                     sleep=Sleeps() if sleeps is None else sleeps)


def test_pages_follow_x_wp_totalpages(store: tuple[FakeWooStore, str]) -> None:
    fake, base = store
    for n in range(105):  # two pages of 100
        place_order(fake, billing={"email": f"p{n}@example.com"})
    orders = list(client(fake, base).pages("orders", orderby="id", order="asc"))
    assert len(orders) == 105 and len({order["id"] for order in orders}) == 105


def test_429_and_5xx_are_retried_with_backoff(store: tuple[FakeWooStore, str]) -> None:
    fake, base = store
    sleeps = Sleeps()
    woo = client(fake, base, sleeps)
    fake.fail_next = [429, 503, 502]
    assert woo.get("system_status")["environment"]["version"] == fake.version
    assert sleeps == [1.0, 2.0, 4.0]  # Retry-After, then 2 ** attempt
    fake.fail_next = [500] * 10
    with pytest.raises(WooCommerceUnreachable, match="after 5 attempts"):
        woo.get("system_status")


def test_a_post_is_not_repeated_after_a_5xx(store: tuple[FakeWooStore, str]) -> None:
    fake, base = store
    fake.fail_next = [503]
    with pytest.raises(WooCommerceUnreachable):
        client(fake, base).post("products/reviews", {"product_id": 11, "review": "x",
                                                     "reviewer": "A", "reviewer_email": "a@b.c",
                                                     "rating": 5})
    assert fake.reviews == {}


def test_errors_carry_woocommerce_code_and_never_the_secret(store: tuple[FakeWooStore, str]
                                                           ) -> None:
    fake, base = store
    woo = client(fake, base)
    with pytest.raises(WooCommerceError) as bad:
        woo.put("settings/account/woocommerce_enable_guest_checkout", {"value": "maybe"})
    assert (bad.value.status, bad.value.code) == (400, "rest_setting_value_invalid")
    wrong = WooClient(base, "ck_" + "1" * 40, "cs_" + "2" * 40, sleep=Sleeps())
    with pytest.raises(WooCommerceAuthError) as refused:
        wrong.get("orders")
    assert refused.value.status == 401 and refused.value.code.startswith("woocommerce_rest")
    assert "cs_" not in str(refused.value) and "oauth_signature" not in str(refused.value)
    assert "cs_" not in repr(wrong)


def test_concurrent_webhook_syncs_leave_one_webhook_per_topic(
        store: tuple[FakeWooStore, str]) -> None:
    """The setup job and the health check may sync at once (both find the topics missing and
    both create them); the store still ends with exactly one active webhook per topic."""
    fake, base = store
    url = "http://127.0.0.1:9/webhooks/woocommerce/s1"  # nothing listens: pings fail fast
    runs = 3
    start = threading.Barrier(runs)
    errors: list[BaseException] = []

    def sync() -> None:
        woo = client(fake, base)
        start.wait()
        try:
            sync_webhooks(woo, url, "secret")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ours = [hook for hook in fake.webhooks.values() if hook["delivery_url"] == url]
    assert sorted(hook["topic"] for hook in ours) == sorted(TOPICS)
    assert all(hook["status"] == "active" for hook in ours)
