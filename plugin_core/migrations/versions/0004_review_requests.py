"""review requests, messages, unsubscribes, photos; review publication

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 17:07:38.051365
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import parcours.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("review_unsubscribes",
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("email_hash", sa.String(length=64), nullable=False),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_review_unsubscribes_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("store_id", "email_hash", name=op.f("pk_review_unsubscribes"))
    )
    op.create_table("review_requests",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("order_id", sa.String(length=64), nullable=False),
    sa.Column("profile_id", sa.BigInteger(), nullable=True),
    sa.Column("customer_key", sa.String(length=80), nullable=True),
    sa.Column("email", sa.String(length=320), nullable=True),
    sa.Column("name", sa.String(length=100), nullable=True),
    sa.Column("locale", sa.String(length=16), nullable=True),
    sa.Column("items", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
    sa.Column("placed_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("fulfilled_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("delivered_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("cancelled_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("postponed_until", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.String(length=200), nullable=True),
    sa.Column("nonce", sa.String(length=32), nullable=False),
    sa.Column("opened_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("submitted_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("ces", sa.SmallInteger(), nullable=True),
    sa.Column("nps", sa.SmallInteger(), nullable=True),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("updated_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], name=op.f("fk_review_requests_profile_id_profiles"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_review_requests_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_review_requests")),
    sa.UniqueConstraint("store_id", "order_id", name="uq_review_requests_store_order")
    )
    with op.batch_alter_table("review_requests", schema=None) as batch_op:
        batch_op.create_index("ix_review_requests_customer", ["store_id", "customer_key"], unique=False)

    op.create_table("review_messages",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("request_id", sa.BigInteger(), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("channel", sa.String(length=16), nullable=True),
    sa.Column("due_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.String(length=500), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("claimed_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("sent_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("message_id", sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(["request_id"], ["review_requests.id"], name=op.f("fk_review_messages_request_id_review_requests"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_review_messages_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_review_messages")),
    sa.UniqueConstraint("request_id", "kind", name="uq_review_messages_request_kind")
    )
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.create_index("ix_review_messages_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_review_messages_claimed", ["store_id", "claimed_at"], unique=False)

    op.create_table("review_photos",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("review_id", sa.BigInteger(), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("content_type", sa.String(length=32), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("width", sa.Integer(), nullable=False),
    sa.Column("height", sa.Integer(), nullable=False),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], name=op.f("fk_review_photos_review_id_reviews"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_review_photos_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_review_photos"))
    )
    with op.batch_alter_table("review_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_photos_review_id"), ["review_id"], unique=False)

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("incentive", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("moderation_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sync_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("sync_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("sync_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("synced_at", parcours.tables.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_reviews_sync", ["sync_status"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_reviews_request_id_review_requests"), "review_requests", ["request_id"], ["id"], ondelete="SET NULL")



def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_reviews_request_id_review_requests"), type_="foreignkey")
        batch_op.drop_index("ix_reviews_sync")
        batch_op.drop_column("synced_at")
        batch_op.drop_column("external_id")
        batch_op.drop_column("sync_error")
        batch_op.drop_column("sync_attempts")
        batch_op.drop_column("sync_status")
        batch_op.drop_column("moderation_reason")
        batch_op.drop_column("incentive")
        batch_op.drop_column("request_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("review_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_photos_review_id"))

    op.drop_table("review_photos")
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_review_messages_claimed")
        batch_op.drop_index("ix_review_messages_due")

    op.drop_table("review_messages")
    with op.batch_alter_table("review_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_review_requests_customer")

    op.drop_table("review_requests")
    op.drop_table("review_unsubscribes")
