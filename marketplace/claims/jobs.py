"""Thin scheduled entry points for the claim sweeps: one transaction per bounded batch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from marketplace.claims import sweeps
from marketplace.core.audit import audit_at_the_end
from marketplace.core.runners import side_by_side
from marketplace.extensions import db
from marketplace.scheduler import periodic_job

Sweep = Callable[..., int]


def run_in_batches(sweep: Sweep, now: datetime, *, workers: int = 1) -> int:
    """Run a sweep batch after batch, committing each, until nothing is due; ``workers`` runners side by side.

    Each batch appends its audit records last, so that the audit chain's lock is held only for a batch's last
    statements and its commit, and two runners overlap instead of queueing behind each other.
    """

    def batch() -> int:
        with db.transaction() as session, audit_at_the_end(session):
            return sweep(session, now=now)

    def batches() -> int:
        total = 0
        while moved := batch():
            total += moved
        return total

    # The first batch alone: most runs find nothing due, and those should not start runners.
    first = batch()
    if first == 0:
        return 0
    return first + side_by_side(batches, workers, name=getattr(sweep, "__name__", "sweep"))


@periodic_job("claims.open_late_shipments", every_seconds=60, description="Open late-shipment claims past the ship-by")
def open_late_shipments(now: datetime) -> int:
    """Open a late_shipment claim for each order still unshipped at its ship-by (before escalating: a claim opened
    late may already be past its own response deadline)."""
    return run_in_batches(sweeps.open_late_shipment_claims, now)


@periodic_job(
    "claims.escalate_silent_sellers", every_seconds=60, description="Escalate claims the seller left unanswered"
)
def escalate_silent_sellers(now: datetime) -> int:
    """Escalate claims past their seller response deadline."""
    return run_in_batches(sweeps.escalate_silent_sellers, now, workers=int(current_app.config["SWEEP_WORKERS"]))


@periodic_job("claims.queue_for_supervisors", every_seconds=60, description="Send overdue escalations to supervisors")
def queue_for_supervisors(now: datetime) -> int:
    """Move escalated claims past their staff deadline to the supervisors' queue."""
    return run_in_batches(sweeps.queue_overdue_for_supervisors, now)


@periodic_job("claims.mark_overdue_refunds", every_seconds=60, description="Record refunds missing at their deadline")
def mark_overdue_refunds(now: datetime) -> int:
    """Mark statutory refunds that are overdue."""
    return run_in_batches(sweeps.mark_overdue_refunds, now)
