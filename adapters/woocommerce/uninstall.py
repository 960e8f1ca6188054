"""Disconnecting a WooCommerce store: leave it as the merchant had it.

Run before the keys are dropped (they are needed): delete every webhook that delivers to
Parcours (`force=true`), then restore each setting Parcours changed. Each part is tried even if
the other fails (a store that revoked the keys already cannot be cleaned from here, and says so).
"""

from __future__ import annotations

from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.install import delivery_url, remove_webhooks
from parcours.adapters.woocommerce.keys import client_for
from parcours.adapters.woocommerce.settings import restore_settings
from parcours.errors import ParcoursError

__all__ = ["uninstall_store"]


def uninstall_store(store: StoreAccess) -> list[str]:
    """What was done, and what could not be, one line each."""
    notes = []
    try:
        removed = remove_webhooks(client_for(store), delivery_url(store.config, store.key))
        notes.append(f"deleted {removed} webhook(s)")
    except ParcoursError as exc:
        notes.append(f"webhooks not deleted: {exc}")
    try:
        restored = restore_settings(store)
        notes.append(f"restored {len(restored)} setting(s)")
    except ParcoursError as exc:
        notes.append(f"settings not restored: {exc}")
    return notes
