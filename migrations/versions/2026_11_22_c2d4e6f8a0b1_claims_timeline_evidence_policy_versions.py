"""claims, timeline, evidence, policy versions

Revision ID: c2d4e6f8a0b1
Revises: 94000032ee05
Create Date: 2026-11-22 14:46:03.943516
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c2d4e6f8a0b1"
down_revision: str | None = "94000032ee05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON_DOC, nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_policy_versions_name_version")),
    )
    op.create_table(
        "claims",
        sa.Column("id", ID, nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "seller_cancellation",
                "late_shipment",
                "non_delivery",
                "damaged",
                "wrong_item",
                "not_as_described",
                "counterfeit",
                name="claimtype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "awaiting_seller",
                "seller_proposed",
                "escalated",
                "resolved",
                "closed",
                "withdrawn",
                name="claimstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("buyer_id", ID, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_policy_version", sa.Integer(), nullable=False),
        sa.Column(
            "refund_status",
            sa.Enum("pending", "met", "overdue", "late", name="refundstatus", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("refund_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_policy_version", sa.Integer(), nullable=True),
        sa.Column("refund_overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_days_late", sa.Integer(), nullable=True),
        sa.Column(
            "proposal_remedy",
            sa.Enum(
                "ship_now",
                "replace",
                "refund",
                "partial_refund",
                "explanation",
                name="remedy",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("proposal_amount", sa.BigInteger(), nullable=True),
        sa.Column("proposal_message", sa.Text(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "escalation_reason",
            sa.Enum("seller_silent", "buyer_rejected", "staff", name="escalationreason", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("queue", sa.Enum("staff", "supervisor", name="queue", native_enum=False, length=24), nullable=True),
        sa.Column("staff_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("staff_policy_version", sa.Integer(), nullable=True),
        sa.Column("supervisor_queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("for_buyer", "for_seller", "partial", name="decision", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("decision_amount", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "decision_amount IS NULL OR decision_amount >= 0", name=op.f("ck_claims_decision_amount_not_negative")
        ),
        sa.CheckConstraint(
            "proposal_amount IS NULL OR proposal_amount >= 0", name=op.f("ck_claims_proposal_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f("fk_claims_buyer_id_buyers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_claims_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_claims_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_buyer_id_status"), "claims", ["buyer_id", "status"], unique=False)
    op.create_index(
        "ix_claims_refund_due",
        "claims",
        ["refund_due_at"],
        unique=False,
        postgresql_where=sa.text("refund_status = 'pending'"),
        sqlite_where=sa.text("refund_status = 'pending'"),
    )
    op.create_index(
        "ix_claims_response_due",
        "claims",
        ["response_due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'awaiting_seller'"),
        sqlite_where=sa.text("status = 'awaiting_seller'"),
    )
    op.create_index(op.f("ix_claims_seller_id_status"), "claims", ["seller_id", "status"], unique=False)
    op.create_index(
        "ix_claims_staff_due",
        "claims",
        ["staff_due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'escalated' AND queue = 'staff'"),
        sqlite_where=sa.text("status = 'escalated' AND queue = 'staff'"),
    )
    op.create_index(
        "uq_claims_open_order_type",
        "claims",
        ["order_id", "type"],
        unique=True,
        postgresql_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
        sqlite_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
    )

    op.create_table(
        "claim_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("claim_id", ID, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "visibility", sa.Enum("parties", "staff", name="visibility", native_enum=False, length=24), nullable=False
        ),
        sa.Column("data", JSON_DOC, nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_events_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_events")),
    )
    op.create_index(
        op.f("ix_claim_events_claim_id_occurred_at"), "claim_events", ["claim_id", "occurred_at"], unique=False
    )

    op.create_table(
        "claim_evidence",
        sa.Column("id", ID, nullable=False),
        sa.Column("claim_id", ID, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_evidence_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_evidence")),
    )
    op.create_index(op.f("ix_claim_evidence_claim_id"), "claim_evidence", ["claim_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_claim_evidence_claim_id"), table_name="claim_evidence")

    op.drop_table("claim_evidence")
    op.drop_index(op.f("ix_claim_events_claim_id_occurred_at"), table_name="claim_events")

    op.drop_table("claim_events")
    op.drop_index(
        "uq_claims_open_order_type",
        table_name="claims",
        postgresql_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
        sqlite_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
    )
    op.drop_index(
        "ix_claims_staff_due",
        table_name="claims",
        postgresql_where=sa.text("status = 'escalated' AND queue = 'staff'"),
        sqlite_where=sa.text("status = 'escalated' AND queue = 'staff'"),
    )
    op.drop_index(op.f("ix_claims_seller_id_status"), table_name="claims")
    op.drop_index(
        "ix_claims_response_due",
        table_name="claims",
        postgresql_where=sa.text("status = 'awaiting_seller'"),
        sqlite_where=sa.text("status = 'awaiting_seller'"),
    )
    op.drop_index(
        "ix_claims_refund_due",
        table_name="claims",
        postgresql_where=sa.text("refund_status = 'pending'"),
        sqlite_where=sa.text("refund_status = 'pending'"),
    )
    op.drop_index(op.f("ix_claims_buyer_id_status"), table_name="claims")

    op.drop_table("claims")
    op.drop_table("policy_versions")
