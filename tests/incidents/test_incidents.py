"""Mass incidents: select the affected orders, preview, run in batches (resumably), report."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim, ClaimStatus, ClaimType
from marketplace.compensation import ledger
from marketplace.compensation.models import Compensation, Recovery
from marketplace.core.errors import IllegalTransition, ValidationFailed
from marketplace.core.money import percent_of
from marketplace.core.signals import subscribe, unsubscribe
from marketplace.incidents import queries
from marketplace.incidents.operations import run_incident_batch, select_orders, start_incident
from marketplace.notifications.models import OutboxMessage
from tests.conftest import START
from tests.incidents.conftest import SUPERVISOR


def _run(session: Session, incident, *, batch_size: int = 2) -> int:
    start_incident(session, incident, actor=SUPERVISOR, now=START)
    session.commit()
    total = 0
    while done := run_incident_batch(session, incident.id, actor=SUPERVISOR, now=START, batch_size=batch_size):
        session.commit()
        total += done
    session.commit()
    return total


def test_selection_by_seller_and_sku_previews_count_and_cost(
    session: Session, declare, make_order, make_seller
) -> None:
    """Two of the seller's orders carry the SKU; 10 % capped at ₩100,000: ₩5,000 + ₩100,000."""
    seller = make_seller(external_id="S-MUSINSA")
    make_order(seller=seller, amount=50_000)
    make_order(seller=seller, amount=2_000_000)
    make_order(amount=70_000)  # another seller
    incident = declare()
    result = select_orders(session, incident, sellers=["S-MUSINSA"], skus=["SKU-1"], actor=SUPERVISOR, now=START)
    session.commit()
    assert result == {"orders": 2, "amount": 105_000, "buyers": 2, "unknown_order_ids": 0}
    preview = queries.preview(session, incident)
    assert (preview["orders"], preview["total_amount"], preview["form"]) == (2, 105_000, "coupon")
    assert select_orders(session, incident, skus=["NO-SUCH"], actor=SUPERVISOR, now=START)["orders"] == 0


def test_selection_by_uploaded_order_ids_reports_unknown_ones(session: Session, declare, make_order) -> None:
    """Known ids are selected once each; unknown ones are counted."""
    first, second = make_order(external_id="O-A"), make_order(external_id="O-B")
    incident = declare()
    result = select_orders(session, incident, order_ids=["O-A", "O-B", "O-A", "O-X"], actor=SUPERVISOR, now=START)
    assert (result["orders"], result["unknown_order_ids"]) == (2, 1)
    assert {first.id, second.id}


def test_selection_by_paid_window(session: Session, declare, make_order) -> None:
    """[from, to): an order paid at the end of the window is outside it."""
    make_order(paid_at=START - timedelta(hours=2))
    make_order(paid_at=START)
    incident = declare()
    result = select_orders(
        session, incident, paid_from=START - timedelta(hours=3), paid_to=START, actor=SUPERVISOR, now=START
    )
    assert result["orders"] == 1


def test_selection_needs_a_filter(session: Session, declare) -> None:
    """Selecting every order by accident is refused."""
    with pytest.raises(ValidationFailed):
        select_orders(session, declare(), actor=SUPERVISOR, now=START)


def test_sql_amounts_match_the_money_rules(session: Session, declare, make_order) -> None:
    """The selection's SQL arithmetic rounds down, applies the minimum then the cap, exactly like percent_of."""
    amounts = [0, 1, 9_999, 33_333, 123_457, 999_999_999]
    for amount in amounts:
        make_order(amount=amount, external_id=f"O-M{amount}")
    incident = declare(
        {"form": "points", "method": "percent_of_order", "percent": "12.5", "minimum": 3, "cap": 90_000_000}
    )
    select_orders(session, incident, order_ids=[f"O-M{a}" for a in amounts], actor=SUPERVISOR, now=START)
    preview = queries.preview(session, incident, sample=10)
    expected = {f"O-M{a}": percent_of(a, "12.5", minimum=3, cap=90_000_000) for a in amounts}
    assert {line["order_id"]: line["amount"] for line in preview["sample"]} == expected


def test_run_compensates_every_order_once_with_claim_ledger_and_signal(session: Session, declare, make_order) -> None:
    """Five orders in batches of two: five incident claims, coupons, payout webhooks and notices' signals."""
    received = []

    @subscribe("incident.order_compensated")
    def record(_session, signals, *, actor, now):
        received.extend(signals)

    try:
        orders = [make_order(amount=100_000 * (n + 1)) for n in range(5)]
        incident = declare()
        select_orders(session, incident, order_ids=[o.external_id for o in orders], actor=SUPERVISOR, now=START)
        session.commit()
        assert _run(session, incident) == 5
    finally:
        unsubscribe(record, "incident.order_compensated")
    session.expire_all()
    claims = session.scalars(sa.select(Claim).where(Claim.type == ClaimType.PLATFORM_INCIDENT)).all()
    assert len(claims) == 5 and {claim.status for claim in claims} == {ClaimStatus.RESOLVED}
    compensations = session.scalars(sa.select(Compensation).where(Compensation.incident_id == incident.id)).all()
    assert sorted(c.amount for c in compensations) == [10_000, 20_000, 30_000, 40_000, 50_000]
    assert {c.form.value for c in compensations} == {"coupon"} and not any(c.recoverable for c in compensations)
    assert session.scalar(sa.select(sa.func.count()).select_from(Recovery)) == 0  # the platform's fault
    assert len(received) == 5 and received[0].data["title_en"].startswith("Orders cancelled")
    assert {signal.data["amount"] for signal in received} == {10_000, 20_000, 30_000, 40_000, 50_000}
    report = queries.incident_report(session, session.merge(incident))
    assert (report["status"], report["orders"], report["buyers"], report["total_amount"]) == (
        "completed",
        5,
        5,
        150_000,
    )
    assert report["payout_instructions"]["written"] == 5
    assert ledger.check(session).ok


def test_incident_claims_publish_no_claim_signal(session: Session, declare, make_order) -> None:
    """Not the seller's breach: no claim.opened (sanctions never see it)."""
    seen = []

    @subscribe("claim.opened", "claim.decided")
    def record(_session, signals, *, actor, now):
        seen.extend(signals)

    try:
        order = make_order()
        incident = declare()
        select_orders(session, incident, order_ids=[order.external_id], actor=SUPERVISOR, now=START)
        _run(session, incident)
    finally:
        unsubscribe(record, "claim.opened", "claim.decided")
    assert seen == []


def test_run_stopped_half_way_resumes_without_paying_twice(session: Session, declare, make_order) -> None:
    """Two batches committed, the third rolled back (the process died): the rerun pays exactly the rest."""
    orders = [make_order() for _ in range(6)]
    incident = declare()
    select_orders(session, incident, order_ids=[o.external_id for o in orders], actor=SUPERVISOR, now=START)
    start_incident(session, incident, actor=SUPERVISOR, now=START)
    session.commit()
    for _ in range(2):
        run_incident_batch(session, incident.id, actor=SUPERVISOR, now=START, batch_size=2)
        session.commit()
    run_incident_batch(session, incident.id, actor=SUPERVISOR, now=START, batch_size=2)
    session.rollback()
    assert queries.progress(session.merge(incident), now=START)["processed_orders"] == 4
    _run(session, incident)
    paid = session.execute(
        sa.select(Compensation.order_id, sa.func.count())
        .where(Compensation.incident_id == incident.id)
        .group_by(Compensation.order_id)
    ).all()
    assert sorted(order_id for order_id, _ in paid) == sorted(o.id for o in orders)
    assert {count for _order, count in paid} == {1}


def test_selection_is_frozen_once_running(session: Session, declare, make_order) -> None:
    """A running incident's selection cannot change."""
    order = make_order()
    incident = declare()
    select_orders(session, incident, order_ids=[order.external_id], actor=SUPERVISOR, now=START)
    start_incident(session, incident, actor=SUPERVISOR, now=START)
    with pytest.raises(IllegalTransition):
        select_orders(session, incident, order_ids=[order.external_id], actor=SUPERVISOR, now=START)


def test_report_counts_notices_by_status(session: Session, declare, make_order) -> None:
    """The notices the run wrote (one per order, by the notifications domain) are counted written / sent / failed."""
    orders = [make_order() for _ in range(3)]
    incident = declare()
    select_orders(session, incident, order_ids=[order.external_id for order in orders], actor=SUPERVISOR, now=START)
    _run(session, incident)
    notices = queries.incident_report(session, session.merge(incident))["notices"]
    assert notices == {"written": 3, "sent": 0, "failed": 0, "pending": 3}
    written = {
        message.recipient_id: message
        for message in session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.topic == "incident.order_compensated")
        )
    }
    assert set(written) == {order.buyer_id for order in orders}
    written[orders[0].buyer_id].status = "sent"
    written[orders[1].buyer_id].status = "dead"
    session.commit()
    notices = queries.incident_report(session, session.merge(incident))["notices"]
    assert notices == {"written": 3, "sent": 1, "failed": 1, "pending": 1}


def test_seller_fault_incident_recovers_from_each_seller(session: Session, declare, make_order) -> None:
    """Not the platform's fault: every compensation is recovered from the order's seller."""
    order = make_order(amount=80_000)
    incident = declare({"form": "cash", "method": "fixed", "amount": 5_000}, platform_at_fault=False)
    select_orders(session, incident, order_ids=[order.external_id], actor=SUPERVISOR, now=START)
    _run(session, incident)
    recovery = session.scalars(sa.select(Recovery)).one()
    assert (recovery.seller_id, recovery.amount) == (order.seller_id, 5_000)
