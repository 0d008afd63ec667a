"""Order events that matter to claims: a seller's own cancellation opens one, a refund meets its obligation."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim, ClaimType, RefundStatus
from tests.orders.conftest import counts
from tests.orders.factory import cancelled_event, paid_event, refund_event


def _claims(session: Session) -> list[Claim]:
    session.expire_all()
    return list(session.scalars(sa.select(Claim).order_by(Claim.id)))


def test_buyer_cancellation_never_opens_a_claim(post_events, session: Session) -> None:
    """A buyer changing their mind is nobody's fault."""
    post_events({"events": [paid_event(), cancelled_event(initiated_by="buyer", reason="buyer_request")]})
    assert _claims(session) == []


def test_platform_cancellation_opens_no_claim_here(post_events, session: Session) -> None:
    """Platform-caused cancellations belong to mass incidents, not to the seller."""
    post_events({"events": [paid_event(), cancelled_event(initiated_by="platform", reason="price_error")]})
    assert _claims(session) == []


def test_seller_cancellation_opens_one_claim_at_the_cancellation_time(post_events, session: Session) -> None:
    """A seller cancelling a paid order on its own opens a seller_cancellation claim, effective when it cancelled."""
    post_events(paid_event())
    response = post_events(cancelled_event(initiated_by="seller", reason="out_of_stock"))
    assert response.status_code == 201
    [claim] = _claims(session)
    assert claim.type is ClaimType.SELLER_CANCELLATION
    assert claim.order.external_id == "O-1"
    assert claim.opened_at == datetime(2026, 9, 23, 9, 0, tzinfo=UTC)
    assert claim.refund_status is RefundStatus.PENDING


def test_replayed_seller_cancellation_opens_no_second_claim(post_events, session: Session) -> None:
    """The same cancellation sent again, alone or in a batch, changes nothing."""
    post_events({"events": [paid_event(), cancelled_event(initiated_by="seller", reason="out_of_stock")]})
    before = counts(session)
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock"))
    post_events({"events": [cancelled_event(initiated_by="seller", reason="out_of_stock")]})
    assert len(_claims(session)) == 1
    assert counts(session) == before


def test_seller_cancellation_before_its_payment_opens_the_claim_when_paid(post_events, session: Session) -> None:
    """Out of order: the claim waits for the order, then opens at the cancellation's time."""
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock"))
    assert _claims(session) == []
    post_events(paid_event())
    [claim] = _claims(session)
    assert claim.opened_at == datetime(2026, 9, 23, 9, 0, tzinfo=UTC)


def test_refund_in_time_meets_the_refund_obligation(post_events, session: Session) -> None:
    """전자상거래법 §18: refunded within 3 business days of payment, the obligation is met."""
    post_events({"events": [paid_event(), cancelled_event(initiated_by="seller", reason="out_of_stock")]})
    post_events(refund_event(occurred_at="2026-09-24T09:00:00+09:00"))
    [claim] = _claims(session)
    assert claim.refund_status is RefundStatus.MET
    assert claim.refunded_at == datetime(2026, 9, 24, 0, 0, tzinfo=UTC)


def test_late_refund_is_recorded_as_late(post_events, session: Session) -> None:
    """A refund after the deadline (2026-09-30 KST) still completes it, marked late."""
    post_events({"events": [paid_event(), cancelled_event(initiated_by="seller", reason="out_of_stock")]})
    post_events(refund_event(occurred_at="2026-10-06T09:00:00+09:00", refunded_at="2026-10-05T17:00:00+09:00"))
    [claim] = _claims(session)
    assert claim.refund_status is RefundStatus.LATE
    assert claim.refunded_at == datetime(2026, 10, 5, 8, 0, tzinfo=UTC)


def test_refund_in_the_same_batch_as_the_cancellation_counts(post_events, session: Session) -> None:
    """Cancellation and refund arriving together: the claim opens and its refund is met at once."""
    post_events(
        {
            "events": [
                refund_event(occurred_at="2026-09-24T09:00:00+09:00"),
                cancelled_event(initiated_by="seller", reason="out_of_stock"),
                paid_event(),
            ]
        }
    )
    [claim] = _claims(session)
    assert claim.refund_status is RefundStatus.MET
