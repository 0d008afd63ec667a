"""A batch of order changes opens claims and records refunds set-based, writing what the per-order path writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import operations
from marketplace.claims import queries as claim_queries
from marketplace.claims import signals as claim_signals
from marketplace.claims.models import Claim, ClaimEvent, RefundStatus
from marketplace.core.audit import verify_chain
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from marketplace.core.signals import Signal, subscribe, unsubscribe
from marketplace.orders.models import CancelInitiator, Order, OrderStatus
from tests.conftest import START

FEED = Actor.system("feed")
NOW = START + timedelta(days=20)


@pytest.fixture
def signals() -> Iterator[list[Signal]]:
    """Every claim signal published while the test runs."""
    seen: list[Signal] = []

    def record(_session: Session, published: list[Signal], *, actor: Actor, now: Any) -> None:
        seen.extend(published)

    subscribe(*claim_signals.ALL)(record)
    yield seen
    unsubscribe(record, *claim_signals.ALL)


def _cancel(order: Order, *, by: CancelInitiator = CancelInitiator.SELLER, reason: str | None = "out_of_stock") -> None:
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = START + timedelta(hours=2)
    order.cancel_initiated_by = by
    order.cancel_reason = reason


def _refund(order: Order, *, days: int) -> None:
    order.refunded_at = START + timedelta(days=days)
    order.refunded_amount = order.amount


def _orders(session: Session, make_order: Any) -> tuple[list[Order], set[int], set[int]]:
    """Orders whose changes cover every case: the orders, those freshly cancelled by the seller, those refunded."""
    fresh, refunded_first, in_time, late, already_open, by_buyer = (make_order() for _ in range(6))
    for order in (in_time, late, already_open):
        _cancel(order)
        operations.open_seller_cancellation_claim(session, order, actor=FEED, now=START)
    [late_claim] = claim_queries.claims_awaiting_refund(session, late.id)
    late_claim.refund_status = RefundStatus.OVERDUE
    _cancel(fresh, reason=None)
    _cancel(refunded_first)
    _refund(refunded_first, days=1)
    _refund(in_time, days=1)
    _refund(late, days=12)
    _cancel(by_buyer, by=CancelInitiator.BUYER, reason="buyer_request")
    session.commit()
    orders = [fresh, refunded_first, in_time, late, already_open, by_buyer]
    cancelled = {fresh.id, refunded_first.id, already_open.id, by_buyer.id}
    refunded = {refunded_first.id, in_time.id, late.id}
    return orders, cancelled, refunded


def _written(session: Session, signals: list[Signal], audit_since: int, events_since: int) -> dict[str, list]:
    """The claims, timeline entries, audit records and signals, with claims named by order and opening time."""
    session.flush()
    claims = {claim.id: claim for claim in session.scalars(sa.select(Claim).execution_options(populate_existing=True))}

    def name(claim_id: Any) -> tuple[int, Any]:
        return claims[int(claim_id)].order_id, claims[int(claim_id)].opened_at

    columns = [column.key for column in Claim.__table__.columns if column.key != "id"]
    entries = session.scalars(sa.select(ClaimEvent).where(ClaimEvent.id > events_since).order_by(ClaimEvent.id))
    # The claims' own records: other domains' subscribers (compensation for a late refund) audit theirs too.
    records = session.scalars(
        sa.select(AuditRecord)
        .where(AuditRecord.id > audit_since, AuditRecord.entity_type == "claim")
        .order_by(AuditRecord.id)
    )
    return {
        "claims": sorted(([getattr(claim, key) for key in columns] for claim in claims.values()), key=repr),
        "timeline": [
            (name(e.claim_id), e.occurred_at, e.actor, e.kind, e.message, e.visibility, e.data) for e in entries
        ],
        "audit": [
            (r.occurred_at, r.actor, r.action, r.entity_type, name(r.entity_id), r.before, r.after) for r in records
        ],
        "signals": sorted(
            ((s.name, s.at, {**s.data, "claim_id": name(s.data["claim_id"])}) for s in signals), key=repr
        ),
    }


def _one_by_one(session: Session, orders: list[Order], cancelled: set[int], refunded: set[int]) -> None:
    for order in orders:
        if order.id in cancelled:
            operations.open_seller_cancellation_claim(session, order, actor=FEED, now=NOW)
        if order.id in refunded:
            operations.record_refund(session, order, actor=FEED, now=NOW)


@pytest.mark.parametrize("conflict", [False, True], ids=["set-based", "after-a-conflict"])
def test_batch_writes_what_the_per_order_path_writes(
    session: Session, make_order: Any, signals: list[Signal], monkeypatch: pytest.MonkeyPatch, conflict: bool
) -> None:
    """Same claims, deadlines, refund verdicts, timeline, audit records and signals, whichever path wrote them."""
    orders, cancelled, refunded = _orders(session, make_order)
    audit_since = session.scalar(sa.select(sa.func.max(AuditRecord.id)))
    events_since = session.scalar(sa.select(sa.func.max(ClaimEvent.id)))
    signals.clear()
    one_by_one = session.begin_nested()
    _one_by_one(session, orders, cancelled, refunded)
    expected = _written(session, signals, audit_since, events_since)
    one_by_one.rollback()
    signals.clear()
    if conflict:
        # The read of open claims misses one opened a moment ago by another transaction: the insert conflicts.
        monkeypatch.setattr(claim_queries, "orders_with_open_claim", lambda *_args: set())
    operations.follow_order_changes(
        session, orders, cancelled_by_seller=cancelled, refunded=refunded, actor=FEED, now=NOW
    )
    assert _written(session, signals, audit_since, events_since) == expected
    assert [name for name, _at, _data in expected["signals"]].count("claim.opened") == 2
    assert [action for *_head, action, _type, _name, _before, _after in expected["audit"]] == [
        "claim.open",
        "claim.open",
        "claim.refund",
        "claim.refund",
    ]
    assert verify_chain(session).ok


def test_batch_publishes_every_signal_at_once(session: Session, make_order: Any) -> None:
    """Subscribers get one list of claim.opened and one of claim.refunded for the whole batch."""
    orders, cancelled, refunded = _orders(session, make_order)
    calls: list[tuple[str, int]] = []

    def record(_session: Session, published: list[Signal], *, actor: Actor, now: Any) -> None:
        calls.append((published[0].name, len(published)))

    subscribe(claim_signals.OPENED, claim_signals.REFUNDED)(record)
    try:
        operations.follow_order_changes(
            session, orders, cancelled_by_seller=cancelled, refunded=refunded, actor=FEED, now=NOW
        )
    finally:
        unsubscribe(record, claim_signals.OPENED, claim_signals.REFUNDED)
    assert calls == [("claim.opened", 2), ("claim.refunded", 3)]
