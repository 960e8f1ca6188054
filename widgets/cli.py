"""`parcours widgets`: a store's storefront widget config, and its settings from a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from parcours.accounts import get_store, save_store_facts
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.cli_support import ParcoursGroup, database, echo_json, load_app
from parcours.errors import ParcoursError
from parcours.widgets.routes import config_for
from parcours.widgets.settings import load_settings, settings_facts

__all__ = ["widgets"]


@click.group(cls=ParcoursGroup)
def widgets() -> None:
    """Storefront widgets: a store's config, and its settings."""


@widgets.command("show")
@click.argument("store")
def show(store: str) -> None:
    """Print the config STORE's storefront reads (GET /w/STORE/config.json)."""
    app = load_app()
    public = str(app.config.get("PUBLIC_URL") or "")
    with database(app).read() as conn:
        echo_json(config_for(conn, store, public))


@widgets.command("set")
@click.argument("store")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def set_settings(store: str, file: Path) -> None:
    """Apply the settings in FILE (JSON or TOML; docs/widgets.md) to STORE.

    The whole file is checked first: nothing changes unless all of it is valid. Applying the
    same file again changes nothing.
    """
    settings = load_settings(file)
    app = load_app()
    db = database(app)
    with db.write() as conn:
        found = get_store(conn, store)
        changed = save_store_facts(conn, found.id, settings_facts(settings, found.platform),
                                   datetime.now(UTC))
    click.echo(f"{store}: {', '.join(changed) if changed else 'nothing'} changed")
    if not changed:
        return
    access = StoreAccess(store, db, app.extensions["parcours.vault"], app.config)
    try:
        lines = adapter_for(found.platform).widgets_changed(access)
    except ParcoursError as exc:  # saved: the next post-install or `set` pushes it again
        raise click.ClickException(f"{store}: settings saved, but the storefront's copy "
                                   f"was not updated: {exc}") from None
    for line in lines:
        click.echo(f"{store}: {line}")
