"""Two job runners at once escalate each due claim exactly once (DESIGN.md §9), on both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from marketplace import create_app, migrate
from marketplace.claims import sweeps
from marketplace.claims.models import Claim, ClaimEvent, ClaimStatus
from marketplace.claims.operations import file_claim
from marketplace.core.audit import verify_chain
from marketplace.core.auth import Actor
from marketplace.core.models import AuditRecord
from marketplace.db import create_db_engine
from marketplace.orders.operations import create_buyer, create_order
from marketplace.sellers.operations import create_seller
from tests.conftest import SETUP, START, create_postgres_database, drop_postgres_database, require_postgres

KST = ZoneInfo("Asia/Seoul")
CLAIMS = 120


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


def _seed(engine: sa.Engine) -> None:
    app = create_app({"DATABASE_URL": str(engine.url.render_as_string(hide_password=False)), "SECRET_KEY": "x"})
    with app.app_context(), Session(engine) as session:
        seller = create_seller(session, "S-RUN", name="판매자", actor=SETUP, now=START)
        buyer = create_buyer(session, "B-RUN", name="구매자", actor=SETUP, now=START)
        for n in range(CLAIMS):
            order = create_order(
                session,
                f"O-RUN-{n}",
                seller=seller,
                buyer=buyer,
                amount=50_000,
                items=[],
                paid_at=START - timedelta(hours=2),
                actor=SETUP,
                now=START,
            )
            file_claim(session, order, "damaged", description="파손", actor=Actor.system("test"), now=START)
        session.commit()


def test_two_runners_escalate_each_claim_exactly_once(committed_engine: sa.Engine) -> None:
    """Two runners sweeping at 2026-10-01 00:00 KST together escalate all claims, none twice."""
    _seed(committed_engine)
    app = create_app({"DATABASE_URL": committed_engine.url.render_as_string(hide_password=False), "SECRET_KEY": "x"})
    factory = sessionmaker(committed_engine, expire_on_commit=False)
    run_at = datetime(2026, 10, 1, 0, 0, tzinfo=KST)
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
                        batch = sweeps.escalate_silent_sellers(session, now=run_at, batch_size=7)
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
        thread.join(timeout=120)
    assert errors == []
    assert sum(counts) == CLAIMS
    with Session(committed_engine) as session:
        statuses = session.scalars(sa.select(Claim.status)).all()
        assert statuses == [ClaimStatus.ESCALATED] * CLAIMS
        escalations = session.scalar(
            sa.select(sa.func.count()).select_from(ClaimEvent).where(ClaimEvent.kind == "escalated")
        )
        assert escalations == CLAIMS
        audits = session.scalar(
            sa.select(sa.func.count()).select_from(AuditRecord).where(AuditRecord.action == "claim.escalate")
        )
        assert audits == CLAIMS
        assert verify_chain(session).ok
