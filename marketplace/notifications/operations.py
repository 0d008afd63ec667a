"""Write use-cases for the outbox: bringing dead messages back. Each audits and flushes, never commits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.audit import AuditEntry, jsonable, record_audit, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.sweeps import lock_due_rows
from marketplace.notifications.models import OutboxMessage, OutboxStatus

outbox = OutboxMessage.__table__


def retry_message(session: Session, message: OutboxMessage, *, actor: Actor, now: datetime) -> OutboxMessage:
    """Give one dead message a new round of attempts, due at once (refused unless it is dead)."""
    before = message.snapshot()
    message.retry(now=now)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="outbox.retry",
        entity_type="outbox_message",
        entity_id=message.id,
        before=before,
        after=message.snapshot(),
        now=now,
    )
    return message


def retry_dead_messages(session: Session, *, actor: Actor, now: datetime, limit: int = 1000) -> int:
    """Bring back up to ``limit`` dead messages, oldest first, with one guarded UPDATE; returns how many."""
    ids = [
        row.id
        for row in lock_due_rows(
            session,
            sa.select(outbox.c.id).where(outbox.c.status == OutboxStatus.DEAD.value).order_by(outbox.c.id).limit(limit),
            of=outbox,
        )
    ]
    if not ids:
        return 0
    moved = session.execute(
        sa.update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.status == OutboxStatus.DEAD.value)
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, lease=None)
        .returning(outbox.c.id, outbox.c.dedupe_key)
    ).all()
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="outbox.retry",
                entity_type="outbox_message",
                entity_id=str(row.id),
                before={"dedupe_key": row.dedupe_key, "status": OutboxStatus.DEAD.value},
                after=jsonable(
                    {
                        "dedupe_key": row.dedupe_key,
                        "status": OutboxStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                ),
                occurred_at=now,
            )
            for row in moved
        ],
    )
    return len(moved)
