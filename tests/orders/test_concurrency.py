"""Two requests carrying the same events and the same orders at once: each event applied once, nothing lost."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from marketplace import create_app, migrate
from marketplace.claims.models import Claim
from marketplace.core.audit import verify_chain
from marketplace.core.auth import Actor
from marketplace.db import create_db_engine
from marketplace.orders.events import EventStatus, IngestOutcome, ingest_events
from marketplace.orders.models import Order, OrderEvent, OrderStatus
from tests.conftest import START, create_postgres_database, drop_postgres_database, require_postgres
from tests.orders.factory import cancelled_event, paid_event, shipped_event

ORDERS = 60


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """A separate database whose data is really committed, as two app processes would see it."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'feed.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_two_requests_at_once_apply_each_event_once(committed_engine: sa.Engine) -> None:
    """Both send the same payments; one adds seller cancellations, the other shipments: all of it counts, once."""
    paid = [paid_event(f"E-P{n}", f"O-{n}", buyer_id=f"B-{n}") for n in range(ORDERS)]
    cancellations = [cancelled_event(f"E-C{n}", f"O-{n}", initiated_by="seller") for n in range(10)]
    shipments = [shipped_event(f"E-S{n}", f"O-{n}") for n in range(10, ORDERS)]
    batches = [paid + cancellations, shipments + paid]
    url = committed_engine.url.render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"})
    factory = sessionmaker(committed_engine, expire_on_commit=False)
    outcomes: list[IngestOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def send(batch: list[dict]) -> None:
        try:
            with app.app_context(), factory() as session:
                barrier.wait()
                outcomes.append(ingest_events(session, batch, actor=Actor.system("feed"), now=START))
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    statuses = [result.status for outcome in outcomes for result in outcome.results]
    assert statuses.count(EventStatus.ACCEPTED) == ORDERS + 10 + (ORDERS - 10)
    assert statuses.count(EventStatus.DUPLICATE) == ORDERS
    with factory() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(OrderEvent)) == 2 * ORDERS
        states = dict(session.execute(sa.select(Order.external_id, Order.status)).tuples().all())
        assert {states[f"O-{n}"] for n in range(10)} == {OrderStatus.CANCELLED}
        assert {states[f"O-{n}"] for n in range(10, ORDERS)} == {OrderStatus.SHIPPED}
        assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 10
        assert verify_chain(session).ok
    app.extensions["marketplace.db"]["engine"].dispose()
