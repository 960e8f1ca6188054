"""`parcours shopify ...`: the Shopify app's files and install, from the command line.

`check-extensions` runs in the tests and before `shopify app deploy`, so a broken schema, a missing
translation or an oversized script is found here rather than by Shopify or by a merchant.
"""

from __future__ import annotations

from pathlib import Path

import click

from parcours.adapters.shopify.extensions_check import DEFAULT_ROOT, check_extensions

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
