"""Disconnecting a store on the merchant's or operator's request (API, CLI).

First the platform is left as the merchant had it (the adapter deletes Parcours' webhooks and
restores the settings it changed, while the credentials still work), then the credentials are
dropped and the data is scheduled for deletion. A platform that cannot be cleaned (unreachable,
keys already revoked) does not stop the disconnection: its notes say what was left.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from parcours.accounts import get_store
from parcours.adapters.base import StoreAccess, adapter_for
from parcours.credentials import Vault
from parcours.db import Database
from parcours.errors import ParcoursError
from parcours.privacy import schedule_store_deletion

__all__ = ["uninstall_store"]

log = logging.getLogger(__name__)


def uninstall_store(db: Database, vault: Vault, config: Mapping[str, Any], key: str, *,
                    after: timedelta, now: datetime) -> list[str]:
    """Clean the platform, drop the credentials, delete the data after `after`; the notes."""
    with db.read() as conn:
        store = get_store(conn, key)
    try:
        notes = list(adapter_for(store.platform).uninstall(StoreAccess(key, db, vault, config)))
    except ParcoursError as exc:
        log.warning("could not clean %s's platform before uninstalling: %s", key, exc)
        notes = [f"platform not cleaned: {exc}"]
    with db.write() as conn:
        schedule_store_deletion(conn, store.id, after=after, now=now, uninstalled=True)
    return notes
