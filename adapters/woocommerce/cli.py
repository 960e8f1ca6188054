"""`parcours woocommerce ...`: the WordPress plugin, and a connected store's set-up.

The plugin's PHP lives in this package (adapters/woocommerce/wordpress/parcours) and ships in the
wheel, so an installed Parcours can build the zip a merchant uploads, without the repository.
The other commands act on a connected store for an operator or an agency: run its setup or
health check now, change a checkout setting or turn on express pay (opt-in; the previous values
are remembered and restored on uninstall).
"""

from __future__ import annotations

from pathlib import Path

import click

from parcours.adapters.base import StoreAccess, adapter_for
from parcours.adapters.woocommerce.install import CHECKOUT_SETTINGS, heal, run_setup
from parcours.adapters.woocommerce.plugin import PLUGIN_ROOT, build_plugin
from parcours.adapters.woocommerce.settings import apply_setting, enable_express_pay
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.reconcile import reconcile_store

__all__ = ["woocommerce"]


@click.group(cls=ParcoursGroup, help="WooCommerce: the WordPress plugin and connected stores.")
def woocommerce() -> None:
    """WooCommerce: the WordPress plugin and connected stores."""


@woocommerce.command("build-plugin")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("dist"), show_default=True, help="folder to write the zip into")
@click.option("--source", type=click.Path(file_okay=False, path_type=Path), default=PLUGIN_ROOT,
              show_default="the plugin shipped with Parcours",
              help="plugin folder to package (an agency's modified copy, for instance)")
def build_plugin_command(out: Path, source: Path) -> None:
    """Build parcours-<version>.zip, the plugin to upload in WordPress, and print its path.

    The same sources always give the same bytes. Exits 1, naming the missing files, when the
    plugin folder is incomplete.
    """
    click.echo(str(build_plugin(out, source)))


def _access(store: str) -> StoreAccess:
    app = load_app()
    return StoreAccess(store, database(app), app.extensions["parcours.vault"], app.config)


@woocommerce.command("setup")
@click.argument("store")
def setup_command(store: str) -> None:
    """Run STORE's setup now (webhooks, facts) and print what changed (JSON)."""
    echo_json(run_setup(_access(store), adapter_for("woocommerce").new_secret()).as_dict())


@woocommerce.command("heal")
@click.argument("store")
def heal_command(store: str) -> None:
    """Check STORE's webhooks now: re-activate or recreate them, then reconcile the gap."""
    access = _access(store)
    repaired = heal(access)
    for line in repaired or ["webhooks healthy"]:
        click.echo(line)
    if repaired:
        result = reconcile_store(access.db, access.vault, access.config, store)
        click.echo(f"reconciled: {result.deliveries} order(s) read, {result.new} new")
        if result.new:  # wake a worker now rather than at the next sweep
            load_app().extensions["parcours.jobs"].drain_inbox()


@woocommerce.command("apply-setting")
@click.argument("store")
@click.argument("setting", type=click.Choice(sorted(CHECKOUT_SETTINGS)))
@click.argument("value", type=click.Choice(["yes", "no"]))
def apply_setting_command(store: str, setting: str, value: str) -> None:
    """Set a WooCommerce checkout SETTING of STORE (restored when STORE is uninstalled)."""
    previous, now = apply_setting(_access(store), setting, value == "yes")
    click.echo(f"{setting}: {previous} -> {now}")


@woocommerce.command("express-pay")
@click.argument("store")
@click.option("--gateway", default=None, help="stripe or woocommerce_payments (default: any)")
def express_pay_command(store: str, gateway: str | None) -> None:
    """Turn on the express buttons (Apple Pay, Google Pay...) of STORE's gateway on product,
    cart and checkout pages; says so when no gateway of the store offers them."""
    click.echo(f"express buttons on for {enable_express_pay(_access(store), gateway)}")
