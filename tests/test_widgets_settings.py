"""`parcours widgets set/show`: settings files validated whole, applied as store facts, and what
the storefront then reads (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from parcours import tables as t
from parcours.accounts import create_store
from parcours.cli import main
from parcours.db import Database

SETTINGS = """\
lang = "fr"
currency = "EUR"
consent_required = true
guest_checkout = true
wallets = ["apple_pay", "google_pay"]

[widgets.express_pay]
holdout = 0.2
salt = "express-2026-12"

[widgets.review_list]
enabled = false

[storefront]
checkout = "/caisse"
buy_now = "/caisse?produit={variant}&qte={quantity}"

[[shipping_zones]]
name = "France"
countries = [{code = "FR"}]
rates = [{name = "Colissimo", price = "4.90", currency = "EUR"},
         {name = "Colissimo", price = "0", currency = "EUR", min_subtotal = "50"}]
"""


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("PARCOURS_DATABASE_URL", database_url)
    monkeypatch.setenv("PARCOURS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PARCOURS_PUBLIC_URL", "https://parcours.example")
    db = Database(database_url)
    with db.write() as conn:
        create_store(conn, "shop", account="acme")
        create_store(conn, "boutique", account="acme", platform="woocommerce")
    db.engine.dispose()
    return CliRunner()


def _facts(database_url: str, key: str) -> dict[str, object]:
    db = Database(database_url)
    with db.read() as conn:
        rows = conn.execute(select(t.store_facts.c.name, t.store_facts.c.value)
                            .join(t.stores).where(t.stores.c.key == key))
        facts = {row.name: row.value for row in rows}
    db.engine.dispose()
    return facts


def test_a_settings_file_becomes_the_storefront_config(cli: CliRunner, tmp_path: Path,
                                                       database_url: str) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(SETTINGS)
    applied = cli.invoke(main, ["widgets", "set", "shop", str(path)])
    assert applied.exit_code == 0, applied.output
    assert applied.output == ("shop: widgets, widget_lang, consent, shop, storefront, "
                              "shipping_zones, customer_accounts, accelerated_checkout changed\n")
    again = cli.invoke(main, ["widgets", "set", "shop", str(path)])
    assert again.output == "shop: nothing changed\n"  # idempotent
    shown = cli.invoke(main, ["widgets", "show", "shop"])
    config = json.loads(shown.output)
    assert config["origin"] == "https://parcours.example" and config["lang"] == "fr"
    assert config["consent_required"] is True
    assert config["widgets"]["express_pay"] == {"enabled": True, "pages": ["product", "cart"],
                                                "holdout": 0.2, "salt": "express-2026-12"}
    assert config["widgets"]["review_list"]["enabled"] is False
    assert config["facts"] == {"guest_checkout": True, "wallets": ["apple_pay", "google_pay"]}
    assert config["storefront"]["buy_now"] == "/caisse?produit={variant}&qte={quantity}"
    assert config["shipping"]["zones"] == [{"countries": ["FR"], "from": "4.90",
                                            "free_from": "50.00"}]
    assert _facts(database_url, "shop")["customer_accounts"] == {
        "login_required_at_checkout": False}


def test_a_bad_file_is_refused_whole_naming_each_key(cli: CliRunner, tmp_path: Path,
                                                     database_url: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({
        "lang": "de", "widgets": {"express_pay": {"holdout": 1.5}, "popup": {}},
        "shipping_zones": [{"name": "FR", "countries": [], "rates": [
            {"name": "x", "price": "cheap", "currency": "eur"}]}]}))
    refused = cli.invoke(main, ["widgets", "set", "shop", str(path)])
    assert refused.exit_code == 1
    for named in ("lang", "widgets.express_pay.value.holdout", "widgets.popup.key",
                  "shipping_zones.0.countries", "shipping_zones.0.rates.0.price",
                  "shipping_zones.0.rates.0.currency", str(path)):
        assert named in refused.output, named
    assert _facts(database_url, "shop") == {}  # nothing written
    broken = tmp_path / "broken.toml"
    broken.write_text("lang = ")
    assert "is not valid toml" in cli.invoke(main, ["widgets", "set", "shop", str(broken)]).output


def test_platform_facts_are_refused_for_platform_stores(cli: CliRunner, tmp_path: Path,
                                                       database_url: str) -> None:
    path = tmp_path / "woo.toml"
    path.write_text(SETTINGS)
    refused = cli.invoke(main, ["widgets", "set", "boutique", str(path)])
    assert refused.exit_code == 1
    assert "these settings come from woocommerce: change them there" in refused.output
    assert _facts(database_url, "boutique") == {}
    path.write_text('lang = "en"\n[widgets.guest_checkout]\nenabled = false\n')
    applied = cli.invoke(main, ["widgets", "set", "boutique", str(path)])
    assert applied.output == "boutique: widgets, widget_lang changed\n"
    assert cli.invoke(main, ["widgets", "show", "nobody"]).exit_code == 1
