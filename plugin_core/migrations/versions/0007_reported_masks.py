"""rollups: journey and segment rollups keyed by the reported mask (rollups.REPORTED_MASK)

Existing rows are merged into rows whose events mask keeps only the events reports read, as
rollups.contribution now writes them; the sums every report computes do not change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# rollups.REPORTED_MASK when this revision was written (frozen: the code's may grow later):
# product_viewed, product_added_to_cart, checkout_started, checkout_contact_info_submitted,
# checkout_address_info_submitted, checkout_shipping_info_submitted, payment_info_submitted,
# cart_updated, checkout_updated, order_paid, order_fulfilled, order_delivered,
# review_submitted.
MASK = 148246424
TABLES = {
    "journey_rollups": ("store_id", "day", "events_mask", "path", "converted"),
    "segment_rollups": ("store_id", "day", "dimension", "value", "events_mask", "converted"),
}


def upgrade() -> None:
    for table, keys in TABLES.items():
        reduced = f"events_mask & {MASK}"
        grouped = ", ".join(reduced if key == "events_mask" else key for key in keys)
        selected = ", ".join(f"{reduced} AS events_mask" if key == "events_mask" else key
                             for key in keys)
        op.execute(f"CREATE TEMPORARY TABLE merged_rollups AS SELECT {selected}, "
                   f"SUM(journeys) AS journeys FROM {table} GROUP BY {grouped}")
        op.execute(f"DELETE FROM {table}")
        columns = ", ".join((*keys, "journeys"))
        op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM merged_rollups "
                   "WHERE journeys <> 0")
        op.execute("DROP TABLE merged_rollups")


def downgrade() -> None:
    """Nothing to undo: the merged rows answer every report as the split ones did (the
    dropped events' bits cannot be told apart again, and no report needs them)."""
