"""Compensation pages: the buyer's compensation and why, the seller's deductions, staff grants and voids."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims import sweeps
from marketplace.claims.models import Claim
from marketplace.compensation.models import Compensation, CompensationStatus
from marketplace.orders.queries import get_buyer_by_external_id
from marketplace.sellers.queries import get_seller_by_external_id
from tests.conftest import csrf_token, login
from tests.orders.conftest import events_key, post_events
from tests.orders.factory import cancelled_event, paid_event

__all__ = ["events_key", "post_events"]

KST = ZoneInfo("Asia/Seoul")


def _story(post_events: Any, session: Session) -> Claim:
    """The Gmarket case: paid, cancelled by the seller for out_of_stock, left unanswered past the deadline."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00", amount=389_000))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    assert sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 1, 0, 0, tzinfo=KST)) == 1
    session.commit()
    return session.scalars(sa.select(Claim)).one()


def _browser(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    return client


def test_buyer_sees_the_points_and_why(app: Flask, post_events: Any, session: Session, make_user: Any) -> None:
    """₩19,450 in points for the seller's silence: 5 % of ₩389,000, with the floor and cap shown."""
    claim = _story(post_events, session)
    buyer = make_user("buyer", buyer=get_buyer_by_external_id(session, "B-1"))
    page = _browser(app, buyer).get("/buyer/compensation").get_data(as_text=True)
    assert "19,450원" in page and "포인트" in page
    assert "판매자가 주문을 취소함: 판매자가 기한까지 무응답" in page
    assert "주문 금액(389,000원)의 5%" in page and "최소 3,000원" in page and "최대 20,000원" in page
    assert f"/buyer/claims/{claim.id}" in page
    claim_page = _browser(app, buyer).get(f"/buyer/claims/{claim.id}").get_data(as_text=True)
    assert "19,450원" in claim_page


def test_seller_sees_the_deduction_with_its_claim(
    app: Flask, post_events: Any, session: Session, make_user: Any
) -> None:
    """The October settlement of S-1 deducts ₩19,450, traceable to the claim."""
    claim = _story(post_events, session)
    seller = make_user("seller", seller=get_seller_by_external_id(session, "S-1"))
    page = _browser(app, seller).get("/seller/deductions?period=2026-10").get_data(as_text=True)
    assert "19,450원" in page and f"/seller/claims/{claim.id}" in page and "차감 예정" in page
    other = make_user("seller")
    assert "19,450원" not in _browser(app, other).get("/seller/deductions?period=2026-10").get_data(as_text=True)


def test_supervisor_grants_once_and_a_second_grant_is_refused(
    app: Flask, post_events: Any, session: Session, make_user: Any
) -> None:
    """A staff grant pays at once; the same claim cannot be granted twice by staff (the form says why)."""
    claim = _story(post_events, session)
    client = _browser(app, make_user("supervisor"))
    path = f"/staff/claims/{claim.id}"
    body = {"grant-amount": "10000", "grant-form": "coupon", "grant-reason": "장기 지연 사과"}
    response = client.post(
        f"{path}/compensation", data={"csrf_token": csrf_token(client.get(path).get_data(as_text=True)), **body}
    )
    assert response.status_code == 302
    grants = session.scalars(sa.select(Compensation).where(Compensation.rule == "staff")).all()
    assert [(grant.amount, grant.form.value, grant.recoverable) for grant in grants] == [(10_000, "coupon", False)]
    response = client.post(
        f"{path}/compensation", data={"csrf_token": csrf_token(client.get(path).get_data(as_text=True)), **body}
    )
    assert response.status_code == 409
    assert "먼저 그 보상을 취소하세요" in response.get_data(as_text=True)
    assert len(session.scalars(sa.select(Compensation).where(Compensation.rule == "staff")).all()) == 1


def test_agent_has_no_grant_form_and_cannot_forge_one(
    app: Flask, post_events: Any, session: Session, make_user: Any
) -> None:
    """Granting money is a supervisor's action."""
    claim = _story(post_events, session)
    client = _browser(app, make_user("agent"))
    page = client.get(f"/staff/claims/{claim.id}").get_data(as_text=True)
    assert "grant-amount" not in page and "19,450원" in page
    response = client.post(
        f"/staff/claims/{claim.id}/compensation",
        data={"csrf_token": csrf_token(page), "grant-amount": "5000", "grant-form": "cash", "grant-reason": "x"},
    )
    assert response.status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(Compensation)) == 1


def test_supervisor_voids_a_grant_and_the_seller_is_no_longer_charged(
    app: Flask, post_events: Any, session: Session, make_user: Any
) -> None:
    """Voiding reverses the grant and its recovery: the deduction disappears."""
    claim = _story(post_events, session)
    [grant] = session.scalars(sa.select(Compensation)).all()
    client = _browser(app, make_user("supervisor"))
    page = client.get(f"/staff/claims/{claim.id}").get_data(as_text=True)
    response = client.post(
        f"/staff/compensations/{grant.id}/void",
        data={"csrf_token": csrf_token(page), f"void-{grant.id}-reason": "중복 지급"},
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Compensation, grant.id).status is CompensationStatus.VOIDED
    page = client.get("/staff/deductions?period=2026-10").get_data(as_text=True)
    assert "19,450원" not in page


def test_dashboard_shows_compensation_paid_and_owed_this_month(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: Any
) -> None:
    """The Gmarket grant (granted 2026-10-01) counts as paid this month and owed by the seller."""
    _story(post_events, session)
    clock.set(datetime(2026, 10, 2, 9, 0, tzinfo=KST))
    page = _browser(app, make_user("agent")).get("/").get_data(as_text=True)
    assert "이번 달 보상" in page
    assert "구매자에게 지급</th><td>19,450원" in page and "판매자 부담분</th><td>19,450원" in page
    assert "정산에서 회수</th><td>0원" in page
