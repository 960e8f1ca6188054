"""Dashboard users who log in with an email and a password: agencies and custom shops (Shopify
and WordPress merchants come through their platform, dashboard_auth.py).

Passwords are hashed with argon2id (argon2-cffi's defaults: RFC 9106's second recommended
profile, 64 MiB, 3 passes, 4 lanes) and rehashed at the next login whenever those parameters
change, so raising them needs no migration. A login for an unknown email verifies a dummy hash,
so it takes as long as a wrong password and the answer tells nothing about who has an account.
After `MAX_FAILURES` wrong passwords in a row the user is locked for `LOCK_TIME`, whatever is
typed (a guessing robot cannot go on), and the refusal is the same words as a wrong password:
a lockout must not tell a robot that the email exists either.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, insert, select, update

from parcours import tables as t
from parcours.accounts import ensure_account, scope_value
from parcours.errors import ValidationError

__all__ = ["LOCK_TIME", "MAX_FAILURES", "MIN_PASSWORD", "User", "add_user", "check_login",
           "normalise_email", "set_password"]

MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)
MIN_PASSWORD = 12  # NIST SP 800-63B asks 8 at least; a dashboard of shops' revenue deserves more
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" would only cost CPU
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")


@dataclass(frozen=True)
class User:
    id: int
    account_id: int
    email: str
    locale: str | None


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # the library's current recommended argon2id parameters


@cache
def _dummy_hash() -> str:
    """What an unknown email is checked against: same parameters, so the same time."""
    return _hasher().hash(secrets.token_urlsafe(32))


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError("password too short", {
            "password": [f"at least {MIN_PASSWORD} characters"]})
    if len(password) > MAX_PASSWORD:
        raise ValidationError("password too long", {
            "password": [f"at most {MAX_PASSWORD} characters"]})


def add_user(conn: Connection, email: str, password: str, *, account: str,
             locale: str | None = None, now: datetime, role: str = "owner",
             stores: Iterable[str] = (), tags: Iterable[str] = ()) -> User:
    """A new user of `account` (created if needed), with `role` over its `stores` and tagged
    stores (every store of the account when neither is given: access.py); ValidationError
    naming the field."""
    address = normalise_email(email)
    errors: dict[str, list[str]] = {}
    if not _EMAIL.match(address):
        errors["email"] = ["an email address such as ada@example.com"]
    elif conn.execute(select(t.users.c.id).where(t.users.c.email == address)).first():
        errors["email"] = [f"a user {address} already exists"]
    if locale is not None and locale not in ("en", "fr"):
        errors["locale"] = ["en or fr"]
    if errors:
        raise ValidationError("cannot add the user", errors)
    _check_password(password)
    account_id = ensure_account(conn, account)
    scope = scope_value(conn, account_id, role, stores, tags)
    user_id = conn.execute(insert(t.users).values(
        account_id=account_id, email=address, password_hash=_hasher().hash(password),
        locale=locale, failed_logins=0, created_at=now, role=role, scope=scope,
    ).returning(t.users.c.id)).scalar_one()
    return User(int(user_id), account_id, address, locale)


def set_password(conn: Connection, email: str, password: str) -> None:
    """A new password; the lockout is lifted (an operator reset it)."""
    _check_password(password)
    done = conn.execute(update(t.users).where(t.users.c.email == normalise_email(email)).values(
        password_hash=_hasher().hash(password), failed_logins=0, locked_until=None))
    if done.rowcount == 0:
        raise ValidationError("no such user", {"email": [f"no user {email}"]})


def _verify(stored: str, password: str) -> bool:
    try:
        return bool(_hasher().verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_login(conn: Connection, email: str, password: str, now: datetime) -> User | None:
    """The user whose email and password these are; None otherwise, whatever the reason
    (unknown, wrong, locked). Counts failures and locks, rehashes outdated hashes: the caller's
    write transaction must commit either way (a refusal is not an error that rolls back)."""
    u = t.users.c
    row = conn.execute(select(u.id, u.account_id, u.email, u.password_hash, u.locale,
                              u.locked_until).where(
        u.email == normalise_email(email)[:320])).first()
    if row is None or len(password) > MAX_PASSWORD:
        _verify(_dummy_hash(), password[:MAX_PASSWORD])
        return None
    matches = _verify(row.password_hash, password)
    if row.locked_until is not None and row.locked_until > now:
        return None
    if not matches:
        conn.execute(update(t.users).where(u.id == row.id).values(
            failed_logins=u.failed_logins + 1))
        failures = conn.execute(select(u.failed_logins).where(u.id == row.id)).scalar_one()
        if failures >= MAX_FAILURES:
            conn.execute(update(t.users).where(u.id == row.id).values(
                failed_logins=0, locked_until=now + LOCK_TIME))
        return None
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher().check_needs_rehash(row.password_hash):
        values["password_hash"] = _hasher().hash(password)
    conn.execute(update(t.users).where(u.id == row.id).values(values))
    return User(int(row.id), int(row.account_id), str(row.email), row.locale)

