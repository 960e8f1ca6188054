"""A store's WooCommerce REST keys: kept encrypted with its URL, handed out as a client.

The consumer key and secret arrive once (the key-approval callback, or an agency's CLI) and
WooCommerce never shows the secret again, so they are stored at once, encrypted like every
credential (PARCOURS_SECRET_KEYS), together with the store URL they belong to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, select

from parcours import tables as t
from parcours.adapters.base import StoreAccess
from parcours.adapters.woocommerce.client import WooClient
from parcours.adapters.woocommerce.errors import WooCommerceAuthError
from parcours.adapters.woocommerce.site import allow_local, normalise_store_url
from parcours.credentials import Vault, read_secrets, set_secret

__all__ = ["PURPOSE", "StoreKeys", "client_for", "load_keys", "save_keys"]

PURPOSE = "woocommerce_keys"


@dataclass(frozen=True)
class StoreKeys:
    url: str
    consumer_key: str
    consumer_secret: str
    key_id: int | None = None

    def __repr__(self) -> str:  # never the secret
        return f"StoreKeys(url={self.url!r}, key_id={self.key_id!r})"

    def to_json(self) -> str:
        return json.dumps({"url": self.url, "consumer_key": self.consumer_key,
                           "consumer_secret": self.consumer_secret, "key_id": self.key_id})

    @classmethod
    def from_json(cls, text: str) -> StoreKeys:
        data = json.loads(text)
        return cls(data["url"], data["consumer_key"], data["consumer_secret"], data.get("key_id"))


def save_keys(conn: Connection, vault: Vault, store_id: int, keys: StoreKeys) -> None:
    """Make `keys` the store's keys; the previous ones stop being used at once."""
    set_secret(conn, vault, store_id, keys.to_json(), purpose=PURPOSE,
               keep_previous=timedelta(0))


def load_keys(conn: Connection, vault: Vault, store_id: int) -> StoreKeys | None:
    found = read_secrets(conn, vault, store_id, purpose=PURPOSE)
    return StoreKeys.from_json(found[0]) if found else None


def client_for(store: StoreAccess) -> WooClient:
    """A client for the store, with its stored keys; its URL is checked again (site.py)."""
    with store.db.read() as conn:
        store_id = conn.execute(select(t.stores.c.id).where(
            t.stores.c.key == store.key, t.stores.c.platform == "woocommerce")).scalar()
        keys = load_keys(conn, store.vault, store_id) if store_id is not None else None
    if keys is None:
        raise WooCommerceAuthError(f"store {store.key} has no WooCommerce keys: connect it "
                                   f"(the plugin's Connect button, or parcours stores add)")
    url = normalise_store_url(keys.url, local=allow_local(store.config))
    return WooClient(url, keys.consumer_key, keys.consumer_secret)
