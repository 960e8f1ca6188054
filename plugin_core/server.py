"""Process orchestration: the gunicorn server, and the demo (server + worker + shoppers)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import requests
from flask import Flask
from gunicorn.app.base import BaseApplication

from parcours.accounts import create_api_key, create_store, get_store, save_store_facts
from parcours.credentials import generate_key
from parcours.dashboard_users import add_user, set_password
from parcours.db import Database
from parcours.errors import NotFoundError, ParcoursError, ValidationError

DEMO_STORE = "demo"
DEMO_USER = "demo@parcours.example"  # the demo's dashboard login (its password: random, per run)


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """Gunicorn serving the app `factory` builds in each worker (default: the Parcours app)."""

    def __init__(self, options: dict[str, Any], factory: Callable[[], Flask] | None = None
                 ) -> None:
        self.options, self.factory = options, factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        if self.factory is not None:
            return self.factory()
        from parcours.app import create_app

        return create_app()


def run_gunicorn(host: str, port: int, workers: int) -> None:
    # No control socket: gunicornc is not used, and its one default path per user would have
    # two app servers on one machine fight over it.
    GunicornApp({"bind": f"{host}:{port}", "workers": workers, "timeout": 30,
                 "accesslog": "-", "graceful_timeout": 10,
                 "control_socket_disable": True}).run()


def wait_healthy(url: str, processes: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise ParcoursError(f"{process.args!r} exited with {process.returncode} "
                                    "(is the port in use?)")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise ParcoursError(f"the server did not answer {url} within {seconds:.0f} s")


def _demo_key(instance: str) -> str:
    """The demo's own key for PARCOURS_SECRET_KEYS (dashboard sessions, signed links), made once
    in its instance folder, readable by its owner only: the demo runs with no set-up, and no
    key is ever shipped in code. A PARCOURS_SECRET_KEYS in the environment wins."""
    path = Path(instance) / "demo-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(generate_key())
    return path.read_text().strip()


def run_demo(app: Flask, host: str, port: int, seed: int, shoppers: int) -> None:
    """Start server and worker, replay `shoppers` simulated shoppers, and keep serving."""
    from parcours.demo import DEMO_WIDGETS, post_events, simulate
    from parcours.widgets.demo_shop import seed_demo_shop

    db: Database = app.extensions["parcours.db"]
    db.upgrade()
    with db.write() as conn:
        try:
            store = get_store(conn, DEMO_STORE)
        except NotFoundError:
            create_store(conn, DEMO_STORE, account="demo", platform="custom", name="Demo shop")
            store = get_store(conn, DEMO_STORE)
        seed_demo_shop(conn, store.id)
        save_store_facts(conn, store.id, {"widgets": DEMO_WIDGETS}, datetime.now(UTC))
        api_key = create_api_key(conn, "demo", name="demo")
        # A dashboard login for this run: a fresh random password, printed below.
        password = secrets.token_urlsafe(12)
        try:
            set_password(conn, DEMO_USER, password)
        except ValidationError:
            add_user(conn, DEMO_USER, password, account="demo", now=datetime.now(UTC))

    base = f"http://{host}:{port}"
    command = [sys.executable, "-m", "parcours.cli"]
    # The demo storefront at /demo/shop; review links point at this server unless set.
    env = {"PARCOURS_PUBLIC_URL": base, "PARCOURS_SECRET_KEYS": _demo_key(app.instance_path),
           **os.environ, "PARCOURS_DEMO_SHOP": DEMO_STORE}
    processes = [
        subprocess.Popen([*command, "serve", "--host", host, "--port", str(port)], env=env),
        subprocess.Popen([*command, "worker"], env=env),
    ]
    try:
        wait_healthy(f"{base}/healthz", processes, seconds=60)
        now = datetime.now(UTC)
        # Thirty days of history ending now; what would happen after now is left out.
        records = [r for r in simulate(seed, shoppers, start=now - timedelta(days=37), days=30)
                   if datetime.fromisoformat(r["occurred_at"]) <= now]
        sent = post_events(base, DEMO_STORE, api_key, records)
        click.echo(f"""
Parcours demo is running at {base}
  Demo storefront (the widgets on Dawn-like and Storefront-like pages): {base}/demo/shop/
  {sent} events from {shoppers} simulated shoppers sent to store '{DEMO_STORE}'
  Dashboard: {base}/dashboard/  (email {DEMO_USER}, password {password})
  API key for '{DEMO_STORE}': {api_key}
  curl -H 'Authorization: Bearer {api_key}' {base}/api/v1/stores/{DEMO_STORE}/funnel
  parcours kpis {DEMO_STORE} --json
Press Ctrl-C to stop.""")
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        raise ParcoursError("a demo process stopped; see its output above")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
