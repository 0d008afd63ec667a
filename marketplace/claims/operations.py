"""Write use-cases for claims. Each takes ``actor`` and ``now``, audits, writes the timeline, and flushes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims import queries
from marketplace.claims import signals as claim_signals
from marketplace.claims.models import (
    BUYER_FILED_TYPES,
    OPEN_STATUSES,
    Claim,
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    Decision,
    EscalationReason,
    Queue,
    RefundStatus,
    Remedy,
    Visibility,
)
from marketplace.claims.policy import current_sla
from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.errors import Conflict, Forbidden, ValidationFailed
from marketplace.core.models import Role, User
from marketplace.core.money import ensure_won
from marketplace.core.queries import business_calendar
from marketplace.core.signals import publish
from marketplace.orders.models import Order, OrderStatus

MAX_TEXT = 4000


def add_timeline(
    session: Session,
    claim: Claim,
    kind: str,
    *,
    actor: Actor,
    at: datetime,
    message: str = "",
    visibility: Visibility = Visibility.PARTIES,
    data: dict[str, Any] | None = None,
) -> ClaimEvent:
    """Append a step to the claim's timeline."""
    entry = ClaimEvent(
        claim_id=claim.id,
        occurred_at=at,
        actor=actor.ref,
        kind=kind,
        message=message,
        visibility=visibility,
        data=data,
    )
    session.add(entry)
    return entry


def _audit(session: Session, claim: Claim, action: str, before: dict | None, *, actor: Actor, now: datetime) -> None:
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=action,
        entity_type="claim",
        entity_id=claim.id,
        before=before,
        after=claim.snapshot(),
        now=now,
    )


def _text(value: str | None, field: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_l("Write a few words about what happened."), field=field)
    if len(value) > MAX_TEXT:
        raise ValidationFailed(_l("At most %(count)d characters.", count=MAX_TEXT), field=field)
    return value


def _open_claim(
    session: Session,
    order: Order,
    claim_type: ClaimType,
    *,
    opened_at: datetime,
    description: str,
    actor: Actor,
    now: datetime,
    refund_due: bool = False,
) -> Claim:
    sla = current_sla(session)
    calendar = business_calendar(session)
    claim = Claim(
        type=claim_type,
        status=ClaimStatus.AWAITING_SELLER,
        order_id=order.id,
        seller_id=order.seller_id,
        buyer_id=order.buyer_id,
        description=description,
        opened_at=opened_at,
        opened_by=actor.ref,
        response_due_at=calendar.add_business_days(opened_at, sla.seller_response_days(claim_type)),
        response_policy_version=sla.version,
    )
    if refund_due:
        # 전자상거래법 §15②/§18: a prepaid order is refunded within 3 business days (of payment, per the issue).
        claim.refund_due_at = calendar.add_business_days(order.paid_at, sla.refund_business_days)
        claim.refund_policy_version = sla.version
        claim.refund_status = RefundStatus.PENDING
        _apply_refund(claim, order, calendar=calendar)
    claim.order = order
    try:
        with session.begin_nested():
            session.add(claim)
    except sa.exc.IntegrityError:
        # Another transaction opened the same claim a moment ago (the partial unique index said so).
        raise Conflict(_l("An open claim of this type already exists for this order."), field="type") from None
    add_timeline(
        session,
        claim,
        "opened",
        actor=actor,
        at=opened_at,
        message=description,
        data={"response_due_at": claim.response_due_at.isoformat(), "policy_version": sla.version},
    )
    _audit(session, claim, "claim.open", None, actor=actor, now=now)
    _publish(
        session,
        claim_signals.OPENED,
        claim,
        at=opened_at,
        actor=actor,
        now=now,
        opened_by=actor.ref,
        description=description,
        response_due_at=claim.response_due_at,
        refund_due_at=claim.refund_due_at,
        cancel_reason=order.cancel_reason if claim_type is ClaimType.SELLER_CANCELLATION else None,
        ship_by=order.ship_by if claim_type is ClaimType.LATE_SHIPMENT else None,
    )
    if claim.refunded_at is not None:
        # The refund was reported before the cancellation reached us: it is judged at once.
        _publish_refunded(session, claim, order, actor=actor, now=now)
    return claim


def _publish(
    session: Session, name: str, claim: Claim, *, at: datetime, actor: Actor, now: datetime, **extra: Any
) -> None:
    publish(session, [claim_signals.claim_signal(name, claim, at=at, **extra)], actor=actor, now=now)


def open_seller_cancellation_claim(session: Session, order: Order, *, actor: Actor, now: datetime) -> Claim | None:
    """A seller cancelled a paid order on its own: open the claim, effective at the cancellation (idempotent)."""
    if order.cancelled_at is None or order.cancel_initiated_by != "seller":
        return None
    if queries.open_claim_for(session, order.id, ClaimType.SELLER_CANCELLATION) is not None:
        return None
    reason = order.cancel_reason or "other"
    try:
        return _open_claim(
            session,
            order,
            ClaimType.SELLER_CANCELLATION,
            opened_at=order.cancelled_at,
            description=f"seller cancelled the order ({reason})",
            actor=actor,
            now=now,
            refund_due=True,
        )
    except Conflict:
        # Another transaction opened it in the meantime: the claim exists, which is all this asks for.
        return None


def open_late_shipment_claim(session: Session, order: Order, *, actor: Actor, now: datetime) -> Claim | None:
    """The order was not shipped by its ship-by: open the claim, effective at the ship-by (idempotent)."""
    if order.ship_by is None or queries.open_claim_for(session, order.id, ClaimType.LATE_SHIPMENT) is not None:
        return None
    try:
        return _open_claim(
            session,
            order,
            ClaimType.LATE_SHIPMENT,
            opened_at=order.ship_by,
            description="not shipped by the promised date",
            actor=actor,
            now=now,
        )
    except Conflict:
        return None


def file_claim(
    session: Session,
    order: Order,
    claim_type: ClaimType | str,
    *,
    description: str,
    actor: Actor,
    now: datetime,
) -> Claim:
    """A buyer (or staff on their behalf) files a claim on an order."""
    try:
        claim_type = ClaimType(claim_type)
    except ValueError:
        raise ValidationFailed(
            _l("Choose one of: %(types)s.", types=", ".join(sorted(t.value for t in BUYER_FILED_TYPES))), field="type"
        ) from None
    if claim_type not in BUYER_FILED_TYPES:
        raise ValidationFailed(_l("This kind of claim is opened by the platform, not filed."), field="type")
    description = _text(description, "description", required=True)
    if order.status is OrderStatus.CANCELLED and claim_type is not ClaimType.COUNTERFEIT:
        raise ValidationFailed(_l("This order was cancelled; there is nothing to claim."), field="order_id")
    if queries.open_claim_for(session, order.id, claim_type) is not None:
        raise Conflict(_l("An open claim of this type already exists for this order."), field="type")
    return _open_claim(session, order, claim_type, opened_at=now, description=description, actor=actor, now=now)


def propose_remedy(
    session: Session,
    claim: Claim,
    remedy: Remedy | str,
    *,
    amount: int | None,
    message: str,
    actor: Actor,
    now: datetime,
) -> Claim:
    """The seller answers: ship now, replace, refund, partial refund (with amount) or explain."""
    try:
        remedy = Remedy(remedy)
    except ValueError:
        raise ValidationFailed(
            _l("Choose one of: %(remedies)s.", remedies=", ".join(r.value for r in Remedy)), field="remedy"
        ) from None
    message = _text(message, "message", required=remedy is Remedy.EXPLANATION)
    if remedy is Remedy.PARTIAL_REFUND:
        amount = _amount(amount, claim, "amount", required=True)
        if amount == 0 or amount >= claim.order.amount:
            raise ValidationFailed(
                _l("A partial refund is more than 0 and less than the order amount."), field="amount"
            )
    elif amount is not None:
        raise ValidationFailed(_l("Only a partial refund takes an amount."), field="amount")
    before = claim.snapshot()
    claim.propose(remedy, amount=amount, message=message, now=now)
    add_timeline(
        session,
        claim,
        "proposed",
        actor=actor,
        at=now,
        message=message,
        data={"remedy": remedy.value, "amount": amount},
    )
    _audit(session, claim, "claim.propose", before, actor=actor, now=now)
    _publish(
        session,
        claim_signals.PROPOSED,
        claim,
        at=now,
        actor=actor,
        now=now,
        remedy=remedy.value,
        amount=amount,
        message=message,
    )
    return claim


def accept_proposal(session: Session, claim: Claim, *, actor: Actor, now: datetime) -> Claim:
    """The buyer accepts the seller's proposal: resolved."""
    before = claim.snapshot()
    claim.accept(now=now)
    add_timeline(session, claim, "accepted", actor=actor, at=now)
    _audit(session, claim, "claim.accept", before, actor=actor, now=now)
    _publish(
        session,
        claim_signals.ACCEPTED,
        claim,
        at=now,
        actor=actor,
        now=now,
        remedy=claim.proposal_remedy.value if claim.proposal_remedy else None,
        amount=claim.proposal_amount,
    )
    return claim


def reject_proposal(session: Session, claim: Claim, *, reason: str, actor: Actor, now: datetime) -> Claim:
    """The buyer rejects the proposal: staff take over, with their own deadline."""
    reason = _text(reason, "reason", required=True)
    claim.require_status(ClaimStatus.SELLER_PROPOSED)
    before = claim.snapshot()
    _escalate(session, claim, EscalationReason.BUYER_REJECTED, at=now)
    add_timeline(session, claim, "rejected", actor=actor, at=now, message=reason)
    add_timeline(session, claim, "escalated", actor=actor, at=now, data=_escalation_data(claim))
    _audit(session, claim, "claim.reject", before, actor=actor, now=now)
    _publish(session, claim_signals.REJECTED, claim, at=now, actor=actor, now=now, reason=reason)
    _publish_escalated(session, claim, message=reason, actor=actor, now=now)
    return claim


def withdraw_claim(session: Session, claim: Claim, *, reason: str, actor: Actor, now: datetime) -> Claim:
    """The buyer drops the claim."""
    reason = _text(reason, "reason")
    before = claim.snapshot()
    claim.withdraw(now=now)
    add_timeline(session, claim, "withdrawn", actor=actor, at=now, message=reason)
    _audit(session, claim, "claim.withdraw", before, actor=actor, now=now)
    _publish(session, claim_signals.WITHDRAWN, claim, at=now, actor=actor, now=now, reason=reason)
    return claim


def escalate_claim(session: Session, claim: Claim, *, reason: str, actor: Actor, now: datetime) -> Claim:
    """Staff take a claim at any time, with a reason."""
    reason = _text(reason, "reason", required=True)
    before = claim.snapshot()
    _escalate(session, claim, EscalationReason.STAFF, at=now)
    add_timeline(session, claim, "escalated", actor=actor, at=now, message=reason, data=_escalation_data(claim))
    _audit(session, claim, "claim.escalate", before, actor=actor, now=now)
    _publish_escalated(session, claim, message=reason, actor=actor, now=now)
    return claim


def _publish_escalated(session: Session, claim: Claim, *, message: str, actor: Actor, now: datetime) -> None:
    _publish(
        session,
        claim_signals.ESCALATED,
        claim,
        at=claim.escalated_at or now,
        actor=actor,
        now=now,
        reason=claim.escalation_reason.value if claim.escalation_reason else None,
        staff_due_at=claim.staff_due_at,
        message=message,
    )


def decide_claim(
    session: Session,
    claim: Claim,
    decision: Decision | str,
    *,
    amount: int | None,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Claim:
    """Staff decide for the buyer, for the seller, or partly; a supervisor's queue needs a supervisor."""
    try:
        decision = Decision(decision)
    except ValueError:
        raise ValidationFailed(
            _l("Choose one of: %(decisions)s.", decisions=", ".join(d.value for d in Decision)), field="decision"
        ) from None
    reason = _text(reason, "reason", required=True)
    if claim.queue is Queue.SUPERVISOR and actor.role is Role.AGENT:
        raise Forbidden(_l("This claim is in the supervisors' queue."))
    if decision is Decision.FOR_SELLER:
        if amount is not None:
            raise ValidationFailed(_l("A decision for the seller takes no amount."), field="amount")
    else:
        amount = _amount(amount, claim, "amount", required=True)
        if decision is Decision.PARTIAL and (amount == 0 or amount >= claim.order.amount):
            raise ValidationFailed(
                _l("A partial decision is more than 0 and less than the order amount."), field="amount"
            )
    before = claim.snapshot()
    claim.decide(decision, amount=amount, by=actor.ref, now=now)
    add_timeline(
        session,
        claim,
        "decided",
        actor=actor,
        at=now,
        message=reason,
        data={"decision": decision.value, "amount": amount},
    )
    _audit(session, claim, "claim.decide", before, actor=actor, now=now)
    _publish(
        session,
        claim_signals.DECIDED,
        claim,
        at=now,
        actor=actor,
        now=now,
        decision=decision.value,
        amount=amount,
        reason=reason,
        decided_by=actor.ref,
    )
    return claim


def close_claim(session: Session, claim: Claim, *, actor: Actor, now: datetime) -> Claim:
    """Archive a resolved claim."""
    before = claim.snapshot()
    claim.close(now=now)
    add_timeline(session, claim, "closed", actor=actor, at=now)
    _audit(session, claim, "claim.close", before, actor=actor, now=now)
    _publish(session, claim_signals.CLOSED, claim, at=now, actor=actor, now=now)
    return claim


def assign_claim(session: Session, claim: Claim, assignee: User | None, *, actor: Actor, now: datetime) -> Claim:
    """Give an open claim to a staff member (or take it back to the common queue)."""
    claim.require_status(*OPEN_STATUSES)
    if assignee is not None and (not assignee.role.is_staff or not assignee.is_active):
        raise ValidationFailed(_l("Claims are assigned to active staff members only."), field="assignee")
    new_id = assignee.id if assignee is not None else None
    if claim.assignee_id == new_id:
        return claim
    before = {"assignee_id": claim.assignee_id}
    claim.assignee_id = new_id
    add_timeline(
        session,
        claim,
        "assigned",
        actor=actor,
        at=now,
        message=assignee.name if assignee is not None else "",
        visibility=Visibility.STAFF,
        data={"assignee_id": new_id},
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="claim.assign",
        entity_type="claim",
        entity_id=claim.id,
        before=before,
        after={"assignee_id": new_id},
        now=now,
    )
    return claim


def add_note(session: Session, claim: Claim, *, message: str, actor: Actor, now: datetime) -> ClaimEvent:
    """An internal note on the claim, seen by staff only."""
    message = _text(message, "message", required=True)
    entry = add_timeline(session, claim, "note", actor=actor, at=now, message=message, visibility=Visibility.STAFF)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="claim.note",
        entity_type="claim",
        entity_id=claim.id,
        before=None,
        after={"note": entry.id},
        now=now,
    )
    return entry


def record_refund(session: Session, order: Order, *, actor: Actor, now: datetime) -> None:
    """The marketplace reports the refund: the statutory refund obligation is met, or met late."""
    if order.refunded_at is None:
        return
    calendar = business_calendar(session)
    for claim in queries.claims_awaiting_refund(session, order.id):
        before = claim.snapshot()
        _apply_refund(claim, order, calendar=calendar)
        add_timeline(
            session,
            claim,
            "refunded",
            actor=actor,
            at=order.refunded_at,
            data={"amount": order.refunded_amount, "days_late": claim.refund_days_late},
        )
        _audit(session, claim, "claim.refund", before, actor=actor, now=now)
        _publish_refunded(session, claim, order, actor=actor, now=now)


def _publish_refunded(session: Session, claim: Claim, order: Order, *, actor: Actor, now: datetime) -> None:
    _publish(
        session,
        claim_signals.REFUNDED,
        claim,
        at=order.refunded_at,
        actor=actor,
        now=now,
        refund_status=claim.refund_status.value if claim.refund_status else None,
        refund_due_at=claim.refund_due_at,
        refunded_at=order.refunded_at,
        refunded_amount=order.refunded_amount,
        days_late=claim.refund_days_late,
    )


def _apply_refund(claim: Claim, order: Order, *, calendar: Any) -> None:
    if order.refunded_at is None or claim.refund_due_at is None:
        return
    claim.refunded_at = order.refunded_at
    if order.refunded_at <= claim.refund_due_at:
        claim.refund_status = RefundStatus.MET
        claim.refund_days_late = 0
    else:
        claim.refund_status = RefundStatus.LATE
        claim.refund_days_late = calendar.business_days_between(claim.refund_due_at, order.refunded_at)


def _escalate(session: Session, claim: Claim, reason: EscalationReason, *, at: datetime) -> None:
    sla = current_sla(session)
    staff_due = business_calendar(session).add_business_days(at, sla.staff_decision_business_days)
    claim.escalate(reason, at=at, staff_due_at=staff_due, policy_version=sla.version)


def _escalation_data(claim: Claim) -> dict[str, Any]:
    return {
        "reason": claim.escalation_reason.value if claim.escalation_reason else None,
        "staff_due_at": claim.staff_due_at.isoformat() if claim.staff_due_at else None,
        "policy_version": claim.staff_policy_version,
    }


def _amount(value: Any, claim: Claim, field: str, *, required: bool) -> int:
    if value is None:
        if required:
            raise ValidationFailed(_l("Give the amount in won."), field=field)
        return 0
    try:
        amount = ensure_won(value, field=field)
    except (TypeError, ValueError):
        raise ValidationFailed(_l("The amount must be a whole number of won, zero or more."), field=field) from None
    if amount > claim.order.amount:
        raise ValidationFailed(_l("The amount cannot exceed the order amount."), field=field)
    return amount


__all__ = [
    "OPEN_STATUSES",
    "accept_proposal",
    "add_note",
    "assign_claim",
    "close_claim",
    "decide_claim",
    "escalate_claim",
    "file_claim",
    "open_late_shipment_claim",
    "open_seller_cancellation_claim",
    "propose_remedy",
    "record_refund",
    "reject_proposal",
    "withdraw_claim",
]
