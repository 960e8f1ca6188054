"""What every `parcours` command shares: the app from the environment, errors, JSON output."""

from __future__ import annotations

import json
from typing import Any

import click
from flask import Flask

from parcours.db import Database
from parcours.errors import ParcoursError


class ParcoursGroup(click.Group):
    """Turns ParcoursError into a one-line message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ParcoursError as exc:
            raise click.ClickException(str(exc)) from None


def load_app(check: bool = True) -> Flask:
    """The app built from `PARCOURS_*`, so CLI, server and workers agree on database and queue."""
    from parcours.app import create_app

    app = create_app()
    if check:
        database(app).check()
    return app


def database(app: Flask) -> Database:
    return app.extensions["parcours.db"]  # type: ignore[no-any-return]


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
