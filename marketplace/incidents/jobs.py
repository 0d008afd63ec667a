"""The scheduler carries out incident runs started from the API: one transaction per batch, resumable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from marketplace.core.auth import SCHEDULER, Actor
from marketplace.core.runners import side_by_side
from marketplace.extensions import db
from marketplace.incidents.operations import DEFAULT_BATCH, run_incident_batch
from marketplace.incidents.queries import running_incident_ids
from marketplace.scheduler import periodic_job


def run_incident(
    incident_id: int,
    now: Callable[[], datetime] | datetime,
    *,
    actor: Actor = SCHEDULER,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> int:
    """Run the incident batch after batch, committing each, until none of its orders is left for this runner.

    On PostgreSQL ``workers`` runners (default ``INCIDENT_WORKERS``, 2) take batches side by side: SKIP LOCKED gives
    each its own orders, and one's Python overlaps the other's statements. SQLite takes one writer at a time, and a
    session factory bound to one connection (the tests') serves one runner: one.
    """
    if workers is None:
        workers = int(current_app.config["INCIDENT_WORKERS"])
    guard = threading.Lock()

    def report(done: int) -> None:
        if progress is not None:
            with guard:
                progress(done)

    return side_by_side(
        lambda: _run_batches(incident_id, now, actor=actor, batch_size=batch_size, progress=report),
        workers,
        name=f"incident-{incident_id}",
    )


def _run_batches(
    incident_id: int,
    now: Callable[[], datetime] | datetime,
    *,
    actor: Actor,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    total = 0
    while True:
        at = now() if callable(now) else now
        with db.transaction() as session:
            done = run_incident_batch(session, incident_id, actor=actor, now=at, batch_size=batch_size)
        total += done
        if progress is not None and done:
            progress(done)
        if done == 0:
            return total


@periodic_job("incidents.run_started", every_seconds=60, description="Compensate the orders of started incidents")
def run_started_incidents(now: datetime) -> int:
    """Carry on every incident whose run was started (from the API or an interrupted command)."""
    with db.transaction() as session:
        incident_ids = running_incident_ids(session)
    return sum(run_incident(incident_id, now) for incident_id in incident_ids)
