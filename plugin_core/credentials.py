"""Store credentials (webhook secrets, later platform tokens), encrypted at rest.

Keys come from `PARCOURS_SECRET_KEYS`: comma-separated Fernet keys, the first encrypts, all
decrypt (MultiFernet), so a key is rotated by putting a new one first, running
`parcours secrets rotate`, then dropping the old one. A replaced secret can stay valid for a
while, so that a platform still signing with it is not refused during the switch.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, delete, insert, or_, select, update

from parcours import tables as t
from parcours.errors import ConfigError

__all__ = ["Vault", "drop_credentials", "generate_key", "read_secrets", "rotate_all",
           "set_secret"]

WEBHOOK = "webhook"


def generate_key() -> str:
    return Fernet.generate_key().decode()


class Vault:
    """Encrypts and decrypts with the configured keys; a clear ConfigError when there are none."""

    def __init__(self, keys: str | None) -> None:
        self._keys = [k.strip() for k in (keys or "").split(",") if k.strip()]
        self._fernet: MultiFernet | None = None

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            if not self._keys:
                raise ConfigError("PARCOURS_SECRET_KEYS is not set: it encrypts store "
                                  "credentials; create one with `parcours secrets new-key`")
            try:
                self._fernet = MultiFernet([Fernet(k) for k in self._keys])
            except ValueError:
                raise ConfigError("PARCOURS_SECRET_KEYS holds a malformed key (each must be "
                                  "32 url-safe base64-encoded bytes)") from None
        return self._fernet

    def encrypt(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def signing_keys(self, purpose: str) -> list[bytes]:
        """Keys to sign short-lived tokens for `purpose` (itsdangerous: oldest first, the last
        signs), derived from PARCOURS_SECRET_KEYS so no other secret has to be configured; a
        key rotation keeps the older tokens valid until the old key is dropped."""
        self.fernet  # noqa: B018 (raises the clear ConfigError when no key is set)
        return [hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest()
                for key in reversed(self._keys)]

    def decrypt(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("a stored credential cannot be decrypted with PARCOURS_SECRET_KEYS "
                              "(was a key removed before `parcours secrets rotate`?)") from None

    def rotate(self, token: str) -> str:
        try:
            return self.fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("a stored credential cannot be decrypted with "
                              "PARCOURS_SECRET_KEYS") from None


def set_secret(conn: Connection, vault: Vault, store_id: int, value: str, *,
               purpose: str = WEBHOOK, keep_previous: timedelta = timedelta(0),
               now: datetime | None = None) -> None:
    """Make `value` the store's current secret; the previous ones expire after `keep_previous`."""
    moment = now or datetime.now(UTC)
    c = t.credentials.c
    conn.execute(update(t.credentials)
                 .where(c.store_id == store_id, c.purpose == purpose,
                        or_(c.expires_at.is_(None), c.expires_at > moment + keep_previous))
                 .values(expires_at=moment + keep_previous))
    conn.execute(insert(t.credentials).values(
        store_id=store_id, purpose=purpose, ciphertext=vault.encrypt(value), created_at=moment))


def read_secrets(conn: Connection, vault: Vault, store_id: int, *, purpose: str = WEBHOOK,
                 now: datetime | None = None) -> list[str]:
    """The valid secrets, newest first (a delivery may be signed with any of them)."""
    moment = now or datetime.now(UTC)
    c = t.credentials.c
    rows = conn.execute(select(c.ciphertext)
                        .where(c.store_id == store_id, c.purpose == purpose,
                               or_(c.expires_at.is_(None), c.expires_at > moment))
                        .order_by(c.created_at.desc(), c.id.desc()))
    return [vault.decrypt(row.ciphertext) for row in rows]


def drop_credentials(conn: Connection, store_id: int) -> int:
    """Forget every credential of a store at once (uninstall, shop redaction)."""
    return conn.execute(delete(t.credentials).where(t.credentials.c.store_id == store_id)).rowcount


def rotate_all(conn: Connection, vault: Vault) -> int:
    """Re-encrypt every credential with the first key, so older keys can be retired."""
    rows = list(conn.execute(select(t.credentials.c.id, t.credentials.c.ciphertext)))
    for row in rows:
        conn.execute(update(t.credentials).where(t.credentials.c.id == row.id)
                     .values(ciphertext=vault.rotate(row.ciphertext)))
    return len(rows)
