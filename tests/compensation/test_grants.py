"""Buyers are compensated at once when a claim escalates against a silent seller, is decided, or is refunded late."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import sweeps
from marketplace.claims.models import Claim
from marketplace.claims.operations import decide_claim, file_claim, open_seller_cancellation_claim
from marketplace.compensation import ledger
from marketplace.compensation.models import Compensation, Recovery
from marketplace.core.auth import SCHEDULER, Actor
from marketplace.notifications.models import OutboxMessage
from marketplace.orders.models import CancelInitiator, OrderStatus
from tests.conftest import START

KST = ZoneInfo("Asia/Seoul")
ESCALATION_RUN = datetime(2026, 10, 1, 0, 0, tzinfo=KST)


def _seller_cancellation(session: Session, make_order, *, amount: int) -> Claim:
    """2026-09-23 15:00 KST: the seller cancels a paid order for out_of_stock (the Gmarket story)."""
    order = make_order(amount=amount, paid_at=datetime(2026, 9, 23, 5, 0, tzinfo=UTC))
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = START
    order.cancel_initiated_by = CancelInitiator.SELLER
    order.cancel_reason = "out_of_stock"
    claim = open_seller_cancellation_claim(session, order, actor=SCHEDULER, now=START)
    session.commit()
    return claim


def _compensations(session: Session, claim: Claim) -> list[Compensation]:
    session.expire_all()
    return list(session.scalars(sa.select(Compensation).where(Compensation.claim_id == claim.id)))


def test_silent_seller_escalation_grants_five_percent_as_points(session: Session, make_order) -> None:
    """₩389,000 order, seller silent: 5 % = ₩19,450 (within ₩3,000–₩20,000), points, recovered from the seller."""
    claim = _seller_cancellation(session, make_order, amount=389_000)
    assert sweeps.escalate_silent_sellers(session, now=ESCALATION_RUN) == 1
    session.commit()
    [compensation] = _compensations(session, claim)
    assert (compensation.amount, compensation.form.value, compensation.status.value) == (19_450, "points", "granted")
    assert compensation.rule == "seller_cancellation.seller_silent" and compensation.policy_version == 0
    assert compensation.recoverable and compensation.effective_at == claim.response_due_at
    assert compensation.calculation == {
        "method": "percent_of_order",
        "base": 389_000,
        "percent": "5",
        "minimum": 3000,
        "cap": 20000,
    }
    recovery = session.scalars(sa.select(Recovery).where(Recovery.compensation_id == compensation.id)).one()
    assert (recovery.amount, recovery.seller_id, recovery.status.value) == (19_450, claim.seller_id, "open")
    assert ledger.balances(session, party_type="buyer", party_id=claim.buyer_id) == {"buyer_payable": -19_450}
    assert ledger.balances(session, party_type="seller", party_id=claim.seller_id) == {"seller_receivable": 19_450}
    webhook = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == f"compensation.granted:{compensation.id}")
    ).one()
    assert webhook.topic == "compensation.granted" and webhook.payload["data"]["amount"] == 19_450


def test_small_order_gets_the_minimum_and_large_order_the_cap(session: Session, make_order) -> None:
    """5 % of ₩20,000 is ₩1,000, raised to ₩3,000; 5 % of ₩1,000,000 is ₩50,000, capped at ₩20,000."""
    small = _seller_cancellation(session, make_order, amount=20_000)
    large = _seller_cancellation(session, make_order, amount=1_000_000)
    sweeps.escalate_silent_sellers(session, now=ESCALATION_RUN)
    session.commit()
    assert [c.amount for c in _compensations(session, small)] == [3_000]
    assert [c.amount for c in _compensations(session, large)] == [20_000]


def test_replayed_escalation_signal_never_pays_twice(session: Session, make_order) -> None:
    """The same claim and rule: the second grant is skipped by its idempotency key."""
    from marketplace.claims import signals as claim_signals
    from marketplace.core.signals import publish

    claim = _seller_cancellation(session, make_order, amount=100_000)
    sweeps.escalate_silent_sellers(session, now=ESCALATION_RUN)
    session.commit()
    session.refresh(claim)
    signal = claim_signals.claim_signal(
        claim_signals.ESCALATED,
        claim,
        at=claim.escalated_at,
        reason="seller_silent",
        staff_due_at=claim.staff_due_at,
        message="",
    )
    publish(session, [signal, signal], actor=SCHEDULER, now=ESCALATION_RUN)
    session.commit()
    assert [c.amount for c in _compensations(session, claim)] == [5_000]


def test_decision_for_buyer_pays_the_decision_amount_in_cash(session: Session, make_order, make_user) -> None:
    """Staff decide a damaged-goods claim for the buyer with ₩70,000: the buyer is granted ₩70,000 cash."""
    order = make_order(amount=100_000)
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "damaged", description="깨져서 왔어요", actor=buyer, now=START)
    agent = Actor.for_user(make_user("agent"))
    decide_claim(session, claim, "for_buyer", amount=70_000, reason="사진 확인", actor=agent, now=START)
    session.commit()
    [compensation] = _compensations(session, claim)
    assert (compensation.amount, compensation.form.value, compensation.rule) == (70_000, "cash", "damaged.for_buyer")


def test_decision_after_silent_refund_pays_only_the_difference(session: Session, make_order, make_user) -> None:
    """A silent seller's non-delivery refund (₩100,000) already covers a decision of ₩100,000: nothing more."""
    order = make_order(amount=100_000)
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "non_delivery", description="안 왔어요", actor=buyer, now=START)
    session.commit()
    sweeps.escalate_silent_sellers(session, now=ESCALATION_RUN)
    session.commit()
    session.refresh(claim)
    agent = Actor.for_user(make_user("supervisor"))
    decide_claim(session, claim, "for_buyer", amount=100_000, reason="미배송", actor=agent, now=ESCALATION_RUN)
    session.commit()
    assert [(c.rule, c.amount) for c in _compensations(session, claim)] == [("non_delivery.seller_silent", 100_000)]


def test_decision_for_seller_pays_nothing(session: Session, make_order, make_user) -> None:
    """Nobody is compensated when staff side with the seller."""
    order = make_order(amount=100_000)
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "wrong_item", description="다른 색", actor=buyer, now=START)
    decide_claim(
        session,
        claim,
        "for_seller",
        amount=None,
        reason="같은 상품",
        actor=Actor.for_user(make_user("agent")),
        now=START,
    )
    session.commit()
    assert _compensations(session, claim) == []
