"""`parcours shopify ...`: the Shopify app's files and install, from the command line.

`check-extensions` runs in the tests and before `shopify app deploy`, so a broken schema, a missing
translation or an oversized script is found here rather than by Shopify or by a merchant.
`app-export` writes the folder `shopify app deploy` reads; `post-install` runs the post-install
job now (after granting a scope, or to see what it would change).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from parcours.adapters.shopify.extensions_check import (
    APP_TEMPLATE,
    BUILT,
    DEFAULT_ROOT,
    check_extensions,
    render_app_config,
)
from parcours.cli_support import echo_json, load_app
from parcours.errors import ConfigError

__all__ = ["shopify"]


@click.group(help="Shopify app: extensions and install.")
def shopify() -> None:
    """Shopify app: extensions and install."""


@shopify.command("check-extensions")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=DEFAULT_ROOT, show_default="the installed Parcours' files",
              help="folder holding extensions/ and app_config/")
def check_extensions_command(root: Path) -> None:
    """Validate the theme app extension, the web pixel and the app config against Shopify's rules.

    Prints each problem (naming its file) and exits 1, or prints "extensions ok".
    """
    problems = check_extensions(root)
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(1)
    click.echo("extensions ok")


def _setting(config: Mapping[str, Any], name: str) -> str:
    value = str(config.get(name) or "").strip()
    if not value:
        raise ConfigError(f"PARCOURS_{name} is not set")
    return value


@shopify.command("app-export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def app_export(folder: Path) -> None:
    """Write FOLDER for `shopify app deploy`: shopify.app.toml and extensions/.

    The app config is rendered from PARCOURS_SHOPIFY_API_KEY (client_id) and PARCOURS_PUBLIC_URL
    (https). The files are checked first; nothing is written when a check fails. An existing
    FOLDER/extensions is replaced (it is generated), other files there are left alone.
    """
    config = load_app(check=False).config
    client_id, public_url = _setting(config, "SHOPIFY_API_KEY"), _setting(config, "PUBLIC_URL")
    if not public_url.startswith("https://"):
        raise ConfigError("PARCOURS_PUBLIC_URL must be an https URL: Shopify calls it")
    problems = check_extensions(DEFAULT_ROOT)
    if problems:
        raise click.ClickException("the extensions do not pass check-extensions:\n"
                                   + "\n".join(problems))
    folder.mkdir(parents=True, exist_ok=True)
    rendered = render_app_config((DEFAULT_ROOT / APP_TEMPLATE).read_text(encoding="utf-8"),
                                 client_id, public_url)
    shutil.rmtree(folder / "extensions", ignore_errors=True)
    shutil.copytree(DEFAULT_ROOT / "extensions", folder / "extensions",
                    ignore=shutil.ignore_patterns(*BUILT))
    (folder / "shopify.app.toml").write_text(rendered, encoding="utf-8")
    click.echo(f"wrote {folder}/shopify.app.toml and {folder}/extensions; next: "
               f"cd {folder} && shopify app deploy")


@shopify.command("post-install")
@click.argument("store")
def post_install(store: str) -> None:
    """Run STORE's post-install job now and print what it changed (JSON).

    Safe to repeat: a second run changes nothing. Errors (no token, app uninstalled, a scope
    missing) are printed in one line.
    """
    from parcours.adapters.shopify.install import run_post_install

    app = load_app()
    report = run_post_install(app.extensions["parcours.db"], app.extensions["parcours.vault"],
                              app.config, store)
    echo_json(report.as_dict())
