"""Sellers are reminded one business day before their response deadline, once, effective at the reminder time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.operations import file_claim, propose_remedy
from marketplace.claims.policy import DEFAULT_SLA, SLA
from marketplace.core.auth import Actor
from marketplace.core.policies import publish_policy
from marketplace.core.queries import load_calendar
from marketplace.notifications.models import OutboxMessage, SellerReminder
from marketplace.notifications.sweeps import remind_sellers, reminder_time, take_reminders
from tests.conftest import SETUP, START

KST = ZoneInfo("Asia/Seoul")
# Filed Wed 2026-09-23 15:00 KST: 3 business days (Chuseok on the 24th–26th) → due Wed 09-30 23:59:59 KST,
# so the reminder is due at 00:00 KST on Tue 09-29.
REMINDER_AT = datetime(2026, 9, 29, 0, 0, tzinfo=KST)


def _reminders(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == "claim.reminder")))


def _claim(session: Session, make_order, make_user):
    order = make_order()
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "damaged", description="파손", actor=buyer, now=START)
    session.commit()
    return order, claim


def test_reminder_is_written_one_business_day_before_the_deadline(session: Session, make_order, make_user) -> None:
    """Nothing on Monday night; at 00:00 on Tuesday the seller's reminder, effective then, naming the deadline."""
    order, claim = _claim(session, make_order, make_user)
    assert claim.response_due_at == datetime(2026, 9, 30, 23, 59, 59, tzinfo=KST)
    assert remind_sellers(session, now=datetime(2026, 9, 28, 23, 59, tzinfo=KST)) == 0
    assert remind_sellers(session, now=REMINDER_AT) == 1
    [reminder] = _reminders(session)
    assert reminder.dedupe_key == f"claim.reminder:{claim.id}:seller:{order.seller_id}"
    assert reminder.payload["at"] == REMINDER_AT.astimezone(UTC).isoformat()
    assert reminder.payload["response_due_at"] == claim.response_due_at.isoformat()
    assert reminder.payload["order_external_id"] == order.external_id


def test_reminder_is_written_once_and_a_late_run_keeps_the_effective_time(
    session: Session, make_order, make_user
) -> None:
    """A scheduler that was down catches up with the reminder's own time; later runs write nothing more."""
    _claim(session, make_order, make_user)
    late = datetime(2026, 9, 30, 10, 0, tzinfo=KST)
    assert remind_sellers(session, now=late) == 1
    assert remind_sellers(session, now=late) == 0
    [reminder] = _reminders(session)
    assert reminder.payload["at"] == REMINDER_AT.astimezone(UTC).isoformat()


def test_no_reminder_once_the_seller_answered_or_the_deadline_passed(session: Session, make_order, make_user) -> None:
    """Only claims still awaiting the seller, before their deadline, are reminded."""
    order, claim = _claim(session, make_order, make_user)
    seller = Actor.for_user(make_user("seller", seller=order.seller))
    propose_remedy(session, claim, "refund", amount=None, message="", actor=seller, now=START)
    session.commit()
    assert remind_sellers(session, now=REMINDER_AT) == 0
    _order, _other = _claim(session, make_order, make_user)
    assert remind_sellers(session, now=datetime(2026, 10, 1, 0, 0, tzinfo=KST)) == 0
    assert _reminders(session) == []


def test_claim_opened_after_its_reminder_time_gets_none(session: Session, make_order, make_user) -> None:
    """With a one-day answer window the reminder time falls before the claim: its opening notice says it all."""
    document = {**DEFAULT_SLA, "seller_response_business_days": {**DEFAULT_SLA["seller_response_business_days"]}}
    document["seller_response_business_days"]["damaged"] = 1
    publish_policy(session, SLA, document, note="하루", actor=SETUP, now=START)
    _claim(session, make_order, make_user)
    assert remind_sellers(session, now=datetime(2026, 9, 28, 12, 0, tzinfo=KST)) == 0
    assert _reminders(session) == []


def test_reminder_time_skips_weekends_and_holidays(session: Session) -> None:
    """A Monday deadline is reminded on Friday, or on Thursday when Friday is Hangul Day; the day after Chuseok,
    on the last business day before it."""
    calendar = load_calendar(session, "Asia/Seoul")
    assert reminder_time(calendar, datetime(2026, 10, 19, 23, 59, 59, tzinfo=KST), 1) == datetime(
        2026, 10, 16, 0, 0, tzinfo=KST
    )
    monday = datetime(2026, 10, 12, 23, 59, 59, tzinfo=KST)
    assert reminder_time(calendar, monday, 1) == datetime(2026, 10, 8, 0, 0, tzinfo=KST)
    after_chuseok = datetime(2026, 9, 28, 23, 59, 59, tzinfo=KST)
    assert reminder_time(calendar, after_chuseok, 1) == datetime(2026, 9, 23, 0, 0, tzinfo=KST)
    assert reminder_time(calendar, monday, 0) == datetime(2026, 10, 12, 0, 0, tzinfo=KST)


def test_claims_open_before_reminders_were_planned_get_theirs_from_the_sweep(
    session: Session, make_order, make_user
) -> None:
    """The migration leaves the claims open then without a reminder time; the sweep gives them theirs first."""
    _order, claim = _claim(session, make_order, make_user)
    session.execute(sa.update(SellerReminder).values(remind_at=None))
    session.commit()
    assert remind_sellers(session, now=datetime(2026, 9, 28, 23, 59, tzinfo=KST)) == 0
    assert session.get(SellerReminder, claim.id).remind_at == REMINDER_AT
    assert remind_sellers(session, now=REMINDER_AT) == 1
    assert session.get(SellerReminder, claim.id) is None
    [reminder] = _reminders(session)
    assert reminder.payload["at"] == REMINDER_AT.astimezone(UTC).isoformat()


def test_a_reminder_is_planned_when_the_claim_opens_and_taken_when_sent(
    session: Session, make_order, make_user
) -> None:
    """What the sweep reads: one row per claim awaiting the seller, gone once its reminder is written or moot."""
    _order, claim = _claim(session, make_order, make_user)
    assert session.get(SellerReminder, claim.id).remind_at == REMINDER_AT
    _other_order, answered = _claim(session, make_order, make_user)
    seller = Actor.for_user(make_user("seller", seller=_other_order.seller))
    propose_remedy(session, answered, "refund", amount=None, message="", actor=seller, now=START)
    session.commit()
    assert take_reminders(session, now=REMINDER_AT) == (2, 1)
    assert session.scalars(sa.select(SellerReminder)).all() == []
