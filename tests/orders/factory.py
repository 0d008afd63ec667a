"""Order events as the marketplace sends them, for the tests."""

from __future__ import annotations

from typing import Any

PAID_AT = "2026-09-23T15:00:00+09:00"


def paid_event(
    event_id: str = "E-PAID-1",
    order_id: str = "O-1",
    *,
    occurred_at: str = PAID_AT,
    seller_id: str = "S-1",
    buyer_id: str = "B-1",
    amount: int = 389_000,
    **order: Any,
) -> dict[str, Any]:
    """An ``order.paid`` event; keyword arguments override fields of its ``order``."""
    return {
        "id": event_id,
        "type": "order.paid",
        "occurred_at": occurred_at,
        "order": {
            "id": order_id,
            "seller": {"id": seller_id, "name": "한빛전자"},
            "buyer": {"id": buyer_id, "name": "김민준", "contact": "minjun.kim@example.com", "language": "ko"},
            "amount": amount,
            "items": [{"sku": "TV-43UHD", "name": "43인치 UHD TV", "quantity": 1, "price": amount}],
            "paid_at": occurred_at,
            **order,
        },
    }


def shipped_event(
    event_id: str = "E-SHIP-1",
    order_id: str = "O-1",
    *,
    occurred_at: str = "2026-09-24T10:00:00+09:00",
    carrier: str = "CJ대한통운",
    tracking_number: str = "6543-2109-8765",
) -> dict[str, Any]:
    """An ``order.shipped`` event."""
    return {
        "id": event_id,
        "type": "order.shipped",
        "occurred_at": occurred_at,
        "order": {"id": order_id},
        "carrier": carrier,
        "tracking_number": tracking_number,
    }


def delivered_event(
    event_id: str = "E-DELIVER-1", order_id: str = "O-1", *, occurred_at: str = "2026-09-26T14:00:00+09:00"
) -> dict[str, Any]:
    """An ``order.delivered`` event."""
    return {"id": event_id, "type": "order.delivered", "occurred_at": occurred_at, "order": {"id": order_id}}


def cancelled_event(
    event_id: str = "E-CANCEL-1",
    order_id: str = "O-1",
    *,
    initiated_by: str = "buyer",
    reason: str = "buyer_request",
    occurred_at: str = "2026-09-23T18:00:00+09:00",
) -> dict[str, Any]:
    """An ``order.cancelled`` event."""
    return {
        "id": event_id,
        "type": "order.cancelled",
        "occurred_at": occurred_at,
        "order": {"id": order_id},
        "initiated_by": initiated_by,
        "reason": reason,
    }


def refund_event(
    event_id: str = "E-REFUND-1",
    order_id: str = "O-1",
    *,
    amount: int = 389_000,
    occurred_at: str = "2026-09-24T09:00:00+09:00",
    **extra: Any,
) -> dict[str, Any]:
    """A ``refund.completed`` event."""
    return {
        "id": event_id,
        "type": "refund.completed",
        "occurred_at": occurred_at,
        "order": {"id": order_id},
        "amount": amount,
        **extra,
    }
