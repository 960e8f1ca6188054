"""Which store a delivery is for, and its signing secrets, with a short per-process cache.

The ack path runs for every delivery; looking the store up and decrypting its secrets each time
would double its database work. Entries live `ttl` seconds. A signature that fails against cached
secrets is checked again against fresh ones (`fresh=True`), so a newly set secret works at once;
a removed one may still verify for up to `ttl` seconds in a process that had it cached.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select

from parcours import tables as t
from parcours.credentials import Vault, read_secrets
from parcours.db import Database


@dataclass(frozen=True)
class KnownStore:
    id: int
    key: str


class StoreDirectory:
    def __init__(self, db: Database, vault: Vault, ttl: float = 30.0) -> None:
        self.db, self.vault, self.ttl = db, vault, ttl
        self._cache: dict[tuple[str, ...], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, ...], fresh: bool) -> object | None:
        with self._lock:
            hit = self._cache.get(key)
        if hit is None or fresh or hit[0] < time.monotonic():
            return None
        return hit[1]

    def _keep(self, key: tuple[str, ...], value: object) -> None:
        with self._lock:
            self._cache[key] = (time.monotonic() + self.ttl, value)

    def _find(self, platform: str | None, column: str, value: str) -> KnownStore | None:
        cache_key = ("store", platform or "*", column, value)
        found = self._cached(cache_key, fresh=False)
        if isinstance(found, KnownStore):
            return found
        s = t.stores.c
        query = select(s.id, s.key).where(s[column] == value)
        if platform is not None:
            query = query.where(s.platform == platform)
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None  # never cache a miss: a store added a second later must be found
        store = KnownStore(row.id, row.key)
        self._keep(cache_key, store)
        return store

    def by_key(self, platform: str, key: str) -> KnownStore | None:
        return self._find(platform, "key", key)

    def any_by_key(self, key: str) -> KnownStore | None:
        """The store `key` on whatever platform (storefront events name their store so)."""
        return self._find(None, "key", key)

    def by_domain(self, platform: str, domain: str) -> KnownStore | None:
        return self._find(platform, "domain", domain.lower()) if domain else None

    def secrets(self, store: KnownStore, *, fresh: bool = False) -> list[str]:
        cache_key = ("secrets", str(store.id))
        found = self._cached(cache_key, fresh)
        if isinstance(found, list):
            return found
        with self.db.read() as conn:
            secrets = read_secrets(conn, self.vault, store.id)
        self._keep(cache_key, secrets)
        return secrets
