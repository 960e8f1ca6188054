"""Parcours as real processes for end-to-end tests: `parcours serve` (gunicorn) and
`parcours worker`, started with a given environment, stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from parcours.accounts import create_store, get_store
from parcours.credentials import Vault, generate_key, set_secret
from parcours.db import Database

COMMAND = [sys.executable, "-m", "parcours.cli"]


def parcours(env: dict[str, str], *args: str, stdin: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    """One `parcours` command, run as a user runs it."""
    return subprocess.run([*COMMAND, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(what: str, check: Callable[[], Any], seconds: float = 60) -> Any:
    """The first truthy value of `check()`, polled; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(app: str) -> bool:
    try:
        return requests.get(f"{app}/healthz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@contextmanager
def parcours_running(env: dict[str, str], port: int) -> Iterator[str]:
    """A server on `port` and one worker; yields the server's URL once it answers."""
    server = subprocess.Popen([*COMMAND, "serve", "--port", str(port), "--workers", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([*COMMAND, "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    app = f"http://127.0.0.1:{port}"
    try:
        until("the server", lambda: _healthy(app))
        yield app
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=30)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def custom_store_env(database_url: str, folder: Path, store: str, secret: str
                     ) -> tuple[dict[str, str], Database]:
    """The environment of a server for one custom store `store` (account "acme") whose
    Standard Webhooks secret is `secret`, created in the database; and that database."""
    keys = generate_key()
    db = Database(database_url)
    with db.write() as conn:
        create_store(conn, store, account="acme", platform="custom")
        set_secret(conn, Vault(keys), get_store(conn, store).id, secret)
    env = {**os.environ, "PARCOURS_DATABASE_URL": database_url,
           "PARCOURS_INSTANCE_PATH": str(folder / "instance"), "PARCOURS_SECRET_KEYS": keys}
    env.pop("PARCOURS_REDIS_URL", None)
    return env, db
