"""Publishing reviews to the platforms, on SQLite and PostgreSQL: the standard rating metafields
of the fake Shopify, product reviews of the fake WooCommerce, nothing for custom shops; retries,
refusals, moderation and the job's claim."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from parcours import tables as t
from parcours.accounts import create_store, get_store
from parcours.adapters.base import adapter_for
from parcours.adapters.shopify.oauth import ShopifyTokens
from parcours.adapters.shopify.tokens import save_tokens
from parcours.adapters.woocommerce.keys import StoreKeys, save_keys
from parcours.app import create_app
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.review_publish import BACKOFF, MAX_ATTEMPTS, publish_pending
from parcours.reviews import ReviewInput, add_review, moderate, product_reviews, reply
from tests.fake_shopify import FakeShop
from tests.fake_shopify import running as shopify_running
from tests.fake_woocommerce import FakeWooStore, add_key, add_product
from tests.fake_woocommerce import running as woo_running

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SHOP = "parcours-reviews.myshopify.com"
TOKEN = "shpat_reviews-test-token"
HTML = '<b>Great</b> & <script>alert("x")</script>\n\nSecond paragraph'


def review(product_id: str, rating: int, **changes: Any) -> ReviewInput:
    fields: dict[str, Any] = {"product_id": product_id, "rating": rating, "body": f"{rating} stars",
                              "created_at": NOW - timedelta(days=1), "author": "Ann",
                              "source": "request", "verified": True}
    fields.update(changes)
    return ReviewInput(**fields)


@dataclass
class Platform:
    db: Database
    vault: Vault
    config: dict[str, Any]
    store_id: int

    def add(self, *reviews: ReviewInput) -> list[int]:
        with self.db.write() as conn:
            return [add_review(conn, self.store_id, item) for item in reviews]

    def publish(self, now: datetime = NOW) -> dict[str, int]:
        return publish_pending(self.db, self.vault, self.config, now).as_dict()

    def row(self, review_id: int) -> Any:
        with self.db.read() as conn:
            return conn.execute(select(t.reviews).where(t.reviews.c.id == review_id)).one()

    def moderate(self, review_id: int, status: str, reason: str | None = None) -> None:
        with self.db.write() as conn:
            moderate(conn, self.store_id, review_id, status, reason)


# -- custom shops ------------------------------------------------------------------------------

@pytest.fixture
def custom(db: Database) -> Platform:
    with db.write() as conn:
        store_id = create_store(conn, "custom-shop", account="acme").id
    return Platform(db, Vault(generate_key()), {}, store_id)


def test_custom_shops_keep_the_only_copy_and_every_rating_is_done(custom: Platform) -> None:
    one, five, waiting = custom.add(review("p-1", 1), review("p-1", 5),
                                    review("p-1", 3, status="pending"))
    assert custom.publish() == {"claimed": 2, "published": 2, "withdrawn": 0, "retried": 0,
                                "failed": 0, "reclaimed": 0}
    for review_id in (one, five):
        row = custom.row(review_id)
        assert (row.sync_status, row.external_id, row.synced_at) == ("done", None, NOW)
    assert custom.row(waiting).sync_status is None  # awaits moderation: nothing to publish
    assert custom.publish()["claimed"] == 0  # done stays done


def test_a_storefront_review_is_never_verified(custom: Platform) -> None:
    [review_id] = custom.add(review("p-1", 4, source="storefront", verified=True))
    assert custom.row(review_id).verified is False


def test_moderation_takes_spam_and_abuse_only_and_republishes(custom: Platform) -> None:
    from parcours.errors import ValidationError

    [review_id] = custom.add(review("p-1", 1))
    custom.publish()
    for status, reason in (("rejected", None), ("rejected", "low_rating"), ("hidden", "spam")):
        with pytest.raises(ValidationError) as refused:
            custom.moderate(review_id, status, reason)
        assert set(refused.value.errors) <= {"status", "reason"}
    assert custom.row(review_id).status == "published"
    custom.moderate(review_id, "rejected", "abuse")
    row = custom.row(review_id)
    assert (row.status, row.sync_status, row.sync_attempts) == ("rejected", "pending", 0)
    assert custom.publish()["withdrawn"] == 1
    with custom.db.write() as conn:
        replied = reply(conn, custom.store_id, review_id, "Thank you, <b>Ann</b>")
    assert replied["reply"] == "Thank you, <b>Ann</b>" and replied["sync_status"] == "pending"


def test_a_dead_workers_claim_is_put_back_and_published_later(custom: Platform) -> None:
    [review_id] = custom.add(review("p-1", 2))
    with custom.db.write() as conn:
        conn.execute(update(t.reviews).where(t.reviews.c.id == review_id).values(
            sync_status="publishing", synced_at=NOW - timedelta(hours=1)))
    report = custom.publish()
    assert (report["reclaimed"], report["claimed"]) == (1, 0)  # due after the first backoff
    row = custom.row(review_id)
    assert (row.sync_status, row.sync_attempts) == ("pending", 1)
    assert custom.publish(NOW + BACKOFF[0])["published"] == 1


def test_the_job_publishes_when_asked(database_url: str, tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEYS": generate_key(),
                      "JOBS_IMMEDIATE": True}, instance_path=str(tmp_path))
    db: Database = app.extensions["parcours.db"]
    with db.write() as conn:
        store_id = create_store(conn, "shop", account="acme").id
        review_id = add_review(conn, store_id, review("p-1", 3))
    app.extensions["parcours.reviews.publish"]()
    with db.read() as conn:
        assert conn.execute(select(t.reviews.c.sync_status).where(
            t.reviews.c.id == review_id)).scalar_one() == "done"
    db.engine.dispose()


# -- Shopify: the standard rating metafields ----------------------------------------------------

@dataclass
class ShopifyPlatform(Platform):
    shop: FakeShop

    def metafield(self, product: int, key: str) -> dict[str, Any] | None:
        return self.shop.metafields.get((f"gid://shopify/Product/{product}", "reviews", key))

    def rating(self, product: int) -> tuple[dict[str, Any], str] | None:
        rating, count = self.metafield(product, "rating"), self.metafield(product, "rating_count")
        if rating is None or count is None:
            assert rating is count is None  # set and deleted together
            return None
        assert (rating["type"], count["type"]) == ("rating", "number_integer")
        return json.loads(rating["value"]), count["value"]


@pytest.fixture
def shopify(db: Database) -> Iterator[ShopifyPlatform]:
    vault = Vault(generate_key())
    with shopify_running() as (state, origin):
        shop = state.shop(SHOP)
        shop.access_tokens[TOKEN] = time.time() + 3600
        shop.scopes = "write_products,read_orders"
        with db.write() as conn:
            store_id = create_store(conn, "shopify-shop", account="acme", platform="shopify",
                                    domain=SHOP).id
            save_tokens(conn, vault, store_id,
                        ShopifyTokens(TOKEN, None, None, None, "write_products,read_orders"))
        yield ShopifyPlatform(db, vault, {"SHOPIFY_SHOP_ORIGIN": origin}, store_id, shop)


def test_shopify_ratings_count_a_one_star_review_like_a_five_star_one(
        shopify: ShopifyPlatform) -> None:
    five, one = shopify.add(review("42", 5), review("42", 1))
    shopify.add(review("43", 4), review("42", 2, status="pending"))
    assert shopify.publish()["published"] == 3
    assert shopify.rating(42) == ({"value": "3.0", "scale_min": "1.0", "scale_max": "5.0"}, "2")
    assert shopify.rating(43) == ({"value": "4.0", "scale_min": "1.0", "scale_max": "5.0"}, "1")
    sets = [call for call in shopify.shop.calls if "metafieldsSet" in call.get("fields", [])]
    assert len(sets) == 3
    assert {m["key"] for m in sets[0]["variables"]["metafields"]} == {"rating", "rating_count"}
    assert shopify.row(one).external_id is None  # Shopify keeps no copy of its own

    shopify.moderate(five, "rejected", "spam")
    assert shopify.publish()["withdrawn"] == 1
    assert shopify.rating(42) == ({"value": "1.0", "scale_min": "1.0", "scale_max": "5.0"}, "1")
    shopify.moderate(one, "rejected", "abuse")  # the product's last published review
    shopify.publish()
    assert shopify.rating(42) is None
    assert shopify.rating(43) is not None
    shopify.moderate(one, "published")  # rejected by mistake: counted again
    shopify.publish()
    assert shopify.rating(42) == ({"value": "1.0", "scale_min": "1.0", "scale_max": "5.0"}, "1")


def test_shopify_refusals_fail_at_once_with_the_reason(shopify: ShopifyPlatform) -> None:
    [sku] = shopify.add(review("sku-1", 4))
    assert shopify.publish()["failed"] == 1
    row = shopify.row(sku)
    assert row.sync_status == "failed" and "product_id" in row.sync_error
    shopify.shop.access_tokens.clear()  # uninstalled on Shopify's side
    [refused] = shopify.add(review("44", 4))
    assert shopify.publish()["failed"] == 1
    assert "access token is invalid" in shopify.row(refused).sync_error


# -- WooCommerce: product reviews ---------------------------------------------------------------

@dataclass
class WooPlatform(Platform):
    fake: FakeWooStore
    product: int

    def copy(self, review_id: int) -> dict[str, Any] | None:
        external = self.row(review_id).external_id
        return None if external is None else self.fake.reviews.get(int(external))


@pytest.fixture
def woo(db: Database) -> Iterator[WooPlatform]:
    vault = Vault(generate_key())
    with woo_running() as (fake, base, _):
        key = add_key(fake)
        product = add_product(fake, name="Mug")["id"]
        with db.write() as conn:
            store_id = create_store(conn, "woo-shop", account="acme", platform="woocommerce",
                                    domain="127.0.0.1").id
            save_keys(conn, vault, store_id, StoreKeys(base, key.consumer_key,
                                                       key.consumer_secret))
        yield WooPlatform(db, vault, {"WOOCOMMERCE_LOCAL_STORES": True}, store_id, fake, product)


def _request(platform: Platform, email: str | None) -> int:
    with platform.db.write() as conn:
        return int(conn.execute(t.review_requests.insert().values(
            store_id=platform.store_id, order_id="1001", email=email, items=[],
            status="submitted", nonce="n" * 32, created_at=NOW, updated_at=NOW)
            .returning(t.review_requests.c.id)).scalar_one())


def test_woocommerce_gets_every_review_with_its_fields(woo: WooPlatform) -> None:
    request_id = _request(woo, "buyer@example.com")
    pid = str(woo.product)
    one, imported, incentive = woo.add(
        review(pid, 1, title="Broken", body=HTML, request_id=request_id, order_id="1001"),
        review(pid, 5, source="import", author=None, created_at=datetime(2024, 2, 3, 4, 5,
                                                                          tzinfo=UTC)),
        review(pid, 3, incentive="10% off your next order", locale="fr", body="Correct."))
    assert woo.publish()["published"] == 3
    copy = woo.copy(one)
    assert copy is not None
    assert (copy["product_id"], copy["rating"], copy["status"], copy["reviewer"],
            copy["reviewer_email"]) == (woo.product, 1, "approved", "Ann", "buyer@example.com")
    # The shopper's text is plain text: escaped for WordPress, which stores comment HTML.
    assert copy["review"] == ("Broken\n\n&lt;b&gt;Great&lt;/b&gt; &amp; &lt;script&gt;alert"
                              "(\"x\")&lt;/script&gt;\n\nSecond paragraph")
    assert woo.row(one).body == HTML  # Parcours' copy is never changed
    assert woo.row(one).external_id == str(copy["id"])

    old = woo.copy(imported)
    assert old is not None
    assert (old["reviewer"], old["reviewer_email"]) == ("Anonymous", "no-reply@127.0.0.1")
    assert old["date_created_gmt"] == "2024-02-03T04:05:00"  # imported reviews keep their date
    disclosed = woo.copy(incentive)
    assert disclosed is not None
    assert disclosed["review"] == ("Correct.\n\n(L'auteur de cet avis s'est vu offrir 10% off "
                                   "your next order pour un avis, quelle que soit sa note.)")


def test_a_rejected_woocommerce_review_is_deleted(woo: WooPlatform) -> None:
    [review_id] = woo.add(review(str(woo.product), 2))
    woo.publish()
    external = int(woo.row(review_id).external_id)
    woo.moderate(review_id, "rejected", "personal_data")
    assert woo.publish()["withdrawn"] == 1
    assert external not in woo.fake.reviews  # deleted, not trashed
    row = woo.row(review_id)
    assert (row.sync_status, row.external_id) == ("done", None)
    woo.moderate(review_id, "rejected", "spam")  # already rejected: nothing to do
    assert woo.publish()["claimed"] == 0


def test_a_republished_review_is_rewritten_in_place_or_published_again(
        woo: WooPlatform) -> None:
    request_id = _request(woo, "buyer@example.com")
    [review_id] = woo.add(review(str(woo.product), 1, request_id=request_id, body="Bad."))
    woo.publish()
    external = woo.row(review_id).external_id
    with woo.db.write() as conn:  # as a redaction leaves it: no name, no address, scrubbed
        conn.execute(update(t.reviews).where(t.reviews.c.id == review_id).values(
            author=None, body="Bad. [redacted]", sync_status="pending"))
        conn.execute(update(t.review_requests).values(email=None))
    assert woo.publish()["published"] == 1
    copy = woo.fake.reviews[int(external)]
    assert (copy["reviewer"], copy["reviewer_email"], copy["review"], copy["rating"]) == (
        "Anonymous", "no-reply@127.0.0.1", "Bad. [redacted]", 1)
    assert woo.row(review_id).external_id == external and len(woo.fake.reviews) == 1

    del woo.fake.reviews[int(external)]  # deleted in WordPress meanwhile
    with woo.db.write() as conn:
        reply(conn, woo.store_id, review_id, "Sorry about that.")
    woo.publish()
    assert woo.row(review_id).external_id != external
    assert len(woo.fake.reviews) == 1  # the canonical copy is published again


def test_a_lost_answer_never_publishes_twice(woo: WooPlatform) -> None:
    [review_id] = woo.add(review(str(woo.product), 4))
    woo.publish()
    external = woo.row(review_id).external_id
    with woo.db.write() as conn:  # as if the worker died once WooCommerce had stored it
        conn.execute(update(t.reviews).where(t.reviews.c.id == review_id).values(
            sync_status="pending", external_id=None))
    assert woo.publish()["published"] == 1  # refused as a duplicate, then found
    assert woo.row(review_id).external_id == external
    assert len(woo.fake.reviews) == 1


def test_woocommerce_failures_back_off_then_fail(woo: WooPlatform) -> None:
    [review_id] = woo.add(review(str(woo.product), 3))
    woo.fake.fail_next = [503]  # a POST is not repeated by the client
    assert woo.publish()["retried"] == 1
    row = woo.row(review_id)
    assert (row.sync_status, row.sync_attempts) == ("pending", 1)
    assert "503" in row.sync_error
    assert woo.publish(NOW + BACKOFF[0] - timedelta(seconds=1))["claimed"] == 0  # not yet due
    moment = NOW
    for wait in BACKOFF:
        moment += wait
        woo.fake.fail_next = [503]
        woo.publish(moment)
    row = woo.row(review_id)
    assert (row.sync_status, row.sync_attempts) == ("failed", MAX_ATTEMPTS)
    assert row.sync_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert woo.fake.reviews == {}

    [unknown] = woo.add(review("999999", 5))
    assert woo.publish(moment)["failed"] == 1  # a refusal: no retry
    row = woo.row(unknown)
    assert (row.sync_status, row.sync_attempts) == ("failed", 1)
    assert "Invalid product ID" in row.sync_error


def test_reviews_of_another_store_are_not_counted(shopify: ShopifyPlatform) -> None:
    with shopify.db.write() as conn:
        other = create_store(conn, "other", account="acme").id
        add_review(conn, other, review("42", 1))
        assert get_store(conn, "shopify-shop").id == shopify.store_id
    shopify.add(review("42", 5))
    shopify.publish()
    assert shopify.rating(42) == ({"value": "5.0", "scale_min": "1.0", "scale_max": "5.0"}, "1")


def test_every_adapter_classifies_failures_for_the_job() -> None:
    from parcours.adapters.base import adapters
    from parcours.adapters.shopify.errors import ShopifyAuthError, ShopifyUnreachable
    from parcours.adapters.woocommerce.errors import WooCommerceError, WooCommerceUnreachable
    from parcours.errors import ValidationError

    for adapter in adapters():
        assert adapter.retryable(ConnectionError("reset")) is True
        assert adapter.retryable(WooCommerceError("busy", status=503)) is True
        assert adapter.retryable(WooCommerceError("slow down", status=429)) is True
        assert adapter.retryable(WooCommerceError("no such product", status=404)) is False
        assert adapter.retryable(ValidationError("bad product id")) is False
    shopify, woocommerce = (adapter_for("shopify"), adapter_for("woocommerce"))
    assert shopify.retryable(ShopifyUnreachable("down")) is True
    assert shopify.retryable(ShopifyAuthError("revoked", status=401)) is False
    assert woocommerce.retryable(WooCommerceUnreachable("timed out")) is True


def test_storefronts_get_the_text_as_written_and_the_incentive_to_disclose(
        custom: Platform) -> None:
    custom.add(review("p-1", 2, body=HTML, incentive="a 5 EUR voucher"), review("p-1", 4))
    with custom.db.read() as conn:
        page = product_reviews(conn, custom.store_id, "p-1")
    incentivised, plain = sorted(page["reviews"], key=lambda r: r["rating"])
    assert incentivised["body"] == HTML and incentivised["incentive"] == "a 5 EUR voucher"
    assert "incentive" not in plain
