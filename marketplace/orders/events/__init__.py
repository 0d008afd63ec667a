"""Order events from the marketplace: each validated on its own, stored once per event id, folded into its order.

This is the platform's hot path. A batch of up to 1,000 events costs a fixed number of statements — one read of
the used event ids, one of the orders and one of their stored events, one each of the sellers and buyers, one
each taking the new sellers', buyers' and orders' ids, then one bulk write per table — never one per event, and
no ORM object per row (but for the claims a batch opens). Only the orders the batch touches are folded again.
The rows of each table are built while the database stores the previous table's (``batch.Batch._apply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.orders.events.batch import Batch, prepare_transaction
from marketplace.orders.events.results import (
    EventResult,
    EventStatus,
    IncomingEvent,
    IngestOutcome,
    parse_event,
    payload_hash,
)

__all__ = ["EventResult", "EventStatus", "IngestOutcome", "ingest_events", "payload_hash"]


def ingest_events(session: Session, raw_events: Sequence[Any], *, actor: Actor, now: datetime) -> IngestOutcome:
    """Validate, store and apply order events; each succeeds or fails on its own. Flushes, never commits."""
    results: dict[int, EventResult] = {}
    incoming: list[IncomingEvent] = []
    for index, raw in enumerate(raw_events):
        parsed = parse_event(index, raw)
        if isinstance(parsed, IncomingEvent):
            incoming.append(parsed)
        else:
            results[index] = parsed
    if incoming:
        prepare_transaction(session)
        for result in Batch(session, actor=actor, now=now).run(incoming):
            results[result.index] = result
    return IngestOutcome([results[index] for index in range(len(raw_events))])
