"""scorecard day rows without the index on the day alone, snapshots without the foreign key to sellers

The window sums now read the longest window's day rows in one sequential pass (per band between windows) instead
of one query per window, the short ones through this index; nothing reads it any more, and every insert paid for it.
Snapshots are derived from day rows and standings, whose sellers are checked; checking again locked the seller's
row for each of a night's 30,000 snapshots.

Revision ID: c5e1a9f3d7b2
Revises: aff5d233df20
Create Date: 2026-12-07 15:35:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c5e1a9f3d7b2"
down_revision: str | None = "aff5d233df20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_scorecard_days_day"), table_name="scorecard_days")
    with op.batch_alter_table("scorecard_snapshots") as batch:
        batch.drop_constraint(op.f("fk_scorecard_snapshots_seller_id_sellers"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("scorecard_snapshots") as batch:
        batch.create_foreign_key(
            op.f("fk_scorecard_snapshots_seller_id_sellers"), "sellers", ["seller_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index(op.f("ix_scorecard_days_day"), "scorecard_days", ["day"], unique=False)
