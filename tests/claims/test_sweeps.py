"""The scheduler's follow-up: escalations, supervisor queue and overdue refunds, effective at the deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import sweeps
from marketplace.claims.models import Claim, ClaimEvent, ClaimStatus, Queue
from marketplace.claims.operations import file_claim
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from tests.conftest import START

KST = ZoneInfo("Asia/Seoul")


def _file(session: Session, make_order, make_user, *, at: datetime = START) -> Claim:
    order = make_order()
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "damaged", description="상자가 찢겨 왔어요", actor=buyer, now=at)
    session.commit()
    return claim


def test_filed_claim_gets_a_deadline_three_business_days_later(session: Session, make_order, make_user) -> None:
    """Filed on 2026-09-23 15:00 KST, the seller must answer by 2026-09-30 23:59:59 KST (Chuseok skipped)."""
    claim = _file(session, make_order, make_user)
    assert claim.status is ClaimStatus.AWAITING_SELLER
    assert claim.response_due_at.astimezone(KST) == datetime(2026, 9, 30, 23, 59, 59, tzinfo=KST)
    assert claim.response_policy_version == 0


def test_sweep_escalates_claim_past_deadline_at_the_deadline(session: Session, make_order, make_user) -> None:
    """At 2026-10-01 00:00 KST the silent seller's claim is escalated, effective at the deadline."""
    claim = _file(session, make_order, make_user)
    before = datetime(2026, 9, 30, 23, 59, 0, tzinfo=KST)
    assert sweeps.escalate_silent_sellers(session, now=before) == 0
    run_at = datetime(2026, 10, 1, 0, 0, tzinfo=KST)
    assert sweeps.escalate_silent_sellers(session, now=run_at) == 1
    assert sweeps.escalate_silent_sellers(session, now=run_at) == 0
    session.commit()
    session.refresh(claim)
    assert claim.status is ClaimStatus.ESCALATED and claim.queue is Queue.STAFF
    assert claim.escalated_at == claim.response_due_at
    # Staff have 2 business days from the deadline: 10-01 (Thu), 10-02 (Fri) → 2026-10-02 23:59:59 KST.
    assert claim.staff_due_at.astimezone(KST) == datetime(2026, 10, 2, 23, 59, 59, tzinfo=KST)
    entry = session.scalars(
        sa.select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "escalated")
    ).one()
    assert entry.actor == "system:scheduler" and entry.occurred_at == claim.response_due_at
    audit = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.entity_id == str(claim.id), AuditRecord.action == "claim.escalate")
    ).one()
    assert audit.occurred_at == claim.response_due_at and audit.after["status"] == "escalated"


def test_catch_up_after_downtime_uses_each_deadline(session: Session, make_order, make_user) -> None:
    """Three days down: each claim is escalated at its own deadline, not when the runner came back."""
    first = _file(session, make_order, make_user)
    second = _file(session, make_order, make_user, at=START + timedelta(days=8))
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 20, tzinfo=UTC), batch_size=1) == 1
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 20, tzinfo=UTC), batch_size=1) == 1
    session.commit()
    for claim in (first, second):
        session.refresh(claim)
        assert claim.escalated_at == claim.response_due_at
    assert first.response_due_at < second.response_due_at


def test_staff_deadline_sends_claim_to_supervisors(session: Session, make_order, make_user) -> None:
    """An escalated claim nobody decided moves to the supervisors' queue at the staff deadline."""
    claim = _file(session, make_order, make_user)
    sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 1, tzinfo=KST))
    session.commit()
    assert sweeps.queue_overdue_for_supervisors(session, now=datetime(2026, 10, 2, 23, 0, tzinfo=KST)) == 0
    assert sweeps.queue_overdue_for_supervisors(session, now=datetime(2026, 10, 6, 9, 0, tzinfo=KST)) == 1
    session.commit()
    session.refresh(claim)
    assert claim.queue is Queue.SUPERVISOR and claim.supervisor_queued_at == claim.staff_due_at


def test_unshipped_order_gets_a_late_shipment_claim_at_its_ship_by(session: Session, make_order) -> None:
    """An order still unshipped after its ship-by gets one late_shipment claim, effective at the ship-by."""
    ship_by = datetime(2026, 9, 30, 23, 59, 59, tzinfo=KST)
    order = make_order(ship_by=ship_by)
    assert sweeps.open_late_shipment_claims(session, now=datetime(2026, 9, 30, 23, 0, tzinfo=KST)) == 0
    assert sweeps.open_late_shipment_claims(session, now=datetime(2026, 10, 1, 0, 0, tzinfo=KST)) == 1
    assert sweeps.open_late_shipment_claims(session, now=datetime(2026, 10, 2, 0, 0, tzinfo=KST)) == 0
    session.commit()
    claim = session.scalars(sa.select(Claim).where(Claim.order_id == order.id)).one()
    assert claim.type.value == "late_shipment" and claim.opened_at == ship_by
    assert claim.opened_by == "system:scheduler"
    # 3 business days after the breach: 10-01, 10-02, 10-06 (10-03 is a Saturday holiday, 10-05 its substitute).
    assert claim.response_due_at.astimezone(KST) == datetime(2026, 10, 6, 23, 59, 59, tzinfo=KST)


def test_overdue_refund_is_marked_at_its_deadline(session: Session, make_order, make_user) -> None:
    """A refund missing at its statutory deadline is recorded as overdue, with business days late so far."""
    claim = _file(session, make_order, make_user)
    session.execute(
        sa.update(Claim)
        .where(Claim.id == claim.id)
        .values(
            refund_status="pending",
            refund_due_at=datetime(2026, 9, 30, 23, 59, 59, tzinfo=KST),
            refund_policy_version=0,
        )
    )
    session.commit()
    assert sweeps.mark_overdue_refunds(session, now=datetime(2026, 10, 2, 12, 0, tzinfo=KST)) == 1
    session.commit()
    session.refresh(claim)
    assert claim.refund_status.value == "overdue"
    assert claim.refund_overdue_at == claim.refund_due_at
    assert claim.refund_days_late == 2
