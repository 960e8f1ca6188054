"""The WooCommerce jobs: setup after connecting, and the webhook health check.

The health check runs every 10 minutes over every connected store: a webhook WooCommerce
disabled (more than 5 failed deliveries in a row), paused or deleted is put back, and the store
is reconciled at once over the gap rather than at the next 15-minute poll.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from huey import Huey, crontab
from sqlalchemy import select

from parcours import tables as t
from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.install import heal, run_setup
from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import AuthError, ConfigError, NotFoundError, ParcoursError
from parcours.reconcile import reconcile_store

__all__ = ["init_jobs"]

log = logging.getLogger(__name__)


def init_jobs(app: Flask, new_secret: Any) -> None:
    """Register the tasks; `app.extensions["parcours.woocommerce.setup"](store_key)` queues a
    setup (the connect callback calls it). `new_secret()` makes a webhook secret."""
    jobs = app.extensions["parcours.jobs"]
    huey: Huey = jobs.huey
    db: Database = app.extensions["parcours.db"]
    vault: Vault = app.extensions["parcours.vault"]
    config = app.config

    def setup(store_key: str) -> dict[str, Any]:
        try:
            return run_setup(StoreAccess(store_key, db, vault, config), new_secret()).as_dict()
        except (AuthError, ConfigError, NotFoundError) as exc:
            # Wrong or revoked keys, a missing setting: retrying cannot help.
            log.error("WooCommerce setup of %s stopped: %s", store_key, exc)
            return {"store": store_key, "error": str(exc)}

    task = huey.task(retries=5, retry_delay=60, name="woocommerce_setup")(setup)

    @huey.periodic_task(crontab(minute="*/10"), name="woocommerce_health")
    def health() -> None:
        s = t.stores.c
        with db.read() as conn:
            keys = list(conn.execute(select(s.key).where(
                s.platform == "woocommerce", s.uninstalled_at.is_(None))).scalars())
        for key in keys:
            try:
                repaired = heal(StoreAccess(key, db, vault, config))
            except ParcoursError as exc:
                log.warning("WooCommerce health check of %s failed: %s", key, exc)
                continue
            if repaired:
                log.warning("WooCommerce %s: webhooks repaired (%s); reconciling", key,
                            "; ".join(repaired))
                if reconcile_store(db, vault, config, key).new:
                    jobs.drain_inbox()

    app.extensions["parcours.woocommerce.setup"] = lambda store_key: task(store_key)
    app.extensions["parcours.woocommerce.health"] = health
