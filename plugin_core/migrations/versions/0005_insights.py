"""merchant insights: journeys' segments, stage times and exposures; their rollups

Journeys recorded before this revision keep null in the new columns (nothing in SQL can compute
them); the recorder refolds such a journey's profile from its events the next time the profile
changes, and adds its share to the new rollups then (recorder.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _store_id(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f(f"fk_{table}_store_id_stores"), ondelete="CASCADE"),
    ]


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("reached", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("exposures", json_type, nullable=True))
        batch_op.create_index("ix_journeys_store_opened", ["store_id", "opened_at"],
                              unique=False)

    op.create_table(
        "segment_rollups",
        *_store_id("segment_rollups"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("events_mask", sa.BigInteger(), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("journeys", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "dimension", "value", "events_mask",
                                "converted", name=op.f("pk_segment_rollups")),
    )
    op.create_table(
        "stage_time_rollups",
        *_store_id("stage_time_rollups"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("journeys", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "stage", "bucket",
                                name=op.f("pk_stage_time_rollups")),
    )
    op.create_table(
        "experiment_rollups",
        *_store_id("experiment_rollups"),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("widget", sa.String(length=32), nullable=False),
        sa.Column("experiment", sa.String(length=64), nullable=False),
        sa.Column("arm", sa.String(length=8), nullable=False),
        sa.Column("shoppers", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "widget", "experiment", "arm",
                                name=op.f("pk_experiment_rollups")),
    )


def downgrade() -> None:
    op.drop_table("experiment_rollups")
    op.drop_table("stage_time_rollups")
    op.drop_table("segment_rollups")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index("ix_journeys_store_opened")
        batch_op.drop_column("exposures")
        batch_op.drop_column("reached")
        batch_op.drop_column("country")
        batch_op.drop_column("channel")
        batch_op.drop_column("device")
