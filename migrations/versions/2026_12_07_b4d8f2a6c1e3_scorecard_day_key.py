"""scorecard day rows keyed by (seller, day, category), without a foreign key to sellers

The incremental update replaces whole (seller, day) pairs: with the day second in the key each pair is one index
range, where the old key (seller, category, day) made PostgreSQL scan and hash every day row. Day rows are derived
from orders, whose seller is already checked; the foreign key only cost a check per row.

Revision ID: b4d8f2a6c1e3
Revises: a7c3e9d1b5f2
Create Date: 2026-12-07 11:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b4d8f2a6c1e3"
down_revision: str | None = "a7c3e9d1b5f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scorecard_days") as batch:
        batch.drop_constraint(op.f("fk_scorecard_days_seller_id_sellers"), type_="foreignkey")
        batch.drop_constraint(op.f("pk_scorecard_days"), type_="primary")
        batch.create_primary_key(op.f("pk_scorecard_days"), ["seller_id", "day", "category"])


def downgrade() -> None:
    with op.batch_alter_table("scorecard_days") as batch:
        batch.drop_constraint(op.f("pk_scorecard_days"), type_="primary")
        batch.create_primary_key(op.f("pk_scorecard_days"), ["seller_id", "category", "day"])
        batch.create_foreign_key(
            op.f("fk_scorecard_days_seller_id_sellers"), "sellers", ["seller_id"], ["id"], ondelete="CASCADE"
        )
