"""The ``claim.*`` signals: what claims tell sanctions, compensation, notifications and the scorecard.

Every claim signal's ``data`` carries the claim's identity:

    claim_id, claim_type, status (after the move), order_id, order_external_id, order_amount (won),
    seller_id, buyer_id, paid_at

and, by name (``at`` is when the move took effect):

- ``claim.opened``: ``opened_by``, ``description``, ``response_due_at``, ``refund_due_at`` (seller cancellations,
  else None), ``cancel_reason`` (seller cancellations), ``ship_by`` (late shipments). ``at``: the breach (the
  cancellation, the ship-by) or the filing.
- ``claim.proposed``: ``remedy``, ``amount``, ``message``.
- ``claim.accepted``: ``remedy``, ``amount`` (of the accepted proposal).
- ``claim.rejected``: ``reason``; always followed by ``claim.escalated`` with reason ``buyer_rejected``.
- ``claim.escalated``: ``reason`` (``seller_silent``, ``buyer_rejected``, ``staff``), ``staff_due_at``,
  ``message``. ``at``: the missed deadline for ``seller_silent``, else the escalation.
- ``claim.supervisor_queued``: ``staff_due_at``. ``at``: the staff deadline.
- ``claim.decided``: ``decision`` (``for_buyer``, ``for_seller``, ``partial``), ``amount``, ``reason``,
  ``decided_by``.
- ``claim.withdrawn``: ``reason``.
- ``claim.closed``: nothing more.
- ``claim.refund_overdue``: ``refund_due_at``, ``days_late`` (business days so far). ``at``: the refund deadline.
- ``claim.refunded``: ``refund_status`` (``met`` or ``late``), ``refund_due_at``, ``refunded_at``,
  ``refunded_amount``, ``days_late`` (business days, 0 when in time). ``at``: the refund.

Datetimes are aware UTC ``datetime`` objects; amounts are integer won.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim
from marketplace.core.signals import Signal
from marketplace.orders.models import Order

OPENED = "claim.opened"
PROPOSED = "claim.proposed"
ACCEPTED = "claim.accepted"
REJECTED = "claim.rejected"
ESCALATED = "claim.escalated"
SUPERVISOR_QUEUED = "claim.supervisor_queued"
DECIDED = "claim.decided"
WITHDRAWN = "claim.withdrawn"
CLOSED = "claim.closed"
REFUND_OVERDUE = "claim.refund_overdue"
REFUNDED = "claim.refunded"

ALL = (
    OPENED,
    PROPOSED,
    ACCEPTED,
    REJECTED,
    ESCALATED,
    SUPERVISOR_QUEUED,
    DECIDED,
    WITHDRAWN,
    CLOSED,
    REFUND_OVERDUE,
    REFUNDED,
)


def claim_signal(name: str, claim: Claim, *, at: datetime, **extra: Any) -> Signal:
    """A signal about one claim loaded as an object (its order loaded with it)."""
    order = claim.order
    data = {
        "claim_id": claim.id,
        "claim_type": claim.type.value,
        "status": claim.status.value,
        "order_id": claim.order_id,
        "order_external_id": order.external_id,
        "order_amount": order.amount,
        "seller_id": claim.seller_id,
        "buyer_id": claim.buyer_id,
        "paid_at": order.paid_at,
    }
    return Signal(name, at, {**data, **extra})


def claim_signals(
    session: Session, name: str, moves: Iterable[tuple[int, datetime, Mapping[str, Any]]]
) -> list[Signal]:
    """Signals for claims moved by a set-based statement: ``(claim_id, at, extra data)`` each, read in one query."""
    moves = list(moves)
    if not moves:
        return []
    claims, orders = Claim.__table__.c, Order.__table__.c
    rows = {
        row.claim_id: row
        for row in session.execute(
            sa.select(
                claims.id.label("claim_id"),
                claims.type.label("claim_type"),
                claims.status,
                claims.order_id,
                orders.external_id.label("order_external_id"),
                orders.amount.label("order_amount"),
                claims.seller_id,
                claims.buyer_id,
                orders.paid_at,
            )
            .join_from(Claim.__table__, Order.__table__, claims.order_id == orders.id)
            .where(claims.id.in_([claim_id for claim_id, _at, _extra in moves]))
        )
    }
    return [Signal(name, at, {**_plain(rows[claim_id]._asdict()), **extra}) for claim_id, at, extra in moves]


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value.value if isinstance(value, enum.Enum) else value for key, value in values.items()}
