"""Two relays at once deliver every message exactly once (DESIGN.md §9): SKIP LOCKED on PostgreSQL and leases."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from marketplace import migrate
from marketplace.db import create_db_engine
from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus
from marketplace.notifications.outbox import Outgoing, enqueue
from marketplace.notifications.relay import RelayResult, run_relay
from marketplace.notifications.settings import NotifySettings
from tests.conftest import START, create_postgres_database, drop_postgres_database, require_postgres
from tests.notifications.conftest import SECRET
from tests.notifications.receivers import webhook_receiver
from tests.notifications.samples import SAMPLES

MESSAGES = 240


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """A separate database whose data is really committed, as two relay processes would see it."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'relays.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_two_relays_at_once_send_each_message_exactly_once(committed_engine: sa.Engine) -> None:
    """Two relays started together on 240 due notices, in small batches: the receiver gets each once."""
    factory = sessionmaker(committed_engine, expire_on_commit=False)
    with factory() as session:
        enqueue(
            session,
            [
                Outgoing(
                    dedupe_key=f"claim.opened:{n}:buyer:2",
                    topic="claim.opened",
                    audience=Audience.BUYER,
                    channel="gateway",
                    payload=SAMPLES[("buyer", "claim.opened", "filed")],
                    recipient_id=2,
                )
                for n in range(MESSAGES)
            ],
            now=START,
        )
        session.commit()

    @contextmanager
    def transaction() -> Iterator[Session]:
        with factory() as session, session.begin():
            yield session

    results: list[RelayResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    with webhook_receiver(SECRET, now=lambda: START.timestamp()) as receiver:
        settings = NotifySettings(gateway_url=receiver.url, gateway_secret=SECRET, batch_size=15, concurrency=3)

        def relay() -> None:
            try:
                barrier.wait()
                results.append(run_relay(transaction, settings=settings, clock=lambda: START))
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
                errors.append(exc)

        threads = [threading.Thread(target=relay) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    assert sum(result.sent for result in results) == MESSAGES
    delivered = Counter(received.message_id for received in receiver.received)
    assert len(delivered) == MESSAGES and set(delivered.values()) == {1}
    with Session(committed_engine) as session:
        rows = session.execute(sa.select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert Counter(rows) == {(OutboxStatus.SENT, 1): MESSAGES}
