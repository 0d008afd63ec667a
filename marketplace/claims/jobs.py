"""Thin scheduled entry points for the claim sweeps: one transaction per bounded batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from marketplace.claims import sweeps
from marketplace.extensions import db
from marketplace.scheduler import periodic_job

Sweep = Callable[..., int]


def run_in_batches(sweep: Sweep, now: datetime) -> int:
    """Run a sweep batch after batch, committing each, until nothing is due."""
    total = 0
    while True:
        with db.transaction() as session:
            moved = sweep(session, now=now)
        total += moved
        if moved == 0:
            return total


@periodic_job(
    "claims.escalate_silent_sellers", every_seconds=60, description="Escalate claims the seller left unanswered"
)
def escalate_silent_sellers(now: datetime) -> int:
    """Escalate claims past their seller response deadline."""
    return run_in_batches(sweeps.escalate_silent_sellers, now)


@periodic_job("claims.queue_for_supervisors", every_seconds=60, description="Send overdue escalations to supervisors")
def queue_for_supervisors(now: datetime) -> int:
    """Move escalated claims past their staff deadline to the supervisors' queue."""
    return run_in_batches(sweeps.queue_overdue_for_supervisors, now)


@periodic_job("claims.mark_overdue_refunds", every_seconds=60, description="Record refunds missing at their deadline")
def mark_overdue_refunds(now: datetime) -> int:
    """Mark statutory refunds that are overdue."""
    return run_in_batches(sweeps.mark_overdue_refunds, now)
