"""order events, and the event-derived state of orders

Revision ID: d3e5f7a9b1c2
Revises: c2d4e6f8a0b1
Create Date: 2026-11-22 16:05:41.118204
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d3e5f7a9b1c2"
down_revision: str | None = "c2d4e6f8a0b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

SHIP_BY_UNCHECKED = "status = 'paid' AND late_shipment_checked_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "order_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "order.paid",
                "order.shipped",
                "order.delivered",
                "order.cancelled",
                "refund.completed",
                name="eventtype",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("order_external_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_order_events_api_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_order_events_event_id")),
    )
    op.create_index(op.f("ix_order_events_order_external_id"), "order_events", ["order_external_id"], unique=False)

    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("ship_by_policy_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "cancel_initiated_by",
                sa.Enum("buyer", "seller", "platform", name="cancelinitiator", native_enum=False, length=20),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refunded_amount", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("late_shipment_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_orders_ship_by_unchecked",
        "orders",
        ["ship_by"],
        unique=False,
        postgresql_where=sa.text(SHIP_BY_UNCHECKED),
        sqlite_where=sa.text(SHIP_BY_UNCHECKED),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_orders_ship_by_unchecked",
        table_name="orders",
        postgresql_where=sa.text(SHIP_BY_UNCHECKED),
        sqlite_where=sa.text(SHIP_BY_UNCHECKED),
    )
    # Dropped in place (SQLite >= 3.35): copying the table would drop it first, which the claims' foreign keys refuse.
    with op.batch_alter_table("orders", recreate="never") as batch_op:
        batch_op.drop_column("late_shipment_checked_at")
        batch_op.drop_column("refunded_amount")
        batch_op.drop_column("refunded_at")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancel_initiated_by")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("tracking_number")
        batch_op.drop_column("carrier")
        batch_op.drop_column("shipped_at")
        batch_op.drop_column("ship_by_policy_version")

    op.drop_index(op.f("ix_order_events_order_external_id"), table_name="order_events")
    op.drop_table("order_events")
