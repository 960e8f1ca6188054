"""What the widget tests in Chromium share (tests/test_widgets_storefront.py on the demo shop,
tests/test_widgets_platforms.py on the fake Shopify and WooCommerce storefronts).

No tests here: `served` (a WSGI app on a free port, in a thread), `Parcours` and
`running_parcours` (Parcours on a SQLite database, served so, and the `collect` events its
inbox received), the `context` fixture (a shopper's desktop window), and what the tests ask of
a page: `console_errors`, `filled` (a widget's mount once the widget filled it), `rendered` (the
widgets that did), `CLS` (the layout shift so far).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from parcours import tables as t
from parcours.app import create_app
from parcours.credentials import generate_key
from parcours.db import Database

# Sums the layout shifts not caused by the shopper's input, as Core Web Vitals' CLS does.
CLS = """() => new Promise(done => {
    let total = 0;
    new PerformanceObserver(list => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value;
    }).observe({type: "layout-shift", buffered: true});
    setTimeout(() => done(total), 300);
})"""


@contextmanager
def served(app: Flask, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free port of `host`, in a thread; yields its origin ("http://host:port")."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# -- Parcours --------------------------------------------------------------------------------

@dataclass
class Parcours:
    """A Parcours app served by `running_parcours`, and the events its inbox received."""

    app: Flask
    url: str

    @property
    def db(self) -> Database:
        return self.app.extensions["parcours.db"]  # type: ignore[no-any-return]

    def last_inbox_id(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(t.inbox.c.id).order_by(t.inbox.c.id.desc())
                                    .limit(1)).scalar() or 0)

    def events(self, store_id: int | None = None, since: int = 0) -> list[dict[str, Any]]:
        """The storefront events (`collect` batches) that reached the inbox after row `since`,
        in order; of one store, or of all."""
        query = select(t.inbox.c.body).where(t.inbox.c.topic == "collect", t.inbox.c.id > since)
        if store_id is not None:
            query = query.where(t.inbox.c.store_id == store_id)
        with self.db.read() as conn:
            bodies = conn.execute(query.order_by(t.inbox.c.id)).scalars()
            return [event for body in bodies for event in json.loads(body)["events"]]


@contextmanager
def running_parcours(path: Path, **config: Any) -> Iterator[tuple[Flask, str]]:
    """Parcours on a new SQLite database in `path` (its instance folder), with `config` over
    the database URL and a fresh secret key, served on a free port of 127.0.0.1: (app, URL)."""
    url = f"sqlite:///{path / 'parcours.db'}"
    Database(url).upgrade()
    app = create_app({"DATABASE_URL": url, "SECRET_KEYS": generate_key(), **config},
                     instance_path=str(path))
    try:
        with served(app) as origin:
            yield app, origin
    finally:
        app.extensions["parcours.db"].engine.dispose()


# -- the page --------------------------------------------------------------------------------

@pytest.fixture
def context(shopper_browser: Any) -> Iterator[Any]:
    """A new browser window (its own cookies), desktop-sized."""
    context = shopper_browser.new_context(viewport={"width": 1100, "height": 900})
    yield context
    context.close()


def console_errors(page: Any) -> list[str]:
    """The page's console errors and uncaught exceptions, from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def filled(page: Any, widget: str) -> Any:
    """The widget's mount once the widget has put something in it."""
    mount = page.locator(f'[data-parcours-widget="{widget}"]')
    mount.locator(":scope > *").first.wait_for()
    return mount


def rendered(page: Any) -> list[str]:
    """The widgets whose mounts are filled, in the page's order."""
    return page.eval_on_selector_all(
        "[data-parcours-widget]", "ms => ms.filter(m => m.children.length)"
        ".map(m => m.dataset.parcoursWidget)")
