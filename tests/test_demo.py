"""The demo data: every role can log in and sees its own slice."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.audit import verify_chain
from marketplace.demo import DEMO_LOGINS, DEMO_PASSWORD, load_demo
from marketplace.orders.models import Order
from marketplace.scorecard.models import ScorecardSnapshot
from marketplace.sellers.models import Seller
from tests.conftest import START, login


def test_demo_loads_once(session: Session) -> None:
    """Loading twice changes nothing the second time."""
    assert load_demo(session, now=START) is True
    count = session.scalar(sa.select(sa.func.count()).select_from(Order))
    assert load_demo(session, now=START) is False
    assert session.scalar(sa.select(sa.func.count()).select_from(Order)) == count
    # Six orders to work on, and each seller's past weeks for its scorecard.
    recent = session.scalar(sa.select(sa.func.count()).select_from(Order).where(~Order.external_id.like("O-H%")))
    assert recent == 6
    assert verify_chain(session).ok


def test_demo_sellers_have_a_graded_scorecard_with_a_trend(session: Session) -> None:
    load_demo(session, now=START)
    grades = dict(
        session.execute(
            sa.select(Seller.external_id, ScorecardSnapshot.grade)
            .join(ScorecardSnapshot, ScorecardSnapshot.seller_id == Seller.id)
            .where(ScorecardSnapshot.window_days == 90, ScorecardSnapshot.day == START.date())
        ).all()
    )
    assert set(grades) == {"S-1001", "S-1002", "S-1003"}
    assert "not_enough_data" not in grades.values()
    days = session.scalar(sa.select(sa.func.count(sa.distinct(ScorecardSnapshot.day))))
    assert days >= 30


def test_every_demo_login_works(client: FlaskClient, session: Session) -> None:
    """Each printed login opens its home page."""
    load_demo(session, now=START)
    session.commit()
    for email, _description in DEMO_LOGINS:
        assert login(client, email, DEMO_PASSWORD).status_code == 302, email
        home = client.get("/")
        assert home.status_code == 200
        from tests.conftest import csrf_token

        client.post("/logout", data={"csrf_token": csrf_token(home.get_data(as_text=True))})
