"""dashboard: users (email + password), server-side sessions, used WordPress login links

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("users",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("account_id", sa.Integer(), nullable=False),
    sa.Column("email", sa.String(length=320), nullable=False),
    sa.Column("password_hash", sa.String(length=255), nullable=False),
    sa.Column("locale", sa.String(length=8), nullable=True),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", parcours.tables.UTCDateTime(), nullable=True),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("last_login_at", parcours.tables.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_users_account_id_accounts"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    sa.UniqueConstraint("email", name=op.f("uq_users_email"))
    )
    op.create_table("dashboard_sessions",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("account_id", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Integer(), nullable=True),
    sa.Column("store_id", sa.Integer(), nullable=True),
    sa.Column("via", sa.String(length=16), nullable=False),
    sa.Column("locale", sa.String(length=8), nullable=True),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.Column("expires_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_dashboard_sessions_account_id_accounts"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_dashboard_sessions_user_id_users"), ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_dashboard_sessions_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions"))
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_dashboard_sessions_expires", ["expires_at"], unique=False)
    op.create_table("dashboard_link_uses",
    sa.Column("nonce", sa.String(length=64), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("expires_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_dashboard_link_uses_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("nonce", name=op.f("pk_dashboard_link_uses"))
    )


def downgrade() -> None:
    op.drop_table("dashboard_link_uses")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_dashboard_sessions_expires")
    op.drop_table("dashboard_sessions")
    op.drop_table("users")
