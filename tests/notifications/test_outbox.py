"""Writing to the outbox: one message per dedupe key, pending until the relay takes it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus
from marketplace.notifications.outbox import Outgoing, enqueue, enqueue_webhook
from tests.conftest import START


def _messages(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_enqueue_writes_pending_messages_due_now(session: Session) -> None:
    """A new message waits for the relay, due at once, with no attempt yet."""
    written = enqueue(
        session,
        [
            Outgoing(
                dedupe_key="claim.opened:7:buyer:3",
                topic="claim.opened",
                audience=Audience.BUYER,
                recipient_id=3,
                channel="email",
                language="en",
                address="buyer@example.com",
                payload={"claim_id": 7, "response_due_at": START},
            )
        ],
        now=START,
    )
    assert written == 1
    [message] = _messages(session)
    assert message.status is OutboxStatus.PENDING and message.attempts == 0
    assert message.next_attempt_at == START and message.created_at == START
    assert message.payload == {"claim_id": 7, "response_due_at": START.isoformat()}
    assert (message.audience, message.recipient_id, message.language) == (Audience.BUYER, 3, "en")


def test_enqueue_skips_a_used_dedupe_key(session: Session) -> None:
    """Replaying the change that caused a notice never writes it twice; the new ones in the same call are kept."""
    first = Outgoing(dedupe_key="k1", topic="claim.opened", audience=Audience.SELLER, recipient_id=1, channel="log")
    assert enqueue(session, [first], now=START) == 1
    second = Outgoing(dedupe_key="k2", topic="claim.opened", audience=Audience.SELLER, recipient_id=1, channel="log")
    assert enqueue(session, [first, second], now=START) == 1
    assert [message.dedupe_key for message in _messages(session)] == ["k1", "k2"]


def test_webhook_body_names_topic_and_id(session: Session) -> None:
    """A webhook to the marketplace carries its topic, its dedupe key as id, and the data."""
    body = {"seller_id": "S-1", "may_sell": False}
    assert enqueue_webhook(session, "seller.standing_changed", body, dedupe_key="standing:1:4", now=START) == 1
    assert enqueue_webhook(session, "seller.standing_changed", body, dedupe_key="standing:1:4", now=START) == 0
    [message] = _messages(session)
    assert message.audience is Audience.MARKETPLACE and message.channel == "webhook"
    assert message.payload == {"topic": "seller.standing_changed", "id": "standing:1:4", "data": body}
