"""sanctions: violations, sanctions, stage history, appeals, force-majeure pauses, standing

Revision ID: f621d99873f1
Revises: 017dc9742351
Create Date: 2026-11-23 23:20:34.310964
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f621d99873f1"
down_revision: str | None = "017dc9742351"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = sa.DateTime(timezone=True)


def stage_enum() -> sa.Enum:
    return sa.Enum(
        "none", "notice", "warning", "restricted", "termination_review", name="stage", native_enum=False, length=24
    )


ACTIVE = "state = 'active'"
SEVERE_DUE = "severe_due_at IS NOT NULL AND severe_judged_at IS NULL"
RUNNING = "ended_at IS NULL AND ends_at IS NOT NULL"
IN_FORCE = "ended_at IS NULL"
OPEN_VIOLATION = "status = 'open' AND violation_id IS NOT NULL"
OPEN_SANCTION = "status = 'open' AND sanction_id IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "sanction_pauses",
        sa.Column("id", ID, nullable=False),
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("ends_at", TIME, nullable=False),
        sa.Column("kinds", JSON_DOC, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_at", TIME, nullable=False),
        sa.Column("declared_by", sa.String(length=80), nullable=False),
        sa.Column("set_aside_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_sanction_pauses_ends_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanction_pauses")),
    )
    op.create_index(
        op.f("ix_sanction_pauses_starts_at_ends_at"), "sanction_pauses", ["starts_at", "ends_at"], unique=False
    )

    op.create_table(
        "seller_stage_changes",
        sa.Column("id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("from_stage", stage_enum(), nullable=False),
        sa.Column("to_stage", stage_enum(), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_stage_changes_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seller_stage_changes")),
    )
    op.create_index(
        op.f("ix_seller_stage_changes_seller_id_at"), "seller_stage_changes", ["seller_id", "at"], unique=False
    )

    op.create_table(
        "seller_standings",
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("stage", stage_enum(), nullable=False),
        sa.Column("may_list", sa.Boolean(), nullable=False),
        sa.Column("may_sell", sa.Boolean(), nullable=False),
        sa.Column("active_points", sa.Integer(), nullable=False),
        sa.Column("orders_in_window", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("sanctions", JSON_DOC, nullable=False),
        sa.Column("evaluated_at", TIME, nullable=False),
        sa.Column("changed_at", TIME, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_seller_standings_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("seller_id", name=op.f("pk_seller_standings")),
    )
    op.create_index(
        op.f("ix_seller_standings_stage_active_points"), "seller_standings", ["stage", "active_points"], unique=False
    )

    op.create_table(
        "violations",
        sa.Column("id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "seller_cancellation",
                "late_shipment",
                "response_missed",
                "refund_overdue",
                "counterfeit",
                "manual",
                name="violationkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "active", "expired", "overturned", "set_aside", name="violationstate", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("initial_points", sa.Integer(), nullable=False),
        sa.Column("claim_id", ID, nullable=True),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("severe_due_at", TIME, nullable=True),
        sa.Column("severe_judged_at", TIME, nullable=True),
        sa.Column("raised_at", TIME, nullable=True),
        sa.Column("appeal_due_at", TIME, nullable=False),
        sa.Column("pause_id", ID, nullable=True),
        sa.Column("set_aside_at", TIME, nullable=True),
        sa.Column("overturned_at", TIME, nullable=True),
        sa.Column("overturned_by", sa.String(length=80), nullable=True),
        sa.Column("overturn_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("points >= 0 AND initial_points >= 0", name=op.f("ck_violations_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_violations_claim_id_claims"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_violations_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["pause_id"],
            ["sanction_pauses.id"],
            name=op.f("fk_violations_pause_id_sanction_pauses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_violations_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_violations")),
        sa.UniqueConstraint("claim_id", "kind", name=op.f("uq_violations_claim_id_kind")),
    )
    op.create_index(
        "ix_violations_active_expires",
        "violations",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_index(op.f("ix_violations_kind_occurred_at"), "violations", ["kind", "occurred_at"], unique=False)
    op.create_index(
        op.f("ix_violations_seller_id_occurred_at"), "violations", ["seller_id", "occurred_at"], unique=False
    )
    op.create_index(
        "ix_violations_severe_due",
        "violations",
        ["severe_due_at"],
        unique=False,
        postgresql_where=sa.text(SEVERE_DUE),
        sqlite_where=sa.text(SEVERE_DUE),
    )

    op.create_table(
        "sanctions",
        sa.Column("id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("stage", stage_enum(), nullable=False),
        sa.Column(
            "source", sa.Enum("rules", "staff", name="sanctionsource", native_enum=False, length=24), nullable=False
        ),
        sa.Column(
            "rule",
            sa.Enum(
                "notice_threshold", "sanction_threshold", "jump", name="sanctionrule", native_enum=False, length=24
            ),
            nullable=True,
        ),
        sa.Column("trigger_key", sa.String(length=40), nullable=True),
        sa.Column("trigger_violation_id", ID, nullable=True),
        sa.Column("violation_ids", JSON_DOC, nullable=False),
        sa.Column("points", sa.Integer(), nullable=True),
        sa.Column("orders", sa.Integer(), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("ends_at", TIME, nullable=True),
        sa.Column("imposed_at", TIME, nullable=False),
        sa.Column("imposed_by", sa.String(length=80), nullable=False),
        sa.Column("appeal_due_at", TIME, nullable=False),
        sa.Column("original_ends_at", TIME, nullable=True),
        sa.Column("shortened_at", TIME, nullable=True),
        sa.Column("shortened_by", sa.String(length=80), nullable=True),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column(
            "ended_how",
            sa.Enum("expired", "shortened", "lifted", name="sanctionend", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column(
            "end_cause",
            sa.Enum(
                "expired",
                "shortened",
                "lifted_by_staff",
                "appeal_accepted",
                "no_longer_justified",
                name="endcause",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("ended_by", sa.String(length=80), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_sanctions_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["trigger_violation_id"],
            ["violations.id"],
            name=op.f("fk_sanctions_trigger_violation_id_violations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions")),
        sa.UniqueConstraint("trigger_key", name=op.f("uq_sanctions_trigger_key")),
    )
    op.create_index(
        "ix_sanctions_in_force_stage",
        "sanctions",
        ["stage", "starts_at"],
        unique=False,
        postgresql_where=sa.text(IN_FORCE),
        sqlite_where=sa.text(IN_FORCE),
    )
    op.create_index(
        "ix_sanctions_running_ends",
        "sanctions",
        ["ends_at"],
        unique=False,
        postgresql_where=sa.text(RUNNING),
        sqlite_where=sa.text(RUNNING),
    )
    op.create_index(op.f("ix_sanctions_seller_id_starts_at"), "sanctions", ["seller_id", "starts_at"], unique=False)

    op.create_table(
        "appeals",
        sa.Column("id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("violation_id", ID, nullable=True),
        sa.Column("sanction_id", ID, nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "accepted", "rejected", name="appealstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("actions_taken", sa.Text(), nullable=False),
        sa.Column("prevention", sa.Text(), nullable=False),
        sa.Column("filed_at", TIME, nullable=False),
        sa.Column("filed_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("(violation_id IS NULL) <> (sanction_id IS NULL)", name=op.f("ck_appeals_one_item")),
        sa.ForeignKeyConstraint(
            ["sanction_id"], ["sanctions.id"], name=op.f("fk_appeals_sanction_id_sanctions"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_appeals_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["violation_id"], ["violations.id"], name=op.f("fk_appeals_violation_id_violations"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index(op.f("ix_appeals_seller_id_filed_at"), "appeals", ["seller_id", "filed_at"], unique=False)
    op.create_index(op.f("ix_appeals_status_filed_at"), "appeals", ["status", "filed_at"], unique=False)
    op.create_index(
        "uq_appeals_open_sanction",
        "appeals",
        ["sanction_id"],
        unique=True,
        postgresql_where=sa.text(OPEN_SANCTION),
        sqlite_where=sa.text(OPEN_SANCTION),
    )
    op.create_index(
        "uq_appeals_open_violation",
        "appeals",
        ["violation_id"],
        unique=True,
        postgresql_where=sa.text(OPEN_VIOLATION),
        sqlite_where=sa.text(OPEN_VIOLATION),
    )


def downgrade() -> None:
    op.drop_index("uq_appeals_open_violation", table_name="appeals")
    op.drop_index("uq_appeals_open_sanction", table_name="appeals")
    op.drop_index(op.f("ix_appeals_status_filed_at"), table_name="appeals")
    op.drop_index(op.f("ix_appeals_seller_id_filed_at"), table_name="appeals")
    op.drop_table("appeals")
    op.drop_index(op.f("ix_sanctions_seller_id_starts_at"), table_name="sanctions")
    op.drop_index("ix_sanctions_running_ends", table_name="sanctions")
    op.drop_index("ix_sanctions_in_force_stage", table_name="sanctions")
    op.drop_table("sanctions")
    op.drop_index("ix_violations_severe_due", table_name="violations")
    op.drop_index(op.f("ix_violations_seller_id_occurred_at"), table_name="violations")
    op.drop_index(op.f("ix_violations_kind_occurred_at"), table_name="violations")
    op.drop_index("ix_violations_active_expires", table_name="violations")
    op.drop_table("violations")
    op.drop_index(op.f("ix_seller_standings_stage_active_points"), table_name="seller_standings")
    op.drop_table("seller_standings")
    op.drop_index(op.f("ix_seller_stage_changes_seller_id_at"), table_name="seller_stage_changes")
    op.drop_table("seller_stage_changes")
    op.drop_index(op.f("ix_sanction_pauses_starts_at_ends_at"), table_name="sanction_pauses")
    op.drop_table("sanction_pauses")
