"""product reviews: the canonical copy of each published review

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 13:40:06.806288
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("reviews",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
    sa.Column("store_id", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.String(length=64), nullable=False),
    sa.Column("profile_id", sa.BigInteger(), nullable=True),
    sa.Column("order_id", sa.String(length=64), nullable=True),
    sa.Column("rating", sa.SmallInteger(), nullable=False),
    sa.Column("title", sa.String(length=200), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("author", sa.String(length=100), nullable=True),
    sa.Column("locale", sa.String(length=16), nullable=True),
    sa.Column("verified", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("reply", sa.Text(), nullable=True),
    sa.Column("created_at", parcours.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(["profile_id"], ["profiles.id"], name=op.f("fk_reviews_profile_id_profiles"), ondelete="SET NULL"),
    sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_reviews_store_id_stores"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews"))
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_product", ["store_id", "product_id", "status", "created_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_product")

    op.drop_table("reviews")
