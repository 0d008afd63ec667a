"""Two job runners at once never double a violation or a sanction (DESIGN.md §9), on both databases."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from marketplace import create_app, migrate
from marketplace.claims import sweeps as claim_sweeps
from marketplace.claims.operations import file_claim
from marketplace.core.audit import verify_chain
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from marketplace.db import create_db_engine
from marketplace.notifications.models import OutboxMessage
from marketplace.orders.operations import create_buyer, create_order
from marketplace.sanctions import sweeps
from marketplace.sanctions.models import Sanction, SellerStanding, Stage, Violation
from marketplace.sellers.operations import create_seller
from tests.conftest import SETUP, create_postgres_database, drop_postgres_database, require_postgres
from tests.sanctions.conftest import kst

SELLERS = 6
CLAIMS_PER_SELLER = 12


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    """A separate database whose data is really committed, as two processes would see it."""
    if request.param == "postgresql":
        require_postgres()
        url = create_postgres_database()
    else:
        url = f"sqlite:///{tmp_path / 'runners.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _seed(engine: sa.Engine) -> None:
    """Six sellers with 5 orders and 12 claims each, filed a day apart so that their deadlines differ."""
    app = create_app({"DATABASE_URL": _url(engine), "SECRET_KEY": "x"})
    with app.app_context(), Session(engine) as session:
        buyer = create_buyer(session, "B-RUN", name="구매자", actor=SETUP, now=kst(2026, 9, 1))
        for s in range(SELLERS):
            seller = create_seller(session, f"S-RUN-{s}", name=f"판매자 {s}", actor=SETUP, now=kst(2026, 9, 1))
            for n in range(CLAIMS_PER_SELLER):
                order = create_order(
                    session,
                    f"O-RUN-{s}-{n}",
                    seller=seller,
                    buyer=buyer,
                    amount=50_000,
                    items=[],
                    paid_at=kst(2026, 9, 14, 9, 0) + timedelta(hours=n),
                    actor=SETUP,
                    now=kst(2026, 9, 14, 9, 0),
                )
                filed = kst(2026, 9, 15, 10, 0) + timedelta(days=n)
                file_claim(session, order, "damaged", description="파손", actor=Actor.system("test"), now=filed)
        session.commit()


def _race(engine: sa.Engine, work: Callable[[Session], int]) -> list[int]:
    """Run ``work`` batch after batch in two threads that start together; returns what each moved."""
    app = create_app({"DATABASE_URL": _url(engine), "SECRET_KEY": "x"})
    factory = sessionmaker(engine, expire_on_commit=False)
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def runner() -> None:
        moved = 0
        try:
            with app.app_context():
                barrier.wait()
                while True:
                    with factory() as session, session.begin():
                        batch = work(session)
                    if batch == 0:
                        break
                    moved += batch
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)
        counts.append(moved)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    return counts


def _count(session: Session, model: type, *conditions: sa.ColumnElement[bool]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0


def test_two_runners_record_each_violation_and_each_sanction_once(committed_engine: sa.Engine) -> None:
    """72 escalations (all due by 10-09) in batches of 5 by two runners: 72 violations, each stage imposed at most
    once per seller, one webhook per standing revision; then two runners ending sanctions and expiring violations
    end each once."""
    _seed(committed_engine)
    moved = _race(
        committed_engine,
        lambda session: claim_sweeps.escalate_silent_sellers(session, now=kst(2026, 10, 9), batch_size=5),
    )
    total = SELLERS * CLAIMS_PER_SELLER
    with Session(committed_engine) as session:
        escalated = _count(session, Violation)
        assert sum(moved) == escalated == total
        assert escalated == _count(session, AuditRecord, AuditRecord.action == "violation.record")
        assert session.scalar(sa.select(sa.func.count(sa.distinct(Violation.claim_id)))) == escalated
        stages = Counter(session.execute(sa.select(Sanction.seller_id, Sanction.stage)).tuples())
        assert stages and max(stages.values()) == 1
        assert _count(session, Sanction) == _count(session, AuditRecord, AuditRecord.action == "sanction.impose")
        for standing in session.scalars(sa.select(SellerStanding)):
            webhooks = _count(
                session,
                OutboxMessage,
                OutboxMessage.topic == "seller.standing_changed",
                OutboxMessage.dedupe_key.like(f"seller.standing_changed:{standing.seller_id}:%"),
            )
            assert webhooks == standing.revision
        assert verify_chain(session).ok
    ended = _race(
        committed_engine,
        lambda session: (
            sweeps.end_sanctions(session, now=kst(2027, 1, 1), batch_size=3)
            + sweeps.expire_violations(session, now=kst(2027, 1, 1), batch_size=7)
        ),
    )
    with Session(committed_engine) as session:
        timed = _count(session, Sanction, Sanction.ends_at.is_not(None))
        assert _count(session, AuditRecord, AuditRecord.action == "sanction.end") == timed
        assert _count(session, AuditRecord, AuditRecord.action == "violation.expire") == total
        assert sum(ended) == timed + total
        top = {
            stage
            for (_seller, stage) in Counter(session.execute(sa.select(Sanction.seller_id, Sanction.stage)).tuples())
        }
        assert Stage.TERMINATION_REVIEW in top
        assert verify_chain(session).ok
