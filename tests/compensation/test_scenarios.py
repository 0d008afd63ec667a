"""The issue's scenarios end to end: order events in, jobs run, the buyer paid, the seller charged, the ledger even."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims import sweeps
from marketplace.compensation import ledger
from marketplace.compensation.models import Compensation
from marketplace.sellers.queries import get_seller_by_external_id
from tests.conftest import login
from tests.orders.conftest import bearer, events_key, post_events
from tests.orders.factory import cancelled_event, paid_event, refund_event

__all__ = ["events_key", "post_events"]

KST = ZoneInfo("Asia/Seoul")


def _gmarket_story(post_events, session: Session, *, amount: int = 389_000) -> None:
    """Paid 2026-09-23 10:00 KST; the seller cancels for out_of_stock at 15:00 and never answers."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00", amount=amount))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    # The jobs run at 2026-10-01 00:00 KST: the response deadline (2026-09-30 23:59:59 KST) has passed.
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 1, 0, 0, tzinfo=KST)) == 1
    session.commit()


def test_gmarket_story_grants_the_buyer_and_charges_the_seller_next_settlement(
    post_events, session: Session, client: FlaskClient, make_user
) -> None:
    """₩389,000 order: 5 % = ₩19,450 (within ₩3,000–₩20,000) in points, and the same in S-1's 2026-10 deduction."""
    _gmarket_story(post_events, session)
    staff = make_user("agent")
    login(client, staff)
    [compensation] = client.get("/api/v1/compensations").get_json()["items"]
    assert compensation["amount"] == 19_450 and compensation["form"] == "points"
    assert compensation["rule"] == "seller_cancellation.seller_silent" and compensation["order_id"] == "O-1"
    assert ledger.check(session).ok
    deductions = client.get("/api/v1/settlements/deductions?period=2026-10").get_json()
    assert deductions["total_to_deduct"] == 19_450
    [seller] = deductions["sellers"]
    assert seller["seller"]["id"] == "S-1" and seller["to_deduct"] == 19_450
    [line] = seller["lines"]
    assert (line["compensation_id"], line["claim_type"], line["amount"], line["status"]) == (
        compensation["id"],
        "seller_cancellation",
        19_450,
        "open",
    )
    assert line["claim_id"] == compensation["claim_id"] and line["rule"] == "seller_cancellation.seller_silent"


def test_refund_four_business_days_late_on_a_million_won_order_yields_delay_interest(
    post_events, session: Session, client: FlaskClient, make_user
) -> None:
    """Deadline 2026-09-30; refunded 2026-10-07 10:00 KST, 4 business days late (10-05 is a substitute holiday):
    7 calendar days of delay (10-01 to 10-07) × 15 % a year on ₩1,000,000 = ₩2,876.71 → ₩2,876."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00", amount=1_000_000))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    post_events(refund_event(amount=1_000_000, occurred_at="2026-10-07T10:00:00+09:00"))
    login_as = make_user("agent")
    login(client, login_as)
    [compensation] = client.get("/api/v1/compensations").get_json()["items"]
    assert compensation["amount"] == 2_876 and compensation["form"] == "cash"
    assert compensation["rule"] == "seller_cancellation.refund_late" and compensation["recoverable"] is True
    shown = client.get(f"/api/v1/compensations/{compensation['id']}").get_json()
    assert shown["calculation"] == {
        "method": "delay_interest",
        "base": 1_000_000,
        "annual_percent": "15",
        "days": 7,
        "first_day": "2026-10-01",
        "last_day": "2026-10-07",
        "days_in_year": 365,
    }
    assert shown["policy_version"] == 0


def test_refund_in_time_pays_no_interest(post_events, session: Session, client: FlaskClient) -> None:
    """Refunded before the deadline: nothing is owed."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00", amount=1_000_000))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    post_events(refund_event(amount=1_000_000, occurred_at="2026-09-29T10:00:00+09:00"))
    assert session.scalar(sa.select(sa.func.count()).select_from(Compensation)) == 0


def test_seller_sees_only_its_own_deductions(
    post_events, session: Session, app: Flask, client: FlaskClient, make_user, make_api_key
) -> None:
    """The seller's user sees its line and why; asking for another seller's deductions is a 404."""
    _gmarket_story(post_events, session)
    seller = get_seller_by_external_id(session, "S-1")
    login(client, make_user("seller", seller=seller))
    mine = client.get("/api/v1/settlements/deductions?period=2026-10").get_json()
    assert [s["seller"]["id"] for s in mine["sellers"]] == ["S-1"]
    other = app.test_client()  # another seller's login
    login(other, make_user("seller"))
    assert other.get("/api/v1/settlements/deductions?period=2026-10").get_json()["sellers"] == []
    assert other.get("/api/v1/settlements/deductions?period=2026-10&seller=S-1").status_code == 404
    _key, secret = make_api_key("compensations:read")
    assert client.get("/api/v1/settlements/deductions?period=2026-13", headers=bearer(secret)).status_code == 422
