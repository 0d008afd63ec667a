"""scorecard: an order's category, day rows per seller / category / day, daily snapshots, the update's state

Revision ID: a7c3e9d1b5f2
Revises: f621d99873f1
Create Date: 2026-12-07 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a7c3e9d1b5f2"
down_revision: str | None = "f621d99873f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)

# Written out here rather than imported: a revision must not change when the application does.
COUNTERS = (
    "orders",
    "seller_cancels",
    "late_shipments",
    "shipped",
    "lead_days_sum",
    *(f"lead_{bucket}" for bucket in range(11)),
    "refunds",
    "refund_days_sum",
    "overdue_refunds",
    "overdue_days_sum",
    "claims_seller_cancellation",
    "claims_late_shipment",
    "claims_non_delivery",
    "claims_damaged",
    "claims_wrong_item",
    "claims_not_as_described",
    "claims_counterfeit",
    "claimed",
    "defects",
    "responses_due",
    "responses_met",
)


def upgrade() -> None:
    op.add_column("orders", sa.Column("category", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_claims_order_id"), "claims", ["order_id"], unique=False)

    op.create_table(
        "scorecard_days",
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in COUNTERS),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_scorecard_days_seller_id_sellers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seller_id", "category", "day", name=op.f("pk_scorecard_days")),
    )
    op.create_index(op.f("ix_scorecard_days_day"), "scorecard_days", ["day"], unique=False)

    op.create_table(
        "scorecard_snapshots",
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("seller_cancel_rate", sa.Float(), nullable=True),
        sa.Column("late_shipment_rate", sa.Float(), nullable=True),
        sa.Column("claim_rate", sa.Float(), nullable=True),
        sa.Column("defect_rate", sa.Float(), nullable=True),
        sa.Column("response_compliance", sa.Float(), nullable=True),
        sa.Column("lead_days_avg", sa.Float(), nullable=True),
        sa.Column("lead_days_p90", sa.Integer(), nullable=True),
        sa.Column("refund_days_avg", sa.Float(), nullable=True),
        sa.Column("overdue_refund_days_avg", sa.Float(), nullable=True),
        sa.Column("counterfeit_claims", sa.Integer(), nullable=False),
        sa.Column("active_points", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=24), nullable=False),
        sa.Column("grade_reasons", JSON_DOC, nullable=False),
        sa.Column("counts", JSON_DOC, nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_scorecard_snapshots_seller_id_sellers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seller_id", "day", "window_days", name=op.f("pk_scorecard_snapshots")),
    )
    op.create_index(
        op.f("ix_scorecard_snapshots_day_window_days_grade"),
        "scorecard_snapshots",
        ["day", "window_days", "grade"],
        unique=False,
    )

    op.create_table(
        "scorecard_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_event_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_event_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_order_event_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_claim_event_id", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_day", sa.Date(), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_state")),
    )


def downgrade() -> None:
    op.drop_table("scorecard_state")
    op.drop_index(op.f("ix_scorecard_snapshots_day_window_days_grade"), table_name="scorecard_snapshots")
    op.drop_table("scorecard_snapshots")
    op.drop_index(op.f("ix_scorecard_days_day"), table_name="scorecard_days")
    op.drop_table("scorecard_days")
    op.drop_index(op.f("ix_claims_order_id"), table_name="claims")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("category")
