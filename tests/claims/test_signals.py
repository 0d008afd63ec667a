"""Claims tell the other domains what happened: one signal per move, with the claim's identity and effective time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.claims import sweeps
from marketplace.claims.operations import (
    accept_proposal,
    decide_claim,
    escalate_claim,
    file_claim,
    open_seller_cancellation_claim,
    propose_remedy,
    record_refund,
    reject_proposal,
    withdraw_claim,
)
from marketplace.core.auth import Actor
from marketplace.core.signals import Signal, subscribe, unsubscribe
from tests.conftest import START

KST = ZoneInfo("Asia/Seoul")


class Recorder:
    """A subscriber that keeps what it was told, with the actor it was told by."""

    def __init__(self) -> None:
        self.seen: list[tuple[Signal, str]] = []

    def __call__(self, session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
        self.seen.extend((signal, actor.ref) for signal in signals)

    def names(self) -> list[str]:
        return [signal.name for signal, _actor in self.seen]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    subscribe(*claim_signals.ALL)(recorder)
    yield recorder
    unsubscribe(recorder, *claim_signals.ALL)


def _people(make_user, order) -> tuple[Actor, Actor, Actor]:
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    seller = Actor.for_user(make_user("seller", seller=order.seller))
    agent = Actor.for_user(make_user("agent"))
    return buyer, seller, agent


def test_filing_publishes_claim_opened_with_the_claim_identity(
    session: Session, make_order, make_user, recorder: Recorder
) -> None:
    """The signal names the claim, its order, both parties, the amount and the seller's deadline."""
    order = make_order(amount=54_000)
    buyer, _seller, _agent = _people(make_user, order)
    claim = file_claim(session, order, "damaged", description="깨져서 왔어요", actor=buyer, now=START)
    [(signal, actor)] = recorder.seen
    assert signal.name == "claim.opened" and signal.at == START and actor == buyer.ref
    assert signal.data["claim_id"] == claim.id and signal.data["claim_type"] == "damaged"
    assert signal.data["status"] == "awaiting_seller"
    assert signal.data["order_id"] == order.id and signal.data["order_external_id"] == order.external_id
    assert signal.data["order_amount"] == 54_000
    assert (signal.data["seller_id"], signal.data["buyer_id"]) == (order.seller_id, order.buyer_id)
    assert signal.data["response_due_at"] == claim.response_due_at and signal.data["refund_due_at"] is None
    assert signal.data["description"] == "깨져서 왔어요"


def test_each_lifecycle_move_publishes_its_signal(session: Session, make_order, make_user, recorder: Recorder) -> None:
    """Propose, reject (then escalated), decide: each move tells the others, with what it decided."""
    order = make_order()
    buyer, seller, agent = _people(make_user, order)
    claim = file_claim(session, order, "wrong_item", description="다른 색상", actor=buyer, now=START)
    propose_remedy(session, claim, "partial_refund", amount=5_000, message="일부 환불", actor=seller, now=START)
    reject_proposal(session, claim, reason="교환을 원해요", actor=buyer, now=START)
    decide_claim(session, claim, "for_buyer", amount=order.amount, reason="사진 확인", actor=agent, now=START)
    assert recorder.names() == [
        "claim.opened",
        "claim.proposed",
        "claim.rejected",
        "claim.escalated",
        "claim.decided",
    ]
    proposed, rejected, escalated, decided = (signal for signal, _actor in recorder.seen[1:])
    assert (proposed.data["remedy"], proposed.data["amount"]) == ("partial_refund", 5_000)
    assert rejected.data["reason"] == "교환을 원해요"
    assert escalated.data["reason"] == "buyer_rejected" and escalated.data["staff_due_at"] == claim.staff_due_at
    assert decided.data["decision"] == "for_buyer" and decided.data["amount"] == order.amount
    assert decided.data["status"] == "resolved" and decided.data["decided_by"] == agent.ref


def test_accept_and_withdraw_publish_their_signals(session: Session, make_order, make_user, recorder: Recorder) -> None:
    """An accepted proposal carries the remedy; a withdrawal carries the buyer's reason."""
    order = make_order()
    buyer, seller, agent = _people(make_user, order)
    first = file_claim(session, order, "damaged", description="파손", actor=buyer, now=START)
    propose_remedy(session, first, "replace", amount=None, message="교환해 드릴게요", actor=seller, now=START)
    accept_proposal(session, first, actor=buyer, now=START)
    second = file_claim(session, order, "not_as_described", description="설명과 달라요", actor=buyer, now=START)
    escalate_claim(session, second, reason="반복 신고", actor=agent, now=START)
    withdraw_claim(session, second, reason="해결됐어요", actor=buyer, now=START)
    by_name = {signal.name: signal for signal, _actor in recorder.seen}
    assert by_name["claim.accepted"].data["remedy"] == "replace"
    assert by_name["claim.escalated"].data["reason"] == "staff"
    assert by_name["claim.escalated"].data["message"] == "반복 신고"
    assert by_name["claim.withdrawn"].data["reason"] == "해결됐어요"
    assert by_name["claim.withdrawn"].data["status"] == "withdrawn"


def test_sweep_publishes_escalations_effective_at_each_deadline(
    session: Session, make_order, make_user, recorder: Recorder
) -> None:
    """A catch-up run tells the others once per claim, at the deadline it missed, as the scheduler."""
    order = make_order()
    buyer, _seller, _agent = _people(make_user, order)
    claim = file_claim(session, order, "non_delivery", description="안 왔어요", actor=buyer, now=START)
    session.commit()
    recorder.seen.clear()
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 9, tzinfo=KST)) == 1
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 9, tzinfo=KST)) == 0
    [(signal, actor)] = recorder.seen
    assert signal.name == "claim.escalated" and actor == "system:scheduler"
    assert signal.at == claim.response_due_at and signal.data["reason"] == "seller_silent"
    assert signal.data["claim_id"] == claim.id and signal.data["order_amount"] == order.amount
    assert signal.data["seller_id"] == order.seller_id and signal.data["status"] == "escalated"


def test_seller_cancellation_publishes_refund_overdue_then_refunded(
    session: Session, make_order, make_user, recorder: Recorder
) -> None:
    """A refund missing at its statutory deadline is signalled at the deadline; the late refund later."""
    order = make_order()
    order.cancelled_at, order.cancel_initiated_by, order.cancel_reason = START, "seller", "out_of_stock"
    claim = open_seller_cancellation_claim(session, order, actor=Actor.system("test"), now=START)
    assert claim is not None
    [(opened, _actor)] = recorder.seen
    assert opened.data["cancel_reason"] == "out_of_stock" and opened.data["refund_due_at"] == claim.refund_due_at
    session.commit()
    assert sweeps.mark_overdue_refunds(session, now=claim.refund_due_at + timedelta(days=3)) == 1
    overdue = recorder.seen[-1][0]
    assert overdue.name == "claim.refund_overdue" and overdue.at == claim.refund_due_at
    assert overdue.data["days_late"] >= 1
    order.refunded_at, order.refunded_amount = claim.refund_due_at + timedelta(days=4), order.amount
    record_refund(session, order, actor=Actor.system("test"), now=order.refunded_at)
    refunded = recorder.seen[-1][0]
    assert refunded.name == "claim.refunded" and refunded.data["refund_status"] == "late"
    assert refunded.data["refunded_amount"] == order.amount and refunded.data["days_late"] == claim.refund_days_late
