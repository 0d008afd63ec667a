"""Write use-cases for claims. Each takes ``actor`` and ``now``, audits, writes the timeline, and flushes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
from marketplace.claims.policy import SlaPolicy, current_sla
from marketplace.core.audit import AuditEntry, jsonable, record_audit, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.calendar import BusinessCalendar
from marketplace.core.errors import Conflict, Forbidden, ValidationFailed
from marketplace.core.models import Role, User
from marketplace.core.money import ensure_won
from marketplace.core.queries import business_calendar
from marketplace.core.signals import Signal, publish
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
    record_audit_many(session, [_audit_entry(claim, action, before, actor=actor, now=now)])


def _audit_entry(claim: Claim, action: str, before: dict | None, *, actor: Actor, now: datetime) -> AuditEntry:
    """The audit record of a move of ``claim`` (flushed: it has its id), as it stands now."""
    return AuditEntry(
        actor=actor.ref,
        action=action,
        entity_type="claim",
        entity_id=str(claim.id),
        before=jsonable(before) if before is not None else None,
        after=jsonable(claim.snapshot()),
        occurred_at=now,
    )


def _text(value: str | None, field: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_l("Write a few words about what happened."), field=field)
    if len(value) > MAX_TEXT:
        raise ValidationFailed(_l("At most %(count)d characters.", count=MAX_TEXT), field=field)
    return value


def _new_claim(
    order: Order,
    claim_type: ClaimType,
    *,
    opened_at: datetime,
    description: str,
    actor: Actor,
    sla: SlaPolicy,
    calendar: BusinessCalendar,
    refund_due: bool = False,
) -> Claim:
    """A claim on ``order`` as it opens, not yet added: its deadlines from ``sla``, a refund already made judged."""
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
    return claim


def _opened_entry(session: Session, claim: Claim, *, actor: Actor) -> ClaimEvent:
    return add_timeline(
        session,
        claim,
        "opened",
        actor=actor,
        at=claim.opened_at,
        message=claim.description,
        data={"response_due_at": claim.response_due_at.isoformat(), "policy_version": claim.response_policy_version},
    )


def _opened_signals(claim: Claim, order: Order) -> list[Signal]:
    """``claim.opened``, and ``claim.refunded`` too when the refund was reported before the claim opened."""
    signals = [
        claim_signals.claim_signal(
            claim_signals.OPENED,
            claim,
            at=claim.opened_at,
            opened_by=claim.opened_by,
            description=claim.description,
            response_due_at=claim.response_due_at,
            refund_due_at=claim.refund_due_at,
            cancel_reason=order.cancel_reason if claim.type is ClaimType.SELLER_CANCELLATION else None,
            ship_by=order.ship_by if claim.type is ClaimType.LATE_SHIPMENT else None,
        )
    ]
    if claim.refunded_at is not None:
        # The refund was reported before the cancellation reached us: it is judged at once.
        signals.append(_refunded_signal(claim, order))
    return signals


def _open_claim(session: Session, claim: Claim, *, actor: Actor, now: datetime) -> Claim:
    """Add a claim made by ``_new_claim``, with its timeline entry, audit record and signals."""
    try:
        with session.begin_nested():
            session.add(claim)
    except sa.exc.IntegrityError:
        # Another transaction opened the same claim a moment ago (the partial unique index said so).
        raise Conflict(_l("An open claim of this type already exists for this order."), field="type") from None
    _opened_entry(session, claim, actor=actor)
    _refund_reported_first(session, claim, claim.order, actor=actor)
    _audit(session, claim, "claim.open", None, actor=actor, now=now)
    publish(session, _opened_signals(claim, claim.order), actor=actor, now=now)
    return claim


def _publish(
    session: Session, name: str, claim: Claim, *, at: datetime, actor: Actor, now: datetime, **extra: Any
) -> None:
    publish(session, [claim_signals.claim_signal(name, claim, at=at, **extra)], actor=actor, now=now)


def _cancelled_by_seller(order: Order) -> bool:
    return order.cancelled_at is not None and order.cancel_initiated_by == "seller"


def _seller_cancellation_claim(order: Order, *, actor: Actor, sla: SlaPolicy, calendar: BusinessCalendar) -> Claim:
    return _new_claim(
        order,
        ClaimType.SELLER_CANCELLATION,
        opened_at=order.cancelled_at,
        description=f"seller cancelled the order ({order.cancel_reason or 'other'})",
        actor=actor,
        sla=sla,
        calendar=calendar,
        refund_due=True,
    )


def open_seller_cancellation_claim(session: Session, order: Order, *, actor: Actor, now: datetime) -> Claim | None:
    """A seller cancelled a paid order on its own: open the claim, effective at the cancellation (idempotent)."""
    if not _cancelled_by_seller(order):
        return None
    if queries.open_claim_for(session, order.id, ClaimType.SELLER_CANCELLATION) is not None:
        return None
    sla, calendar = current_sla(session), business_calendar(session)
    claim = _seller_cancellation_claim(order, actor=actor, sla=sla, calendar=calendar)
    try:
        return _open_claim(session, claim, actor=actor, now=now)
    except Conflict:
        # Another transaction opened it in the meantime: the claim exists, which is all this asks for.
        return None


def open_late_shipment_claim(session: Session, order: Order, *, actor: Actor, now: datetime) -> Claim | None:
    """The order was not shipped by its ship-by: open the claim, effective at the ship-by (idempotent)."""
    if order.ship_by is None or queries.open_claim_for(session, order.id, ClaimType.LATE_SHIPMENT) is not None:
        return None
    claim = _new_claim(
        order,
        ClaimType.LATE_SHIPMENT,
        opened_at=order.ship_by,
        description="not shipped by the promised date",
        actor=actor,
        sla=current_sla(session),
        calendar=business_calendar(session),
    )
    try:
        return _open_claim(session, claim, actor=actor, now=now)
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
    claim = _new_claim(
        order,
        claim_type,
        opened_at=now,
        description=description,
        actor=actor,
        sla=current_sla(session),
        calendar=business_calendar(session),
    )
    return _open_claim(session, claim, actor=actor, now=now)


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
        _refunded_entry(session, claim, order, actor=actor)
        _audit(session, claim, "claim.refund", before, actor=actor, now=now)
        publish(session, [_refunded_signal(claim, order)], actor=actor, now=now)


def follow_order_changes(
    session: Session,
    orders: Sequence[Order],
    *,
    cancelled_by_seller: Collection[int],
    refunded: Collection[int],
    actor: Actor,
    now: datetime,
) -> None:
    """For a batch of changed orders at once, what ``open_seller_cancellation_claim`` (for the orders whose ids are
    in ``cancelled_by_seller``) and then ``record_refund`` (those in ``refunded``) do one order after the other.

    The same claims, timeline entries, audit records and signals, in the same order, but set-based: one read of
    the open claims and one of the claims awaiting a refund, one insert of the new claims, one of the timeline
    entries, one batched audit append and one ``publish`` of every signal.
    """
    opening = [order for order in orders if order.id in cancelled_by_seller and _cancelled_by_seller(order)]
    refunding = [order for order in orders if order.id in refunded and order.refunded_at is not None]
    if not opening and not refunding:
        return
    calendar = business_calendar(session)
    new: dict[int, Claim] = {}
    if opening:
        sla = current_sla(session)
        taken = queries.orders_with_open_claim(session, [order.id for order in opening], ClaimType.SELLER_CANCELLATION)
        for order in opening:
            if order.id not in taken:
                new[order.id] = _seller_cancellation_claim(order, actor=actor, sla=sla, calendar=calendar)
    awaiting = queries.claims_awaiting_refund_of(session, [order.id for order in refunding])
    if new:
        try:
            with session.begin_nested():
                session.add_all(new.values())
        except sa.exc.IntegrityError:
            # Another transaction opened one of them a moment ago: judge each order on its own after all.
            for order in orders:
                if order.id in cancelled_by_seller:
                    open_seller_cancellation_claim(session, order, actor=actor, now=now)
                if order.id in refunded:
                    record_refund(session, order, actor=actor, now=now)
            return
    audit: list[AuditEntry] = []
    signals: list[Signal] = []
    for order in orders:
        claim = new.get(order.id) if order.id in cancelled_by_seller else None
        if claim is not None:
            _opened_entry(session, claim, actor=actor)
            _refund_reported_first(session, claim, order, actor=actor)
            audit.append(_audit_entry(claim, "claim.open", None, actor=actor, now=now))
            signals += _opened_signals(claim, order)
        if order.id not in refunded or order.refunded_at is None:
            continue
        for claim in awaiting.get(order.id, ()):
            before = claim.snapshot()
            _apply_refund(claim, order, calendar=calendar)
            _refunded_entry(session, claim, order, actor=actor)
            audit.append(_audit_entry(claim, "claim.refund", before, actor=actor, now=now))
            signals.append(_refunded_signal(claim, order))
    session.flush()
    record_audit_many(session, audit)
    publish(session, signals, actor=actor, now=now)


def _refunded_entry(session: Session, claim: Claim, order: Order, *, actor: Actor) -> ClaimEvent:
    return add_timeline(
        session,
        claim,
        "refunded",
        actor=actor,
        at=order.refunded_at,
        data={"amount": order.refunded_amount, "days_late": claim.refund_days_late},
    )


def _refund_reported_first(session: Session, claim: Claim, order: Order, *, actor: Actor) -> None:
    """A claim opened after its refund was reported shows the refund in its timeline too, as when it came later."""
    if claim.refunded_at is not None:
        _refunded_entry(session, claim, order, actor=actor)


def _refunded_signal(claim: Claim, order: Order) -> Signal:
    return claim_signals.claim_signal(
        claim_signals.REFUNDED,
        claim,
        at=order.refunded_at,
        refund_status=claim.refund_status.value if claim.refund_status else None,
        refund_due_at=claim.refund_due_at,
        refunded_at=order.refunded_at,
        refunded_amount=order.refunded_amount,
        days_late=claim.refund_days_late,
    )


def _apply_refund(claim: Claim, order: Order, *, calendar: BusinessCalendar) -> None:
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
    "follow_order_changes",
    "open_late_shipment_claim",
    "open_seller_cancellation_claim",
    "propose_remedy",
    "record_refund",
    "reject_proposal",
    "withdraw_claim",
]
