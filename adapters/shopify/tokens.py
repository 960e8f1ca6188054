"""A store's Shopify tokens: kept encrypted, handed out valid, refreshed before they expire.

Expiring offline tokens live one hour; Shopify rotates the refresh token at every refresh
(shopify.dev, "Offline access tokens"), so the newest pair must be saved atomically and two
workers must not lose each other's pair. The rules here:

- Tokens are one credential row (purpose "shopify_token", the JSON of `ShopifyTokens`, encrypted
  with the vault like every credential); saving replaces the previous row at once and deletes the
  expired ones, so an hourly refresh does not pile up rows.
- `access_token` returns the stored token while more than 5 minutes remain. Otherwise it takes the
  store's lock in a short transaction (PostgreSQL: `pg_advisory_xact_lock`; SQLite: the write
  transaction already serialises writers), re-reads (another worker may have refreshed), and
  commits. The HTTP call to Shopify then runs outside any transaction, and the rotated pair is
  saved in a new short one, only if the stored pair is still the one that was refreshed (compare
  and swap), so a slower worker never overwrites a newer pair.
- A refresh Shopify refuses may mean that another worker (another process) used the refresh token
  first: the store's tokens are re-read for a few seconds, and a pair rotated meanwhile is used.
  Threads of one process also queue on a per-store lock, so they refresh once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, text

from parcours import tables as t
from parcours.adapters.shopify.errors import ShopifyAuthError, ShopifyGrantError
from parcours.adapters.shopify.oauth import ShopifyTokens, refresh_tokens
from parcours.credentials import Vault, read_secrets, set_secret
from parcours.db import Database

__all__ = ["PURPOSE", "REFRESH_MARGIN", "access_token", "load_tokens", "refresh",
           "save_tokens", "usable"]

log = logging.getLogger(__name__)
PURPOSE = "shopify_token"
REFRESH_MARGIN = timedelta(minutes=5)
LOCK_NAMESPACE = 0x50524354  # first key of pg_advisory_xact_lock(int, int): "PRCT"
RACE_WAITS = (0.1, 0.2, 0.4, 0.8, 1.5)  # seconds: how long a refused refresh waits for a rival
_process_locks: dict[int, threading.Lock] = {}
_process_guard = threading.Lock()


def save_tokens(conn: Connection, vault: Vault, store_id: int, tokens: ShopifyTokens) -> None:
    """Make `tokens` the store's tokens (the previous pair stops being valid at once)."""
    set_secret(conn, vault, store_id, tokens.to_json(), purpose=PURPOSE,
               keep_previous=timedelta(0))
    c = t.credentials.c
    conn.execute(delete(t.credentials).where(
        c.store_id == store_id, c.purpose == PURPOSE, c.expires_at.is_not(None),
        c.expires_at <= datetime.now(UTC)))


def load_tokens(conn: Connection, vault: Vault, store_id: int) -> ShopifyTokens | None:
    """The store's tokens, or None when it has none (never installed, or uninstalled)."""
    found = read_secrets(conn, vault, store_id, purpose=PURPOSE)
    return ShopifyTokens.from_json(found[0]) if found else None


def usable(tokens: ShopifyTokens | None, now: datetime | None = None) -> bool:
    """Tokens that can still call Shopify: an unexpired access token, or a live refresh token."""
    if tokens is None:
        return False
    return not tokens.expires_within(timedelta(0), now) or tokens.refreshable(now)


def _lock(conn: Connection, store_id: int) -> None:
    """Serialise refreshes of one store across processes, until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(CAST(:ns AS integer), "
                          "CAST(:id AS integer))"), {"ns": LOCK_NAMESPACE, "id": store_id})


def _process_lock(store_id: int) -> threading.Lock:
    with _process_guard:
        return _process_locks.setdefault(store_id, threading.Lock())


def _read(conn: Connection, vault: Vault, store_id: int) -> tuple[ShopifyTokens, str]:
    shop = conn.execute(select(t.stores.c.domain).where(t.stores.c.id == store_id,
                                                        t.stores.c.platform == "shopify")
                        ).scalar()
    if not shop:
        raise ShopifyAuthError(f"store {store_id} is not a Shopify store with a shop domain")
    tokens = load_tokens(conn, vault, store_id)
    if tokens is None:
        raise ShopifyAuthError(f"{shop} has no Shopify token: the merchant must open the app "
                               "(token exchange) or install it again")
    return tokens, str(shop)


def access_token(db: Database, vault: Vault, config: Mapping[str, Any], store_id: int, *,
                 now: datetime | None = None) -> str:
    """A valid access token for the store, refreshed first when under 5 minutes remain."""
    moment = now or datetime.now(UTC)
    with db.read() as conn:
        tokens, shop = _read(conn, vault, store_id)
    if not tokens.expires_within(REFRESH_MARGIN, moment):
        return tokens.access_token
    with _process_lock(store_id):
        with db.write() as conn:
            _lock(conn, store_id)
            tokens, shop = _read(conn, vault, store_id)  # a rival may have refreshed
        if not tokens.expires_within(REFRESH_MARGIN, moment):
            return tokens.access_token
        return refresh(db, vault, config, store_id, shop, tokens, now=moment).access_token


def refresh(db: Database, vault: Vault, config: Mapping[str, Any], store_id: int, shop: str,
            used: ShopifyTokens, *, now: datetime | None = None) -> ShopifyTokens:
    """Refresh `used` (the pair read from the store) outside any transaction, then save the
    rotated pair unless a rival saved one first; returns a pair whose access token is valid."""
    moment = now or datetime.now(UTC)
    if not used.refresh_token or not used.refreshable(moment):
        raise ShopifyAuthError(f"the refresh token of {shop} has expired: the merchant must "
                               "open the app (token exchange) or install it again")
    try:
        fresh = refresh_tokens(config, shop, used.refresh_token, now=moment)
    except ShopifyGrantError:
        rotated = _rotated_by_rival(db, vault, store_id, used, moment)
        if rotated is None:
            raise
        return rotated
    with db.write() as conn:
        _lock(conn, store_id)
        current = load_tokens(conn, vault, store_id)
        if current is None:
            raise ShopifyAuthError(f"{shop} was uninstalled while its token was refreshed")
        if current.refresh_token == used.refresh_token:
            save_tokens(conn, vault, store_id, fresh)
        else:
            log.info("a rival refreshed the Shopify token of %s first; keeping its pair", shop)
    return fresh


def _rotated_by_rival(db: Database, vault: Vault, store_id: int, used: ShopifyTokens,
                      now: datetime) -> ShopifyTokens | None:
    """The pair another worker saved after refreshing `used` first, if one appears soon."""
    for pause in (0.0, *RACE_WAITS):
        time.sleep(pause)
        with db.read() as conn:
            current = load_tokens(conn, vault, store_id)
        if current is None:
            return None
        if current.refresh_token != used.refresh_token and not current.expires_within(
                REFRESH_MARGIN, now):
            return current
    return None
