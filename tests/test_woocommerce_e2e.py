"""A WooCommerce store from Connect to uninstall, on real processes: `parcours serve` and
`parcours worker` on SQLite and PostgreSQL, against the fake WooCommerce (https, self-signed).

The merchant clicks Connect in the plugin and approves the key request; the worker sets the
store up; orders are placed and updated while some deliveries are lost, until WooCommerce
disables a webhook; the health check repairs it and reconciliation recovers what was missed,
exactly once; settings are applied and restored; a review is published; the store is
uninstalled and left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from parcours import tables as t
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.adapters.woocommerce.reviews import publish_review
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from parcours.errors import ValidationError
from parcours.inbox import pending_count
from tests.fake_woocommerce import running
from tests.fake_woocommerce.resources import place_order, update_order
from tests.fake_woocommerce.state import FakeWooStore, stripe_gateway
from tests.processes import free_port, parcours_running, run_cli, until

PUBLIC = "https://parcours.example.test"
STATE = "plugin-nonce-123"


@dataclass
class Stack:
    store: FakeWooStore
    base: str  # the store's URL
    ca: str
    app: str  # where Parcours is served here
    env: dict[str, str]
    db: Database
    vault: Vault

    def local(self, url: str) -> str:
        return url.replace(PUBLIC, self.app, 1)

    def parcours(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = run_cli(self.env, *args)
        assert (done.returncode == 0) is ok, (done.stdout, done.stderr)
        return done

    def count(self, table: t.Table, *where: Any) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table).where(*where))
                       .scalar_one())

    def drained(self) -> None:
        until("the worker to drain the inbox", lambda: pending_count(self.db) == 0)

    def ours(self, key: str) -> list[dict[str, Any]]:
        url = f"{PUBLIC}/webhooks/woocommerce/{key}"
        return [hook for hook in self.store.webhooks.values() if hook["delivery_url"] == url]


@pytest.fixture
def stack(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    port = free_port()
    keys = generate_key()
    with running(https=True) as (store, base, ca):
        assert ca is not None
        store.app_network = {PUBLIC: f"http://127.0.0.1:{port}"}
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # this process calls the store too
        env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
               "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"),
               "PARCOURS_SECRET_KEYS": keys, "PARCOURS_PUBLIC_URL": PUBLIC,
               "PARCOURS_WOOCOMMERCE_LOCAL_STORES": "true",  # the store is on loopback
               "REQUESTS_CA_BUNDLE": ca}
        env.pop("PARCOURS_REDIS_URL", None)
        db = Database(database_url)
        try:
            with parcours_running(env, port) as app:
                yield Stack(store, base, ca, app, env, db, Vault(keys))
        finally:
            db.engine.dispose()


def connect(stack: Stack) -> dict[str, list[str]]:
    """The merchant clicks Connect in the plugin, approves, and comes back to the plugin."""
    plugin_page = f"{stack.base}/wp-admin/admin.php?page=parcours"
    start = requests.get(f"{stack.app}/woocommerce/connect?" + urlencode(
        {"store_url": stack.base, "return_url": plugin_page, "state": STATE}),
        allow_redirects=False, timeout=10)
    assert start.status_code == 302, start.text
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{stack.base}/wc-auth/v1/authorize?")
    approved = requests.get(authorize, allow_redirects=False, timeout=20)
    assert approved.status_code == 302, approved.text
    back = requests.get(stack.local(approved.headers["Location"]), allow_redirects=False,
                        timeout=10)
    assert back.status_code == 302
    landing = back.headers["Location"]
    assert landing.startswith(plugin_page + "&")
    return parse_qs(urlsplit(landing).query)


def test_connect_to_uninstall(stack: Stack) -> None:
    store = stack.store
    account = store.settings["account"]["woocommerce_enable_guest_checkout"]
    account["value"] = "no"  # the merchant forces accounts: a friction Parcours can lift
    store.payment_gateways["stripe"] = stripe_gateway(store)

    # 1. Connect: the keys reach Parcours through WooCommerce's own approval.
    answer = connect(stack)
    assert answer["parcours_connected"] == ["1"] and answer["state"] == [STATE]
    [key] = answer["store_key"]
    # the keys, encrypted (the setup job may have added the webhook secret already)
    assert stack.count(t.credentials, t.credentials.c.purpose == "woocommerce_keys") == 1
    [posted] = [json.loads(call["body"]) for call in store.auth_callbacks]
    assert posted["consumer_key"] in store.keys  # the key WooCommerce kept (the answer was 200)
    with stack.db.read() as conn:
        ciphertexts = list(conn.execute(select(t.credentials.c.ciphertext)).scalars())
    assert all(posted["consumer_secret"] not in text for text in ciphertexts)

    # 2. The worker sets the store up: seven active webhooks signed with Parcours' secret.
    until("the setup job", lambda: len(stack.ours(key)) == 7 and all(
        hook["status"] == "active" for hook in stack.ours(key)))
    assert sorted(hook["topic"] for hook in stack.ours(key)) == sorted(
        ["order.created", "order.updated", "order.deleted", "customer.created",
         "customer.updated", "product.created", "product.updated"])

    def stored_facts() -> dict[str, Any]:
        with stack.db.read() as conn:
            return dict(conn.execute(select(t.store_facts.c.name, t.store_facts.c.value)).all())

    facts = until("the store facts",
                   lambda: "customer_accounts" in stored_facts() and stored_facts())
    assert facts["customer_accounts"] == {"login_required_at_checkout": True}
    assert facts["accelerated_checkout"]["supported"] is True
    assert facts["site"]["version"] == store.version

    # 3. Orders: the first ones arrive; then Parcours is unreachable for a while.
    first = [place_order(store, billing={"email": f"buyer{n}@example.com"}) for n in range(3)]
    stack.drained()
    assert stack.count(t.events, t.events.c.name == "order_placed") == 3
    # Each new order is delivered as order.created and order.updated; WooCommerce never
    # retries, and disables a webhook at its 7th failure in a row: order.updated fails 8 times.
    store.drop_next = 10
    for n in range(2):
        place_order(store, billing={"email": f"late{n}@example.com"})
    for order in first:
        update_order(store, order["id"], status="completed")
        update_order(store, order["id"], customer_note="Laisser chez le voisin")
    disabled = [hook["topic"] for hook in stack.ours(key) if hook["status"] == "disabled"]
    assert disabled, [hook["status"] for hook in stack.ours(key)]

    # 4. The health check repairs the webhooks and reconciles the gap, exactly once.
    healed = stack.parcours("woocommerce", "heal", key).stdout
    assert "activated" in healed and "reconciled" in healed
    assert all(hook["status"] == "active" for hook in stack.ours(key))
    stack.drained()
    assert stack.count(t.events, t.events.c.name == "order_placed") == 5
    again = stack.parcours("woocommerce", "heal", key).stdout
    assert again.strip() == "webhooks healthy"
    stack.parcours("woocommerce", "setup", key)  # idempotent: nothing new either
    place_order(store, billing={"email": "after@example.com"})  # delivered again
    stack.drained()
    assert stack.count(t.events, t.events.c.name == "order_placed") == 6
    assert len(stack.ours(key)) == 7

    # 5. Settings the merchant opts into, remembered for the uninstall: guest checkout from
    # the dashboard's one-click fix (the facts are read again: the friction goes silent), the
    # rest from the CLI.
    access = StoreAccess(key, stack.db, stack.vault,
                         {"PUBLIC_URL": PUBLIC, "WOOCOMMERCE_LOCAL_STORES": "true"})
    assert adapter_for("woocommerce").apply_fix(access, "guest_checkout") == [
        "guest checkout: no -> yes"]
    assert account["value"] == "yes"
    assert stored_facts()["customer_accounts"] == {"login_required_at_checkout": False}
    with pytest.raises(ValidationError) as refused:
        adapter_for("woocommerce").apply_fix(access, "free_shipping")
    assert "fix" in refused.value.errors
    changed = stack.parcours("woocommerce", "apply-setting", key, "guest_checkout", "yes")
    assert changed.stdout.strip() == "guest_checkout: yes -> yes"
    stack.parcours("woocommerce", "express-pay", key)
    stripe = store.payment_gateways["stripe"]["settings"]
    assert stripe["express_checkout"]["value"] == "yes"
    assert sorted(stripe["express_checkout_button_locations"]["value"]) == [
        "cart", "checkout", "product"]

    # 6. A collected review is published; WooCommerce says whether the buyer is verified.
    config = {"PUBLIC_URL": PUBLIC, "WOOCOMMERCE_LOCAL_STORES": "true"}
    product_id = first[0]["line_items"][0]["product_id"]
    review = publish_review(StoreAccess(key, stack.db, stack.vault, config),
                            product_id=product_id, reviewer="Buyer Zero",
                            reviewer_email="buyer0@example.com", review="Parfait.", rating=2)
    assert review["verified"] is True and review["rating"] == 2  # published whatever its rating
    assert store.reviews[review["id"]]["review"].startswith("Parfait")

    # 7. Uninstall: webhooks deleted, settings restored, keys dropped, data kept for 30 days.
    done = stack.parcours("privacy", "uninstall", key).stdout
    assert "deleted 7 webhook(s)" in done and "restored 2 setting(s)" in done
    assert stack.ours(key) == []
    assert account["value"] == "no"
    assert stripe["express_checkout"]["value"] == "no"
    assert stack.count(t.credentials) == 0
    assert stack.count(t.events) > 0


def test_refusals_store_nothing(stack: Stack) -> None:
    # A callback whose user_id Parcours did not sign, or signed too long ago.
    forged = requests.post(f"{stack.app}/woocommerce/callback", json={
        "key_id": 1, "user_id": "eyJ1cmwiOiJodHRwczovL2V2aWwifQ.forged.sig",
        "consumer_key": "ck_" + "a" * 40, "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write"}, timeout=10)
    assert forged.status_code == 401
    assert "not a connection request signed by Parcours" in forged.text
    # A return_url on another site would be an open redirect.
    elsewhere = requests.get(f"{stack.app}/woocommerce/connect?" + urlencode(
        {"store_url": stack.base, "return_url": "https://evil.example/steal"}),
        allow_redirects=False, timeout=10)
    assert elsewhere.status_code == 422 and "return_url" in elsewhere.text
    # An agency's wrong keys: the store's 401, named, and nothing stored.
    wrong = stack.parcours("stores", "add", "agency-shop", "--account", "agency",
                           "--platform", "woocommerce", "--url", stack.base,
                           "--key", "ck_" + "1" * 40, "--secret", "cs_" + "2" * 40, ok=False)
    assert "401" in wrong.stderr and "woocommerce_rest" in wrong.stderr
    assert stack.count(t.stores) == 0 and stack.count(t.credentials) == 0
    assert json.dumps(stack.store.webhooks) == "{}"


def test_production_mode_refuses_plain_http_and_private_stores(stack: Stack) -> None:
    env = {**stack.env, "PARCOURS_WOOCOMMERCE_LOCAL_STORES": "false"}
    for url, why in (("http://shop.example.com", "must start with https://"),
                     (stack.base, "not a public address"),
                     ("https://10.1.2.3", "not a public address")):
        done = run_cli(env, "stores", "add", "x-shop", "--account", "a", "--platform",
                       "woocommerce", "--url", url, "--key", "ck_" + "1" * 40,
                       "--secret", "cs_" + "2" * 40)
        assert done.returncode == 1 and why in done.stderr, done.stderr
    assert stack.count(t.stores) == 0
