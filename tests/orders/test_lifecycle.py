"""An order's state is a fold of its events by time of occurrence, never by time of arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

from marketplace.orders.models import CancelInitiator, EventType, LifecycleEvent, OrderLifecycle, OrderStatus

T0 = datetime(2026, 9, 23, 6, 0, tzinfo=UTC)


def _event(event_type: EventType, hours: float, event_id: str | None = None, **fields) -> LifecycleEvent:
    return LifecycleEvent(
        occurred_at=T0 + timedelta(hours=hours), type=event_type, event_id=event_id or f"{event_type}@{hours}", **fields
    )


PAID = _event(EventType.ORDER_PAID, 0)
SHIPPED = _event(EventType.ORDER_SHIPPED, 20, carrier="CJ대한통운", tracking_number="1")
DELIVERED = _event(EventType.ORDER_DELIVERED, 60)


def test_arrival_order_never_changes_the_state() -> None:
    """Every order of arrival of paid, shipped, delivered and a refund folds to the same state."""
    refund = _event(EventType.REFUND_COMPLETED, 80, refund_amount=1_000)
    states = {OrderLifecycle.of_paid_order(events) for events in permutations([PAID, SHIPPED, DELIVERED, refund])}
    assert len(states) == 1
    [state] = states
    assert state.status is OrderStatus.DELIVERED
    assert (state.shipped_at, state.delivered_at) == (SHIPPED.occurred_at, DELIVERED.occurred_at)
    assert state.refunded_amount == 1_000


def test_paid_order_without_other_events_is_paid() -> None:
    """The fold starts at paid."""
    assert OrderLifecycle.of_paid_order([PAID]) == OrderLifecycle(status=OrderStatus.PAID)


def test_shipment_stamped_after_delivery_leaves_it_delivered() -> None:
    """Delivered never goes back to shipped; the shipment still records its time and tracking."""
    late_scan = _event(EventType.ORDER_SHIPPED, 70, carrier="한진택배", tracking_number="2")
    state = OrderLifecycle.of_paid_order([PAID, DELIVERED, late_scan])
    assert state.status is OrderStatus.DELIVERED
    assert state.shipped_at == late_scan.occurred_at
    assert state.carrier == "한진택배"


def test_first_shipment_counts_and_the_last_tracking_number_is_kept() -> None:
    """A re-shipment keeps the original shipping time (the obligation was met then) and the new tracking."""
    again = _event(EventType.ORDER_SHIPPED, 30, carrier="CJ대한통운", tracking_number="2")
    state = OrderLifecycle.of_paid_order([again, SHIPPED, PAID])
    assert (state.shipped_at, state.tracking_number) == (SHIPPED.occurred_at, "2")


def test_cancellation_after_payment_is_cancelled_whatever_the_arrival() -> None:
    """A cancellation that arrived before its payment still cancels the order."""
    cancel = _event(EventType.ORDER_CANCELLED, 3, initiated_by=CancelInitiator.SELLER, reason="out_of_stock")
    state = OrderLifecycle.of_paid_order([cancel, PAID])
    assert state.status is OrderStatus.CANCELLED
    assert state.cancelled_by_seller
    assert (state.cancelled_at, state.cancel_reason) == (cancel.occurred_at, "out_of_stock")


def test_same_instant_sorts_by_type() -> None:
    """Shipped and delivered stamped at the same second: delivered is the later step."""
    shipped = _event(EventType.ORDER_SHIPPED, 5, carrier="CJ대한통운", tracking_number="1")
    delivered = _event(EventType.ORDER_DELIVERED, 5)
    assert OrderLifecycle.of_paid_order([delivered, shipped, PAID]).status is OrderStatus.DELIVERED


def test_refunds_add_up_and_complete_with_the_last() -> None:
    """Two partial refunds: their sum, completed when the later one was."""
    first = _event(EventType.REFUND_COMPLETED, 10, refund_amount=30_000, refunded_at=T0 + timedelta(hours=9))
    second = _event(EventType.REFUND_COMPLETED, 30, refund_amount=20_000)
    state = OrderLifecycle.of_paid_order([second, first, PAID])
    assert state.refunded_amount == 50_000
    assert state.refunded_at == second.occurred_at
