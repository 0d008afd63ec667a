"""Violations recorded from claims: which, how many points, when, and never twice; what sanctions say back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.claims import sweeps as claim_sweeps
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from marketplace.core.signals import Signal, publish, subscribe, unsubscribe
from marketplace.sanctions import signals as sanction_signals
from marketplace.sanctions.models import SanctionRule, Stage, Violation, ViolationKind, ViolationState
from marketplace.sanctions.operations import decide_appeal, file_appeal, overturn_violation
from tests.sanctions.conftest import SYSTEM, Shop, escalate, kst, run_sweeps


class Recorder:
    """A subscriber that keeps the sanctions' signals it is told."""

    def __init__(self) -> None:
        self.seen: list[Signal] = []

    def __call__(self, session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
        self.seen.extend(signals)

    def named(self, name: str) -> list[Signal]:
        return [signal for signal in self.seen if signal.name == name]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    subscribe(*sanction_signals.ALL)(recorder)
    yield recorder
    unsubscribe(recorder, *sanction_signals.ALL)


def test_seller_cancellation_counts_two_points_from_the_cancellation(make_shop, recorder: Recorder) -> None:
    """Naver 품절취소: 2 points, effective at the cancellation, counted until 30 days later."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    claim = shop.cancel(order, at=kst(2026, 9, 21, 10, 0))
    [violation] = shop.violations()
    assert (violation.kind, violation.points, violation.state) == (
        ViolationKind.SELLER_CANCELLATION,
        2,
        ViolationState.ACTIVE,
    )
    assert (violation.claim_id, violation.order_id) == (claim.id, order.id)
    assert violation.occurred_at == kst(2026, 9, 21, 10, 0) and violation.expires_at == kst(2026, 10, 21, 10, 0)
    [recorded] = recorder.named(sanction_signals.VIOLATION_RECORDED)
    assert recorded.at == kst(2026, 9, 21, 10, 0)
    assert recorded.data == {
        "violation_id": violation.id,
        "seller_id": shop.seller.id,
        "kind": "seller_cancellation",
        "points": 2,
        "claim_id": claim.id,
        "order_id": order.id,
    }
    [changed] = recorder.named(sanction_signals.STANDING_CHANGED)
    assert changed.data == {
        "seller_id": shop.seller.id,
        "stage": "none",
        "may_list": True,
        "may_sell": True,
        "active_points": 2,
    }


def test_late_shipment_counts_one_point_and_three_once_four_business_days_late(session: Session, make_shop) -> None:
    """Ship-by 09-30: 1 point from then; still unshipped at the start of 10-07 (the 4th business day after: 10-01,
    10-02, 10-06, 10-07; 10-05 makes up for 개천절 on a Saturday), 3 points from then, audited at that instant."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 28, 10, 0), ship_by=kst(2026, 9, 30, 23, 59, 59))
    shop.ship_late(order)
    [violation] = shop.violations()
    assert (violation.kind, violation.points) == (ViolationKind.LATE_SHIPMENT, 1)
    assert violation.severe_due_at == kst(2026, 10, 7, 0, 0)
    run_sweeps(session, now=kst(2026, 10, 6, 23, 59, 59))
    assert shop.violations()[0].points == 1
    run_sweeps(session, now=kst(2026, 10, 9, 9, 0))  # caught up two days late: effective at 10-07 00:00 all the same
    raised = shop.violations()[0]
    assert (raised.points, raised.initial_points, raised.raised_at) == (3, 1, kst(2026, 10, 7, 0, 0))
    assert shop.standing().active_points == 3 and shop.standing().changed_at == kst(2026, 10, 7, 0, 0)
    audit = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "violation.raise")).one()
    assert audit.occurred_at == kst(2026, 10, 7, 0, 0) and audit.after["points"] == 3
    run_sweeps(session, now=kst(2026, 10, 10, 9, 0))
    assert shop.violations()[0].points == 3
    assert session.scalar(sa.select(sa.func.count()).where(AuditRecord.action == "violation.raise")) == 1


@pytest.mark.parametrize(
    ("shipped_at", "points"),
    [
        pytest.param(kst(2026, 10, 6, 18, 0), 1, id="shipped-3-business-days-late"),
        pytest.param(kst(2026, 10, 7, 9, 0), 3, id="shipped-4-business-days-late"),
    ],
)
def test_late_shipment_shipped_later_is_judged_by_how_late(
    session: Session, make_shop, shipped_at: datetime, points: int
) -> None:
    """Shipped on the 3rd business day after the ship-by: stays 1 point; on the 4th: 3 points."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 28, 10, 0), ship_by=kst(2026, 9, 30, 23, 59, 59))
    shop.ship_late(order)
    order.shipped_at = shipped_at
    session.commit()
    run_sweeps(session, now=kst(2026, 10, 12, 0, 0))
    assert shop.violations()[0].points == points


def test_confirmed_counterfeit_sends_the_seller_straight_to_restricted(make_shop, make_user) -> None:
    """10 points and selling restricted at the decision, from no stage at all."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    agent = Actor.for_user(make_user("agent"))
    shop.decide_counterfeit(order, at=kst(2026, 9, 25, 10, 0), staff=agent)
    [violation] = shop.violations()
    assert (violation.kind, violation.points) == (ViolationKind.COUNTERFEIT, 10)
    [sanction] = shop.sanctions()
    assert (sanction.stage, sanction.rule, sanction.starts_at, sanction.ends_at) == (
        Stage.RESTRICTED,
        SanctionRule.JUMP,
        kst(2026, 9, 25, 10, 0),
        None,
    )
    standing = shop.standing()
    assert (standing.stage, standing.may_list, standing.may_sell) == (Stage.RESTRICTED, False, False)


def test_counterfeit_decided_for_the_seller_records_nothing(session: Session, make_shop, make_user) -> None:
    """Staff found it genuine: no violation."""
    from marketplace.claims.operations import decide_claim

    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    claim = shop.complain(order, at=kst(2026, 9, 21, 10, 0), claim_type="counterfeit")
    agent = Actor.for_user(make_user("agent"))
    decide_claim(session, claim, "for_seller", amount=None, reason="정품", actor=agent, now=kst(2026, 9, 22, 10, 0))
    session.commit()
    assert shop.violations() == []


def test_overdue_refund_counts_one_point_at_the_refund_deadline(session: Session, make_shop) -> None:
    """전자상거래법 §18: a refund missing at its deadline is a violation effective at the deadline."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    claim = shop.cancel(order, at=kst(2026, 9, 21, 10, 0))
    claim_sweeps.mark_overdue_refunds(session, now=claim.refund_due_at + timedelta(days=2))
    session.commit()
    overdue = [v for v in shop.violations() if v.kind is ViolationKind.REFUND_OVERDUE]
    assert [(v.points, v.occurred_at) for v in overdue] == [(1, claim.refund_due_at)]


def test_escalation_after_the_buyer_rejected_records_nothing(session: Session, make_shop) -> None:
    """Only a seller that stayed silent missed its deadline; a rejected proposal is not the seller's violation."""
    from marketplace.claims.operations import propose_remedy, reject_proposal

    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    claim = shop.complain(order, at=kst(2026, 9, 21, 10, 0))
    propose_remedy(session, claim, "refund", amount=None, message="환불", actor=SYSTEM, now=kst(2026, 9, 21, 11, 0))
    reject_proposal(session, claim, reason="교환 원함", actor=SYSTEM, now=kst(2026, 9, 21, 12, 0))
    session.commit()
    assert shop.violations() == []


def _escalated(shop: Shop, claim_type: str) -> Signal:
    return Signal(
        claim_signals.ESCALATED,
        kst(2026, 9, 30, 23, 59, 59),
        {
            "claim_id": None,
            "claim_type": claim_type,
            "status": "escalated",
            "order_id": shop.orders[0].id,
            "seller_id": shop.seller.id,
            "reason": "seller_silent",
        },
    )


def test_a_claim_type_outside_the_allow_list_never_penalises_the_seller(session: Session, make_shop) -> None:
    """A platform-fault ``incident`` claim escalated past its deadline records no violation."""
    shop = make_shop()
    shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    publish(session, [_escalated(shop, "incident")], actor=SYSTEM, now=kst(2026, 10, 1, 0, 0))
    assert shop.violations() == []


def test_a_replayed_signal_never_doubles_a_violation(session: Session, make_shop) -> None:
    """The same escalation published twice (a replay, a second runner): one violation, 2 points."""
    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    claim = shop.complain(order, at=kst(2026, 9, 21, 10, 0))
    signal = claim_signals.claim_signals(
        session, claim_signals.ESCALATED, [(claim.id, claim.response_due_at, {"reason": "seller_silent"})]
    )
    publish(session, signal, actor=SYSTEM, now=kst(2026, 10, 1, 0, 0))
    publish(session, signal, actor=SYSTEM, now=kst(2026, 10, 1, 0, 1))
    session.commit()
    assert [(v.kind, v.points) for v in shop.violations()] == [(ViolationKind.RESPONSE_MISSED, 2)]
    assert shop.standing().active_points == 2 and shop.standing().revision == 1


def test_overturn_and_appeal_decision_tell_the_other_domains(
    session: Session, make_shop, make_user, recorder: Recorder
) -> None:
    """violation.overturned, sanction.ended (lifted) and appeal.decided, each with its contract's keys."""
    shop = make_shop()
    shop.paid(3, at=kst(2026, 9, 20, 10, 0))
    for index in range(3):
        shop.cancel(shop.orders[index], at=kst(2026, 9, 21, 10, index))
    [notice] = shop.sanctions()
    [imposed] = recorder.named(sanction_signals.SANCTION_IMPOSED)
    assert imposed.data["sanction_id"] == notice.id and imposed.data["stage"] == "notice"
    assert imposed.data["ends_at"] == kst(2026, 10, 21, 10, 2) and imposed.data["reason"] == "notice_threshold"
    seller_user = Actor.for_user(make_user("seller", seller=shop.seller))
    violation = shop.violations()[-1]
    appeal = file_appeal(
        session,
        violation=violation,
        root_cause="a",
        actions_taken="b",
        prevention="c",
        actor=seller_user,
        now=kst(2026, 9, 22, 10, 0),
    )
    agent = Actor.for_user(make_user("agent"))
    decide_appeal(session, appeal, "accepted", reason="인정", actor=agent, now=kst(2026, 9, 23, 10, 0))
    [overturned] = recorder.named(sanction_signals.VIOLATION_OVERTURNED)
    assert overturned.data == {
        "violation_id": violation.id,
        "seller_id": shop.seller.id,
        "kind": "seller_cancellation",
        "points": 2,
        "reason": "인정",
    }
    [ended] = recorder.named(sanction_signals.SANCTION_ENDED)
    assert ended.data == {
        "sanction_id": notice.id,
        "seller_id": shop.seller.id,
        "stage": "notice",
        "ended_at": kst(2026, 9, 23, 10, 0),
        "how": "lifted",
        "reason": "인정",
    }
    [decided] = recorder.named(sanction_signals.APPEAL_DECIDED)
    assert decided.data == {
        "appeal_id": appeal.id,
        "seller_id": shop.seller.id,
        "outcome": "accepted",
        "reason": "인정",
        "violation_id": violation.id,
        "sanction_id": None,
    }


def test_sanction_running_out_is_signalled_at_its_end(session: Session, make_shop, recorder: Recorder) -> None:
    """The notice's end (30 days) is told as expired, effective at its end, by the scheduler's catch-up."""
    shop = make_shop()
    shop.paid(3, at=kst(2026, 9, 20, 10, 0))
    for index in range(3):
        shop.cancel(shop.orders[index], at=kst(2026, 9, 21, 10, index))
    run_sweeps(session, now=kst(2026, 11, 1, 0, 0))
    [ended] = recorder.named(sanction_signals.SANCTION_ENDED)
    assert ended.at == kst(2026, 10, 21, 10, 2) and ended.data["how"] == "expired" and ended.data["reason"] is None


def test_overturning_an_expired_violation_is_allowed_but_not_twice(session: Session, make_shop, make_user) -> None:
    """An expired violation may still be overturned (it may justify a sanction); an overturned one may not."""
    from marketplace.core.errors import IllegalTransition

    shop = make_shop()
    [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
    shop.cancel(order, at=kst(2026, 9, 21, 10, 0))
    run_sweeps(session, now=kst(2026, 10, 22, 0, 0))
    supervisor = Actor.for_user(make_user("supervisor"))
    violation = session.get(Violation, shop.violations()[0].id)
    overturn_violation(session, violation, reason="오류", actor=supervisor, now=kst(2026, 10, 22, 0, 0))
    with pytest.raises(IllegalTransition):
        overturn_violation(session, violation, reason="또", actor=supervisor, now=kst(2026, 10, 22, 0, 1))


def _statements(session: Session, run) -> int:
    """How many SQL statements ``run`` sends."""
    count = 0

    def counted(*_args: object) -> None:
        nonlocal count
        count += 1

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count


def test_escalation_handler_is_set_based_whatever_the_batch_size(session: Session, make_shop) -> None:
    """Escalating 50 or 100 claims of as many sellers (one deadline) sends the same number of statements."""

    def seed(claims: int) -> None:
        for _index in range(claims):
            shop = make_shop()
            [order] = shop.paid(1, at=kst(2026, 9, 20, 10, 0))
            shop.complain(order, at=kst(2026, 9, 21, 10, 0))

    # Both batches above the size where audit records go by COPY on PostgreSQL (which no cursor event sees).
    seed(50)
    small = _statements(session, lambda: escalate(session, now=kst(2026, 9, 30, 9, 0)))
    seed(100)
    large = _statements(session, lambda: escalate(session, now=kst(2026, 10, 5, 9, 0)))
    assert small == large


def test_violations_recorded_one_by_one_are_judged_in_the_order_they_took_effect(session: Session, make_shop) -> None:
    """Three cancellations reported latest first in one transaction: judged at commit in time order, so the notice
    starts at the third (6 points), not at whichever arrived last."""
    from marketplace.claims.operations import open_seller_cancellation_claim
    from marketplace.orders.models import OrderStatus

    shop = make_shop()
    orders = shop.paid(3, at=kst(2026, 9, 20, 10, 0))
    for order, hour in zip(orders, (12, 10, 11), strict=True):
        order.status = OrderStatus.CANCELLED
        order.cancelled_at, order.cancel_initiated_by, order.cancel_reason = kst(2026, 9, 21, hour), "seller", "x"
        open_seller_cancellation_claim(session, order, actor=SYSTEM, now=kst(2026, 9, 21, 13, 0))
    session.commit()
    [notice] = shop.sanctions()
    assert (notice.stage, notice.starts_at, notice.points) == (Stage.NOTICE, kst(2026, 9, 21, 12), 6)
    assert shop.standing().active_points == 6 and shop.standing().revision == 1


def test_seller_cancellations_in_one_event_batch_are_recorded_and_judged(app, make_api_key, session: Session) -> None:
    """POST /events with three orders paid and cancelled by the seller: three violations, a notice, one webhook."""
    from marketplace.notifications.models import OutboxMessage
    from marketplace.sanctions.models import SellerStanding
    from marketplace.sellers.models import Seller
    from tests.claims.test_api import api_client
    from tests.orders.factory import cancelled_event, paid_event

    _key, secret = make_api_key("events:write")
    events = [paid_event(f"E-P{n}", f"O-{n}", seller_id="S-EV") for n in range(3)]
    events += [
        cancelled_event(
            f"E-C{n}",
            f"O-{n}",
            initiated_by="seller",
            reason="out_of_stock",
            occurred_at=f"2026-09-23T1{6 + n}:00:00+09:00",
        )
        for n in range(3)
    ]
    response = api_client(app, secret).post("/api/v1/events", {"events": events})
    assert response.status_code in (200, 207), response.json
    seller = session.scalars(sa.select(Seller).where(Seller.external_id == "S-EV")).one()
    kinds = session.scalars(sa.select(Violation.kind).where(Violation.seller_id == seller.id)).all()
    assert kinds == [ViolationKind.SELLER_CANCELLATION] * 3
    standing = session.get(SellerStanding, seller.id)
    assert (standing.stage, standing.active_points, standing.revision) == (Stage.NOTICE, 6, 1)
    webhooks = session.scalars(
        sa.select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.like(f"seller.standing_changed:{seller.id}:%")
        )
    ).all()
    assert webhooks == [f"seller.standing_changed:{seller.id}:1"]
