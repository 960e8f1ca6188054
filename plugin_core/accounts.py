"""Accounts, their stores and tags, and their API keys. Every store lookup is scoped by account.

API keys look like `prc_<prefix>_<secret>`: the prefix finds the row, the secret is compared
in constant time against its sha256 (a slow KDF adds nothing to a 256-bit random secret)
(access.authenticate). A key, like a dashboard user, has a role and a scope: `scope_value`
checks them once, for both.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, insert, select, update

from parcours import tables as t
from parcours.db import upsert
from parcours.errors import NotFoundError, ValidationError
from parcours.recorder import StoreRef
from parcours.rules import DEFAULT_RULES, JourneyRules

STORE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
TAG = STORE_KEY  # tags are written like store keys: "eu", "fashion-fr"
PLATFORMS = ("shopify", "woocommerce", "custom")
KINDS = ("merchant", "agency")
# owner: everything; admin: every change but uninstalling stores and managing keys;
# analyst: reads only.
ROLES = ("owner", "admin", "analyst")
KEY_FORMAT = re.compile(r"^prc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class StoreInfo:
    id: int
    key: str
    account: str
    platform: str
    name: str
    created_at: datetime
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listed: never its secret (only its hash is stored)."""

    prefix: str
    account: str
    name: str
    role: str
    scope: dict[str, list[str]] | None
    created_at: datetime
    revoked_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC)


def ensure_account(conn: Connection, name: str, kind: str | None = None) -> int:
    """The id of the account called `name`, created if needed (a merchant unless `kind` says);
    a `kind` given for an existing account changes it."""
    if kind is not None and kind not in KINDS:
        raise ValidationError("cannot add the account",
                              {"kind": [f"must be one of: {', '.join(KINDS)}"]})
    a = t.accounts.c
    found = conn.execute(select(a.id, a.kind).where(a.name == name)).first()
    if found is None:
        return int(conn.execute(insert(t.accounts).values(
            name=name, kind=kind or "merchant", created_at=_now()).returning(a.id)).scalar_one())
    if kind is not None and kind != found.kind:
        conn.execute(update(t.accounts).where(a.id == found.id).values(kind=kind))
    return int(found.id)


def account_id_of(conn: Connection, name: str) -> int:
    """The id of the existing account `name`; NotFoundError otherwise."""
    found = conn.execute(select(t.accounts.c.id).where(t.accounts.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no account {name!r}")
    return int(found)


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


def list_stores(conn: Connection, account_id: int | None = None,
                key: str | None = None) -> list[StoreInfo]:
    """The stores (of `account_id`; only `key`), with their tags, by key."""
    s, a = t.stores, t.accounts
    query = (select(s.c.id, s.c.key, a.c.name.label("account"), s.c.platform, s.c.name,
                    s.c.created_at).join(a, a.c.id == s.c.account_id).order_by(s.c.key))
    if account_id is not None:
        query = query.where(s.c.account_id == account_id)
    if key is not None:
        query = query.where(s.c.key == key)
    rows = conn.execute(query).all()
    tags = store_tags(conn, [row.id for row in rows])
    return [StoreInfo(*row, tags=tags[row.id]) for row in rows]


def store_tags(conn: Connection, store_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """The tags of each store (sorted; () for a store without)."""
    ids = list(store_ids)
    found: dict[int, tuple[str, ...]] = {store_id: () for store_id in ids}
    if ids:
        c = t.store_tags.c
        for store_id, tag in conn.execute(select(c.store_id, c.tag).where(c.store_id.in_(ids))
                                          .order_by(c.store_id, c.tag)):
            found[store_id] += (tag,)
    return found


def remove_store(conn: Connection, key: str) -> None:
    """Delete a store and, through the foreign keys, everything recorded for it."""
    store = get_store(conn, key)
    for table in (t.inbox, t.events, t.identities, t.journeys, t.resource_states,
                  t.event_rollups, t.journey_rollups, t.order_rollups,
                  t.conversion_time_rollups, t.customer_rollups, t.stage_rollups,
                  t.segment_rollups, t.stage_time_rollups, t.experiment_rollups, t.profiles,
                  t.credentials, t.store_facts, t.privacy_requests, t.store_tags):
        conn.execute(delete(table).where(table.c.store_id == store.id))
    # The audit log outlives the store: its entries keep the store's key, not its id.
    conn.execute(update(t.audit_log).where(t.audit_log.c.store_id == store.id)
                 .values(store_id=None))
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


def scope_value(conn: Connection, account_id: int, role: str, stores: Iterable[str] = (),
                tags: Iterable[str] = ()) -> dict[str, list[str]] | None:
    """The `scope` column of a key or a user of `account_id`: None (every store) when neither
    `stores` nor `tags` are given. ValidationError naming `role`, `stores` or `tags`: a store
    must be one of the account's; a tag need only be well formed, as a tag scope follows the
    tag, to stores tagged later too."""
    keys, labels = sorted(set(stores)), sorted({tag.lower() for tag in tags})
    errors: dict[str, list[str]] = {}
    if role not in ROLES:
        errors["role"] = [f"must be one of: {', '.join(ROLES)}"]
    owned = set(conn.execute(select(t.stores.c.key).where(
        t.stores.c.account_id == account_id, t.stores.c.key.in_(keys))).scalars())
    if unknown := [key for key in keys if key not in owned]:
        errors["stores"] = [f"no store {key!r} in this account" for key in unknown]
    if bad := [tag for tag in labels if not TAG.match(tag)]:
        errors["tags"] = [f"{tag!r}: 2-63 lower-case letters, digits and '-'" for tag in bad]
    if errors:
        raise ValidationError("invalid role or scope", errors)
    return {"stores": keys, "tags": labels} if keys or labels else None


def create_api_key(conn: Connection, account: str, name: str = "default", *,
                   role: str = "owner", stores: Iterable[str] = (),
                   tags: Iterable[str] = ()) -> str:
    """A new key for `account`, with `role` over its `stores` and `tagged` stores (every store
    of the account when neither is given); the only time its secret is visible."""
    account_id = ensure_account(conn, account)
    scope = scope_value(conn, account_id, role, stores, tags)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    conn.execute(insert(t.api_keys).values(
        account_id=account_id, prefix=prefix, name=name, created_at=_now(), role=role,
        scope=scope, secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
    return f"prc_{prefix}_{secret}"


def key_prefix(key_or_prefix: str) -> str:
    """The prefix of a whole key, or the prefix itself."""
    match = KEY_FORMAT.match(key_or_prefix)
    return match.group(1) if match else key_or_prefix


def list_api_keys(conn: Connection, account_id: int | None = None) -> list[ApiKeyInfo]:
    """The keys of `account_id` (every account's when None), oldest first."""
    k, a = t.api_keys.c, t.accounts.c
    query = (select(k.prefix, a.name, k.name, k.role, k.scope, k.created_at, k.revoked_at)
             .join(t.accounts, a.id == k.account_id).order_by(k.created_at, k.id))
    if account_id is not None:
        query = query.where(k.account_id == account_id)
    return [ApiKeyInfo(*row) for row in conn.execute(query)]


def revoke_api_key(conn: Connection, key_or_prefix: str, account_id: int | None = None) -> int:
    """Revoke the active key (of `account_id` when given); the account it belonged to."""
    k = t.api_keys.c
    prefix = key_prefix(key_or_prefix)
    query = (update(t.api_keys).where(k.prefix == prefix, k.revoked_at.is_(None))
             .values(revoked_at=_now()).returning(k.account_id))
    if account_id is not None:
        query = query.where(k.account_id == account_id)
    found = conn.execute(query).scalar()
    if found is None:
        raise NotFoundError(f"no active API key with prefix {prefix!r}")
    return int(found)


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
