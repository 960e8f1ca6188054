"""Who may do what, on which stores: grants, store selectors, store tags.

An account owns stores; an agency account manages its clients' stores, on any platform. A
person (dashboard user) or a program (API key) of an account holds a `Grant`: a role and a
scope.

- Roles: `owner` may do everything; `admin` every change but the owner's (uninstalling a store,
  managing keys); `analyst` reads only.
- Scope: every store of the account, or some of them, named by key and/or by tag (a tag scope
  follows the tag: a store tagged later joins it). A store out of scope is answered like one
  that does not exist (404), so a scoped key cannot even learn which stores there are.

Selectors name a set of stores in commands, API queries and configuration files: `all`, or a
comma list of terms, each a store key, `tag:<tag>`, `platform:<name>` or `account:<name>`;
the set is their union (`select_stores`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from parcours import tables as t
from parcours.accounts import (
    KEY_FORMAT,
    PLATFORMS,
    ROLES,
    TAG,
    StoreInfo,
    list_stores,
    store_tags,
)
from parcours.db import upsert
from parcours.errors import AuthError, Forbidden, NotFoundError, ValidationError

__all__ = ["ROLES", "Grant", "authenticate", "find_store", "grant_from_row", "known_tags",
           "select_stores", "store_tags", "tag_stores", "visible_stores"]


@dataclass(frozen=True)
class Grant:
    """What one caller may do: `role` over the stores of `account_id` within its scope
    (`stores` and `tags` both None: every store), and how to name it in the audit log."""

    account_id: int
    role: str
    stores: frozenset[str] | None = None
    tags: frozenset[str] | None = None
    actor: str = ""
    interface: str = "api"

    @property
    def whole_account(self) -> bool:
        return self.stores is None and self.tags is None

    @property
    def can_write(self) -> bool:
        return self.role in ("owner", "admin")

    def covers(self, store: StoreInfo) -> bool:
        """Whether the store is in this grant's scope (its account's, and named or tagged)."""
        if self.whole_account:
            return True
        return store.key in (self.stores or ()) or bool(set(store.tags) & (self.tags or set()))

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden(f"the {self.role} role may read but not change anything")

    def require_owner(self, what: str) -> None:
        if self.role != "owner":
            raise Forbidden(f"only an owner may {what}")


def grant_from_row(row: Mapping[Any, Any], *, actor: str, interface: str) -> Grant:
    """The grant of a user's or a key's row (its `account_id`, `role` and `scope`)."""
    scope = row["scope"]
    return Grant(int(row["account_id"]), str(row["role"]),
                 None if scope is None else frozenset(scope.get("stores") or ()),
                 None if scope is None else frozenset(scope.get("tags") or ()),
                 actor, interface)


def authenticate(conn: Connection, token: str) -> Grant:
    """The grant of an API key; AuthError for anything else (malformed, unknown, revoked)."""
    match = KEY_FORMAT.match(token)
    if match is None:
        raise AuthError("malformed API key (expected prc_<prefix>_<secret>)")
    k = t.api_keys.c
    row = conn.execute(select(k.account_id, k.secret_hash, k.revoked_at, k.name, k.role,
                              k.scope).where(k.prefix == match.group(1))).first()
    digest = hashlib.sha256(match.group(2).encode()).hexdigest()
    if row is None or not hmac.compare_digest(digest, row.secret_hash):
        raise AuthError("invalid API key")
    if row.revoked_at is not None:
        raise AuthError("this API key was revoked")
    return grant_from_row(row._mapping, actor=f"key:prc_{match.group(1)} ({row.name})",
                          interface="api")


def visible_stores(conn: Connection, grant: Grant | None) -> list[StoreInfo]:
    """The stores a grant reaches, sorted by key (every store of every account for None: the
    operator at the CLI)."""
    found = list_stores(conn, None if grant is None else grant.account_id)
    return found if grant is None else [s for s in found if grant.covers(s)]


def find_store(conn: Connection, key: str, grant: Grant | None) -> StoreInfo:
    """The store `key` if the grant reaches it; NotFoundError, the same words whether it does
    not exist or is out of scope."""
    found = list_stores(conn, None if grant is None else grant.account_id, key=key)
    if found and (grant is None or grant.covers(found[0])):
        return found[0]
    api = grant is not None and grant.interface == "api"
    raise NotFoundError(f"no store {key!r}" + (" for this API key" if api else ""))


_TERMS: dict[str, Callable[[StoreInfo, str], bool]] = {
    "store": lambda store, value: store.key == value,
    "tag": lambda store, value: value.lower() in store.tags,
    "platform": lambda store, value: store.platform == value,
    "account": lambda store, value: store.account == value,
}


def select_stores(conn: Connection, selector: str | None, grant: Grant | None = None
                  ) -> list[StoreInfo]:
    """The stores a selector names, within the grant's reach, sorted by key (see the module's
    docstring). ValidationError naming `stores` and each unknown term: a store or a tag must
    match a store the grant reaches (one out of scope is as unknown as one that does not
    exist); a platform or an account may match none."""
    visible = visible_stores(conn, grant)
    if selector is None or selector.strip() in ("", "all"):
        return visible
    accounts = select(t.accounts.c.name)
    if grant is not None:
        accounts = accounts.where(t.accounts.c.id == grant.account_id)
    existing = {"platform": set(PLATFORMS), "account": set(conn.execute(accounts).scalars())}
    chosen: dict[str, StoreInfo] = {}
    unknown: list[str] = []
    for term in filter(None, (part.strip() for part in selector.split(","))):
        if term == "all":
            chosen.update((store.key, store) for store in visible)
            continue
        kind, value = term.split(":", 1) if ":" in term else ("store", term)
        test = _TERMS.get(kind)
        if test is None:
            unknown.append(f"unknown term {term!r}: a store key, all, tag:, platform: or "
                           "account:")
            continue
        found = [store for store in visible if test(store, value)]
        if not found and value not in existing.get(kind, ()):
            unknown.append(f"unknown {kind} {value!r}")
        chosen.update((store.key, store) for store in found)
    if unknown:
        raise ValidationError("invalid store selector", {"stores": unknown})
    return sorted(chosen.values(), key=lambda store: store.key)


def known_tags(conn: Connection, account_id: int | None = None) -> set[str]:
    """Every tag in use (on the stores of `account_id` when given)."""
    query = select(t.store_tags.c.tag).distinct()
    if account_id is not None:
        query = query.join(t.stores, t.stores.c.id == t.store_tags.c.store_id).where(
            t.stores.c.account_id == account_id)
    return set(conn.execute(query).scalars())


def tag_stores(conn: Connection, keys: Iterable[str], add: Iterable[str] = (),
               remove: Iterable[str] = (), *, grant: Grant | None = None
               ) -> dict[str, tuple[str, ...]]:
    """Add and remove tags on the stores `keys` (within the grant's reach); each store's tags
    after. ValidationError naming `stores` (unknown) or `tags` (malformed), nothing changed."""
    adding, removing = sorted({tag.lower() for tag in add}), {tag.lower() for tag in remove}
    by_key = {store.key: store for store in visible_stores(conn, grant)}
    wanted = sorted(set(keys))
    errors: dict[str, list[str]] = {}
    if unknown := [key for key in wanted if key not in by_key]:
        errors["stores"] = [f"unknown store {key!r}" for key in unknown]
    if bad := [tag for tag in adding if not TAG.match(tag)]:
        errors["tags"] = [f"{tag!r}: 2-63 lower-case letters, digits and '-'" for tag in bad]
    if errors:
        raise ValidationError("cannot tag the stores", errors)
    ids = [by_key[key].id for key in wanted]
    upsert(conn, t.store_tags, [{"store_id": store_id, "tag": tag}
                                for store_id in ids for tag in adding], ["store_id", "tag"])
    if removing and ids:
        conn.execute(delete(t.store_tags).where(t.store_tags.c.store_id.in_(ids),
                                                t.store_tags.c.tag.in_(removing)))
    after = store_tags(conn, ids)
    return {key: after[by_key[key].id] for key in wanted}
