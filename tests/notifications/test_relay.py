"""The relay: due messages go out once, failures wait a doubling backoff, then dead-letter; leases protect batches."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.notifications import relay as relay_module
from marketplace.notifications.channels import Delivery, DeliveryError
from marketplace.notifications.models import DeliveryFailure, OutboxMessage, OutboxStatus
from marketplace.notifications.settings import NotifySettings
from tests.conftest import START
from tests.notifications.conftest import SECRET, relay, write_notice
from tests.notifications.receivers import webhook_receiver

BUYER_OPENED = ("buyer", "claim.opened", "filed")


def _message(session: Session, key: str) -> OutboxMessage:
    session.expire_all()
    return session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()


def _failures(session: Session, key: str) -> list[DeliveryFailure]:
    message = _message(session, key)
    return list(
        session.scalars(
            sa.select(DeliveryFailure).where(DeliveryFailure.message_id == message.id).order_by(DeliveryFailure.id)
        )
    )


class Recorder:
    """A channel that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    def send(self, delivery: Delivery, *, now) -> None:
        self.sent.append(delivery)

    def close(self) -> None:
        pass


class Failing:
    """A channel that always fails the same way."""

    def __init__(self, error: str, *, permanent: bool = False) -> None:
        self.error, self.permanent, self.calls = error, permanent, 0

    def send(self, delivery: Delivery, *, now) -> None:
        self.calls += 1
        raise DeliveryError(self.error, permanent=self.permanent)

    def close(self) -> None:
        pass


def test_relay_sends_due_message_once_and_marks_it_sent(session: Session) -> None:
    """A pending notice is delivered, recorded as sent at the relay's time, and not taken again."""
    key = write_notice(session, BUYER_OPENED, channel="gateway")
    recorder = Recorder()
    result = relay(session, NotifySettings(), at=START + timedelta(seconds=5), overrides={"gateway": recorder})
    assert (result.sent, result.failed, result.dead) == (1, 0, 0)
    assert [delivery.dedupe_key for delivery in recorder.sent] == [key]
    message = _message(session, key)
    assert message.status is OutboxStatus.SENT and message.attempts == 1
    assert message.sent_at == START + timedelta(seconds=5) and message.lease is None
    assert relay(session, NotifySettings(), at=START + timedelta(hours=1), overrides={"gateway": recorder}).handled == 0
    assert len(recorder.sent) == 1


def test_relay_leaves_a_message_due_later_alone(session: Session) -> None:
    """Only what is due by the relay's time is taken."""
    write_notice(session, BUYER_OPENED, channel="gateway", now=START + timedelta(minutes=1))
    recorder = Recorder()
    assert relay(session, NotifySettings(), at=START, overrides={"gateway": recorder}).handled == 0
    assert recorder.sent == []


def test_failing_gateway_retries_with_doubling_backoff_then_dead_letters(session: Session) -> None:
    """A real receiver answering 503: attempts at +0, +1 min, +3 min; the third failure is the last; every error
    is kept."""
    key = write_notice(session, BUYER_OPENED, channel="gateway")
    with webhook_receiver(SECRET, now=lambda: START.timestamp() + 90) as receiver:
        receiver.statuses = [503, 503, 503, 503]
        settings = NotifySettings(gateway_url=receiver.url, gateway_secret=SECRET, max_attempts=3, backoff_seconds=60)
        assert relay(session, settings, at=START).failed == 1
        message = _message(session, key)
        assert message.status is OutboxStatus.FAILED and message.attempts == 1
        assert message.next_attempt_at == START + timedelta(seconds=60)
        assert message.last_error.startswith("HTTP 503")
        # Not due before its backoff has passed.
        assert relay(session, settings, at=START + timedelta(seconds=59)).handled == 0
        assert relay(session, settings, at=START + timedelta(seconds=60)).failed == 1
        assert _message(session, key).next_attempt_at == START + timedelta(seconds=60 + 120)
        assert relay(session, settings, at=START + timedelta(seconds=180)).dead == 1
    message = _message(session, key)
    assert message.status is OutboxStatus.DEAD and message.attempts == 3
    failures = _failures(session, key)
    assert [(failure.attempt, failure.channel) for failure in failures] == [
        (1, "gateway"),
        (2, "gateway"),
        (3, "gateway"),
    ]
    assert all(failure.error.startswith("HTTP 503 Service Unavailable") for failure in failures)
    assert [failure.failed_at - START for failure in failures] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=3),
    ]
    assert len(receiver.received) == 0 and len(receiver.refused) == 0
    # Dead is final for the relay: only staff bring it back.
    assert relay(session, settings, at=START + timedelta(days=1)).handled == 0


def test_backoff_doubles_up_to_its_cap() -> None:
    """1, 2, 4, … minutes, never more than the cap: the schedule is deterministic."""
    settings = NotifySettings(backoff_seconds=60, backoff_max_seconds=600)
    assert [settings.backoff(n).total_seconds() for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


def test_permanent_failure_dead_letters_at_once(session: Session) -> None:
    """An answer that no retry can change (a 4xx, an address refused) gives up after one attempt."""
    key = write_notice(session, BUYER_OPENED, channel="gateway")
    with webhook_receiver(SECRET, now=lambda: START.timestamp()) as receiver:
        receiver.statuses = [410]
        settings = NotifySettings(gateway_url=receiver.url, gateway_secret=SECRET)
        assert relay(session, settings, at=START).dead == 1
    message = _message(session, key)
    assert message.status is OutboxStatus.DEAD and message.attempts == 1
    [failure] = _failures(session, key)
    assert failure.permanent and failure.error.startswith("HTTP 410")


def test_notice_that_cannot_be_rendered_dead_letters_with_the_reason(session: Session) -> None:
    """A payload the template cannot fill is not retried ten times: the error names the missing value."""
    key = write_notice(session, BUYER_OPENED, channel="email", address="buyer@example.com")
    message = _message(session, key)
    message.payload = {"claim_id": 1}
    session.commit()
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=1)
    assert relay(session, settings, at=START).dead == 1
    assert "cannot render the notice" in _message(session, key).last_error


def test_unconfigured_channel_falls_back_to_the_log(session: Session, caplog) -> None:
    """Without SMTP settings a message written for e-mail is logged (the demo), not failed forever."""
    key = write_notice(session, BUYER_OPENED, channel="email", address="buyer@example.com")
    with caplog.at_level("INFO", logger="marketplace.notifications"):
        assert relay(session, NotifySettings(), at=START).sent == 1
    assert _message(session, key).status is OutboxStatus.SENT
    assert "[주문 O-30001] 클레임이 접수되었습니다" in caplog.text and key in caplog.text


def test_relay_that_lost_its_lease_records_nothing(session: Session) -> None:
    """A relay slower than its lease finds the batch taken again by another relay; its outcome changes nothing."""
    key = write_notice(session, BUYER_OPENED, channel="gateway")
    settings = NotifySettings(lease_seconds=600)
    slow_lease, [slow_delivery] = relay_module.take_batch(session, now=START, settings=settings)
    session.commit()
    # The lease runs out; a second relay takes the message and delivers it.
    later = START + timedelta(seconds=601)
    fast_lease, [fast_delivery] = relay_module.take_batch(session, now=later, settings=settings)
    assert fast_lease != slow_lease and fast_delivery.attempt == 2
    relay_module.record_outcomes(
        session, fast_lease, [relay_module.Outcome(fast_delivery)], now=later, settings=settings
    )
    # The slow relay's failure arrives afterwards and is ignored.
    result = relay_module.record_outcomes(
        session, slow_lease, [relay_module.Outcome(slow_delivery, "timed out")], now=later, settings=settings
    )
    session.commit()
    assert result.handled == 0
    message = _message(session, key)
    assert message.status is OutboxStatus.SENT and message.attempts == 2 and message.last_error is None
    assert _failures(session, key) == []


def test_crash_between_send_and_record_resends_after_the_lease_with_the_same_id(session: Session) -> None:
    """At least once: a relay that dies after sending leaves the row leased; once the lease ends the message is
    sent again, carrying the same dedupe key so that the receiver can drop the duplicate."""
    key = write_notice(session, BUYER_OPENED, channel="gateway")
    settings = NotifySettings(lease_seconds=600)
    recorder = Recorder()
    _lease, batch = relay_module.take_batch(session, now=START, settings=settings)
    session.commit()
    for delivery in batch:
        recorder.send(delivery, now=START)
    # ... the relay process dies here, before record_outcomes.
    assert relay(session, settings, at=START + timedelta(seconds=599), overrides={"gateway": recorder}).handled == 0
    assert relay(session, settings, at=START + timedelta(seconds=600), overrides={"gateway": recorder}).sent == 1
    assert [delivery.dedupe_key for delivery in recorder.sent] == [key, key]
    assert [delivery.attempt for delivery in recorder.sent] == [1, 2]
    assert _message(session, key).status is OutboxStatus.SENT


def test_one_failing_message_does_not_hold_back_the_others(session: Session) -> None:
    """Failures are per message: the rest of the batch is delivered and marked."""
    good = write_notice(session, BUYER_OPENED, channel="gateway")
    bad = write_notice(session, ("seller", "claim.opened", "filed"), channel="email", address="s@example.com")
    failing = Failing("mailbox unavailable")
    result = relay(session, NotifySettings(), at=START, overrides={"gateway": Recorder(), "email": failing})
    assert (result.sent, result.failed) == (1, 1)
    assert _message(session, good).status is OutboxStatus.SENT
    assert _message(session, bad).status is OutboxStatus.FAILED
