"""foundation: accounts, api keys, holidays, audit, sellers, buyers, orders

Revision ID: 94000032ee05
Revises:
Create Date: 2026-11-22 14:31:10.328275
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "94000032ee05"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# The audit log is append-only: the database itself refuses to change or remove a record.
PG_REFUSE_CHANGE = """
CREATE FUNCTION marketplace_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$
"""


def _append_only(table: str) -> None:
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
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "audit_records",
        sa.Column("id", ID, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("before", JSON_DOC, nullable=True),
        sa.Column("after", JSON_DOC, nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_records_hash")),
    )
    op.create_index(op.f("ix_audit_records_actor"), "audit_records", ["actor"], unique=False)
    op.create_index(
        op.f("ix_audit_records_entity_type_entity_id_id"),
        "audit_records",
        ["entity_type", "entity_id", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_records_occurred_at"), "audit_records", ["occurred_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_REFUSE_CHANGE)
    _append_only("audit_records")

    op.create_table(
        "buyers",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_buyers_external_id")),
    )
    op.create_table(
        "platform_holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_platform_holidays")),
    )
    op.create_table(
        "sellers",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sellers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_sellers_external_id")),
    )
    op.create_table(
        "orders",
        sa.Column("id", ID, nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("seller_id", ID, nullable=False),
        sa.Column("buyer_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("items", JSON_DOC, nullable=False),
        sa.Column(
            "status",
            sa.Enum("paid", "shipped", "delivered", "cancelled", name="orderstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ship_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_orders_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f("fk_orders_buyer_id_buyers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_orders_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_orders_external_id")),
    )
    op.create_index(op.f("ix_orders_buyer_id_paid_at"), "orders", ["buyer_id", "paid_at"], unique=False)
    op.create_index(op.f("ix_orders_seller_id_paid_at"), "orders", ["seller_id", "paid_at"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum("agent", "supervisor", "admin", "seller", "buyer", name="role", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("seller_id", ID, nullable=True),
        sa.Column("buyer_id", ID, nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(role = 'seller' AND seller_id IS NOT NULL AND buyer_id IS NULL) OR (role = 'buyer' AND buyer_id IS NOT NULL AND seller_id IS NULL) OR (role IN ('agent', 'supervisor', 'admin') AND seller_id IS NULL AND buyer_id IS NULL)",
            name=op.f("ck_users_role_binding"),
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f("fk_users_buyer_id_buyers"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["sellers.id"], name=op.f("fk_users_seller_id_sellers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_buyer_id"), "users", ["buyer_id"], unique=False)
    op.create_index(op.f("ix_users_seller_id"), "users", ["seller_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_users_seller_id"), table_name="users")
    op.drop_index(op.f("ix_users_buyer_id"), table_name="users")

    op.drop_table("users")
    op.drop_index(op.f("ix_orders_seller_id_paid_at"), table_name="orders")
    op.drop_index(op.f("ix_orders_buyer_id_paid_at"), table_name="orders")

    op.drop_table("orders")
    op.drop_table("sellers")
    op.drop_table("platform_holidays")
    op.drop_table("buyers")
    op.drop_index(op.f("ix_audit_records_occurred_at"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_entity_type_entity_id_id"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_actor"), table_name="audit_records")

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_records_append_only ON audit_records")
        op.execute("DROP TRIGGER audit_records_no_truncate ON audit_records")
    elif bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER audit_records_no_update")
        op.execute("DROP TRIGGER audit_records_no_delete")
    op.drop_table("audit_records")
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION marketplace_refuse_change()")
    op.drop_table("api_keys")
