"""notification delivery: the relay's lease on a message, and every failed attempt

Revision ID: 017dc9742351
Revises: 4e0de4899c67
Create Date: 2026-11-23 09:11:39.619228
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "017dc9742351"
down_revision: str | None = "4e0de4899c67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_delivery_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("permanent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_delivery_failures_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_delivery_failures")),
    )
    op.create_index(
        op.f("ix_outbox_delivery_failures_message_id_failed_at"),
        "outbox_delivery_failures",
        ["message_id", "failed_at"],
        unique=False,
    )
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.add_column(sa.Column("lease", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch_op:
        batch_op.drop_column("lease")
    op.drop_index(op.f("ix_outbox_delivery_failures_message_id_failed_at"), table_name="outbox_delivery_failures")
    op.drop_table("outbox_delivery_failures")
