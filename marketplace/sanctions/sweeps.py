"""The sanction sweeps: violations leave the window, sanctions run out, late shipments become severe.

Like the claim sweeps: each batch locks its due rows (SKIP LOCKED on PostgreSQL), moves them with a guarded UPDATE,
audits them at the effective time (the end of the window, the sanction's end, the day the order became 4 business
days late) and refreshes the standing of the sellers concerned. A second runner skips the locked rows; a row moved by
another runner fails the guard. A runner that was down catches up with the right effective times.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.audit import AuditEntry, record_audit_many
from marketplace.core.auth import SCHEDULER
from marketplace.core.bulk import among, utc_iso
from marketplace.core.sweeps import DEFAULT_BATCH, lock_due_rows
from marketplace.orders.models import Order
from marketplace.sanctions.models import EndCause, Sanction, SanctionEnd, Violation, ViolationKind, ViolationState
from marketplace.sanctions.policy import sanction_policy_version
from marketplace.sanctions.rules import Evaluation
from marketplace.sanctions.standing import evaluate, record_ended, refresh_standings

violations = Violation.__table__
sanctions = Sanction.__table__
orders = Order.__table__


def _latest(rows: list[tuple[int, datetime]]) -> dict[int, datetime]:
    latest: dict[int, datetime] = {}
    for seller_id, at in rows:
        latest[seller_id] = max(latest.get(seller_id, at), at)
    return latest


def expire_violations(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Violations older than the window stop counting, effective at ``occurred_at + window``."""
    due = lock_due_rows(
        session,
        sa.select(violations.c.id)
        .where(violations.c.state == ViolationState.ACTIVE.value, violations.c.expires_at <= now)
        .order_by(violations.c.expires_at, violations.c.id)
        .limit(batch_size),
        of=violations,
    )
    if not due:
        return 0
    moved = session.execute(
        sa.update(violations)
        .where(among(violations.c.id, [row.id for row in due]), violations.c.state == ViolationState.ACTIVE.value)
        .values(state=ViolationState.EXPIRED.value)
        .returning(violations.c.id, violations.c.seller_id, violations.c.expires_at, violations.c.points)
    ).all()
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=SCHEDULER.ref,
                action="violation.expire",
                entity_type="violation",
                entity_id=str(row.id),
                before={"state": ViolationState.ACTIVE.value},
                after={"state": ViolationState.EXPIRED.value, "points": row.points},
                occurred_at=row.expires_at,
            )
            for row in moved
        ],
    )
    latest = _latest([(row.seller_id, row.expires_at) for row in moved])
    refresh_standings(session, latest, changed_at=latest, cause="violation_expired", actor=SCHEDULER, now=now)
    return len(moved)


def end_sanctions(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Sanctions whose time ran out end, effective at their end (``shortened`` when a supervisor shortened them)."""
    due = lock_due_rows(
        session,
        sa.select(sanctions.c.id)
        .where(sanctions.c.ended_at.is_(None), sanctions.c.ends_at.is_not(None), sanctions.c.ends_at <= now)
        .order_by(sanctions.c.ends_at, sanctions.c.id)
        .limit(batch_size),
        of=sanctions,
    )
    if not due:
        return 0
    moved = session.execute(
        sa.update(sanctions)
        .where(among(sanctions.c.id, [row.id for row in due]), sanctions.c.ended_at.is_(None))
        .values(
            ended_at=sanctions.c.ends_at,
            ended_how=sa.case(
                (sanctions.c.shortened_at.is_not(None), SanctionEnd.SHORTENED.value), else_=SanctionEnd.EXPIRED.value
            ),
            end_cause=sa.case(
                (sanctions.c.shortened_at.is_not(None), EndCause.SHORTENED.value), else_=EndCause.EXPIRED.value
            ),
            ended_by=SCHEDULER.ref,
        )
        .returning(
            sanctions.c.id,
            sanctions.c.seller_id,
            sanctions.c.stage,
            sanctions.c.ends_at,
            sanctions.c.ended_how,
            sanctions.c.end_reason,
        )
    ).all()
    record_ended(
        session,
        [
            {
                "id": row.id,
                "seller_id": row.seller_id,
                "stage": _value(row.stage),
                "ended_at": row.ends_at,
                "how": _value(row.ended_how),
                "reason": row.end_reason,
            }
            for row in moved
        ],
        actor=SCHEDULER,
        now=now,
    )
    latest = _latest([(row.seller_id, row.ends_at) for row in moved])
    refresh_standings(session, latest, changed_at=latest, cause="sanction_ended", actor=SCHEDULER, now=now)
    return len(moved)


def _value(value: object) -> str:
    return value.value if isinstance(value, enum.Enum) else str(value)


def raise_late_shipments(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """A late shipment 4+ business days late (still unshipped then, or shipped that late) counts its severe points.

    Effective when the order became that late; judged once, so it is never raised twice. Raising is judged like a new
    violation: it may move the seller one stage.
    """
    due = lock_due_rows(
        session,
        sa.select(violations.c.id)
        .where(
            violations.c.severe_due_at.is_not(None),
            violations.c.severe_judged_at.is_(None),
            violations.c.severe_due_at <= now,
        )
        .order_by(violations.c.severe_due_at, violations.c.id)
        .limit(batch_size),
        of=violations,
    )
    if not due:
        return 0
    ids = [row.id for row in due]
    rows = session.execute(
        sa.select(
            violations.c.id,
            violations.c.seller_id,
            violations.c.state,
            violations.c.points,
            violations.c.policy_version,
            violations.c.severe_due_at,
            orders.c.shipped_at,
            orders.c.cancelled_at,
        )
        .join_from(violations, orders, violations.c.order_id == orders.c.id, isouter=True)
        .where(among(violations.c.id, ids))
    ).all()
    # Severe points of the policy version the violation was recorded with, like its other points.
    severe_points = {
        version: sanction_policy_version(session, version).points_for(ViolationKind.LATE_SHIPMENT, severe=True)
        for version in {row.policy_version for row in rows}
    }
    to_raise: dict[int, list[int]] = {}
    for row in rows:
        if (
            _value(row.state) == ViolationState.ACTIVE.value
            and (row.shipped_at is None or row.shipped_at >= row.severe_due_at)
            and (row.cancelled_at is None or row.cancelled_at >= row.severe_due_at)
            and severe_points[row.policy_version] > row.points
        ):
            to_raise.setdefault(severe_points[row.policy_version], []).append(row.id)
    raised = []
    for points, raise_ids in to_raise.items():
        raised += session.execute(
            sa.update(violations)
            .where(among(violations.c.id, raise_ids), violations.c.severe_judged_at.is_(None))
            .values(points=points, raised_at=violations.c.severe_due_at, severe_judged_at=now)
            .returning(
                violations.c.id,
                violations.c.seller_id,
                violations.c.severe_due_at,
                violations.c.initial_points,
                violations.c.points,
            )
        ).all()
    session.execute(
        sa.update(violations)
        .where(among(violations.c.id, ids), violations.c.severe_judged_at.is_(None))
        .values(severe_judged_at=now)
    )
    if not raised:
        return len(ids)
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=SCHEDULER.ref,
                action="violation.raise",
                entity_type="violation",
                entity_id=str(row.id),
                before={"points": row.initial_points},
                after={"points": row.points, "raised_at": utc_iso(row.severe_due_at)},
                occurred_at=row.severe_due_at,
            )
            for row in raised
        ],
    )
    reached = evaluate(
        session,
        [
            Evaluation(
                seller_id=row.seller_id,
                at=row.severe_due_at,
                kind=ViolationKind.LATE_SHIPMENT.value,
                violation_id=row.id,
                trigger_key=f"raise:{row.id}",
                through_id=None,
            )
            for row in raised
        ],
        cause="violation_raised",
        actor=SCHEDULER,
        now=now,
    )
    latest = _latest([(row.seller_id, row.severe_due_at) for row in raised])
    refresh_standings(
        session,
        latest,
        changed_at=latest,
        cause="violation_raised",
        actor=SCHEDULER,
        now=now,
        history_from=reached,
    )
    return len(ids)
