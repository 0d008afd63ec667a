"""Thin scheduled entry points: remind sellers, then deliver what is due."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from marketplace.core import clock
from marketplace.extensions import db
from marketplace.notifications import relay, sweeps
from marketplace.notifications.settings import NotifySettings
from marketplace.scheduler import periodic_job


@periodic_job(
    "notifications.remind_sellers", every_seconds=60, description="Remind sellers of claims due in a business day"
)
def remind_sellers(now: datetime) -> int:
    """Write the reminders that fell due, one transaction per bounded batch."""
    total = 0
    while True:
        with db.transaction() as session:
            taken, written = sweeps.take_reminders(session, now=now)
        total += written
        if taken == 0:
            return total


@periodic_job("notifications.deliver", every_seconds=10, description="Deliver pending notices and webhooks")
def deliver(now: datetime) -> int:
    """Deliver every due message, batch after batch; the clock is read again for each step."""
    settings = NotifySettings.from_config(current_app.config)
    return relay.run_relay(db.transaction, settings=settings, clock=clock.now).handled
