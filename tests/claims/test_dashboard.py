"""The staff dashboard: open claims by time left before breach, and the deadlines breached today."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy.orm import Session

from marketplace.claims import queries, sweeps
from marketplace.claims.operations import file_claim
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from tests.conftest import START, login

KST = ZoneInfo("Asia/Seoul")


def _file(session: Session, make_order: Any, make_user: Any, at: datetime) -> None:
    order = make_order()
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    file_claim(session, order, "damaged", description="파손", actor=buyer, now=at)


def test_open_claims_fall_into_time_to_breach_buckets(session: Session, make_order: Any, make_user: Any) -> None:
    """Filed 10 days ago: overdue; filed now: more than 3 days left (deadline 2026-09-30 23:59 KST)."""
    _file(session, make_order, make_user, START - timedelta(days=10))
    _file(session, make_order, make_user, START)
    session.commit()
    buckets = queries.open_claims_by_time_to_breach(session, now=START)
    assert buckets["overdue"] == 1 and buckets["later"] == 1
    assert sum(buckets.values()) == 2
    late = queries.open_claims_by_time_to_breach(session, now=datetime(2026, 9, 30, 22, 0, tzinfo=KST))
    assert late["under_4h"] == 1 and late["overdue"] == 1


def test_dashboard_counts_escalations_breached_today(
    app: Flask, session: Session, make_order: Any, make_user: Any, clock: FrozenClock
) -> None:
    """A silent seller's claim escalated at its deadline counts as breached on that day, in Seoul time."""
    _file(session, make_order, make_user, START)
    session.commit()
    sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 1, 0, 5, tzinfo=KST))
    session.commit()
    day_start = datetime(2026, 9, 30, tzinfo=KST)
    assert queries.breaches_between(session, day_start, day_start + timedelta(days=1))["seller_silent"] == 1
    assert queries.breaches_between(session, day_start + timedelta(days=1), day_start + timedelta(days=2)) == {
        "seller_silent": 0,
        "staff_late": 0,
        "refund_overdue": 0,
    }
    clock.set(datetime(2026, 9, 30, 23, 59, 59, tzinfo=KST) + timedelta(seconds=1))
    client = app.test_client()
    login(client, make_user("agent"))
    page = client.get("/").get_data(as_text=True)
    assert "기한까지 남은 시간별 진행 중 클레임" in page and "<svg" in page
    assert "기한까지 답하지 않은 판매자</th><td>0" in page
