"""Claims, their timeline and their evidence."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.errors import IllegalTransition
from marketplace.db import Base, BigIntPK, JSONDocument
from marketplace.orders.models import Order


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=24, values_callable=_values, validate_strings=True)


class ClaimType(enum.StrEnum):
    """What the seller is said to have done wrong."""

    SELLER_CANCELLATION = "seller_cancellation"
    LATE_SHIPMENT = "late_shipment"
    NON_DELIVERY = "non_delivery"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    COUNTERFEIT = "counterfeit"
    # A mass incident (marketplace/incidents): opened and settled by the platform at once, never the seller's
    # breach; it publishes no claim.* signal and takes no seller response.
    PLATFORM_INCIDENT = "platform_incident"


# The types a seller is asked to answer (the SLA policy gives each its response days).
SELLER_ANSWERED_TYPES = tuple(claim_type for claim_type in ClaimType if claim_type is not ClaimType.PLATFORM_INCIDENT)

# Buyers file these themselves; the first two are opened by the platform from order events.
BUYER_FILED_TYPES = frozenset(
    {ClaimType.NON_DELIVERY, ClaimType.DAMAGED, ClaimType.WRONG_ITEM, ClaimType.NOT_AS_DESCRIBED, ClaimType.COUNTERFEIT}
)


class ClaimStatus(enum.StrEnum):
    """Where a claim stands. The first three are open; the rest are settled."""

    AWAITING_SELLER = "awaiting_seller"
    SELLER_PROPOSED = "seller_proposed"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = (ClaimStatus.AWAITING_SELLER, ClaimStatus.SELLER_PROPOSED, ClaimStatus.ESCALATED)

STATUS_LABELS = {
    ClaimStatus.AWAITING_SELLER: _l("awaiting the seller"),
    ClaimStatus.SELLER_PROPOSED: _l("waiting for the buyer's answer to a proposal"),
    ClaimStatus.ESCALATED: _l("escalated to staff"),
    ClaimStatus.RESOLVED: _l("resolved"),
    ClaimStatus.CLOSED: _l("closed"),
    ClaimStatus.WITHDRAWN: _l("withdrawn"),
}


class Remedy(enum.StrEnum):
    """What a seller offers."""

    SHIP_NOW = "ship_now"
    REPLACE = "replace"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    EXPLANATION = "explanation"


class Decision(enum.StrEnum):
    """How staff decide an escalated claim."""

    FOR_BUYER = "for_buyer"
    FOR_SELLER = "for_seller"
    PARTIAL = "partial"


class EscalationReason(enum.StrEnum):
    """Why a claim went to staff."""

    SELLER_SILENT = "seller_silent"
    BUYER_REJECTED = "buyer_rejected"
    STAFF = "staff"


class RefundStatus(enum.StrEnum):
    """The statutory refund after a seller cancellation (전자상거래법 §18)."""

    PENDING = "pending"
    MET = "met"
    OVERDUE = "overdue"
    LATE = "late"  # refunded, but after the deadline


class Queue(enum.StrEnum):
    """Whose desk an escalated claim is on."""

    STAFF = "staff"
    SUPERVISOR = "supervisor"


class Claim(Base):
    """A buyer's grievance against a seller over one order, with its deadlines."""

    __tablename__ = "claims"
    __table_args__ = (
        # One open claim per order and type; settled ones may repeat.
        sa.Index(
            "uq_claims_open_order_type",
            "order_id",
            "type",
            unique=True,
            postgresql_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
            sqlite_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
        ),
        # The sweeps: each reads only what can fall due, so its cost follows the due rows, not the table.
        sa.Index(
            "ix_claims_response_due",
            "response_due_at",
            postgresql_where=sa.text("status = 'awaiting_seller'"),
            sqlite_where=sa.text("status = 'awaiting_seller'"),
        ),
        sa.Index(
            "ix_claims_staff_due",
            "staff_due_at",
            postgresql_where=sa.text("status = 'escalated' AND queue = 'staff'"),
            sqlite_where=sa.text("status = 'escalated' AND queue = 'staff'"),
        ),
        sa.Index(
            "ix_claims_refund_due",
            "refund_due_at",
            postgresql_where=sa.text("refund_status = 'pending'"),
            sqlite_where=sa.text("refund_status = 'pending'"),
        ),
        # The staff queue: open claims by the deadline running now (overdue first), read in index order.
        sa.Index(
            "ix_claims_queue",
            "due_at",
            "id",
            postgresql_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
            sqlite_where=sa.text("status IN ('awaiting_seller', 'seller_proposed', 'escalated')"),
        ),
        sa.Index(None, "assignee_id", "status"),
        # The dashboard's "breaches today": each breach kind by when it happened.
        sa.Index(
            "ix_claims_silent_escalations",
            "escalated_at",
            postgresql_where=sa.text("escalation_reason = 'seller_silent'"),
            sqlite_where=sa.text("escalation_reason = 'seller_silent'"),
        ),
        sa.Index(
            "ix_claims_supervisor_queued",
            "supervisor_queued_at",
            postgresql_where=sa.text("supervisor_queued_at IS NOT NULL"),
            sqlite_where=sa.text("supervisor_queued_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_claims_refund_overdue",
            "refund_overdue_at",
            postgresql_where=sa.text("refund_overdue_at IS NOT NULL"),
            sqlite_where=sa.text("refund_overdue_at IS NOT NULL"),
        ),
        sa.Index(None, "seller_id", "status"),
        sa.Index(None, "buyer_id", "status"),
        # The scorecard reads the claims of the orders it recomputes.
        sa.Index(None, "order_id"),
        sa.CheckConstraint("proposal_amount IS NULL OR proposal_amount >= 0", name="proposal_amount_not_negative"),
        sa.CheckConstraint("decision_amount IS NULL OR decision_amount >= 0", name="decision_amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    type: Mapped[ClaimType] = mapped_column(_enum(ClaimType))
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("buyers.id", ondelete="RESTRICT"))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(sa.String(80))

    # The seller's turn; deadline and the SLA policy version that produced it.
    response_due_at: Mapped[datetime]
    response_policy_version: Mapped[int]

    # 전자상거래법 §15②/§18: the refund of a prepaid order the seller cancelled.
    refund_status: Mapped[RefundStatus | None] = mapped_column(_enum(RefundStatus))
    refund_due_at: Mapped[datetime | None]
    refund_policy_version: Mapped[int | None]
    refund_overdue_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    refund_days_late: Mapped[int | None]

    proposal_remedy: Mapped[Remedy | None] = mapped_column(_enum(Remedy))
    proposal_amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    proposal_message: Mapped[str | None] = mapped_column(sa.Text)
    proposed_at: Mapped[datetime | None]

    escalated_at: Mapped[datetime | None]
    escalation_reason: Mapped[EscalationReason | None] = mapped_column(_enum(EscalationReason))
    queue: Mapped[Queue | None] = mapped_column(_enum(Queue))
    staff_due_at: Mapped[datetime | None]
    staff_policy_version: Mapped[int | None]
    supervisor_queued_at: Mapped[datetime | None]

    decision: Mapped[Decision | None] = mapped_column(_enum(Decision))
    decision_amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(80))

    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]

    # The staff member working the claim, if one took it.
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The deadline running now: the seller's while awaiting it, staff's while escalated, none otherwise. Kept by
    # the database from the status, so that no writer (the API, a sweep's bulk UPDATE) can leave it stale.
    due_at: Mapped[datetime | None] = mapped_column(
        sa.Computed(
            "CASE WHEN status = 'awaiting_seller' THEN response_due_at WHEN status = 'escalated' THEN staff_due_at END",
            persisted=True,
        )
    )

    order: Mapped[Order] = relationship(lazy="joined", innerjoin=True)

    @property
    def is_open(self) -> bool:
        """Whether the claim still needs someone to act."""
        return self.status in OPEN_STATUSES

    def require_status(self, *allowed: ClaimStatus) -> None:
        """Refuse the action unless the claim is in one of ``allowed``."""
        self._require(*allowed)

    def _require(self, *allowed: ClaimStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                _l("This action is not possible while the claim is %(status)s.", status=STATUS_LABELS[self.status]),
                current_status=self.status.value,
            )

    def propose(self, remedy: Remedy, *, amount: int | None, message: str, now: datetime) -> None:
        """The seller answers with a remedy; the buyer's turn."""
        self._require(ClaimStatus.AWAITING_SELLER)
        self.status = ClaimStatus.SELLER_PROPOSED
        self.proposal_remedy = remedy
        self.proposal_amount = amount
        self.proposal_message = message
        self.proposed_at = now

    def accept(self, *, now: datetime) -> None:
        """The buyer accepts the seller's proposal: resolved."""
        self._require(ClaimStatus.SELLER_PROPOSED)
        self.status = ClaimStatus.RESOLVED
        self.resolved_at = now

    def escalate(self, reason: EscalationReason, *, at: datetime, staff_due_at: datetime, policy_version: int) -> None:
        """Hand the claim to staff, with their own deadline."""
        self._require(ClaimStatus.AWAITING_SELLER, ClaimStatus.SELLER_PROPOSED)
        self.status = ClaimStatus.ESCALATED
        self.escalated_at = at
        self.escalation_reason = reason
        self.queue = Queue.STAFF
        self.staff_due_at = staff_due_at
        self.staff_policy_version = policy_version

    def queue_for_supervisor(self, *, at: datetime) -> None:
        """Staff missed their deadline: a supervisor takes the claim."""
        self._require(ClaimStatus.ESCALATED)
        if self.queue is Queue.SUPERVISOR:
            raise IllegalTransition(_l("The claim is already with a supervisor."), current_status=self.status.value)
        self.queue = Queue.SUPERVISOR
        self.supervisor_queued_at = at

    def decide(self, decision: Decision, *, amount: int | None, by: str, now: datetime) -> None:
        """Staff decide: the claim is resolved."""
        self._require(*OPEN_STATUSES)
        self.status = ClaimStatus.RESOLVED
        self.decision = decision
        self.decision_amount = amount
        self.decided_at = now
        self.decided_by = by
        self.resolved_at = now

    def withdraw(self, *, now: datetime) -> None:
        """The buyer drops the claim."""
        self._require(*OPEN_STATUSES)
        self.status = ClaimStatus.WITHDRAWN
        self.withdrawn_at = now

    def close(self, *, now: datetime) -> None:
        """Archive a resolved claim."""
        self._require(ClaimStatus.RESOLVED)
        self.status = ClaimStatus.CLOSED
        self.closed_at = now

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a claim."""
        return {
            "type": self.type.value,
            "status": self.status.value,
            "order_id": self.order_id,
            "queue": self.queue.value if self.queue else None,
            "response_due_at": self.response_due_at,
            "refund_status": self.refund_status.value if self.refund_status else None,
            "refund_due_at": self.refund_due_at,
            "staff_due_at": self.staff_due_at,
            "proposal_remedy": self.proposal_remedy.value if self.proposal_remedy else None,
            "proposal_amount": self.proposal_amount,
            "decision": self.decision.value if self.decision else None,
            "decision_amount": self.decision_amount,
        }


class Visibility(enum.StrEnum):
    """Who sees a timeline entry."""

    PARTIES = "parties"  # buyer, seller and staff
    STAFF = "staff"  # internal notes


class ClaimEvent(Base):
    """One step on a claim's timeline: who, what, when, and a message."""

    __tablename__ = "claim_events"
    __table_args__ = (sa.Index(None, "claim_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(80))
    kind: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text, default="")
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class Evidence(Base):
    """A file attached to a claim (a photo of the damage, a tracking screenshot)."""

    __tablename__ = "claim_evidence"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claims.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_key: Mapped[str] = mapped_column(sa.String(255))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[str] = mapped_column(sa.String(80))
