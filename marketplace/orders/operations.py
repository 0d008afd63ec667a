"""Write use-cases for buyers and orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.errors import Conflict, ValidationFailed
from marketplace.core.money import ensure_won
from marketplace.orders import queries
from marketplace.orders.models import Buyer, Order, OrderStatus, order_category
from marketplace.sellers.models import Seller


def create_buyer(
    session: Session,
    external_id: str,
    *,
    name: str,
    contact: str | None = None,
    language: str = "ko",
    actor: Actor,
    now: datetime,
) -> Buyer:
    """Register a buyer under the marketplace's own buyer id."""
    external_id = external_id.strip()
    if not external_id:
        raise ValidationFailed(_l("Give the marketplace's buyer id."), field="external_id")
    if not name.strip():
        raise ValidationFailed(_l("Enter a name."), field="name")
    if language not in ("ko", "en"):
        raise ValidationFailed(_l("Language must be ko or en."), field="language")
    if queries.get_buyer_by_external_id(session, external_id) is not None:
        raise Conflict(_l("A buyer with this id already exists."), field="external_id")
    buyer = Buyer(external_id=external_id, name=name.strip(), contact=contact, language=language, created_at=now)
    session.add(buyer)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="buyer.create",
        entity_type="buyer",
        entity_id=buyer.id,
        before=None,
        after=buyer.snapshot(),
        now=now,
    )
    return buyer


def create_order(
    session: Session,
    external_id: str,
    *,
    seller: Seller,
    buyer: Buyer,
    amount: int,
    items: list[dict[str, Any]],
    paid_at: datetime,
    ship_by: datetime | None = None,
    actor: Actor,
    now: datetime,
) -> Order:
    """Record a paid order."""
    external_id = external_id.strip()
    if not external_id:
        raise ValidationFailed(_l("Give the marketplace's order id."), field="external_id")
    try:
        amount = ensure_won(amount)
    except (TypeError, ValueError):
        raise ValidationFailed(_l("The amount must be a whole number of won, zero or more."), field="amount") from None
    if queries.get_order_by_external_id(session, external_id) is not None:
        raise Conflict(_l("An order with this id already exists."), field="external_id")
    order = Order(
        external_id=external_id,
        seller_id=seller.id,
        buyer_id=buyer.id,
        amount=amount,
        items=items,
        category=order_category(items),
        status=OrderStatus.PAID,
        paid_at=paid_at,
        ship_by=ship_by,
        created_at=now,
    )
    session.add(order)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="order.create",
        entity_type="order",
        entity_id=order.id,
        before=None,
        after=order.snapshot(),
        now=now,
    )
    return order
