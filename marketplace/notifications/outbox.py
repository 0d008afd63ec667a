"""Writing to the outbox: set-based, idempotent by dedupe key, in the caller's transaction (DESIGN.md §9)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.core.audit import jsonable
from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus

WEBHOOK_CHANNEL = "webhook"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to write: what happened (topic), for whom, by which channel, and its content."""

    dedupe_key: str
    topic: str
    audience: Audience
    channel: str
    payload: dict[str, Any] = field(default_factory=dict)
    recipient_id: int | None = None
    language: str = "ko"
    address: str | None = None


def enqueue(session: Session, messages: Iterable[Outgoing], *, now: datetime) -> int:
    """Write ``messages`` as pending; a dedupe key already used is skipped. Returns how many were new."""
    rows = [
        {
            "dedupe_key": message.dedupe_key,
            "topic": message.topic,
            "audience": message.audience.value,
            "recipient_id": message.recipient_id,
            "channel": message.channel,
            "language": message.language,
            "address": message.address,
            "payload": jsonable(message.payload),
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for message in messages
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = OutboxMessage.__table__
    result = session.execute(
        insert(table).on_conflict_do_nothing(index_elements=[table.c.dedupe_key]).returning(table.c.id), rows
    )
    return len(result.all())


def enqueue_webhook(session: Session, topic: str, body: dict[str, Any], *, dedupe_key: str, now: datetime) -> int:
    """A webhook to the marketplace's systems (``seller.standing_changed``, ``compensation.granted``, ``claim.*``).

    The body is sent as JSON: ``{"topic": ..., "id": <dedupe key>, "data": body}``; the relay signs it.
    """
    return enqueue(
        session,
        [
            Outgoing(
                dedupe_key=dedupe_key,
                topic=topic,
                audience=Audience.MARKETPLACE,
                channel=WEBHOOK_CHANNEL,
                payload={"topic": topic, "id": dedupe_key, "data": body},
            )
        ],
        now=now,
    )
