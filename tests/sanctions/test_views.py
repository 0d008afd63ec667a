"""Standing pages: the seller sees its points with their reasons and appeals them with a plan of action; staff see
any seller's standing, sanctions, appeals and deductions, and supervisors impose and lift sanctions."""

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
from marketplace.core.clock import FrozenClock
from marketplace.sanctions.models import Appeal, AppealStatus, Sanction, Violation, ViolationKind, ViolationState
from marketplace.sellers.queries import get_seller_by_external_id
from tests.conftest import csrf_token, login
from tests.orders.conftest import events_key, post_events
from tests.orders.factory import cancelled_event, paid_event

__all__ = ["events_key", "post_events"]

KST = ZoneInfo("Asia/Seoul")
ESCALATED_AT = datetime(2026, 10, 1, 0, 0, tzinfo=KST)


def _story(post_events: Any, session: Session, clock: FrozenClock) -> Claim:
    """The Gmarket case: paid, cancelled by the seller for out_of_stock, left unanswered past the deadline."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00", amount=389_000))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    assert sweeps.escalate_silent_sellers(session, now=ESCALATED_AT) == 1
    session.commit()
    clock.set(datetime(2026, 10, 2, 10, 0, tzinfo=KST))
    return session.scalars(sa.select(Claim)).one()


def _cancellation(session: Session) -> Violation:
    """The violation for the cancellation itself (the silence past the deadline is a second one)."""
    return session.scalars(sa.select(Violation).where(Violation.kind == ViolationKind.SELLER_CANCELLATION)).one()


def _browser(app: Flask, user: Any, *, english: bool = False) -> FlaskClient:
    client = app.test_client()
    login(client, user)
    if english:
        client.get("/language/en")
    return client


def _post(client: FlaskClient, page: str, action: str, data: dict[str, str]) -> Any:
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data})


def test_seller_sees_its_points_and_the_claim_behind_them(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    claim = _story(post_events, session, clock)
    seller = make_user("seller", seller=get_seller_by_external_id(session, "S-1"))
    violation = _cancellation(session)
    page = _browser(app, seller).get("/seller/standing/").get_data(as_text=True)
    assert "내 판매자 상태" in page
    assert f'href="/seller/claims/{claim.id}"' in page
    assert f"/seller/standing/violations/{violation.id}/appeal" in page
    assert f">{violation.points}<" in page
    english = _browser(app, seller, english=True).get("/seller/standing/").get_data(as_text=True)
    assert "My standing" in english and "Points and their reasons" in english and "Appeal" in english


def test_another_seller_and_a_buyer_see_nothing_of_it(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    claim = _story(post_events, session, clock)
    violation = _cancellation(session)
    other = _browser(app, make_user("seller"))
    assert f"/seller/claims/{claim.id}" not in other.get("/seller/standing/").get_data(as_text=True)
    assert other.get(f"/seller/standing/violations/{violation.id}/appeal").status_code == 404
    buyer = _browser(app, make_user("buyer"))
    assert buyer.get("/seller/standing/").status_code == 404
    assert buyer.get(f"/seller/standing/violations/{violation.id}/appeal").status_code in (403, 404)
    assert buyer.get("/staff/sellers/S-1").status_code == 403
    assert _browser(app, make_user("seller")).get("/staff/sellers/").status_code == 403


def test_an_appeal_missing_a_part_is_shown_again_with_what_was_typed(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    _story(post_events, session, clock)
    violation = _cancellation(session)
    client = _browser(app, make_user("seller", seller=get_seller_by_external_id(session, "S-1")))
    path = f"/seller/standing/violations/{violation.id}/appeal"
    response = _post(
        client, path, path, {"root_cause": "재고 연동 오류", "actions_taken": "", "prevention": "매일 점검"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "재고 연동 오류" in page and "매일 점검" in page
    assert 'id="actions_taken-error"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == 0


def test_the_seller_files_a_plan_of_action_and_staff_accept_it(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    _story(post_events, session, clock)
    violation = _cancellation(session)
    client = _browser(app, make_user("seller", seller=get_seller_by_external_id(session, "S-1")))
    path = f"/seller/standing/violations/{violation.id}/appeal"
    plan = {"root_cause": "재고 연동 오류", "actions_taken": "연동 수정", "prevention": "매일 재고 대조"}
    response = _post(client, path, path, plan)
    assert response.status_code == 302 and response.headers["Location"].endswith("/seller/standing/")
    standing = client.get("/seller/standing/").get_data(as_text=True)
    assert "재고 연동 오류" in standing and "매일 재고 대조" in standing
    assert path not in standing  # one open appeal at a time: the link is gone
    again = _post(client, path, path, plan)
    assert again.status_code == 409 and session.scalar(sa.select(sa.func.count()).select_from(Appeal)) == 1

    agent = _browser(app, make_user("agent"))
    appeal = session.scalars(sa.select(Appeal)).one()
    staff_page = agent.get("/staff/sellers/S-1").get_data(as_text=True)
    assert "재고 연동 오류" in staff_page and "19,450원" in staff_page  # the plan, and the deduction for the grant
    assert "제재 부과" not in staff_page  # agents do not impose sanctions
    decided = _post(
        agent,
        "/staff/sellers/S-1",
        f"/staff/sellers/S-1/appeals/{appeal.id}/decision",
        {f"decide-{appeal.id}-outcome": "accepted", f"decide-{appeal.id}-reason": "재고 연동 장애로 확인"},
    )
    assert decided.status_code == 302
    session.expire_all()
    assert session.get(Appeal, appeal.id).status is AppealStatus.ACCEPTED
    assert session.get(Violation, violation.id).state is ViolationState.OVERTURNED


def test_staff_list_sellers_by_points(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    _story(post_events, session, clock)
    client = _browser(app, make_user("agent"), english=True)
    page = client.get("/staff/sellers/").get_data(as_text=True)
    assert 'href="/staff/sellers/S-1"' in page and "Sellers with points or sanctions" in page
    assert 'href="/staff/sellers/S-1"' not in client.get("/staff/sellers/?stage=restricted").get_data(as_text=True)
    assert client.get("/staff/sellers/NOPE").status_code == 404


def test_a_supervisor_imposes_and_lifts_an_agent_may_not(
    app: Flask, post_events: Any, session: Session, make_user: Any, make_seller: Any, clock: FrozenClock
) -> None:
    _story(post_events, session, clock)
    agent = _browser(app, make_user("agent"))
    refused = _post(
        agent, "/staff/sellers/S-1", "/staff/sellers/S-1/sanctions", {"impose-stage": "warning", "impose-reason": "x"}
    )
    assert refused.status_code == 403
    supervisor = _browser(app, make_user("supervisor"))
    missing = _post(
        supervisor,
        "/staff/sellers/S-1",
        "/staff/sellers/S-1/sanctions",
        {"impose-stage": "warning", "impose-reason": ""},
    )
    assert missing.status_code == 422 and 'id="impose-reason-error"' in missing.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Sanction)) == 0
    past = _post(
        supervisor,
        "/staff/sellers/S-1",
        "/staff/sellers/S-1/sanctions",
        {"impose-stage": "warning", "impose-reason": "반복 품절취소", "impose-ends_at": "2026-09-01T00:00"},
    )
    assert past.status_code == 422 and "반복 품절취소" in past.get_data(as_text=True)
    imposed = _post(
        supervisor,
        "/staff/sellers/S-1",
        "/staff/sellers/S-1/sanctions",
        {"impose-stage": "warning", "impose-reason": "반복 품절취소"},
    )
    assert imposed.status_code == 302
    sanction = session.scalars(sa.select(Sanction)).one()
    page = supervisor.get("/staff/sellers/S-1").get_data(as_text=True)
    assert "반복 품절취소" in page and f"/staff/sellers/S-1/sanctions/{sanction.id}/lift" in page
    lifted = _post(
        supervisor,
        "/staff/sellers/S-1",
        f"/staff/sellers/S-1/sanctions/{sanction.id}/lift",
        {f"lift-{sanction.id}-reason": "소명 확인"},
    )
    assert lifted.status_code == 302
    session.expire_all()
    assert session.get(Sanction, sanction.id).ended_at is not None
    other = make_seller()
    wrong = _post(
        supervisor,
        "/staff/sellers/S-1",
        f"/staff/sellers/{other.external_id}/sanctions/{sanction.id}/lift",
        {f"lift-{sanction.id}-reason": "x"},
    )
    assert wrong.status_code == 404


def test_the_claim_page_shows_the_sellers_standing(
    app: Flask, post_events: Any, session: Session, make_user: Any, clock: FrozenClock
) -> None:
    claim = _story(post_events, session, clock)
    page = _browser(app, make_user("agent")).get(f"/staff/claims/{claim.id}").get_data(as_text=True)
    points = session.scalar(sa.select(sa.func.sum(Violation.points)))
    assert f"유효 벌점: <strong>{points}</strong>" in page and 'href="/staff/sellers/S-1"' in page


def test_the_dashboard_counts_sellers_by_stage(
    app: Flask, post_events: Any, session: Session, make_user: Any, make_seller: Any, clock: FrozenClock
) -> None:
    _story(post_events, session, clock)  # 4 points: below the notice threshold
    make_seller()  # never a violation
    agent = _browser(app, make_user("agent"), english=True)
    page = agent.get("/").get_data(as_text=True)
    assert "Sellers by stage" in page and '<th scope="row">in good standing</th><td>2</td>' in page
    supervisor = _browser(app, make_user("supervisor"))
    imposed = _post(
        supervisor,
        "/staff/sellers/S-1",
        "/staff/sellers/S-1/sanctions",
        {"impose-stage": "warning", "impose-reason": "x"},
    )
    assert imposed.status_code == 302
    page = agent.get("/").get_data(as_text=True)
    assert '<th scope="row">in good standing</th><td>1</td>' in page
    assert '<th scope="row">warning (no new listings)</th><td>1</td>' in page
