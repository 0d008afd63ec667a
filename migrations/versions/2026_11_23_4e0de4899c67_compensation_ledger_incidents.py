"""compensation, recovery, the double-entry ledger, settlement events and mass incidents

Revision ID: 4e0de4899c67
Revises: 05aee2c4ec9b
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4e0de4899c67"
down_revision: str | None = "05aee2c4ec9b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# The chart of accounts (marketplace.compensation.ledger.Account).
ACCOUNTS = [
    {"id": 1, "code": "compensation_expense", "name": "Compensation paid by the platform", "normal_side": "debit"},
    {"id": 2, "code": "buyer_payable", "name": "Compensation owed to buyers", "normal_side": "credit"},
    {"id": 3, "code": "seller_receivable", "name": "Compensation to recover from sellers", "normal_side": "debit"},
    {"id": 4, "code": "compensation_recovered", "name": "Compensation recovered from sellers", "normal_side": "credit"},
    {"id": 5, "code": "platform_cash", "name": "Platform funds and settlements", "normal_side": "debit"},
]
APPEND_ONLY = ("ledger_transactions", "ledger_entries")

# Every INSERT into ledger_entries must leave each transaction it touches balanced. Transactions start balanced
# (empty), so it is enough that the rows each statement adds to a transaction add up to zero: the check reads only
# the statement's own rows, whatever the size of the ledger. The application writes all entries of a transaction
# in one statement (a COPY or a multi-row INSERT).
PG_BALANCE_CHECK = """
CREATE FUNCTION ledger_refuse_unbalanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    SELECT transaction_id INTO bad FROM new_entries GROUP BY transaction_id HAVING sum(amount) <> 0 LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', bad USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def _append_only(table: str) -> None:
    # Same guard as the audit log (foundation revision): the database refuses to change or remove a row.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION marketplace_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION marketplace_refuse_change()"
        )
    elif bind.dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{event} on {table} is not allowed: the table is append-only'); END"
            )


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", ID, nullable=False),
        sa.Column("title_ko", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("platform_at_fault", sa.Boolean(), nullable=False),
        sa.Column("explanation_ko", sa.Text(), nullable=False),
        sa.Column("explanation_en", sa.Text(), nullable=False),
        sa.Column("rule", JSON_DOC, nullable=False),
        sa.Column(
            "status",
            sa.Enum("declared", "running", "completed", name="incidentstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("selection", JSON_DOC, nullable=True),
        sa.Column("selected_orders", sa.Integer(), nullable=False),
        sa.Column("selected_amount", sa.BigInteger(), nullable=False),
        sa.Column("processed_orders", sa.Integer(), nullable=False),
        sa.Column("processed_amount", sa.BigInteger(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("normal_side", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    op.create_table(
        "settlement_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "payout.completed",
                "payout.failed",
                "deduction.confirmed",
                name="settlementeventtype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_settlement_events_event_id")),
    )
    op.create_table(
        "incident_orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("order_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("selected", "compensated", name="incidentorderstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_orders_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_incident_orders_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_orders")),
        sa.UniqueConstraint("incident_id", "order_id", name=op.f("uq_incident_orders_incident_id_order_id")),
    )
    with op.batch_alter_table("incident_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_orders_pending",
            ["incident_id", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'selected'"),
            sqlite_where=sa.text("status = 'selected'"),
        )

    op.create_table(
        "compensations",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("buyer_id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("claim_id", ID, nullable=True),
        sa.Column("incident_id", ID, nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "form",
            sa.Enum("points", "coupon", "cash", name="compensationform", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("rule", sa.String(length=60), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("calculation", JSON_DOC, nullable=False),
        sa.Column("recoverable", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("granted", "paid_out", "failed", "voided", name="compensationstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_compensations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f("fk_compensations_buyer_id_buyers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_compensations_claim_id_claims"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_compensations_incident_id_incidents"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_compensations_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_compensations_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compensations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_compensations_idempotency_key")),
    )
    with op.batch_alter_table("compensations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compensations_buyer_id_granted_at"), ["buyer_id", "granted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_compensations_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compensations_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "ledger_transactions",
        sa.Column("id", ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=140), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("compensation_id", ID, nullable=True),
        sa.Column("reverses_id", ID, nullable=True),
        sa.Column("memo", sa.String(length=200), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["compensation_id"],
            ["compensations.id"],
            name=op.f("fk_ledger_transactions_compensation_id_compensations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_transactions_reverses_id_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transactions_idempotency_key")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_transactions_reverses_id")),
    )
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_transactions_compensation_id"), ["compensation_id"], unique=False)

    op.create_table(
        "recoveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("compensation_id", ID, nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("claim_id", ID, nullable=True),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "deducted", "voided", name="recoverystatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deducted_period", sa.String(length=7), nullable=True),
        sa.Column("deducted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deduction_event_id", sa.String(length=100), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_recoveries_amount_positive")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_recoveries_claim_id_claims"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["compensation_id"],
            ["compensations.id"],
            name=op.f("fk_recoveries_compensation_id_compensations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_recoveries_order_id_orders"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_recoveries_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recoveries")),
        sa.UniqueConstraint("compensation_id", name=op.f("uq_recoveries_compensation_id")),
    )
    with op.batch_alter_table("recoveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recoveries_seller_id_status_booked_at"), ["seller_id", "status", "booked_at"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("transaction_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("party_type", sa.String(length=10), nullable=True),
        sa.Column("party_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(party_type IS NULL AND party_id IS NULL) OR (party_type IN ('buyer', 'seller') AND party_id IS NOT NULL)",
            name=op.f("ck_ledger_entries_party_complete"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_entries_account_id_ledger_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_entries_transaction_id_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_id_party_type_party_id"),
            ["account_id", "party_type", "party_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_transaction_id"), ["transaction_id"], unique=False)

    op.bulk_insert(sa.table("ledger_accounts", *(sa.column(name) for name in ACCOUNTS[0])), ACCOUNTS)
    for table in APPEND_ONLY:
        _append_only(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_BALANCE_CHECK)
        op.execute(
            "CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries "
            "REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_unbalanced()"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_balanced ON ledger_entries")
        op.execute("DROP FUNCTION ledger_refuse_unbalanced()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    elif bind.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_account_id_party_type_party_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("recoveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recoveries_seller_id_status_booked_at"))

    op.drop_table("recoveries")
    with op.batch_alter_table("ledger_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transactions_compensation_id"))

    op.drop_table("ledger_transactions")
    with op.batch_alter_table("compensations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compensations_incident_id"))
        batch_op.drop_index(batch_op.f("ix_compensations_claim_id"))
        batch_op.drop_index(batch_op.f("ix_compensations_buyer_id_granted_at"))

    op.drop_table("compensations")
    with op.batch_alter_table("incident_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_incident_orders_pending",
            postgresql_where=sa.text("status = 'selected'"),
            sqlite_where=sa.text("status = 'selected'"),
        )

    op.drop_table("incident_orders")
    op.drop_table("settlement_events")
    op.drop_table("ledger_accounts")
    op.drop_table("incidents")
