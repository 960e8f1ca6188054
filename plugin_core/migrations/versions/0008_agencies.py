"""agencies: store tags, roles and scopes of users and API keys, the audit log

Existing users and keys become owners of every store of their account (what they could do).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import parcours.tables

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRANTED = ("users", "api_keys")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table("store_tags",
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("tag", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_store_tags_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("store_id", "tag", name=op.f("pk_store_tags"))
    )
    with op.batch_alter_table("store_tags", schema=None) as batch_op:
        batch_op.create_index("ix_store_tags_tag", ["tag"], unique=False)
    op.create_table("audit_log",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("account_id", sa.Integer(), nullable=True),
    sa.Column("store_id", sa.Integer(), nullable=True),
    sa.Column("store", sa.String(length=64), nullable=True),
    sa.Column("actor", sa.String(length=255), nullable=False),
    sa.Column("interface", sa.String(length=16), nullable=False),
    sa.Column("action", sa.String(length=200), nullable=False),
    sa.Column("detail", _json(), nullable=False),
    sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_audit_log_account_id_accounts"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_audit_log_store_id_stores"), ondelete="SET NULL"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log"))
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_account_at", ["account_id", "at"], unique=False)
        batch_op.create_index("ix_audit_log_store_at", ["store_id", "at"], unique=False)
    for table in GRANTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=False,
                                          server_default="owner"))
            batch_op.add_column(sa.Column("scope", _json(), nullable=True))


def downgrade() -> None:
    for table in GRANTED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("scope")
            batch_op.drop_column("role")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_store_at")
        batch_op.drop_index("ix_audit_log_account_at")
    op.drop_table("audit_log")
    with op.batch_alter_table("store_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_store_tags_tag")
    op.drop_table("store_tags")
