"""The notices and webhooks that other domains' signals produce, written in the transaction of the change.

Loaded last (``SUBSCRIBER_MODULES``), so a notice reports consequences already written by the other handlers of
the same signal (the violation, the compensation).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.claims.models import ClaimStatus
from marketplace.claims.policy import current_sla
from marketplace.core.auth import Actor
from marketplace.core.bulk import insert_skipping
from marketplace.core.queries import business_calendar
from marketplace.core.signals import Signal, subscribe
from marketplace.notifications.models import SellerReminder
from marketplace.notifications.notices import OTHER_SIGNALS, write_notices
from marketplace.notifications.sweeps import planned_reminder


@subscribe(*claim_signals.ALL)
def tell_about_claims(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Buyers' and sellers' notices for claim moves, and a ``claim.*`` webhook to the marketplace for each."""
    write_notices(session, signals, now=now, webhooks=True)


@subscribe(*OTHER_SIGNALS)
def tell_about_consequences(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Sellers' notices of violations, sanctions, appeals and deductions; buyers' of compensation and incidents."""
    write_notices(session, signals, now=now)


@subscribe(claim_signals.OPENED)
def plan_reminders(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Each claim opened awaiting the seller gets its reminder time, from the SLA policy in force as it opens."""
    days_before = current_sla(session).reminder_business_days_before
    calendar = business_calendar(session)
    rows = []
    for signal in signals:
        if signal.data["status"] != ClaimStatus.AWAITING_SELLER.value:
            continue
        remind_at = planned_reminder(
            calendar, days_before, opened_at=signal.at, response_due_at=signal.data["response_due_at"]
        )
        if remind_at is not None:
            rows.append({"claim_id": signal.data["claim_id"], "remind_at": remind_at})
    insert_skipping(session, SellerReminder.__table__, rows, conflict=["claim_id"])
