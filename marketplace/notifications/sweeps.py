"""The reminder sweep: a seller who has not answered a claim hears about it before the response deadline.

The SLA policy's ``reminder_business_days_before`` (default 1, eBay MBG) says when: at 00:00 Asia/Seoul of the
business day that many business days before the deadline's day (0: on the deadline's day itself). A claim opened
after its reminder time gets none (its opening notice already named the deadline). The effective time of the
reminder is that moment, not the sweep's run: a scheduler that was down catches up with the right times.

The sweep reads claims (it never locks or changes them: claims belong to another domain) and writes one notice per
claim behind the dedupe key ``claim.reminder:<claim>:seller:<seller>``; claims reminded already are left out by an
anti-join on that key, so each run reads only what is due and not yet reminded.
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
from marketplace.core.sweeps import DEFAULT_BATCH
from marketplace.notifications.models import OutboxMessage
from marketplace.notifications.notices import CLAIM_REMINDER, write_notices

claims = Claim.__table__
outbox = OutboxMessage.__table__


def reminder_time(calendar: BusinessCalendar, deadline: datetime, business_days_before: int) -> datetime:
    """00:00 local of the business day ``business_days_before`` business days before the deadline's day."""
    day = calendar.local_date(deadline)
    remaining = business_days_before
    while remaining > 0:
        day -= timedelta(days=1)
        if calendar.is_business_day(day):
            remaining -= 1
    return _start_of_day(calendar, day)


def _start_of_day(calendar: BusinessCalendar, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=calendar.tz).astimezone(UTC)


def remind_sellers(session: Session, *, now: datetime, batch_size: int = DEFAULT_BATCH) -> int:
    """Write the reminders that fell due by ``now``, a bounded batch at a time; returns how many were written."""
    days_before = current_sla(session).reminder_business_days_before
    calendar = business_calendar(session)
    # The latest deadline whose reminder time has come: ``days_before`` business days after today.
    horizon = calendar.add_business_days(now, days_before)
    awaiting = sa.and_(
        claims.c.status == ClaimStatus.AWAITING_SELLER.value,
        claims.c.response_due_at >= now,
        claims.c.response_due_at <= horizon,
    )
    deadlines = session.scalars(sa.select(claims.c.response_due_at).where(awaiting).distinct()).all()
    if not deadlines:
        return 0
    # Deadlines end at 23:59:59 local, so there are only a few distinct ones in the window.
    opened_before = [
        sa.and_(
            claims.c.response_due_at == deadline, claims.c.opened_at < reminder_time(calendar, deadline, days_before)
        )
        for deadline in deadlines
    ]
    reminded = sa.exists().where(
        outbox.c.dedupe_key
        == sa.literal(f"{CLAIM_REMINDER}:")
        + sa.cast(claims.c.id, sa.String)
        + sa.literal(":seller:")
        + sa.cast(claims.c.seller_id, sa.String)
    )
    due = session.execute(
        sa.select(claims.c.id, claims.c.response_due_at)
        .where(awaiting, sa.or_(*opened_before), ~reminded)
        .order_by(claims.c.response_due_at, claims.c.id)
        .limit(batch_size)
    ).all()
    if not due:
        return 0
    signals = claim_signals.claim_signals(
        session,
        CLAIM_REMINDER,
        [
            (
                row.id,
                reminder_time(calendar, row.response_due_at, days_before),
                {"response_due_at": row.response_due_at},
            )
            for row in due
        ],
    )
    # Counted by what was written: a claim whose reminder cannot be written is not taken for a new one forever.
    return write_notices(session, signals, now=now)
