"""The staff outbox and the inboxes, through the Flask test client."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord
from marketplace.notifications.models import OutboxMessage, OutboxStatus
from tests.conftest import START, csrf_token, login
from tests.notifications.conftest import write_notice


def _client(app: Flask, user):
    client = app.test_client()
    login(client, user)
    return client


def _dead(session: Session, key: str) -> OutboxMessage:
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    message.status, message.attempts, message.last_error = OutboxStatus.DEAD, 10, "HTTP 503 Service Unavailable"
    session.commit()
    return message


def test_buyer_inbox_shows_own_notices_in_the_readers_language(
    app: Flask, session: Session, make_buyer, make_user
) -> None:
    """A buyer sees their notices, newest first, in Korean or (after choosing it) English; nobody else's."""
    buyer, other = make_buyer(), make_buyer()
    write_notice(session, ("buyer", "claim.opened", "seller_cancellation"), channel="log", recipient_id=buyer.id)
    write_notice(
        session,
        ("buyer", "compensation.granted", ""),
        channel="email",
        recipient_id=buyer.id,
        now=START + timedelta(minutes=1),
    )
    write_notice(session, ("buyer", "claim.proposed", ""), channel="log", recipient_id=other.id)
    client = _client(app, make_user("buyer", buyer=buyer))
    page = client.get("/inbox").get_data(as_text=True)
    subjects = re.findall(r'<h2 id="notice-\d+">([^<]+)</h2>', page)
    assert subjects == [
        "보상 19,450원을(를) 지급합니다 — 주문 O-30001",
        "[주문 O-30001] 판매자가 주문을 취소했습니다 — 환불 기한 2026년 9월 25일(금)",
    ]
    assert "이메일(으)로 발송 중" in page
    assert "판매자가 해결 방안을 제안했습니다" not in page
    client.get("/language/en")
    page = client.get("/inbox").get_data(as_text=True)
    assert "You are being compensated ₩19,450 — order O-30001" in page
    assert "<dt>Refund due by</dt><dd>Fri 25 Sep 2026, 23:59 KST</dd>" in page


def test_seller_inbox_shows_the_sellers_notices(app: Flask, session: Session, make_seller, make_user) -> None:
    """A seller's user reads the notices written to their seller."""
    seller = make_seller()
    write_notice(session, ("seller", "violation.recorded", ""), channel="log", recipient_id=seller.id)
    write_notice(session, ("buyer", "claim.opened", "filed"), channel="log", recipient_id=seller.id)
    page = _client(app, make_user("seller", seller=seller)).get("/inbox").get_data(as_text=True)
    assert "위반 기록: 응답 기한 초과 — 벌점 2점" in page
    assert "클레임이 접수되었습니다" not in page


def test_inbox_pages_through_many_notices(app: Flask, session: Session, make_buyer, make_user) -> None:
    """Ten notices a page, with a link to the next."""
    buyer = make_buyer()
    for n in range(12):
        write_notice(
            session, ("buyer", "claim.opened", "filed"), channel="log", recipient_id=buyer.id, dedupe_key=f"k{n}"
        )
    client = _client(app, make_user("buyer", buyer=buyer))
    first = client.get("/inbox").get_data(as_text=True)
    assert first.count('<article class="card notice"') == 10 and 'href="/inbox?page=2"' in first
    assert client.get("/inbox?page=2").get_data(as_text=True).count('<article class="card notice"') == 2


def test_staff_have_no_inbox_and_parties_no_outbox(app: Flask, make_user) -> None:
    """Each page is for its own people."""
    assert _client(app, make_user("agent")).get("/inbox").status_code == 403
    assert _client(app, make_user("buyer")).get("/staff/notifications/").status_code == 403
    assert app.test_client().get("/inbox").status_code == 302


def test_outbox_filters_by_status_audience_topic_and_day(app: Flask, session: Session, make_user) -> None:
    """Staff narrow the list; the filters stay in the paging links."""
    write_notice(session, ("buyer", "claim.opened", "filed"), channel="log", dedupe_key="a")
    write_notice(session, ("seller", "claim.reminder", ""), channel="log", dedupe_key="b")
    _dead(session, "b")
    write_notice(
        session, ("seller", "claim.opened", "filed"), channel="log", dedupe_key="c", now=START + timedelta(days=2)
    )
    client = _client(app, make_user("agent"))

    def keys(query: str) -> list[str]:
        page = client.get(f"/staff/notifications/?{query}").get_data(as_text=True)
        ids = re.findall(r'<a href="/staff/notifications/(\d+)">', page)
        return sorted(session.get(OutboxMessage, int(message_id)).dedupe_key for message_id in ids)

    assert keys("") == ["a", "b", "c"]
    assert keys("status=dead") == ["b"]
    assert keys("audience=seller") == ["b", "c"]
    assert keys("topic=claim.opened") == ["a", "c"]
    assert keys("day_from=2026-09-25") == ["c"]
    assert keys("day_to=2026-09-23&audience=seller") == ["b"]


def test_outbox_refuses_a_malformed_filter_with_a_message(app: Flask, make_user) -> None:
    """A date that is not a date is named beside its field; the page still answers."""
    response = _client(app, make_user("agent")).get("/staff/notifications/?day_from=23-09-2026&status=lost")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="day_from-error">날짜를 YYYY-MM-DD 형식으로 입력하세요.</p>' in page
    assert "목록에 있는 상태 중 하나를 고르세요." in page


def test_staff_retry_a_dead_message_from_its_page(app: Flask, session: Session, make_user) -> None:
    """The retry button brings a dead message back, due now, and the audit log says who did it."""
    message = _dead(session, write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway"))
    agent = make_user("agent")
    client = _client(app, agent)
    page = client.get(f"/staff/notifications/{message.id}").get_data(as_text=True)
    assert f'aria-label="메시지 {message.id}번 다시 보내기"' in page
    response = client.post(
        f"/staff/notifications/{message.id}/retry",
        data={"csrf_token": csrf_token(page), "next": "/staff/notifications/?status=dead"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/staff/notifications/?status=dead"
    session.expire_all()
    assert (message.status, message.attempts, message.next_attempt_at) == (OutboxStatus.PENDING, 0, START)
    audit = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "outbox.retry")).one()
    assert audit.actor == f"user:{agent.id}" and audit.entity_id == str(message.id)
    assert audit.before["status"] == "dead" and audit.after["status"] == "pending"
    assert f"메시지 {message.id}번을 곧 다시 보냅니다." in client.get("/staff/notifications/?status=dead").get_data(
        as_text=True
    )


def test_retry_without_csrf_token_changes_nothing(app: Flask, session: Session, make_user) -> None:
    """A forged form is refused."""
    message = _dead(session, write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway"))
    response = _client(app, make_user("agent")).post(f"/staff/notifications/{message.id}/retry", data={})
    assert response.status_code == 400
    session.expire_all()
    assert message.status is OutboxStatus.DEAD


def test_retry_of_a_message_that_is_not_dead_is_refused(app: Flask, session: Session, make_user) -> None:
    """Only a dead message can be retried; a pending one answers 409 and stays as it was."""
    key = write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway")
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    client = _client(app, make_user("agent"))
    token = csrf_token(client.get(f"/staff/notifications/{message.id}").get_data(as_text=True))
    response = client.post(f"/staff/notifications/{message.id}/retry", data={"csrf_token": token})
    assert response.status_code == 409
    assert "재시도 횟수를 모두 쓴 메시지만 다시 보낼 수 있습니다." in response.get_data(as_text=True)
    assert client.post("/staff/notifications/999999/retry", data={"csrf_token": token}).status_code == 404


def test_message_page_lists_every_failed_attempt(app: Flask, session: Session, make_user) -> None:
    """Staff see each attempt's time and error, and the notice as the recipient reads it."""
    from marketplace.notifications.models import DeliveryFailure

    message = _dead(session, write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway"))
    for attempt in (1, 2):
        session.add(
            DeliveryFailure(
                message_id=message.id,
                attempt=attempt,
                channel="gateway",
                failed_at=START + timedelta(minutes=attempt),
                error=f"HTTP 503 attempt {attempt}",
            )
        )
    session.commit()
    page = _client(app, make_user("agent")).get(f"/staff/notifications/{message.id}").get_data(as_text=True)
    assert "HTTP 503 attempt 1" in page and "HTTP 503 attempt 2" in page
    assert "[주문 O-30001] 클레임이 접수되었습니다 — 파손" in page
