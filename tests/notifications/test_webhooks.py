"""Signed HTTP deliveries to real receivers on loopback: the gateway and the marketplace's webhooks."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.operations import file_claim
from marketplace.core.auth import Actor
from marketplace.notifications.models import OutboxMessage, OutboxStatus
from marketplace.notifications.settings import NotifySettings
from marketplace.notifications.signing import signature, verify_signature
from tests.conftest import START
from tests.notifications.conftest import SECRET, relay, write_notice
from tests.notifications.receivers import webhook_receiver

NOW = START.timestamp()


def test_claim_webhook_and_gateway_notices_arrive_signed_and_verified(
    app, session: Session, make_order, make_buyer, make_seller, make_user
) -> None:
    """Filing a claim writes the buyer's and the seller's notices and a claim.opened webhook; the relay delivers
    them to the gateway and the webhook receiver, which both verify the HMAC signature."""
    order = make_order(
        buyer=make_buyer(name="Alex Morgan", contact="010-1234-5678", language="en"),
        seller=make_seller(name="한빛전자", contact_email="cs@hanbit.example", language="ko"),
        amount=59_900,
    )
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    with (
        webhook_receiver(SECRET, now=lambda: NOW, path="/gateway") as gateway,
        webhook_receiver("another-secret", now=lambda: NOW, path="/hooks/marketplace") as hooks,
    ):
        app.config.update(
            NOTIFY_GATEWAY_URL=gateway.url,
            NOTIFY_GATEWAY_SECRET=SECRET,
            NOTIFY_WEBHOOK_URL=hooks.url,
            NOTIFY_WEBHOOK_SECRET="another-secret",
        )
        with app.app_context():
            # Routing reads the app's configuration when the notices are written, in the claim's transaction.
            claim = file_claim(session, order, "wrong_item", description="Wrong colour", actor=buyer, now=START)
            session.commit()
            settings = NotifySettings.from_config(app.config)
        channels = session.execute(sa.select(OutboxMessage.audience, OutboxMessage.channel)).all()
        assert sorted((audience.value, channel) for audience, channel in channels) == [
            ("buyer", "gateway"),
            ("marketplace", "webhook"),
            ("seller", "gateway"),
        ]
        assert relay(session, settings, at=START).sent == 3
    assert gateway.refused == [] and hooks.refused == []

    [webhook] = hooks.received
    assert webhook.path == "/hooks/marketplace"
    assert webhook.body["topic"] == "claim.opened" and webhook.body["id"] == f"webhook:claim.opened:{claim.id}"
    assert webhook.message_id == webhook.body["id"]
    assert webhook.headers["X-Marketplace-Topic"] == "claim.opened"
    data = webhook.body["data"]
    assert (data["claim_id"], data["claim_type"], data["order_amount"]) == (claim.id, "wrong_item", 59_900)
    assert data["response_due_at"] == claim.response_due_at.isoformat() and data["at"] == START.isoformat()

    by_audience = {received.body["audience"]: received.body for received in gateway.received}
    buyer_notice, seller_notice = by_audience["buyer"], by_audience["seller"]
    assert buyer_notice["language"] == "en" and buyer_notice["address"] == "010-1234-5678"
    assert buyer_notice["subject"] == f"[Order {order.external_id}] We have received your claim — wrong item"
    assert buyer_notice["id"] == f"claim.opened:{claim.id}:buyer:{order.buyer_id}"
    assert seller_notice["language"] == "ko" and seller_notice["recipient_id"] == order.seller_id
    assert seller_notice["subject"].startswith(f"[클레임 {claim.id}] 오배송")
    assert {"label": "답변 기한", "value": "2026년 9월 30일(수) 23:59"} in seller_notice["facts"]


def test_receiver_refuses_a_wrong_signature_and_the_message_is_not_sent(session: Session) -> None:
    """With the wrong secret the receiver answers 401; the relay records a permanent failure, not a delivery."""
    with webhook_receiver(SECRET, now=lambda: NOW) as gateway:
        key = write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway")
        settings = NotifySettings(gateway_url=gateway.url, gateway_secret="not-the-shared-secret")
        assert relay(session, settings, at=START).dead == 1
    assert gateway.received == [] and len(gateway.refused) == 1
    session.expire_all()
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
    assert message.status is OutboxStatus.DEAD and message.last_error.startswith("HTTP 401")


def test_verify_signature_accepts_only_the_exact_body_secret_and_a_recent_time() -> None:
    """The documented receiver check: any change to the body, the secret or the timestamp fails it."""
    body = b'{"topic":"claim.opened","id":"k1"}'
    signed = signature("s3cret", 1_790_000_000, body)
    assert signed.startswith("sha256=") and len(signed) == 7 + 64
    assert verify_signature("s3cret", body, "1790000000", signed, now=1_790_000_100)
    assert not verify_signature("s3cret", body + b" ", "1790000000", signed, now=1_790_000_100)
    assert not verify_signature("other", body, "1790000000", signed, now=1_790_000_100)
    assert not verify_signature("s3cret", body, "1790000001", signed, now=1_790_000_100)
    # Replayed ten minutes later: refused even though the signature is right.
    assert not verify_signature("s3cret", body, "1790000000", signed, now=1_790_000_600)
    assert not verify_signature("s3cret", body, None, signed, now=1_790_000_100)
    assert not verify_signature("s3cret", body, "1790000000", None, now=1_790_000_100)


def test_connection_is_kept_alive_across_deliveries(session: Session) -> None:
    """One worker sends a whole run over one kept-alive connection."""
    for n in range(5):
        write_notice(session, ("buyer", "claim.opened", "filed"), channel="gateway", dedupe_key=f"k{n}")
    with webhook_receiver(SECRET, now=lambda: NOW) as gateway:
        settings = NotifySettings(gateway_url=gateway.url, gateway_secret=SECRET, concurrency=1)
        assert relay(session, settings, at=START).sent == 5
    assert len(gateway.received) == 5 and len(gateway.connections) == 1
