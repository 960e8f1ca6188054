"""webhook ingestion: credentials, store facts, privacy requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:33:04.942197
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import parcours.tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", parcours.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_credentials_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index("ix_credentials_store_purpose", ["store_id", "purpose"], unique=False)

    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column(
            "subject",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("requested_at", parcours.tables.UTCDateTime(), nullable=False),
        sa.Column("completed_at", parcours.tables.UTCDateTime(), nullable=True),
        sa.Column(
            "export",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_privacy_requests_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_table(
        "store_facts",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", parcours.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_store_facts_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "name", name=op.f("pk_store_facts")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_store", ["store_id", "received_at"], unique=False)

    # updated_at|occurred_at|event id: the latest fact of the newest snapshot wins
    with op.batch_alter_table("resource_states", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.String(length=64),
                              type_=sa.String(length=96), existing_nullable=False)

    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("uninstalled_at", parcours.tables.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("delete_after", parcours.tables.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("reconciled_until", parcours.tables.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("resource_states", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.String(length=96),
                              type_=sa.String(length=64), existing_nullable=False)

    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("reconciled_until")
        batch_op.drop_column("delete_after")
        batch_op.drop_column("uninstalled_at")

    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_store")

    op.drop_table("store_facts")
    op.drop_table("privacy_requests")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_store_purpose")

    op.drop_table("credentials")
