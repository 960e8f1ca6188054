"""Accounts, their stores, and their API keys. Every store lookup is scoped by account.

API keys look like `prc_<prefix>_<secret>`: the prefix finds the row, the secret is compared
in constant time against its sha256 (a slow KDF adds nothing to a 256-bit random secret).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select, update

from parcours import tables as t
from parcours.db import upsert
from parcours.errors import AuthError, NotFoundError, ValidationError
from parcours.recorder import StoreRef
from parcours.rules import DEFAULT_RULES, JourneyRules

STORE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
PLATFORMS = ("shopify", "woocommerce", "custom")
_KEY_FORMAT = re.compile(r"^prc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class StoreInfo:
    id: int
    key: str
    account: str
    platform: str
    name: str
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def ensure_account(conn: Connection, name: str, kind: str = "merchant") -> int:
    """The id of the account called `name`, created if needed."""
    found = conn.execute(select(t.accounts.c.id).where(t.accounts.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(conn.execute(insert(t.accounts).values(name=name, kind=kind, created_at=_now())
                            .returning(t.accounts.c.id)).scalar_one())


def create_store(conn: Connection, key: str, *, account: str, platform: str = "custom",
                 name: str | None = None, domain: str | None = None) -> StoreInfo:
    errors: dict[str, Any] = {}
    if not STORE_KEY.match(key):
        errors["key"] = ["2-63 characters: lower-case letters, digits and '-'"]
    if platform not in PLATFORMS:
        errors["platform"] = [f"must be one of: {', '.join(PLATFORMS)}"]
    if not errors and conn.execute(select(t.stores.c.id).where(t.stores.c.key == key)).first():
        errors["key"] = [f"a store {key!r} already exists"]
    if errors:
        raise ValidationError("cannot add the store", errors)
    account_id = ensure_account(conn, account)
    row = conn.execute(insert(t.stores).values(
        key=key, account_id=account_id, platform=platform, name=name or key,
        domain=domain.lower() if domain else None,
        timezone="UTC", created_at=_now()).returning(t.stores.c.id, t.stores.c.created_at)).one()
    return StoreInfo(row.id, key, account, platform, name or key, row.created_at)


def list_stores(conn: Connection, account_id: int | None = None) -> list[StoreInfo]:
    s, a = t.stores, t.accounts
    query = (select(s.c.id, s.c.key, a.c.name.label("account"), s.c.platform, s.c.name,
                    s.c.created_at).join(a, a.c.id == s.c.account_id).order_by(s.c.key))
    if account_id is not None:
        query = query.where(s.c.account_id == account_id)
    return [StoreInfo(*row) for row in conn.execute(query)]


def remove_store(conn: Connection, key: str) -> None:
    """Delete a store and, through the foreign keys, everything recorded for it."""
    store = get_store(conn, key)
    for table in (t.inbox, t.events, t.identities, t.journeys, t.resource_states,
                  t.event_rollups, t.journey_rollups, t.order_rollups,
                  t.conversion_time_rollups, t.customer_rollups, t.stage_rollups,
                  t.segment_rollups, t.stage_time_rollups, t.experiment_rollups, t.profiles,
                  t.credentials, t.store_facts, t.privacy_requests):
        conn.execute(delete(table).where(table.c.store_id == store.id))
    conn.execute(delete(t.stores).where(t.stores.c.id == store.id))


def get_store(conn: Connection, key: str, account_id: int | None = None) -> StoreRef:
    """The store `key`; with `account_id`, only if that account owns it (else not found)."""
    query = select(t.stores.c.id, t.stores.c.rules, t.stores.c.platform).where(
        t.stores.c.key == key)
    if account_id is not None:
        query = query.where(t.stores.c.account_id == account_id)
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(f"no store {key!r}" + (" for this API key" if account_id else ""))
    rules = DEFAULT_RULES if row.rules is None else JourneyRules.from_dict(row.rules)
    return StoreRef(row.id, key, rules, row.platform)


def create_api_key(conn: Connection, account: str, name: str = "default") -> str:
    """A new key for `account`; the only time its secret is visible."""
    account_id = ensure_account(conn, account)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    conn.execute(insert(t.api_keys).values(
        account_id=account_id, prefix=prefix, name=name, created_at=_now(),
        secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
    return f"prc_{prefix}_{secret}"


def revoke_api_key(conn: Connection, key_or_prefix: str) -> None:
    match = _KEY_FORMAT.match(key_or_prefix)
    prefix = match.group(1) if match else key_or_prefix
    done = conn.execute(update(t.api_keys).where(t.api_keys.c.prefix == prefix,
                                                 t.api_keys.c.revoked_at.is_(None))
                        .values(revoked_at=_now()))
    if done.rowcount == 0:
        raise NotFoundError(f"no active API key with prefix {prefix!r}")


def authenticate(conn: Connection, token: str) -> int:
    """The account id an API key belongs to; AuthError for anything else."""
    match = _KEY_FORMAT.match(token)
    if match is None:
        raise AuthError("malformed API key (expected prc_<prefix>_<secret>)")
    row = conn.execute(select(t.api_keys.c.account_id, t.api_keys.c.secret_hash,
                              t.api_keys.c.revoked_at)
                       .where(t.api_keys.c.prefix == match.group(1))).first()
    digest = hashlib.sha256(match.group(2).encode()).hexdigest()
    if row is None or not hmac.compare_digest(digest, row.secret_hash):
        raise AuthError("invalid API key")
    if row.revoked_at is not None:
        raise AuthError("this API key was revoked")
    return int(row.account_id)


def store_facts(conn: Connection, store_id: int, *names: str) -> dict[str, Any]:
    """What the platform told about the store (settings, domains, zones): name -> value, for
    `names` or every fact. A fact never received is absent, not None."""
    c = t.store_facts.c
    query = select(c.name, c.value).where(c.store_id == store_id)
    if names:
        query = query.where(c.name.in_(names))
    return {name: value for name, value in conn.execute(query)}


def store_hosts(conn: Connection, store_id: int) -> set[str]:
    """The hosts the store's pages are served from: its domain and its primary domain (empty
    when the store has declared neither): what `/collect` checks an Origin against, and what a
    hosted review page may link back to."""
    domain = conn.execute(select(t.stores.c.domain).where(t.stores.c.id == store_id)).scalar()
    shop = store_facts(conn, store_id, "shop").get("shop")
    hosts = {domain.lower()} if domain else set()
    primary = shop.get("primary_domain") if isinstance(shop, dict) else None
    if isinstance(primary, str) and primary:
        hosts.add((urlsplit(primary).hostname or primary).lower())
    return hosts


def save_store_facts(conn: Connection, store_id: int, facts: Mapping[str, Any],
                     now: datetime) -> list[str]:
    """Write the facts that differ from the stored ones (a newer stored one is kept); the names
    of those written."""
    stored = store_facts(conn, store_id, *facts)
    changed = [name for name, value in facts.items() if name not in stored
               or stored[name] != value]
    if changed:
        upsert(conn, t.store_facts, [{"store_id": store_id, "name": name,
                                      "value": facts[name], "updated_at": now}
                                     for name in changed],
               ["store_id", "name"], replace=["value", "updated_at"], newer="updated_at")
    return changed


def free_store_key(conn: Connection, label: str) -> str:
    """A store key made from `label` (a shop's subdomain, a site's host), suffixed if taken."""
    base = re.sub(r"[^a-z0-9-]+", "-", label.lower())[:56].strip("-")
    base = base if len(base) >= 2 else f"{base or 'shop'}-shop"
    taken = set(conn.execute(select(t.stores.c.key).where(
        t.stores.c.key.like(f"{base}%"))).scalars())
    for candidate in (base, *(f"{base}-{n}" for n in range(2, 100))):
        if candidate not in taken:
            return candidate
    return f"{base}-{secrets.token_hex(3)}"
