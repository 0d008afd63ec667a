"""The reminder sweep: a seller who has not answered a claim hears about it before the response deadline.

The SLA policy's ``reminder_business_days_before`` (default 1, eBay MBG) says when: at 00:00 Asia/Seoul of the
business day that many business days before the deadline's day (0: on the deadline's day itself). A claim opened
after its reminder time gets none (its opening notice already named the deadline). The effective time of the
reminder is that moment, not the sweep's run: a scheduler that was down catches up with the right times.

When a claim opens awaiting the seller, ``subscribers.plan_reminders`` writes its reminder time into
``seller_reminders`` (from the SLA policy in force then: a policy change applies to claims opened afterwards). The
sweep takes the rows whose time has come (SKIP LOCKED on PostgreSQL), writes one notice per claim still awaiting the
seller behind the dedupe key ``claim.reminder:<claim>:seller:<seller>``, and deletes the rows it took. It reads
claims but never locks or changes them (they belong to another domain); its cost follows what is due, not the
number of open claims.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.claims.models import Claim, ClaimStatus
from marketplace.claims.policy import current_sla
from marketplace.core.calendar import BusinessCalendar
from marketplace.core.queries import business_calendar
from marketplace.core.sweeps import DEFAULT_BATCH, lock_due_rows
from marketplace.notifications.models import SellerReminder
from marketplace.notifications.notices import CLAIM_REMINDER, write_notices

claims = Claim.__table__
reminders = SellerReminder.__table__


def reminder_time(calendar: BusinessCalendar, deadline: datetime, business_days_before: int) -> datetime:
    """00:00 local of the business day ``business_days_before`` business days before the deadline's day."""
    day = calendar.local_date(deadline)
    remaining = business_days_before
    while remaining > 0:
        day -= timedelta(days=1)
        if calendar.is_business_day(day):
            remaining -= 1
    return _start_of_day(calendar, day)


def planned_reminder(
    calendar: BusinessCalendar, business_days_before: int, *, opened_at: datetime, response_due_at: datetime
) -> datetime | None:
    """When a claim's seller is reminded, or None when the claim opened at or after that time (its opening notice
    already named the deadline)."""
    at = reminder_time(calendar, response_due_at, business_days_before)
    return at if opened_at < at else None


def _start_of_day(calendar: BusinessCalendar, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=calendar.tz).astimezone(UTC)


def remind_sellers(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Write a batch of the reminders that fell due by ``now``; returns how many were written."""
    return take_reminders(session, now=now, batch_size=batch_size)[1]


def take_reminders(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> tuple[int, int]:
    """Take a bounded batch of the planned reminders due by ``now``: (rows taken, notices written). Rows are taken
    whether or not their claim still awaits the seller, so the job goes on until nothing is taken."""
    planned = _plan_unplanned(session, batch_size)
    due = lock_due_rows(
        session,
        sa.select(reminders.c.claim_id, reminders.c.remind_at, claims.c.status, claims.c.response_due_at)
        .join(claims, claims.c.id == reminders.c.claim_id)
        .where(reminders.c.remind_at <= now)
        .order_by(reminders.c.remind_at, reminders.c.claim_id)
        .limit(batch_size),
        of=reminders,
    )
    if not due:
        return planned, 0
    # A seller who answered meanwhile, or a deadline already past (a scheduler that was down), gets no reminder.
    live = [row for row in due if row.status == ClaimStatus.AWAITING_SELLER.value and row.response_due_at >= now]
    written = 0
    if live:
        signals = claim_signals.claim_signals(
            session,
            CLAIM_REMINDER,
            [(row.claim_id, row.remind_at, {"response_due_at": row.response_due_at}) for row in live],
        )
        written = write_notices(session, signals, now=now)
    session.execute(sa.delete(reminders).where(reminders.c.claim_id.in_([row.claim_id for row in due])))
    return planned + len(due), written


def _plan_unplanned(session: Session, batch_size: int) -> int:
    """Give a batch of rows without a time (claims open before the table came) their reminder time."""
    unplanned = lock_due_rows(
        session,
        sa.select(reminders.c.claim_id, claims.c.opened_at, claims.c.response_due_at)
        .join(claims, claims.c.id == reminders.c.claim_id)
        .where(reminders.c.remind_at.is_(None))
        .limit(batch_size),
        of=reminders,
    )
    if not unplanned:
        return 0
    days_before = current_sla(session).reminder_business_days_before
    calendar = business_calendar(session)
    planned = [
        (
            row.claim_id,
            planned_reminder(calendar, days_before, opened_at=row.opened_at, response_due_at=row.response_due_at),
        )
        for row in unplanned
    ]
    timed = [{"id": claim_id, "at": at} for claim_id, at in planned if at is not None]
    if timed:
        session.execute(
            sa.update(reminders).where(reminders.c.claim_id == sa.bindparam("id")).values(remind_at=sa.bindparam("at")),
            timed,
        )
    late = [claim_id for claim_id, at in planned if at is None]
    if late:
        session.execute(sa.delete(reminders).where(reminders.c.claim_id.in_(late)))
    return len(unplanned)
