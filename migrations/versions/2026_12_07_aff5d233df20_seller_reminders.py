"""seller reminders planned when a claim opens, so that the reminder sweep reads only what is due

The sweep used to look up, on every run, each claim in the reminder window in the outbox (by its dedupe key) to
leave out those reminded already: at 1,000,000 claims that was most of a run with nothing due. The claims awaiting
the seller and not reminded yet get a row without a time; the sweep gives them theirs, or drops the row when the
deadline has passed (the business calendar is application code, which migrations do not run).

Revision ID: aff5d233df20
Revises: b4d8f2a6c1e3
Create Date: 2026-12-07 15:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "aff5d233df20"
down_revision: str | None = "b4d8f2a6c1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seller_reminders",
        sa.Column("claim_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_seller_reminders_claim_id_claims"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_seller_reminders")),
    )
    op.create_index(op.f("ix_seller_reminders_remind_at"), "seller_reminders", ["remind_at"], unique=False)
    op.execute(
        "INSERT INTO seller_reminders (claim_id, remind_at)"
        " SELECT c.id, NULL FROM claims c"
        " WHERE c.status = 'awaiting_seller'"
        " AND NOT EXISTS (SELECT 1 FROM outbox_messages m"
        " WHERE m.dedupe_key = 'claim.reminder:' || c.id || ':seller:' || c.seller_id)"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_seller_reminders_remind_at"), table_name="seller_reminders")
    op.drop_table("seller_reminders")
