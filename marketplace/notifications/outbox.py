"""Writing to the outbox: set-based, idempotent by dedupe key, in the caller's transaction (DESIGN.md §9)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.core.audit import jsonable
from marketplace.core.bulk import insert_skipping
from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus

WEBHOOK_CHANNEL = "webhook"

outbox = OutboxMessage.__table__


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
    return insert_messages(session, [_row(message) for message in messages], now=now)


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
                payload=webhook_body(topic, dedupe_key, body),
            )
        ],
        now=now,
    )


def webhook_body(topic: str, dedupe_key: str, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON a webhook carries: its topic, its id (the dedupe key, the same on every resend) and the data."""
    return {"topic": topic, "id": dedupe_key, "data": data}


def _row(message: Outgoing) -> dict[str, Any]:
    return {
        "dedupe_key": message.dedupe_key,
        "topic": message.topic,
        "audience": message.audience.value,
        "recipient_id": message.recipient_id,
        "channel": message.channel,
        "language": message.language,
        "address": message.address,
        "payload": jsonable(message.payload),
    }


def insert_messages(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Insert pending messages (dicts of the columns ``_row`` gives, payloads already JSON-safe), skipping used
    dedupe keys, set-based (a mass incident writes 200,000 notices at once); returns how many were new."""
    pending = {"status": OutboxStatus.PENDING.value, "attempts": 0, "created_at": now, "next_attempt_at": now}
    return insert_skipping(session, outbox, [{**row, **pending} for row in rows], conflict=["dedupe_key"])
