"""Reads for buyers, orders and order events."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.core.permissions import visible_to
from marketplace.orders.models import LIFECYCLE_FIELDS, Buyer, EventType, Order, OrderEvent
from marketplace.sellers.models import Seller


def get_buyer_by_external_id(session: Session, external_id: str) -> Buyer | None:
    """The buyer the marketplace knows as ``external_id``."""
    return session.scalar(sa.select(Buyer).where(Buyer.external_id == external_id))


def get_order_by_external_id(session: Session, external_id: str) -> Order | None:
    """The order the marketplace knows as ``external_id``."""
    return session.scalar(sa.select(Order).where(Order.external_id == external_id))


def recent_orders(session: Session, actor: Actor, *, limit: int = 20, offset: int = 0) -> tuple[list[Order], int]:
    """The orders the actor may see, newest payment first, and how many there are in all."""
    visible = visible_to(actor, Order)
    total = session.scalar(sa.select(sa.func.count()).select_from(Order).where(visible)) or 0
    orders = session.scalars(
        sa.select(Order).where(visible).order_by(Order.paid_at.desc(), Order.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(orders), total


def count_buyers_and_orders(session: Session) -> tuple[int, int]:
    """How many buyers and orders the platform knows."""
    buyers = session.scalar(sa.select(sa.func.count()).select_from(Buyer)) or 0
    orders = session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0
    return buyers, orders


def get_order_event(session: Session, event_id: str) -> OrderEvent | None:
    """The stored event with this event id (the marketplace's idempotency key)."""
    return session.scalar(sa.select(OrderEvent).where(OrderEvent.event_id == event_id))


# Set-based reads for ingestion: one statement per batch, Core rows rather than ORM objects.


def _among(session: Session, column: sa.ColumnElement[str], values: Collection[str]) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter rather than a thousand to parse."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String())))
    return column.in_(values)


def stored_events_by_id(session: Session, event_ids: Collection[str]) -> dict[str, sa.Row[Any]]:
    """The stored events among ``event_ids``: id, hash and what a receipt shows."""
    if not event_ids:
        return {}
    table = OrderEvent.__table__.c
    rows = session.execute(
        sa.select(
            table.event_id,
            table.type,
            table.order_external_id,
            table.occurred_at,
            table.received_at,
            table.payload_hash,
        ).where(_among(session, table.event_id, event_ids))
    )
    return {row.event_id: row for row in rows}


def stored_events_of_orders(session: Session, order_ids: Collection[str]) -> list[sa.Row[Any]]:
    """Every stored event of these orders (by the marketplace's order id), with its payload.

    Except an ``order.paid``'s payload (None): what it said is in the order's row, and it is the largest of all.
    """
    if not order_ids:
        return []
    table = OrderEvent.__table__.c
    payload = sa.case((table.type == EventType.ORDER_PAID, sa.null()), else_=table.payload).label("payload")
    return list(
        session.execute(
            sa.select(table.event_id, table.type, table.order_external_id, table.occurred_at, payload).where(
                _among(session, table.order_external_id, order_ids)
            )
        )
    )


def order_rows(session: Session, order_ids: Collection[str]) -> dict[str, sa.Row[Any]]:
    """The orders the marketplace knows by these ids, with their event-derived state."""
    if not order_ids:
        return {}
    table = Order.__table__.c
    columns = [table.id, table.external_id, table.amount, *(table[name] for name in LIFECYCLE_FIELDS)]
    rows = session.execute(sa.select(*columns).where(_among(session, table.external_id, order_ids)))
    return {row.external_id: row for row in rows}


def ids_by_external_id(
    session: Session, model: type[Order] | type[Buyer] | type[Seller], external_ids: Collection[str]
) -> dict[str, int]:
    """Our ids of the orders, sellers or buyers (``model``) the marketplace knows by these ids."""
    if not external_ids:
        return {}
    rows = session.execute(
        sa.select(model.external_id, model.id).where(_among(session, model.external_id, external_ids))
    )
    return dict(rows.tuples().all())
