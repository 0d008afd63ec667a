"""The claim sweeps: what fell due is processed in bounded batches, with the deadline as its effective time.

Each batch locks its due rows (SKIP LOCKED on PostgreSQL), moves them with one guarded UPDATE per distinct
deadline (deadlines end at 23:59:59 local, so a batch has few of them), then appends the timeline and the audit
records in batched inserts. A second runner skips the locked rows; a row moved by another runner fails the guard.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.claims.models import Claim, ClaimEvent, ClaimStatus, EscalationReason, Queue, RefundStatus, Visibility
from marketplace.claims.operations import open_late_shipment_claim
from marketplace.claims.policy import current_sla
from marketplace.core.audit import AuditEntry, jsonable, record_audit_many
from marketplace.core.auth import SCHEDULER, Actor
from marketplace.core.bulk import among
from marketplace.core.queries import business_calendar
from marketplace.core.signals import publish
from marketplace.core.sweeps import DEFAULT_BATCH, lock_due_rows
from marketplace.orders.models import Order, OrderStatus

claims = Claim.__table__
claim_events = ClaimEvent.__table__
orders = Order.__table__


def open_late_shipment_claims(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Orders still unshipped at their ship-by get a late_shipment claim, effective at the ship-by."""
    due = lock_due_rows(
        session,
        sa.select(orders.c.id)
        .where(
            orders.c.status == OrderStatus.PAID.value,
            orders.c.late_shipment_checked_at.is_(None),
            orders.c.ship_by < now,
        )
        .order_by(orders.c.ship_by, orders.c.id)
        .limit(batch_size),
        of=orders,
    )
    if not due:
        return 0
    ids = [row.id for row in due]
    opened = 0
    for order in session.scalars(sa.select(Order).where(Order.id.in_(ids)).order_by(Order.ship_by, Order.id)):
        if open_late_shipment_claim(session, order, actor=SCHEDULER, now=now) is not None:
            opened += 1
    # Checked once: an order shipped late later, or a claim settled, never reopens the same breach.
    session.execute(sa.update(orders).where(among(orders.c.id, ids)).values(late_shipment_checked_at=now))
    return len(ids)


def escalate_silent_sellers(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Escalate claims whose seller response deadline passed: the default ruling against a silent seller."""
    due = lock_due_rows(
        session,
        sa.select(claims.c.id, claims.c.response_due_at)
        .where(claims.c.status == ClaimStatus.AWAITING_SELLER.value, claims.c.response_due_at < now)
        .order_by(claims.c.response_due_at, claims.c.id)
        .limit(batch_size),
        of=claims,
    )
    if not due:
        return 0
    sla = current_sla(session)
    calendar = business_calendar(session)
    by_deadline: dict[datetime, list[int]] = defaultdict(list)
    for claim_id, deadline in due:
        by_deadline[deadline].append(claim_id)
    moved: list[tuple[int, datetime, datetime]] = []
    for deadline, ids in by_deadline.items():
        staff_due = calendar.add_business_days(deadline, sla.staff_decision_business_days)
        result = session.execute(
            sa.update(claims)
            .where(among(claims.c.id, ids), claims.c.status == ClaimStatus.AWAITING_SELLER.value)
            .values(
                status=ClaimStatus.ESCALATED.value,
                escalated_at=deadline,
                escalation_reason=EscalationReason.SELLER_SILENT.value,
                queue=Queue.STAFF.value,
                staff_due_at=staff_due,
                staff_policy_version=sla.version,
            )
            .returning(claims.c.id)
        )
        moved.extend((claim_id, deadline, staff_due) for claim_id in result.scalars())
    _append(
        session,
        "escalated",
        "claim.escalate",
        [
            (
                claim_id,
                deadline,
                {
                    "reason": EscalationReason.SELLER_SILENT.value,
                    "staff_due_at": staff_due,
                    "policy_version": sla.version,
                },
                {"status": ClaimStatus.AWAITING_SELLER.value},
                {"status": ClaimStatus.ESCALATED.value, "queue": Queue.STAFF.value, "staff_due_at": staff_due},
            )
            for claim_id, deadline, staff_due in moved
        ],
        actor=SCHEDULER,
    )
    _publish(
        session,
        claim_signals.ESCALATED,
        [
            (
                claim_id,
                deadline,
                {"reason": EscalationReason.SELLER_SILENT.value, "staff_due_at": staff_due, "message": ""},
            )
            for claim_id, deadline, staff_due in moved
        ],
        now=now,
    )
    return len(moved)


def queue_overdue_for_supervisors(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Escalated claims whose staff deadline passed go to the supervisors' queue."""
    due = lock_due_rows(
        session,
        sa.select(claims.c.id, claims.c.staff_due_at)
        .where(
            claims.c.status == ClaimStatus.ESCALATED.value,
            claims.c.queue == Queue.STAFF.value,
            claims.c.staff_due_at < now,
        )
        .order_by(claims.c.staff_due_at, claims.c.id)
        .limit(batch_size),
        of=claims,
    )
    if not due:
        return 0
    result = session.execute(
        sa.update(claims)
        .where(
            among(claims.c.id, [row.id for row in due]),
            claims.c.status == ClaimStatus.ESCALATED.value,
            claims.c.queue == Queue.STAFF.value,
        )
        .values(queue=Queue.SUPERVISOR.value, supervisor_queued_at=claims.c.staff_due_at)
        .returning(claims.c.id, claims.c.staff_due_at)
    ).all()
    _append(
        session,
        "supervisor_queued",
        "claim.queue_supervisor",
        [
            (row.id, row.staff_due_at, None, {"queue": Queue.STAFF.value}, {"queue": Queue.SUPERVISOR.value})
            for row in result
        ],
        actor=SCHEDULER,
        visibility=Visibility.STAFF,
    )
    _publish(
        session,
        claim_signals.SUPERVISOR_QUEUED,
        [(row.id, row.staff_due_at, {"staff_due_at": row.staff_due_at}) for row in result],
        now=now,
    )
    return len(result)


def mark_overdue_refunds(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Refunds still missing at their statutory deadline are recorded as overdue (전자상거래법 §18)."""
    due = lock_due_rows(
        session,
        sa.select(claims.c.id, claims.c.refund_due_at)
        .where(claims.c.refund_status == RefundStatus.PENDING.value, claims.c.refund_due_at < now)
        .order_by(claims.c.refund_due_at, claims.c.id)
        .limit(batch_size),
        of=claims,
    )
    if not due:
        return 0
    calendar = business_calendar(session)
    by_deadline: dict[datetime, list[int]] = defaultdict(list)
    for claim_id, deadline in due:
        by_deadline[deadline].append(claim_id)
    moved: list[tuple[int, datetime, int]] = []
    for deadline, ids in by_deadline.items():
        # Business days late so far; replaced by the final figure when the refund is reported.
        days_late = calendar.business_days_between(deadline, now)
        result = session.execute(
            sa.update(claims)
            .where(among(claims.c.id, ids), claims.c.refund_status == RefundStatus.PENDING.value)
            .values(refund_status=RefundStatus.OVERDUE.value, refund_overdue_at=deadline, refund_days_late=days_late)
            .returning(claims.c.id)
        )
        moved.extend((claim_id, deadline, days_late) for claim_id in result.scalars())
    _append(
        session,
        "refund_overdue",
        "claim.refund_overdue",
        [
            (
                claim_id,
                deadline,
                {"refund_due_at": deadline, "days_late": days_late},
                {"refund_status": RefundStatus.PENDING.value},
                {"refund_status": RefundStatus.OVERDUE.value, "refund_days_late": days_late},
            )
            for claim_id, deadline, days_late in moved
        ],
        actor=SCHEDULER,
    )
    _publish(
        session,
        claim_signals.REFUND_OVERDUE,
        [
            (claim_id, deadline, {"refund_due_at": deadline, "days_late": days_late})
            for claim_id, deadline, days_late in moved
        ],
        now=now,
    )
    return len(moved)


def _publish(session: Session, name: str, moves: list[tuple[int, datetime, dict]], *, now: datetime) -> None:
    """Tell the other domains what the batch moved, effective at each claim's deadline."""
    if moves:
        publish(session, claim_signals.claim_signals(session, name, moves), actor=SCHEDULER, now=now)


def _append(
    session: Session,
    kind: str,
    action: str,
    rows: list[tuple[int, datetime, dict | None, dict, dict]],
    *,
    actor: Actor,
    visibility: Visibility = Visibility.PARTIES,
) -> None:
    """The timeline entries and audit records of a batch, in two batched inserts."""
    if not rows:
        return
    session.execute(
        sa.insert(claim_events),
        [
            {
                "claim_id": claim_id,
                "occurred_at": at,
                "actor": actor.ref,
                "kind": kind,
                "message": "",
                "visibility": visibility.value,
                "data": jsonable(data) if data is not None else None,
            }
            for claim_id, at, data, _before, _after in rows
        ],
    )
    # The audit time is the effective time (the deadline), like the timeline: a catch-up run after downtime
    # records when the rule took effect, not when the runner came back.
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action=action,
                entity_type="claim",
                entity_id=str(claim_id),
                before=jsonable(before),
                after=jsonable(after),
                occurred_at=at,
            )
            for claim_id, at, _data, before, after in rows
        ],
    )
