"""Thin scheduled entry points for the sanction sweeps: one transaction per bounded batch."""

from __future__ import annotations

from datetime import datetime

from marketplace.claims.jobs import run_in_batches
from marketplace.sanctions import sweeps
from marketplace.scheduler import periodic_job


@periodic_job("sanctions.raise_late_shipments", every_seconds=60, description="Raise late shipments 4+ days late")
def raise_late_shipments(now: datetime) -> int:
    """Give late shipments 4 or more business days late their severe points."""
    return run_in_batches(sweeps.raise_late_shipments, now)


@periodic_job("sanctions.expire_violations", every_seconds=60, description="Stop counting violations past the window")
def expire_violations(now: datetime) -> int:
    """Expire violations older than the window."""
    return run_in_batches(sweeps.expire_violations, now)


@periodic_job("sanctions.end_sanctions", every_seconds=60, description="End sanctions whose time ran out")
def end_sanctions(now: datetime) -> int:
    """End sanctions at their end time."""
    return run_in_batches(sweeps.end_sanctions, now)
