"""E-mail over SMTP to a real server on loopback (aiosmtpd): Korean and English, plain text and HTML."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.notifications.models import OutboxMessage, OutboxStatus
from marketplace.notifications.settings import NotifySettings
from tests.conftest import START
from tests.notifications.conftest import relay, write_notice
from tests.notifications.receivers import smtp_server

# The loopback test server takes a login without TLS; a real relay would use STARTTLS (SMTP_SECURITY).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def _settings(port: int, **extra) -> NotifySettings:
    return NotifySettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        smtp_from="Marketplace <no-reply@marketplace.example>",
        public_url="https://market.example",
        **extra,
    )


def test_smtp_server_receives_korean_and_english_emails_with_the_right_content(session: Session) -> None:
    """Each recipient gets their notice in their own language, as multipart plain text and HTML, with the amount
    in won and the deadlines in Seoul time."""
    korean_key = write_notice(
        session,
        ("buyer", "claim.opened", "seller_cancellation"),
        channel="email",
        address="minjun.kim@example.com",
        language="ko",
    )
    english_key = write_notice(
        session,
        ("buyer", "claim.opened", "seller_cancellation"),
        channel="email",
        address="alex.morgan@example.com",
        language="en",
    )
    with smtp_server(username="relay", password="s3cret") as (sink, port):
        result = relay(session, _settings(port, smtp_username="relay", smtp_password="s3cret"), at=START)
    assert result.sent == 2
    by_recipient = {recipients[0]: message for recipients, message in sink.messages}
    assert set(by_recipient) == {"minjun.kim@example.com", "alex.morgan@example.com"}

    korean = by_recipient["minjun.kim@example.com"]
    assert korean["Subject"] == "[주문 O-30001] 판매자가 주문을 취소했습니다 — 환불 기한 2026년 9월 25일(금)"
    assert korean["To"] == "minjun.kim@example.com"
    assert korean["From"] == "Marketplace <no-reply@marketplace.example>"
    assert korean["X-Marketplace-Message-Id"] == korean_key
    assert korean.get_content_type() == "multipart/alternative"
    text = korean.get_body(preferencelist=("plain",)).get_content()
    html = korean.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("김민준님, 안녕하세요.")
    assert "389,000원 전액을 2026년 9월 25일(금) 23:59까지 돌려받으셔야 합니다" in text
    assert "- 판매자 답변 기한: 2026년 9월 30일(수) 23:59" in text
    assert "https://market.example/inbox" in text
    assert '<html lang="ko">' in html and '<th scope="row"' in html and "389,000원" in html

    english = by_recipient["alex.morgan@example.com"]
    assert english["Subject"] == "[Order O-30001] The seller cancelled your order — refund due by Fri 25 Sep 2026"
    assert english["X-Marketplace-Message-Id"] == english_key
    text = english.get_body(preferencelist=("plain",)).get_content()
    assert "You are owed a full refund of ₩389,000 by Fri 25 Sep 2026, 23:59 KST" in text
    assert '<html lang="en">' in english.get_body(preferencelist=("html",)).get_content()

    session.expire_all()
    statuses = session.scalars(sa.select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.SENT, OutboxStatus.SENT]


def test_resent_email_carries_the_same_message_id(session: Session) -> None:
    """The Message-ID comes from the dedupe key, so a resend after a crash is recognisable as the same e-mail."""
    key = write_notice(session, ("seller", "claim.reminder", ""), channel="email", address="cs@hanbit.example")
    with smtp_server() as (sink, port):
        assert relay(session, _settings(port), at=START).sent == 1
    [(_recipients, message)] = sink.messages
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    assert message["Message-ID"] == f"<{digest}@marketplace.example>"
    assert message["Auto-Submitted"] == "auto-generated"


def test_wrong_smtp_password_fails_and_retries_later(session: Session) -> None:
    """A refused login is an attempt that failed; the message waits for its next attempt."""
    key = write_notice(session, ("seller", "claim.reminder", ""), channel="email", address="cs@hanbit.example")
    with smtp_server(username="relay", password="s3cret") as (sink, port):
        result = relay(session, _settings(port, smtp_username="relay", smtp_password="wrong"), at=START)
    assert result.failed == 1 and sink.messages == []
    session.expire_all()
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    assert message.status is OutboxStatus.FAILED and "SMTP login refused" in message.last_error


def test_email_without_an_address_is_dead_at_once(session: Session) -> None:
    """No address, nothing to retry: the notice stays in the inbox and the outbox says why."""
    key = write_notice(session, ("seller", "claim.reminder", ""), channel="email", address=None)
    with smtp_server() as (_sink, port):
        assert relay(session, _settings(port), at=START).dead == 1
    session.expire_all()
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    assert "no e-mail address" in message.last_error
