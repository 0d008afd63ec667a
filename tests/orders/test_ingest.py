"""The ingestion operation: set-based, policy-versioned, one audit call per batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.claims.policy import DEFAULT_SLA, SLA
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from marketplace.core.operations import add_platform_holiday
from marketplace.core.policies import publish_policy
from marketplace.orders.events import EventStatus, ingest_events
from marketplace.orders.models import OrderEvent, OrderStatus
from tests.conftest import SETUP, START
from tests.orders.conftest import order
from tests.orders.factory import delivered_event, paid_event, shipped_event

FEED = Actor.system("feed")


@pytest.fixture
def app_context(app: Flask) -> Iterator[None]:
    """Operations read the app's time zone."""
    with app.app_context():
        yield


@contextmanager
def _statements(connection: sa.Connection) -> Iterator[list[str]]:
    executed: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        executed.append(statement)

    sa.event.listen(connection, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        sa.event.remove(connection, "before_cursor_execute", record)


def _paid_batch(first: int, count: int) -> list[dict]:
    # New orders, buyers and (seven) sellers in each batch.
    return [
        paid_event(f"E-{n}", f"O-{n}", buyer_id=f"B-{n}", seller_id=f"S-{first}-{n % 7}")
        for n in range(first, first + count)
    ]


def test_statements_per_batch_do_not_grow_with_its_size(
    app_context, session: Session, connection: sa.Connection
) -> None:
    """A hundred events or four hundred, new orders or updates: the same few statements, none per event."""
    with _statements(connection) as small:
        ingest_events(session, _paid_batch(0, 100), actor=FEED, now=START)
        session.commit()
    with _statements(connection) as large:
        ingest_events(session, _paid_batch(100, 400), actor=FEED, now=START)
        session.commit()
    assert len(large) == len(small)
    with _statements(connection) as updates:
        outcome = ingest_events(
            session, [shipped_event(f"E-S{n}", f"O-{n}") for n in range(400)], actor=FEED, now=START
        )
        session.commit()
    assert outcome.count(EventStatus.ACCEPTED) == 400
    assert len(updates) < len(small)


def test_ship_by_follows_the_published_sla_version(app_context, session: Session) -> None:
    """A newer SLA computes the ship-by of orders paid from then on, and the order records the version."""
    publish_policy(session, SLA, {**DEFAULT_SLA, "ship_by_business_days": 5}, note="test", actor=SETUP, now=START)
    ingest_events(session, [paid_event()], actor=FEED, now=START)
    created = order(session)
    # Wed 09-23 + 5 business days, skipping Chuseok (24–26 Sep) and the weekend: Fri 2 Oct, 23:59:59 KST.
    assert created.ship_by == datetime(2026, 10, 2, 14, 59, 59, tzinfo=UTC)
    assert created.ship_by_policy_version == 1


def test_ship_by_skips_a_platform_holiday(app_context, session: Session) -> None:
    """A day the platform closes moves the default ship-by."""
    add_platform_holiday(session, date(2026, 9, 29), name="시스템 점검일", actor=SETUP, now=START)
    ingest_events(session, [paid_event()], actor=FEED, now=START)
    assert order(session).ship_by == datetime(2026, 10, 1, 14, 59, 59, tzinfo=UTC)


def test_import_actor_is_recorded_and_no_api_key(app_context, session: Session) -> None:
    """Events from a system actor are stored without an API key; audit names the system."""
    ingest_events(session, [paid_event(), delivered_event()], actor=FEED, now=START)
    assert session.scalars(sa.select(OrderEvent.api_key_id)).all() == [None, None]
    record = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "order.create")).one()
    assert record.actor == "system:feed"


def test_bulk_path_stores_what_the_event_said(app_context, session: Session) -> None:
    """A batch large enough for PostgreSQL's COPY path stores the same values as a small one."""
    batch = _paid_batch(0, 60)
    outcome = ingest_events(session, [*batch, shipped_event("E-S", "O-7")], actor=FEED, now=START)
    assert outcome.count(EventStatus.ACCEPTED) == 61
    stored = session.scalars(sa.select(OrderEvent).where(OrderEvent.event_id == "E-7")).one()
    assert stored.payload == batch[7]
    assert stored.occurred_at == datetime(2026, 9, 23, 6, 0, tzinfo=UTC)
    assert stored.received_at == START
    created = order(session, "O-7")
    assert created.status is OrderStatus.SHIPPED
    assert created.items == batch[7]["order"]["items"]
    assert created.ship_by == datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC)
    assert created.buyer.external_id == "B-7" and created.seller.external_id == "S-0-0"
