"""`parcours users`: the dashboard's email + password users (agencies, custom shops).

A password is never a command-line argument (it would sit in the shell's history and in every
process listing): it is read from PARCOURS_USER_PASSWORD, from standard input with
`--password-stdin` (scripts), or typed at a hidden prompt, twice.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click

from parcours.accounts import ROLES
from parcours.cli_access import split_list
from parcours.cli_support import ParcoursGroup, database, load_app
from parcours.dashboard_users import add_user, set_password

__all__ = ["users"]

PASSWORD_ENV = "PARCOURS_USER_PASSWORD"


@click.group(cls=ParcoursGroup)
def users() -> None:
    """Dashboard users who log in with an email and a password."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@click.argument("email")
@click.option("--account", required=True, help="the account whose stores the user sees "
                                                 "(created if new)")
@click.option("--locale", type=click.Choice(["en", "fr"]), default=None,
              help="the dashboard's language (default: the browser's)")
@click.option("--password-stdin", "from_stdin", is_flag=True,
              help="read the password from the first line of standard input")
@click.option("--role", type=click.Choice(ROLES), default="owner", show_default=True,
              help="analyst: sees, changes nothing; admin: changes all but keys and uninstalls")
@click.option("--stores", default="", help="only these stores (comma-separated keys)")
@click.option("--tags", default="", help="only the stores with these tags (comma-separated)")
def add_command(email: str, account: str, locale: str | None, from_stdin: bool, role: str,
                stores: str, tags: str) -> None:
    """Add a user EMAIL to ACCOUNT (password: PARCOURS_USER_PASSWORD, stdin, or a prompt),
    seeing every store of the account unless --stores or --tags narrow it."""
    password = _password(from_stdin)
    with database(load_app()).write() as conn:
        user = add_user(conn, email, password, account=account, locale=locale,
                        now=datetime.now(UTC), role=role, stores=split_list(stores),
                        tags=split_list(tags))
    click.echo(f"user {user.email} added to account {account} ({role})")


@users.command("set-password")
@click.argument("email")
@click.option("--password-stdin", "from_stdin", is_flag=True,
              help="read the password from the first line of standard input")
def set_password_command(email: str, from_stdin: bool) -> None:
    """Give EMAIL a new password (and lift a lockout)."""
    password = _password(from_stdin)
    with database(load_app()).write() as conn:
        set_password(conn, email, password)
    click.echo(f"password of {email} changed")
