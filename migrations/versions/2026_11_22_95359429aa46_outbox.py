"""the outbox: notices and webhooks written with the change that causes them

Revision ID: 95359429aa46
Revises: d3e5f7a9b1c2
Create Date: 2026-11-22 23:03:58.417002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "95359429aa46"
down_revision: str | None = "d3e5f7a9b1c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
DUE = "status IN ('pending', 'failed')"


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column(
            "audience",
            sa.Enum("buyer", "seller", "staff", "marketplace", name="audience", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "sent", "failed", "dead", name="outboxstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_messages_dedupe_key")),
    )
    op.create_index(
        op.f("ix_outbox_messages_audience_recipient_id_created_at"),
        "outbox_messages",
        ["audience", "recipient_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_outbox_messages_due",
        "outbox_messages",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )
    op.create_index(
        op.f("ix_outbox_messages_status_created_at"), "outbox_messages", ["status", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_messages_status_created_at"), table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_due", table_name="outbox_messages")
    op.drop_index(op.f("ix_outbox_messages_audience_recipient_id_created_at"), table_name="outbox_messages")
    op.drop_table("outbox_messages")
