"""The database schema (SQLAlchemy Core). Alembic migrations in migrations/ create it.

Core tables rather than ORM classes: the engine writes in bulk (executemany and upserts), which
is where ingestion speed comes from, and reports read a handful of rollup rows.
Money is stored as integer micro-units (1 EUR = 1,000,000) so sums stay exact on SQLite too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

MICROS = Decimal(1_000_000)


def to_micros(amount: Decimal) -> int:
    return int((amount * MICROS).to_integral_value())


def from_micros(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone).

    On SQLite the value is written as the text SQLAlchemy's DateTime writes there,
    "2025-03-01 12:00:00.000000", but with one call to `isoformat` rather than a format string
    fed field by field: the engine writes a few of these per event.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            utc = self.process_bind_param(value, dialect)
            return None if utc is None else utc.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect
                             ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _store_fk() -> Column[int]:
    return Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"),
                  primary_key=True)


def _grant_columns() -> tuple[Column[Any], ...]:
    """What a user or an API key may do (access.py): its role (owner, admin, analyst) and its
    scope, null for every store of the account, else {"stores": [keys], "tags": [tags]}."""
    return (Column("role", String(16), nullable=False, server_default="owner"),
            Column("scope", JSONType))


accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False, default="merchant"),
    Column("created_at", UTCDateTime, nullable=False),
)

stores = Table(
    "stores", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),  # the public slug: "demo"
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("domain", String(255)),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("rules", JSONType),  # journey rules as data; null = the defaults
    Column("created_at", UTCDateTime, nullable=False),
    Column("uninstalled_at", UTCDateTime),
    Column("delete_after", UTCDateTime),  # the purge job deletes the store's data from then on
    Column("reconciled_until", UTCDateTime),  # the last reconciliation poll covered up to here
)

# Tags group stores ("eu", "fashion"): agencies' scopes and selectors name them (access.py).
store_tags = Table(
    "store_tags", metadata,
    _store_fk(),
    Column("tag", String(64), primary_key=True),
    Index("ix_store_tags_tag", "tag"),
)

# Every change made through the CLI, the API, the dashboard or a configuration (audit.py): who,
# when, what. The store's key is kept beside its id, so an entry still says which store once it
# is removed (the id is then cleared). `detail` never holds a secret nor a shopper's data.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="SET NULL")),
    Column("store", String(64)),
    Column("actor", String(255), nullable=False),  # user:<email>, key:prc_<prefix> (name), ...
    Column("interface", String(16), nullable=False),  # cli, api, dashboard, config
    Column("action", String(200), nullable=False),
    Column("detail", JSONType, nullable=False),
    Index("ix_audit_log_account_at", "account_id", "at"),
    Index("ix_audit_log_store_at", "store_id", "at"),
)

# Secrets a store's deliveries are signed with, and later its platform tokens: encrypted at rest
# (see credentials.py). A replaced secret stays valid until `expires_at` (rotation).
credentials = Table(
    "credentials", metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Index("ix_credentials_store_purpose", "store_id", "purpose"),
)

# Settings of the storefront that widgets and friction diagnosis read (guest checkout, ...).
store_facts = Table(
    "store_facts", metadata,
    _store_fk(),
    Column("name", String(64), primary_key=True),
    Column("value", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Data subjects' requests (export, redaction) and their outcome. `subject` holds pseudonymous
# keys only; an export holds what was found and is deleted with the customer's redaction.
privacy_requests = Table(
    "privacy_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(255)),
    Column("subject", JSONType, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Column("export", JSONType),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    *_grant_columns(),
)

# The dashboard's people who log in with an email and a password (agencies, custom shops);
# Shopify and WordPress merchants come through their platform instead (dashboard_auth.py).
users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("locale", String(8)),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime),
    *_grant_columns(),
)

# Dashboard sessions, server-side so that logout and expiry end them: the cookie holds a random
# token, the row its sha256. `store_id` scopes a platform login to its one store.
dashboard_sessions = Table(
    "dashboard_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE")),
    Column("via", String(16), nullable=False),  # password, shopify, wordpress
    Column("locale", String(8)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_dashboard_sessions_expires", "expires_at"),
)

# The WordPress plugin's login links already used (single use), kept until they expire.
dashboard_link_uses = Table(
    "dashboard_link_uses", metadata,
    Column("nonce", String(64), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

profiles = Table(
    "profiles", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("stage", SmallInteger),
    Column("last_event_at", UTCDateTime),
    Column("last_event_id", String(32)),
    Index("ix_profiles_store_stage", "store_id", "stage"),
)

identities = Table(
    "identities", metadata,
    _store_fk(),
    Column("key", String(300), primary_key=True),  # "kind:value", e.g. "anonymous_id:abc"
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"),
           nullable=False, index=True),
)

events = Table(
    "events", metadata,
    _store_fk(),
    Column("id", String(32), primary_key=True),
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("identities", JSONType, nullable=False),
    Column("properties", JSONType, nullable=False),
    Column("resource_type", String(16)),
    Column("resource_id", String(255)),
    Column("resource_updated_at", UTCDateTime),
    Column("key", String(255)),
    Index("ix_events_profile_time", "profile_id", "occurred_at"),
)

journeys = Table(
    "journeys", metadata,
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("last_event_at", UTCDateTime, nullable=False),
    Column("converted_at", UTCDateTime),
    Column("order_id", String(255)),
    Column("path", String(16), nullable=False),
    Column("events_mask", BigInteger, nullable=False),
    Column("amount_micros", BigInteger),
    Column("currency", String(3)),
    # Segments (segments.py; null: not known), and when each stage of `path` was reached:
    # seconds after opened_at, comma-separated ("0,42,3600"); null on journeys recorded before
    # revision 0005, until their profile changes (recorder.py).
    Column("device", String(16)),
    Column("channel", String(32)),
    Column("country", String(2)),
    Column("reached", String(200)),
    # {"widget:experiment": [arm, first widget_shown time (ISO 8601)]}; null: none
    Column("exposures", JSONType),
    Index("ix_journeys_store_opened", "store_id", "opened_at"),
)

resource_states = Table(
    "resource_states", metadata,
    _store_fk(),
    Column("type", String(16), primary_key=True),
    Column("resource_id", String(255), primary_key=True),
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="CASCADE")),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("event_id", String(32), nullable=False),
    # updated_at then event id, as sortable text: the newest snapshot wins, ties broken by id.
    Column("version", String(96), nullable=False),
    Column("state", String(64), nullable=False),  # the event name of the newest snapshot
    Column("data", JSONType, nullable=False),
)

# Rollups: one row per key, updated with `count = count + delta` in the event transaction.
event_rollups = Table(
    "event_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),
    Column("stage", SmallInteger, primary_key=True),  # -1: the event moves no stage
    Column("event", String(64), primary_key=True),
    Column("events", BigInteger, nullable=False),
)

journey_rollups = Table(
    "journey_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),
    Column("events_mask", BigInteger, primary_key=True),
    Column("path", String(16), primary_key=True),
    Column("converted", Boolean, primary_key=True),
    Column("journeys", BigInteger, nullable=False),
)

order_rollups = Table(
    "order_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("orders", BigInteger, nullable=False, default=0),
    Column("revenue_micros", BigInteger, nullable=False, default=0),
)

conversion_time_rollups = Table(
    "conversion_time_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),
    Column("journeys", BigInteger, nullable=False),
)

customer_rollups = Table(
    "customer_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),  # the day of the customers' first purchase
    Column("currency", String(3), primary_key=True),
    Column("customers", BigInteger, nullable=False, default=0),
    Column("repeaters", BigInteger, nullable=False, default=0),
    Column("revenue_micros", BigInteger, nullable=False, default=0),
)

stage_rollups = Table(
    "stage_rollups", metadata,
    _store_fk(),
    Column("stage", SmallInteger, primary_key=True),
    Column("profiles", BigInteger, nullable=False),
)

# Journeys by segment (rollups.py): one line per dimension (returning, device, channel,
# country), so a segment's funnel is read like the whole store's.
segment_rollups = Table(
    "segment_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),  # the day the journeys opened
    Column("dimension", String(16), primary_key=True),
    Column("value", String(32), primary_key=True),  # "unknown" when the journey does not know
    Column("events_mask", BigInteger, primary_key=True),
    Column("converted", Boolean, primary_key=True),
    Column("journeys", BigInteger, nullable=False),
)

# Time spent in a stage: from reaching it to reaching the next stage of the journey's path.
stage_time_rollups = Table(
    "stage_time_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),  # the day the journeys opened
    Column("stage", SmallInteger, primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),  # metrics.duration_bucket
    Column("journeys", BigInteger, nullable=False),
)

# Widget experiments' arms: shoppers by the day of their first exposure, with their first arm.
experiment_rollups = Table(
    "experiment_rollups", metadata,
    _store_fk(),
    Column("day", Date, primary_key=True),
    Column("widget", String(32), primary_key=True),
    Column("experiment", String(64), primary_key=True),  # the widget's salt; "" for none
    Column("arm", String(8), primary_key=True),  # exposed, holdout
    Column("shoppers", BigInteger, nullable=False, default=0),
    Column("conversions", BigInteger, nullable=False, default=0),
)

# Product reviews: Parcours keeps the canonical copy and publishes it to the platform. Only
# `published` ones reach storefronts; moderation (`rejected`) is for spam and abuse only, never
# for a low rating. `author` is the display name the reviewer chose (personal data: redaction
# clears it); `profile_id` ties the review to the buyer's profile when it came from an order.
reviews = Table(
    "reviews", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("product_id", String(64), nullable=False),
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="SET NULL")),
    Column("order_id", String(64)),
    Column("rating", SmallInteger, nullable=False),  # 1 to 5
    Column("title", String(200)),
    Column("body", Text, nullable=False),
    Column("author", String(100)),
    Column("locale", String(16)),
    Column("verified", Boolean, nullable=False, default=False),  # a buyer of the product
    Column("status", String(16), nullable=False),  # published, pending, rejected
    Column("reply", Text),  # the merchant's, published with the review
    Column("created_at", UTCDateTime, nullable=False),
    # Where it came from: "request" (the hosted form), "import" (CSV), "storefront".
    Column("source", String(16)),
    Column("request_id", BigInteger, ForeignKey("review_requests.id", ondelete="SET NULL")),
    Column("incentive", String(200)),  # disclosed with the review; never depends on the rating
    Column("moderation_reason", String(32)),  # why it was rejected: spam, abuse, ...
    # Publication to the platform: pending -> done (external_id) or failed (sync_error).
    Column("sync_status", String(16)),
    Column("sync_attempts", Integer, nullable=False, default=0),
    Column("sync_error", Text),
    Column("external_id", String(64)),
    Column("synced_at", UTCDateTime),
    Index("ix_reviews_product", "store_id", "product_id", "status", "created_at"),
    Index("ix_reviews_sync", "sync_status"),
)

# One review request per order: its contact (cleared by redaction), its items, the facts that
# time it (fulfilled, delivered, cancelled) and the shopper's answers beyond the reviews (CES,
# NPS). What is sent for it are review_messages rows; `nonce` makes its form link single use.
review_requests = Table(
    "review_requests", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("profile_id", BigInteger, ForeignKey("profiles.id", ondelete="SET NULL")),
    Column("customer_key", String(80)),  # email hash, else "customer:<id>": the caps' key
    Column("email", String(320)),
    Column("name", String(100)),  # the first name the message greets
    Column("locale", String(16)),
    Column("items", JSONType, nullable=False),  # [{"product_id", "title", "image"}]
    Column("placed_at", UTCDateTime),
    Column("fulfilled_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("cancelled_at", UTCDateTime),
    Column("postponed_until", UTCDateTime),
    # waiting (no fulfilment yet), scheduled, sent, submitted, cancelled, skipped
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),  # why cancelled or skipped
    Column("nonce", String(32), nullable=False),
    Column("opened_at", UTCDateTime),
    Column("submitted_at", UTCDateTime),
    Column("ces", SmallInteger),  # "how easy was buying?" 1-7
    Column("nps", SmallInteger),  # "would you recommend us?" 0-10
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "order_id", name="uq_review_requests_store_order"),
    Index("ix_review_requests_customer", "store_id", "customer_key"),
)

# What is sent for a request: at most one "request" and one "reminder" (unique), each claimed by
# one worker. Status: due, sending (claimed, nothing handed to the channel yet), handing (the
# channel may have it), sent, skipped, cancelled, failed, unconfirmed (a worker died while
# handing: never resent, as it may have gone).
review_messages = Table(
    "review_messages", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("request_id", BigInteger, ForeignKey("review_requests.id", ondelete="CASCADE"),
           nullable=False),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # request, reminder
    Column("channel", String(16)),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(500)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("message_id", String(255)),
    UniqueConstraint("request_id", "kind", name="uq_review_messages_request_kind"),
    Index("ix_review_messages_due", "status", "due_at"),
    Index("ix_review_messages_claimed", "store_id", "claimed_at"),  # the daily limit's count
)

# Addresses that asked for no more review requests from a store (hash only).
review_unsubscribes = Table(
    "review_unsubscribes", metadata,
    _store_fk(),
    Column("email_hash", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Photos sent with reviews, re-encoded (no EXIF, bounded size) before they are stored.
review_photos = Table(
    "review_photos", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("review_id", BigInteger, ForeignKey("reviews.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Durable inbox: every delivery is one row before it is acknowledged (see webhooks/).
inbox = Table(
    "inbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id", ondelete="CASCADE")),
    Column("source", String(16), nullable=False),  # shopify, woocommerce, custom, api, ...
    Column("topic", String(128), nullable=False),
    Column("delivery_key", String(255), nullable=False, unique=True),
    Column("headers", JSONType, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # pending, done, failed, ping
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    Index("ix_inbox_pending", "status", "next_attempt_at"),
    Index("ix_inbox_store", "store_id", "received_at"),
)
