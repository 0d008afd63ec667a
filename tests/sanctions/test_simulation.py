"""Policy what-if: replaying the current policy gives the standing the system computed; a candidate shows who moves."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.core.errors import ValidationFailed
from marketplace.sanctions.models import SellerStanding, Stage
from marketplace.sanctions.operations import lift_sanction, overturn_violation
from marketplace.sanctions.policy import DEFAULT_SANCTION_POLICY, current_sanction_policy
from marketplace.sanctions.simulation import SellerOutcome, replay, simulate
from tests.sanctions.conftest import escalate, kst, run_sweeps

NOW = kst(2026, 10, 12, 9, 0)


@pytest.fixture
def market(session: Session, make_shop, make_user) -> dict[str, Any]:
    """Five sellers with different histories over 09-14 … 10-12."""
    supervisor = Actor.for_user(make_user("supervisor"))
    warned = make_shop(name="경고상점")
    warned.paid(10, at=kst(2026, 9, 14, 10, 0))
    warned.cancel(warned.orders[0], at=kst(2026, 9, 21, 10, 0))
    warned.cancel(warned.orders[1], at=kst(2026, 9, 22, 10, 0))
    for index, day in enumerate((22, 23, 29)):
        warned.complain(warned.orders[2 + index], at=kst(2026, 9, day, 11, 0))
    restricted = make_shop(name="제한상점")  # 6 cancellations: notice, warning, restricted; then one overturned
    restricted.paid(6, at=kst(2026, 9, 15, 10, 0))
    for index in range(6):
        restricted.cancel(restricted.orders[index], at=kst(2026, 9, 21, 12, 0) + timedelta(days=index))
    busy = make_shop(name="대형상점")  # many orders: 8 points are far below 40 %
    busy.paid(40, at=kst(2026, 9, 16, 10, 0))
    for index in range(4):
        busy.cancel(busy.orders[index], at=kst(2026, 9, 22, 9, 0) + timedelta(hours=index))
    late = make_shop(name="지연상점")  # late shipments, one of them 4+ business days late
    orders = late.paid(3, at=kst(2026, 9, 28, 10, 0), ship_by=kst(2026, 9, 30, 23, 59, 59))
    for order in orders:
        late.ship_late(order)
    lifted = make_shop(name="해제상점")  # a notice a supervisor lifted
    lifted.paid(5, at=kst(2026, 9, 20, 10, 0))
    for index in range(3):
        lifted.cancel(lifted.orders[index], at=kst(2026, 9, 23, 10, 0) + timedelta(hours=index))
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=kst(2026, 10, 6, 9, 0))
    [notice] = [sanction for sanction in lifted.sanctions() if sanction.in_force]
    lift_sanction(session, notice, reason="사정 확인", actor=supervisor, now=kst(2026, 10, 7, 9, 0))
    first = restricted.violations()[0]
    overturn_violation(session, first, reason="시스템 오류", actor=supervisor, now=kst(2026, 10, 8, 9, 0))
    session.commit()
    run_sweeps(session, now=NOW)
    return {"warned": warned, "restricted": restricted, "busy": busy, "late": late, "lifted": lifted}


def _computed(session: Session) -> dict[int, SellerOutcome]:
    session.expire_all()
    return {
        row.seller_id: SellerOutcome(row.stage, row.may_list, row.may_sell, row.active_points)
        for row in session.scalars(sa.select(SellerStanding))
    }


def test_replaying_the_current_policy_gives_the_computed_standing(session: Session, market: dict) -> None:
    """Stage, may list, may sell and points of every seller, as the live rules left them."""
    replayed = replay(session, current_sanction_policy(session), days=60, now=NOW)
    computed = _computed(session)
    assert replayed == {seller_id: computed[seller_id] for seller_id in replayed}
    assert all(computed[seller_id] == SellerOutcome.clean() for seller_id in set(computed) - set(replayed))
    assert computed[market["warned"].seller.id].stage is Stage.NOTICE  # the warning ran out on 10-09
    assert computed[market["late"].seller.id].active_points == 9  # three late shipments raised to 3 points


def test_simulating_the_current_policy_changes_nobody(session: Session, market: dict) -> None:
    """The candidate equal to the policy in force: the same counts per stage, no seller changes."""
    result = simulate(session, copy.deepcopy(DEFAULT_SANCTION_POLICY), days=60, now=NOW)
    assert result.changed == []
    assert result.current == result.candidate
    computed = _computed(session)
    stages = {stage: 0 for stage in Stage}
    for outcome in computed.values():
        stages[outcome.stage] += 1
    stages[Stage.NONE] += result.sellers - len(computed)
    assert {stage: result.current.get(stage, 0) for stage in Stage} == stages


def test_a_stricter_candidate_shows_who_would_move(session: Session, market: dict) -> None:
    """Notice at 4 points, sanction at 6, both at 10 %: the busy seller's 4 cancellations (2 points each, 40 orders)
    would have given notice, warning and restricted; nobody is let off."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["notice_threshold"] = {"points": 4, "ratio_percent": 10}
    document["sanction_threshold"] = {"points": 6, "ratio_percent": 10}
    result = simulate(session, document, days=60, now=NOW)
    changed = {change.external_id: change for change in result.changed}
    busy = changed[market["busy"].seller.external_id]
    assert busy.current.stage is Stage.NONE and busy.candidate.stage is Stage.RESTRICTED
    assert (busy.candidate.may_list, busy.candidate.may_sell, busy.candidate.active_points) == (False, False, 8)
    assert all(change.candidate.stage.rank >= change.current.stage.rank for change in result.changed)


def test_a_candidate_without_late_shipment_points_changes_the_late_seller(session: Session, market: dict) -> None:
    """Late shipments worth nothing: the late seller's 9 points become 0."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["points"].update(late_shipment=0, late_shipment_severe=0)
    result = simulate(session, document, days=60, now=NOW)
    [change] = [c for c in result.changed if c.external_id == market["late"].seller.external_id]
    assert (change.current.active_points, change.candidate.active_points) == (9, 0)


def test_simulating_an_invalid_policy_names_the_field(session: Session) -> None:
    """A negative point value is refused before anything is replayed."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["points"]["counterfeit"] = -1
    with pytest.raises(ValidationFailed) as refused:
        simulate(session, document, days=30, now=NOW)
    assert refused.value.field == "document.points.counterfeit"
