"""`parcours config plan/apply/export` over an agency's 20 stores, run as a user runs them (the
command in a subprocess) against 10 shops on the fake Shopify and 10 stores on fake
WooCommerce servers, on SQLite and PostgreSQL.

One WooCommerce store has a security plugin that refuses changes to its payment gateway, so its
apply fails half-way (after guest checkout was turned on): it must be reported and left as it
was, on the platform and in Parcours, while the 19 others are applied. One Shopify shop is
frozen (402) when its widget config is written: its facts must be put back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from parcours import tables as t
from parcours.access import tag_stores
from parcours.accounts import create_store, get_store, store_facts
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.adapters.shopify.oauth import ShopifyTokens
from parcours.adapters.shopify.tokens import save_tokens
from parcours.credentials import Vault, generate_key
from parcours.db import Database
from tests.fake_shopify import API_KEY, FakeShop
from tests.fake_shopify import running as shopify_running
from tests.fake_woocommerce import running as woo_running
from tests.fake_woocommerce.auth import WpError
from tests.fake_woocommerce.resources import add_key
from tests.fake_woocommerce.state import FakeWooStore, stripe_gateway
from tests.processes import run_cli

PUBLIC = "https://parcours.example.test"
TOKEN = "shpat_fleet-token"
SHOPS, WOOS = [f"shop-{n:02d}" for n in range(10)], [f"woo-{n:02d}" for n in range(10)]
BROKEN_WOO, FROZEN_SHOP = "woo-07", "shop-03"
REFUSED = WpError("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this "
                  "resource.", 403)

CONFIG = """\
version: 1
defaults:
  widgets:
    shipping_estimate: {enabled: true, pages: [product, cart]}
    review_list: {per_page: 8}
  experiments:
    shipping_estimate: {holdout: 0.2, salt: fleet-2026-12}
  reviews:
    delay_days: 10
tags:
  eu:
    storefront: {consent_required: true}
  fr:
    storefront: {lang: fr}
stores:
  woo-00:
    reviews: {delay_days: 3}
"""
WITH_PLATFORM = CONFIG.replace("stores:\n", """\
  wp:
    platform: {guest_checkout: true, express_pay: true}
stores:
""")


@dataclass
class Fleet:
    env: dict[str, str]
    db: Database
    shops: dict[str, FakeShop]
    woos: dict[str, FakeWooStore]
    tmp: Path

    def parcours(self, *args: str, code: int = 0) -> Any:
        done = run_cli(self.env, *args)
        assert done.returncode == code, (done.stdout, done.stderr)
        return done

    def file(self, text: str, name: str = "fleet.yaml") -> str:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def facts(self, key: str) -> dict[str, Any]:
        with self.db.read() as conn:
            return store_facts(conn, get_store(conn, key).id)

    def platform_calls(self) -> int:
        return (sum(len(shop.calls) for shop in self.shops.values())
                + sum(len(woo.calls) for woo in self.woos.values()))


def _guest(store: FakeWooStore) -> str:
    return str(store.settings["account"]["woocommerce_enable_guest_checkout"]["value"])


@pytest.fixture
def fleet(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[Fleet]:
    keys = generate_key()
    vault = Vault(keys)
    db = Database(database_url)
    with ExitStack() as stack:
        state, origin = stack.enter_context(shopify_running())
        config = {"PUBLIC_URL": PUBLIC, "SHOPIFY_API_KEY": API_KEY,
                  "SHOPIFY_SHOP_ORIGIN": origin, "WOOCOMMERCE_LOCAL_STORES": True}
        env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
               "PARCOURS_INSTANCE_PATH": str(tmp_path / "instance"),
               "PARCOURS_SECRET_KEYS": keys, "PARCOURS_PUBLIC_URL": PUBLIC,
               "PARCOURS_SHOPIFY_API_KEY": API_KEY, "PARCOURS_SHOPIFY_SHOP_ORIGIN": origin,
               "PARCOURS_WOOCOMMERCE_LOCAL_STORES": "true", "PARCOURS_ACTOR": "ops@agency.test"}
        env.pop("PARCOURS_REDIS_URL", None)
        shops: dict[str, FakeShop] = {}
        for key in SHOPS:
            shop = shops[key] = state.shop(f"{key}.myshopify.com")
            shop.access_tokens[TOKEN] = time.time() + 3600
            with db.write() as conn:
                store_id = create_store(conn, key, account="agency", platform="shopify",
                                        domain=shop.domain).id
                save_tokens(conn, vault, store_id, ShopifyTokens(TOKEN, None, None, None, ""))
        woos: dict[str, FakeWooStore] = {}
        adapter = adapter_for("woocommerce")
        for key in WOOS:
            woo, base, _ = stack.enter_context(woo_running())
            woo.payment_gateways["stripe"] = stripe_gateway(woo)
            # The recorded store allows guests; these ask for an account (the friction).
            woo.settings["account"]["woocommerce_enable_guest_checkout"]["value"] = "no"
            woos[key] = woo
            api_key = add_key(woo)
            adapter.connect_with_keys(StoreAccess(key, db, vault, config), account="agency",
                                      url=base, consumer_key=api_key.consumer_key,
                                      consumer_secret=api_key.consumer_secret)
        with db.write() as conn:
            tag_stores(conn, SHOPS + WOOS, add=["eu"])
            tag_stores(conn, SHOPS[:5] + WOOS[:5], add=["fr"])
            tag_stores(conn, WOOS, add=["wp"])
        try:
            yield Fleet(env, db, shops, woos, tmp_path)
        finally:
            db.engine.dispose()


def test_plan_prints_each_change_and_touches_nothing(fleet: Fleet) -> None:
    before = {key: fleet.facts(key) for key in ("shop-00", "woo-00")}
    calls = fleet.platform_calls()
    done = fleet.parcours("config", "plan", fleet.file(WITH_PLATFORM))
    out = done.stdout
    assert "Plan: 20 store(s) to change, 0 unchanged." in out
    assert "woo-00 (woocommerce, tags: eu, fr, wp)" in out
    assert "  reviews.delay_days: 7 -> 3   [store woo-00]" in out
    assert "  reviews.delay_days: 7 -> 10   [defaults]" in out
    assert "  storefront.lang: (unset) -> \"fr\"   [tag fr]" in out
    assert "  platform.guest_checkout: false -> true   [tag wp]" in out
    assert "  experiments.shipping_estimate.holdout: (unset) -> 0.2   [defaults]" in out
    assert "  widgets.review_list.per_page: 5 -> 8   [defaults]" in out
    shown = json.loads(fleet.parcours("config", "plan", fleet.file(CONFIG), "--stores",
                                      "tag:fr,woo-09", "--json").stdout)
    assert [p["store"] for p in shown] == sorted(SHOPS[:5] + WOOS[:5] + ["woo-09"])
    lang = {p["store"]: [c for c in p["changes"] if c["key"] == "storefront.lang"]
            for p in shown}
    assert lang["woo-09"] == [] and lang["shop-00"][0]["new"] == "fr"
    assert {key: fleet.facts(key) for key in before} == before
    assert fleet.platform_calls() == calls
    assert all(_guest(woo) == "no" for woo in fleet.woos.values())


def test_apply_is_all_or_nothing_per_store_and_idempotent(fleet: Fleet) -> None:
    broken = fleet.woos[BROKEN_WOO]
    broken.fail_on["PUT payment_gateways/stripe"] = [REFUSED]
    fleet.shops[FROZEN_SHOP].fail_on["metafieldsSet"] = [402]
    before = {key: fleet.facts(key) for key in (BROKEN_WOO, FROZEN_SHOP)}
    path = fleet.file(WITH_PLATFORM)

    first = fleet.parcours("config", "apply", path, code=1)
    assert "Applied: 18 store(s) changed, 0 unchanged, 2 failed (shop-03, woo-07)." in \
        first.stdout
    assert f"{BROKEN_WOO}: FAILED, left as it was: " in first.stdout
    assert "not allowed to edit" in first.stdout
    # The failed stores are as they were, on the platform and in Parcours.
    assert _guest(broken) == "no"
    assert broken.payment_gateways["stripe"]["settings"]["express_checkout"]["value"] == "no"
    after = {key: fleet.facts(key) for key in before}
    assert {(key, name) for key in before for name in before[key].keys() | after[key].keys()
            if before[key].get(name) != after[key].get(name)} == set()
    # The others have everything, on the platform too.
    woo = fleet.woos["woo-01"]
    assert _guest(woo) == "yes"
    assert woo.payment_gateways["stripe"]["settings"]["express_checkout"]["value"] == "yes"
    facts = fleet.facts("shop-01")
    # Only what differs from the store's current settings is written (the rest stays default).
    assert facts["widgets"]["shipping_estimate"] == {"holdout": 0.2, "salt": "fleet-2026-12"}
    assert facts["widget_lang"] == "fr" and facts["consent"] == {"required": True}
    assert facts["review_settings"]["delay_days"] == 10
    assert fleet.facts("woo-00")["review_settings"]["delay_days"] == 3
    metafield = next(m for (_, ns, key), m in fleet.shops["shop-01"].metafields.items()
                     if (ns, key) == ("parcours", "config"))
    assert json.loads(metafield["value"])["widgets"]["review_list"]["per_page"] == 8

    # Once the platforms answer again, only the failed stores change.
    calls = fleet.platform_calls()
    second = fleet.parcours("config", "apply", path)
    assert "Applied: 2 store(s) changed, 18 unchanged, 0 failed." in second.stdout
    assert _guest(broken) == "yes"
    assert fleet.platform_calls() > calls
    calls = fleet.platform_calls()
    third = fleet.parcours("config", "apply", path, "--json")
    assert {o["status"] for o in json.loads(third.stdout)} == {"unchanged"}
    assert fleet.platform_calls() == calls  # nothing to do: no platform is called

    with fleet.db.read() as conn:
        rows = conn.execute(select(t.audit_log.c.actor, t.audit_log.c.action,
                                   t.audit_log.c.detail, t.stores.c.key)
                            .join(t.stores, t.stores.c.id == t.audit_log.c.store_id)
                            .where(t.audit_log.c.interface == "config")).all()
    # One entry per store applied; the frozen shop's change, written then undone, is in the
    # history with its undoing; the refused store's attempt too.
    assert sorted(row.key for row in rows if row.action == "config apply") == sorted(
        SHOPS + WOOS + [FROZEN_SHOP])
    assert sorted(row.key for row in rows if row.action == "config apply failed") == [
        FROZEN_SHOP, BROKEN_WOO]
    assert {row.actor for row in rows} == {"cli:ops@agency.test"}
    assert all(row.detail["file"] == "fleet.yaml" for row in rows)


def test_export_then_plan_finds_nothing_to_change(fleet: Fleet) -> None:
    fleet.parcours("config", "apply", fleet.file(CONFIG))
    exported = fleet.tmp / "export.yaml"
    fleet.parcours("config", "export", "--output", str(exported))
    text = exported.read_text(encoding="utf-8")
    assert text.startswith("# parcours config export")
    again = fleet.parcours("config", "plan", str(exported))
    assert "Plan: 0 store(s) to change, 20 unchanged." in again.stdout
    stores = yaml.safe_load(text)["stores"]
    assert sorted(stores) == sorted(SHOPS + WOOS)
    assert "platform" not in stores["shop-00"]  # Shopify's are changed in its admin
    assert stores["woo-00"]["platform"] == {"guest_checkout": False, "express_pay": False}
    assert stores["woo-00"]["reviews"]["delay_days"] == 3
    assert stores["shop-00"]["storefront"] == {"lang": "fr", "consent_required": True}


@pytest.mark.parametrize(("extra", "problem"), [
    ("  nowhere:\n    reviews: {delay_days: 1}\n",
     "stores.nowhere (line 18): no store 'nowhere'"),
    ("  shop-01:\n    platform: {guest_checkout: true}\n",
     "stores.shop-01.platform.guest_checkout (line 19): shop-01: Shopify stores change this"),
])
def test_refusals_name_file_line_and_key_and_touch_no_store(fleet: Fleet, extra: str,
                                                            problem: str) -> None:
    before = fleet.facts("woo-00")
    done = fleet.parcours("config", "apply", fleet.file(CONFIG + extra), code=1)
    assert "fleet.yaml" in done.stderr and problem in done.stderr, done.stderr
    assert fleet.facts("woo-00") == before
