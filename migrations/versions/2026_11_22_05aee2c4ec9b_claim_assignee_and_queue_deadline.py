"""claims: who works a claim, the deadline running now for the staff queue, breaches by time

Revision ID: 05aee2c4ec9b
Revises: 95359429aa46
Create Date: 2026-11-22 23:07:49.283071
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "05aee2c4ec9b"
down_revision: str | None = "95359429aa46"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "status IN ('awaiting_seller', 'seller_proposed', 'escalated')"
BREACHES = (
    ("ix_claims_silent_escalations", "escalated_at", "escalation_reason = 'seller_silent'"),
    ("ix_claims_supervisor_queued", "supervisor_queued_at", "supervisor_queued_at IS NOT NULL"),
    ("ix_claims_refund_overdue", "refund_overdue_at", "refund_overdue_at IS NOT NULL"),
)
DUE_AT = "CASE WHEN status = 'awaiting_seller' THEN response_due_at WHEN status = 'escalated' THEN staff_due_at END"


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("assignee_id", ID, nullable=True))
        batch_op.add_column(
            sa.Column("due_at", sa.DateTime(timezone=True), sa.Computed(DUE_AT, persisted=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_claims_assignee_id_status"), ["assignee_id", "status"], unique=False)
        batch_op.create_index(
            "ix_claims_queue",
            ["due_at", "id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_claims_assignee_id_users"), "users", ["assignee_id"], ["id"], ondelete="SET NULL"
        )
        for name, column, where in BREACHES:
            batch_op.create_index(
                name, [column], unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
            )


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        for name, _column, _where in BREACHES:
            batch_op.drop_index(name)
        batch_op.drop_constraint(batch_op.f("fk_claims_assignee_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_claims_queue")
        batch_op.drop_index(batch_op.f("ix_claims_assignee_id_status"))
        batch_op.drop_column("due_at")
        batch_op.drop_column("assignee_id")
