"""Reads of the outbox: the staff's filtered list, one message with its failures, and each party's inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor, ActorKind
from marketplace.notifications.models import Audience, DeliveryFailure, OutboxMessage, OutboxStatus


@dataclass(frozen=True, slots=True)
class OutboxFilters:
    """What the staff's outbox list is narrowed to; days are local (Asia/Seoul) and inclusive."""

    status: OutboxStatus | None = None
    topic: str | None = None
    audience: Audience | None = None
    day_from: date | None = None
    day_to: date | None = None


def list_messages(
    session: Session, filters: OutboxFilters, *, timezone: str, limit: int, offset: int = 0
) -> tuple[list[OutboxMessage], int]:
    """One page of the outbox, newest first, and how many messages match in all."""
    conditions = []
    if filters.status is not None:
        conditions.append(OutboxMessage.status == filters.status)
    if filters.topic:
        conditions.append(OutboxMessage.topic == filters.topic)
    if filters.audience is not None:
        conditions.append(OutboxMessage.audience == filters.audience)
    zone = ZoneInfo(timezone)
    if filters.day_from is not None:
        conditions.append(OutboxMessage.created_at >= datetime.combine(filters.day_from, time(0), tzinfo=zone))
    if filters.day_to is not None:
        end = datetime.combine(filters.day_to + timedelta(days=1), time(0), tzinfo=zone)
        conditions.append(OutboxMessage.created_at < end)
    total = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(*conditions)) or 0
    messages = session.scalars(
        sa.select(OutboxMessage)
        .where(*conditions)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(messages), total


def get_message(session: Session, message_id: int) -> OutboxMessage | None:
    """One message of the outbox."""
    return session.get(OutboxMessage, message_id)


def delivery_failures(session: Session, message_id: int) -> list[DeliveryFailure]:
    """Every failed attempt to deliver a message, oldest first."""
    return list(
        session.scalars(
            sa.select(DeliveryFailure)
            .where(DeliveryFailure.message_id == message_id)
            .order_by(DeliveryFailure.failed_at, DeliveryFailure.id)
        )
    )


def inbox_owner(actor: Actor) -> tuple[Audience, int] | None:
    """Whose notices an actor reads: a buyer's own, or their seller's; nobody else has an inbox."""
    if actor.kind is ActorKind.BUYER and actor.buyer_id is not None:
        return Audience.BUYER, actor.buyer_id
    if actor.kind is ActorKind.SELLER_USER and actor.seller_id is not None:
        return Audience.SELLER, actor.seller_id
    return None


def inbox(session: Session, actor: Actor, *, limit: int, offset: int = 0) -> tuple[list[OutboxMessage], int]:
    """The actor's notices, newest first, whatever became of their delivery, and how many there are."""
    owner = inbox_owner(actor)
    if owner is None:
        return [], 0
    audience, recipient_id = owner
    mine = sa.and_(OutboxMessage.audience == audience, OutboxMessage.recipient_id == recipient_id)
    total = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(mine)) or 0
    notices = session.scalars(
        sa.select(OutboxMessage)
        .where(mine)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(notices), total
