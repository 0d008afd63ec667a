"""Signals become notices for the right people, in their language, by the right channel, once, set-based."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.claims import sweeps as claim_sweeps
from marketplace.claims.operations import file_claim, propose_remedy, reject_proposal
from marketplace.core.auth import SCHEDULER, Actor
from marketplace.core.signals import Signal, publish, subscribers
from marketplace.notifications.models import Audience, OutboxMessage
from marketplace.notifications.routing import route_notice, transport
from marketplace.notifications.settings import NotifySettings
from marketplace.notifications.subscribers import tell_about_claims, tell_about_consequences
from tests.conftest import START

KST = ZoneInfo("Asia/Seoul")


def _messages(session: Session) -> dict[str, OutboxMessage]:
    session.expire_all()
    return {message.dedupe_key: message for message in session.scalars(sa.select(OutboxMessage))}


@pytest.fixture
def configured(app: Flask):
    """The app with SMTP and the gateway configured, inside an app context (as a request or job has)."""
    app.config.update(
        SMTP_HOST="smtp.example",
        NOTIFY_GATEWAY_URL="https://gateway.example/notify",
        NOTIFY_GATEWAY_SECRET="x",
    )
    with app.app_context():
        yield app


def test_filing_a_claim_tells_buyer_and_seller_in_their_languages(
    configured, session: Session, make_order, make_buyer, make_seller, make_user
) -> None:
    """The buyer (English, phone contact) goes by the gateway, the seller (Korean, e-mail) by e-mail, and the
    marketplace gets the claim.opened webhook."""
    order = make_order(
        buyer=make_buyer(name="Alex Morgan", contact="010-9999-0000", language="en"),
        seller=make_seller(name="바른생활 리빙", contact_email="help@bareun.example", language="ko"),
    )
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "damaged", description="깨짐", actor=buyer, now=START)
    messages = _messages(session)
    assert set(messages) == {
        f"claim.opened:{claim.id}:buyer:{order.buyer_id}",
        f"claim.opened:{claim.id}:seller:{order.seller_id}",
        f"webhook:claim.opened:{claim.id}",
    }
    to_buyer = messages[f"claim.opened:{claim.id}:buyer:{order.buyer_id}"]
    assert (to_buyer.audience, to_buyer.recipient_id, to_buyer.language) == (Audience.BUYER, order.buyer_id, "en")
    assert (to_buyer.channel, to_buyer.address) == ("gateway", "010-9999-0000")
    assert to_buyer.payload["recipient_name"] == "Alex Morgan"
    assert to_buyer.payload["response_due_at"] == claim.response_due_at.isoformat()
    to_seller = messages[f"claim.opened:{claim.id}:seller:{order.seller_id}"]
    assert (to_seller.channel, to_seller.address, to_seller.language) == ("email", "help@bareun.example", "ko")
    assert messages[f"webhook:claim.opened:{claim.id}"].payload["data"]["claim_id"] == claim.id


def test_replayed_signal_writes_no_second_notice(session: Session, make_order) -> None:
    """One notice per event and recipient, however often the signal is published."""
    order = make_order()
    signal = Signal(
        "violation.recorded",
        START,
        {
            "violation_id": 5,
            "seller_id": order.seller_id,
            "kind": "late_shipment",
            "points": 1,
            "claim_id": None,
            "order_id": order.id,
        },
    )
    publish(session, [signal], actor=SCHEDULER, now=START)
    publish(session, [signal], actor=SCHEDULER, now=START + timedelta(minutes=5))
    [message] = _messages(session).values()
    assert message.dedupe_key == f"violation.recorded:5:seller:{order.seller_id}"
    # The order's number is looked up with the recipient, for the seller to recognise it.
    assert message.payload["order_external_id"] == order.external_id


def test_escalation_sweep_tells_both_parties_and_the_marketplace(session: Session, make_order, make_user) -> None:
    """A silent seller's claim escalates at its deadline: the buyer hears staff will decide, the seller gets the
    breach notice, the marketplace a webhook; all effective at the missed deadline."""
    order = make_order()
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    claim = file_claim(session, order, "non_delivery", description="안 왔어요", actor=buyer, now=START)
    session.commit()
    assert claim_sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 9, tzinfo=KST)) == 1
    messages = _messages(session)
    breach = messages[f"claim.escalated:{claim.id}:seller:{order.seller_id}"]
    assert breach.payload["reason"] == "seller_silent"
    assert breach.payload["at"] == claim.response_due_at.isoformat()
    assert f"claim.escalated:{claim.id}:buyer:{order.buyer_id}" in messages
    assert f"webhook:claim.escalated:{claim.id}" in messages


def test_rejected_proposal_tells_the_buyer_of_the_proposal_and_the_escalation(
    session: Session, make_order, make_user
) -> None:
    """The buyer hears of the proposal; after rejecting it, of the escalation; the seller of the escalation."""
    order = make_order()
    buyer = Actor.for_user(make_user("buyer", buyer=order.buyer))
    seller = Actor.for_user(make_user("seller", seller=order.seller))
    claim = file_claim(session, order, "wrong_item", description="색상 다름", actor=buyer, now=START)
    propose_remedy(session, claim, "replace", amount=None, message="교환해 드릴게요", actor=seller, now=START)
    reject_proposal(session, claim, reason="환불 원해요", actor=buyer, now=START)
    topics = sorted(
        (m.topic, m.audience.value) for m in _messages(session).values() if m.audience is not Audience.MARKETPLACE
    )
    assert topics == [
        ("claim.escalated", "buyer"),
        ("claim.escalated", "seller"),
        ("claim.opened", "buyer"),
        ("claim.opened", "seller"),
        ("claim.proposed", "buyer"),
    ]
    webhooks = sorted(m.topic for m in _messages(session).values() if m.audience is Audience.MARKETPLACE)
    assert webhooks == ["claim.escalated", "claim.opened", "claim.proposed", "claim.rejected"]


@pytest.mark.parametrize(
    ("name", "data", "key", "audience"),
    [
        (
            "violation.overturned",
            {"violation_id": 5, "kind": "late_shipment", "points": 1, "reason": "파업"},
            "violation.overturned:5:seller:{seller}",
            "seller",
        ),
        (
            "sanction.imposed",
            {"sanction_id": 8, "stage": "warning", "starts_at": START, "ends_at": None, "reason": "벌점"},
            "sanction.imposed:8:seller:{seller}",
            "seller",
        ),
        (
            "sanction.ended",
            {"sanction_id": 8, "stage": "warning", "ended_at": START, "how": "lifted", "reason": ""},
            "sanction.ended:8:seller:{seller}",
            "seller",
        ),
        (
            "appeal.decided",
            {"appeal_id": 3, "outcome": "rejected", "reason": "근거 부족", "violation_id": 5, "sanction_id": None},
            "appeal.decided:3:seller:{seller}",
            "seller",
        ),
        (
            "recovery.booked",
            {"compensation_id": 31, "claim_id": None, "order_id": None, "amount": 3_000},
            "recovery.booked:31:seller:{seller}",
            "seller",
        ),
        (
            "deduction.confirmed",
            {"period": "2026-10", "amount": 3_000},
            "deduction.confirmed:2026-10:seller:{seller}",
            "seller",
        ),
        (
            "compensation.granted",
            {
                "compensation_id": 31,
                "claim_id": None,
                "incident_id": None,
                "amount": 3_000,
                "form": "points",
                "rule": "seller_cancellation",
                "policy_version": 1,
                "recoverable": True,
            },
            "compensation.granted:31:buyer:{buyer}",
            "buyer",
        ),
        (
            "compensation.paid_out",
            {"compensation_id": 31, "amount": 3_000, "reason": ""},
            "compensation.paid_out:31:buyer:{buyer}",
            "buyer",
        ),
        (
            "compensation.failed",
            {"compensation_id": 31, "amount": 3_000, "reason": "timeout"},
            "compensation.failed:31:buyer:{buyer}",
            "buyer",
        ),
    ],
)
def test_other_domains_signals_become_notices(
    session: Session, make_order, name: str, data: dict, key: str, audience: str
) -> None:
    """Each signal the sanctions and compensation domains publish tells its party, once, renderable."""
    from marketplace.notifications.rendering import render_notice

    order = make_order()
    payload = {**data, "seller_id": order.seller_id, "buyer_id": order.buyer_id}
    if "order_id" in data and data["order_id"] is None:
        payload["order_id"] = order.id
    publish(session, [Signal(name, START, payload)], actor=SCHEDULER, now=START)
    [message] = _messages(session).values()
    assert message.dedupe_key == key.format(seller=order.seller_id, buyer=order.buyer_id)
    assert message.audience.value == audience
    for language in ("ko", "en"):
        assert render_notice(message.topic, audience, language, message.payload).subject


def test_incident_notices_are_written_with_a_fixed_number_of_statements(session: Session, engine, make_order) -> None:
    """200,000 orders at once must stay cheap: one read and one insert, whatever the number of signals."""
    orders = [make_order() for _ in range(30)]

    def signals(subset):
        return [
            Signal(
                "incident.order_compensated",
                START,
                {
                    "incident_id": 4,
                    "order_id": order.id,
                    "buyer_id": order.buyer_id,
                    "amount": 10_000,
                    "form": "coupon",
                    "title_ko": "가격 오류",
                    "title_en": "Price error",
                    "explanation_ko": "설명",
                    "explanation_en": "Explanation",
                },
            )
            for order in subset
        ]

    def statements(subset) -> int:
        session.execute(sa.select(1))  # the transaction (or savepoint) is open before counting
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731 - the statement of before_cursor_execute
        event.listen(engine, "before_cursor_execute", listener)
        try:
            publish(session, signals(subset), actor=SCHEDULER, now=START)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    assert statements(orders[:3]) == statements(orders[3:]) == 2
    messages = _messages(session)
    assert len(messages) == 30
    message = messages[f"incident.order_compensated:4:{orders[5].id}:buyer:{orders[5].buyer_id}"]
    assert message.payload["order_external_id"] == orders[5].external_id and message.payload["amount"] == 10_000


def test_notifications_subscribe_after_the_domains_whose_consequences_they_report() -> None:
    """Notices run last for a claim signal, and the other domains' signals are subscribed to by name."""
    assert subscribers("claim.escalated")[-1] is tell_about_claims
    for name in ("violation.recorded", "sanction.imposed", "compensation.granted", "incident.order_compensated"):
        assert tell_about_consequences in subscribers(name)


def test_routing_prefers_the_configured_channels_in_order() -> None:
    """E-mail needs an e-mail address; the gateway reaches anyone; with nothing set up, the log."""
    both = NotifySettings(smtp_host="smtp", gateway_url="https://g", gateway_secret="s")
    assert route_notice(Audience.BUYER, "a@b.example", both) == ("email", "a@b.example")
    assert route_notice(Audience.BUYER, "010-1234-5678", both) == ("gateway", "010-1234-5678")
    assert route_notice(Audience.BUYER, None, both) == ("gateway", None)
    gateway_first = NotifySettings(
        smtp_host="smtp", gateway_url="https://g", gateway_secret="s", seller_channels=("gateway", "email")
    )
    assert route_notice(Audience.SELLER, "a@b.example", gateway_first) == ("gateway", "a@b.example")
    assert route_notice(Audience.SELLER, "a@b.example", NotifySettings()) == ("log", "a@b.example")
    assert route_notice(Audience.BUYER, "010", NotifySettings(smtp_host="smtp")) == ("log", "010")
    assert transport("webhook", NotifySettings()) == "log"
    assert transport("webhook", NotifySettings(webhook_url="https://m", webhook_secret="s")) == "webhook"
