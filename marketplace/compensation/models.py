"""Compensations paid to buyers, their recovery from sellers, the double-entry ledger, and settlement events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.errors import IllegalTransition
from marketplace.db import Base, BigIntPK, JSONDocument


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=20, values_callable=_values, validate_strings=True)


class CompensationForm(enum.StrEnum):
    """How the buyer is paid: marketplace points, a coupon, or money back."""

    POINTS = "points"
    COUPON = "coupon"
    CASH = "cash"


class CompensationStatus(enum.StrEnum):
    """Where a compensation stands: granted (the marketplace is told to pay), paid out, failed, or voided."""

    GRANTED = "granted"
    PAID_OUT = "paid_out"
    FAILED = "failed"  # the payout failed; the buyer is still owed and the marketplace may pay it later
    VOIDED = "voided"  # corrected by staff: the grant was reversed in the ledger


STATUS_LABELS = {
    CompensationStatus.GRANTED: _l("granted"),
    CompensationStatus.PAID_OUT: _l("paid out"),
    CompensationStatus.FAILED: _l("payout failed"),
    CompensationStatus.VOIDED: _l("voided"),
}

# The buyer is owed the amount in these states (the payable is open).
OWED_STATUSES = (CompensationStatus.GRANTED, CompensationStatus.FAILED)


class Compensation(Base):
    """What the platform paid a buyer at once, why (the rule and policy version), and whether it reached them."""

    __tablename__ = "compensations"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.Index(None, "buyer_id", "granted_at"),
        sa.Index(None, "claim_id"),
        sa.Index(None, "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The same claim and rule (or incident and order) never pays twice: writers insert ON CONFLICT DO NOTHING.
    idempotency_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("buyers.id", ondelete="RESTRICT"))
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    claim_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claims.id", ondelete="RESTRICT"))
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incidents.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    form: Mapped[CompensationForm] = mapped_column(_enum(CompensationForm))
    # ``seller_cancellation.seller_silent``, ``counterfeit.for_buyer``, ``incident``: the rule that computed it.
    rule: Mapped[str] = mapped_column(sa.String(60))
    # The compensation policy version for claim rules; None for an incident (its own rule is on the incident).
    policy_version: Mapped[int | None]
    # How the amount was computed (base, percent, minimum, cap, days…), shown to staff and the buyer.
    calculation: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    recoverable: Mapped[bool]
    status: Mapped[CompensationStatus] = mapped_column(_enum(CompensationStatus))
    effective_at: Mapped[datetime]  # when the rule took effect (the missed deadline, the decision, the refund)
    granted_at: Mapped[datetime]
    paid_out_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    voided_at: Mapped[datetime | None]

    def _require(self, *allowed: CompensationStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                _l("This is not possible while the compensation is %(status)s.", status=STATUS_LABELS[self.status]),
                current_status=self.status.value,
            )

    def require_status(self, *allowed: CompensationStatus) -> None:
        """Refuse the move unless the compensation is in one of ``allowed``."""
        self._require(*allowed)

    def void(self, *, now: datetime) -> None:
        """Staff correct a grant that should not have been made; the ledger reverses it."""
        self._require(*OWED_STATUSES)
        self.status = CompensationStatus.VOIDED
        self.voided_at = now

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a compensation."""
        return {
            "status": self.status.value,
            "amount": self.amount,
            "form": self.form.value,
            "rule": self.rule,
            "policy_version": self.policy_version,
            "claim_id": self.claim_id,
            "incident_id": self.incident_id,
            "recoverable": self.recoverable,
        }


class RecoveryStatus(enum.StrEnum):
    """A receivable from a seller: open (to deduct from its next settlement), deducted, or voided."""

    OPEN = "open"
    DEDUCTED = "deducted"
    VOIDED = "voided"


class Recovery(Base):
    """What a seller owes the platform for one recoverable compensation: a line of its next settlement deduction."""

    __tablename__ = "recoveries"
    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.Index(None, "seller_id", "status", "booked_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    compensation_id: Mapped[int] = mapped_column(sa.ForeignKey("compensations.id", ondelete="RESTRICT"), unique=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    claim_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claims.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[RecoveryStatus] = mapped_column(_enum(RecoveryStatus))
    booked_at: Mapped[datetime]
    # The settlement period (YYYY-MM, Asia/Seoul) it was deducted in, and the marketplace's confirming event.
    deducted_period: Mapped[str | None] = mapped_column(sa.String(7))
    deducted_at: Mapped[datetime | None]
    deduction_event_id: Mapped[str | None] = mapped_column(sa.String(100))


class LedgerAccount(Base):
    """An account of the chart; buyers' and sellers' shares of an account are told apart by the entry's party."""

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # The side on which the account normally carries its balance.
    normal_side: Mapped[str] = mapped_column(sa.String(6))


class LedgerTransaction(Base):
    """One balanced money movement: its entries add up to zero. Never changed; a correction reverses it."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (sa.Index(None, "compensation_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # A ledger transaction per idempotency key (DESIGN.md §9): a replayed grant or event posts nothing twice.
    idempotency_key: Mapped[str] = mapped_column(sa.String(140), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # grant, recovery, payout, deduction, reversal
    compensation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("compensations.id", ondelete="RESTRICT"))
    reverses_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"), unique=True
    )
    memo: Mapped[str] = mapped_column(sa.String(200), default="")
    effective_at: Mapped[datetime]
    posted_at: Mapped[datetime]
    posted_by: Mapped[str] = mapped_column(sa.String(80))


class LedgerEntry(Base):
    """One leg of a transaction: a signed amount on an account (positive = debit, negative = credit)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
        sa.CheckConstraint(
            "(party_type IS NULL AND party_id IS NULL) OR (party_type IN ('buyer', 'seller') AND party_id IS NOT NULL)",
            name="party_complete",
        ),
        sa.Index(None, "transaction_id"),
        sa.Index(None, "account_id", "party_type", "party_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id", ondelete="RESTRICT"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id", ondelete="RESTRICT"))
    party_type: Mapped[str | None] = mapped_column(sa.String(10))
    party_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    amount: Mapped[int] = mapped_column(sa.BigInteger)


class SettlementEventType(enum.StrEnum):
    """What the marketplace confirms: a payout to a buyer made or failed, a deduction from a seller made."""

    PAYOUT_COMPLETED = "payout.completed"
    PAYOUT_FAILED = "payout.failed"
    DEDUCTION_CONFIRMED = "deduction.confirmed"


class SettlementEvent(Base):
    """A settlement event as received, once per event id, with the answer given (replayed for the same payload)."""

    __tablename__ = "settlement_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    type: Mapped[SettlementEventType] = mapped_column(_enum(SettlementEventType))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    payload_hash: Mapped[str] = mapped_column(sa.String(64))
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
