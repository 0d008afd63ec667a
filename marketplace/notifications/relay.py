"""The relay: delivers due outbox messages in batches, retries with backoff, and dead-letters (DESIGN.md §9).

A batch is handled in three steps, so that no row lock is held while the network is slow:

1. **Take** (a short transaction): lock up to ``NOTIFY_BATCH_SIZE`` due rows (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so concurrent relays take disjoint batches), count the attempt, stamp them with a random lease token,
   and move their ``next_attempt_at`` to the end of the lease (``NOTIFY_LEASE_SECONDS``); commit. The rows are no
   longer due, so other relays leave them alone, and no lock is held any more.
2. **Send**, outside any transaction, with ``NOTIFY_CONCURRENCY`` worker threads on kept-alive connections.
3. **Record** (a short transaction): sent rows become ``sent``; a failed row gets its error in
   ``outbox_delivery_failures`` and becomes ``failed`` with its next attempt after a doubling backoff, or ``dead``
   after ``NOTIFY_MAX_ATTEMPTS`` attempts or a permanent failure. Every update is guarded by the lease token: a
   relay that took longer than its lease, and whose batch another relay has taken since, changes nothing.

**At least once.** A relay that stops between sending and recording (a crash, a lost database connection) leaves
its rows leased; when the lease ends they are due again and another relay sends them a second time. Every delivery
therefore carries the message's dedupe key — in the webhook and gateway body (``id``) and in the
``X-Marketplace-Message-Id`` header, and as the e-mail's Message-ID — and receivers drop a key they have already
processed. Nothing is ever sent twice otherwise: two relays never hold the same row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import sqlalchemy as sa
from jinja2 import TemplateError
from sqlalchemy.orm import Session

from marketplace.core.sweeps import lock_due_rows
from marketplace.notifications.channels import Channel, Channels, Delivery, DeliveryError, open_channels
from marketplace.notifications.models import DeliveryFailure, OutboxMessage, OutboxStatus
from marketplace.notifications.settings import NotifySettings

outbox = OutboxMessage.__table__
failures = DeliveryFailure.__table__

# Written out as in the partial index ix_outbox_messages_due, so that PostgreSQL uses it with any plan.
_DUE = sa.text("outbox_messages.status IN ('pending', 'failed')")
MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one delivery."""

    delivery: Delivery
    error: str | None = None
    permanent: bool = False

    @property
    def sent(self) -> bool:
        """Delivered."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class RelayResult:
    """What a relay run did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        """Messages taken and sent or failed."""
        return self.sent + self.failed + self.dead

    def __add__(self, other: RelayResult) -> RelayResult:
        return RelayResult(self.sent + other.sent, self.failed + other.failed, self.dead + other.dead)


def take_batch(session: Session, *, now: datetime, settings: NotifySettings) -> tuple[str, list[Delivery]]:
    """Lease the next due messages to this relay; returns the lease token and the deliveries, oldest first."""
    due = lock_due_rows(
        session,
        sa.select(outbox.c.id)
        .where(_DUE, outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(settings.batch_size),
        of=outbox,
    )
    lease = uuid.uuid4().hex
    if not due:
        return lease, []
    rows = session.execute(
        sa.update(outbox)
        .where(outbox.c.id.in_([row.id for row in due]), _DUE)
        .values(attempts=outbox.c.attempts + 1, lease=lease, next_attempt_at=now + settings.lease)
        .returning(
            outbox.c.id,
            outbox.c.dedupe_key,
            outbox.c.topic,
            outbox.c.audience,
            outbox.c.recipient_id,
            outbox.c.channel,
            outbox.c.language,
            outbox.c.address,
            outbox.c.payload,
            outbox.c.attempts,
        )
    ).all()
    deliveries = [
        Delivery(
            id=row.id,
            dedupe_key=row.dedupe_key,
            topic=row.topic,
            audience=row.audience.value,
            recipient_id=row.recipient_id,
            channel=row.channel,
            language=row.language,
            address=row.address,
            payload=row.payload,
            attempt=row.attempts,
        )
        for row in rows
    ]
    return lease, sorted(deliveries, key=lambda delivery: delivery.id)


def deliver(channels: Channels, delivery: Delivery, *, now: datetime) -> Outcome:
    """Send one message; every failure becomes an outcome, never an exception that would lose the batch."""
    try:
        channel: Channel = channels.for_delivery(delivery)
        channel.send(delivery, now=now)
    except DeliveryError as exc:
        return Outcome(delivery, str(exc), exc.permanent)
    except TemplateError as exc:
        # The notice cannot be rendered from its payload: no later attempt will do better.
        return Outcome(delivery, f"cannot render the notice: {type(exc).__name__}: {exc}", permanent=True)
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not stop the other deliveries
        return Outcome(delivery, f"{type(exc).__name__}: {exc}")
    return Outcome(delivery)


def record_outcomes(
    session: Session, lease: str, outcomes: list[Outcome], *, now: datetime, settings: NotifySettings
) -> RelayResult:
    """Mark what was sent, schedule or dead-letter what failed; only rows still under ``lease`` change."""
    sent = [outcome.delivery.id for outcome in outcomes if outcome.sent]
    sent_count = 0
    if sent:
        sent_count = session.execute(
            sa.update(outbox)
            .where(outbox.c.id.in_(sent), outbox.c.lease == lease)
            .values(status=OutboxStatus.SENT.value, sent_at=now, lease=None)
        ).rowcount
    failed = {outcome.delivery.id: outcome for outcome in outcomes if not outcome.sent}
    if not failed:
        return RelayResult(sent=sent_count)
    still_ours = set(
        session.scalars(sa.select(outbox.c.id).where(outbox.c.id.in_(list(failed)), outbox.c.lease == lease))
    )
    updates = []
    records = []
    dead = 0
    for message_id in sorted(still_ours):
        outcome = failed[message_id]
        attempt = outcome.delivery.attempt
        is_dead = outcome.permanent or attempt >= settings.max_attempts
        dead += is_dead
        error = (outcome.error or "")[:MAX_ERROR]
        updates.append(
            {
                "b_id": message_id,
                "b_status": OutboxStatus.DEAD.value if is_dead else OutboxStatus.FAILED.value,
                "b_next": now if is_dead else now + settings.backoff(attempt),
                "b_error": error,
            }
        )
        records.append(
            {
                "message_id": message_id,
                "attempt": attempt,
                "channel": outcome.delivery.channel,
                "failed_at": now,
                "error": error,
                "permanent": outcome.permanent,
            }
        )
    if updates:
        session.execute(
            sa.update(outbox)
            .where(outbox.c.id == sa.bindparam("b_id"), outbox.c.lease == lease)
            .values(
                status=sa.bindparam("b_status"),
                next_attempt_at=sa.bindparam("b_next", type_=OutboxMessage.next_attempt_at.type),
                last_error=sa.bindparam("b_error"),
                lease=None,
            ),
            updates,
            execution_options={"synchronize_session": False},
        )
        session.execute(sa.insert(failures), records)
    return RelayResult(sent=sent_count, failed=len(updates) - dead, dead=dead)


def run_relay(
    transaction: Callable[[], AbstractContextManager[Session]],
    *,
    settings: NotifySettings,
    clock: Callable[[], datetime],
    overrides: dict[str, Channel] | None = None,
    max_batches: int | None = None,
) -> RelayResult:
    """Deliver batch after batch until nothing is due (or ``max_batches``); each step in its own transaction."""
    total = RelayResult()
    with open_channels(settings, overrides) as channels, ThreadPoolExecutor(settings.concurrency) as pool:
        for _batch in _count(max_batches):
            with transaction() as session:
                lease, batch = take_batch(session, now=clock(), settings=settings)
            if not batch:
                break
            sent_at = clock()
            outcomes = list(pool.map(partial(deliver, channels, now=sent_at), batch))
            with transaction() as session:
                total += record_outcomes(session, lease, outcomes, now=clock(), settings=settings)
            if len(batch) < settings.batch_size:
                break
    return total


def _count(limit: int | None) -> Iterator[int]:
    number = 0
    while limit is None or number < limit:
        yield number
        number += 1
