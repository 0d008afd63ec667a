"""The issue's scenario: 10 orders, 2 out-of-stock cancellations and 3 missed response deadlines in 30 days.

Points: 2 + 2 (cancellations) + 2 + 2 + 2 (missed deadlines) = 10 points over 10 orders = 100 %. The seller gets a
notice at 6 points (the notice threshold, 5 points and 40 %) and a warning at 10 (the sanction threshold, 10 points
and 40 %), on the day of the third missed deadline.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from marketplace.sanctions.models import SanctionEnd, SanctionRule, Stage, ViolationKind, ViolationState
from tests.sanctions.conftest import Shop, escalate, kst, run_sweeps


@pytest.fixture
def shop(make_shop) -> Shop:
    """10 orders paid 09-14 … 09-18, two cancelled out of stock on 09-21 and 09-22, three claims left unanswered."""
    shop = make_shop(name="품절상회")
    for day in range(14, 19):
        shop.paid(2, at=kst(2026, 9, day, 10, 0))
    shop.cancel(shop.orders[0], at=kst(2026, 9, 21, 10, 0))
    shop.cancel(shop.orders[1], at=kst(2026, 9, 22, 10, 0))
    # Filed 09-22, 09-23 and 10-05: three business days each, Chuseok (09-24…09-26) skipped.
    shop.complain(shop.orders[2], at=kst(2026, 9, 22, 11, 0))  # due 09-29 23:59:59
    shop.complain(shop.orders[3], at=kst(2026, 9, 23, 11, 0))  # due 09-30 23:59:59
    shop.complain(shop.orders[4], at=kst(2026, 9, 29, 11, 0))  # due 10-02 23:59:59
    return shop


def test_seller_reaches_warning_on_the_day_of_the_tenth_point(session: Session, shop: Shop) -> None:
    """A catch-up sweep on 10-05 records the three missed deadlines in order: notice at the 1st, warning at the 3rd."""
    assert escalate(session, now=kst(2026, 10, 5, 9, 0)) == 3
    kinds = [(violation.kind, violation.points) for violation in shop.violations()]
    assert kinds == [(ViolationKind.SELLER_CANCELLATION, 2)] * 2 + [(ViolationKind.RESPONSE_MISSED, 2)] * 3
    notice, warning = shop.sanctions()
    assert notice.stage is Stage.NOTICE and notice.rule is SanctionRule.NOTICE_THRESHOLD
    assert notice.starts_at == kst(2026, 9, 29, 23, 59, 59) and (notice.points, notice.orders) == (6, 10)
    assert warning.stage is Stage.WARNING and warning.rule is SanctionRule.SANCTION_THRESHOLD
    assert warning.starts_at == kst(2026, 10, 2, 23, 59, 59) and (warning.points, warning.orders) == (10, 10)
    assert warning.ends_at == kst(2026, 10, 9, 23, 59, 59)
    standing = shop.standing()
    assert (standing.stage, standing.may_list, standing.may_sell) == (Stage.WARNING, False, True)
    assert standing.active_points == 10 and standing.changed_at == kst(2026, 10, 2, 23, 59, 59)


def test_one_more_violation_during_the_warning_moves_the_seller_to_restricted(session: Session, shop: Shop) -> None:
    """A third cancellation on 10-06, while the warning runs: 12 points, one stage up."""
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    shop.cancel(shop.orders[5], at=kst(2026, 10, 6, 10, 0))
    stages = [(sanction.stage, sanction.starts_at) for sanction in shop.sanctions()]
    assert stages[-1] == (Stage.RESTRICTED, kst(2026, 10, 6, 10, 0))
    assert shop.sanctions()[-1].ends_at is None  # until a supervisor's review
    standing = shop.standing()
    assert (standing.stage, standing.may_list, standing.may_sell, standing.active_points) == (
        Stage.RESTRICTED,
        False,
        False,
        12,
    )


def test_warning_ends_by_itself_seven_days_later(session: Session, shop: Shop) -> None:
    """The sweep ends the warning at 10-09 23:59:59 (not before), and the seller may list again; the notice stays."""
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=kst(2026, 10, 9, 23, 59, 58))
    assert shop.standing().stage is Stage.WARNING
    run_sweeps(session, now=kst(2026, 10, 12, 8, 0))  # a runner that was down over the weekend catches up
    notice, warning = shop.sanctions()
    assert warning.ended_at == kst(2026, 10, 9, 23, 59, 59) and warning.ended_how is SanctionEnd.EXPIRED
    assert notice.ended_at is None
    standing = shop.standing()
    assert (standing.stage, standing.may_list, standing.may_sell) == (Stage.NOTICE, True, True)
    assert standing.changed_at == kst(2026, 10, 9, 23, 59, 59)


def test_violation_older_than_the_window_stops_counting_on_the_right_day(session: Session, shop: Shop) -> None:
    """The 09-21 10:00 cancellation counts until 10-21 10:00 (30 days), not a second longer."""
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=kst(2026, 10, 21, 9, 59, 59))
    assert shop.standing().active_points == 10
    run_sweeps(session, now=kst(2026, 10, 21, 10, 0))
    first = shop.violations()[0]
    assert first.state is ViolationState.EXPIRED
    standing = shop.standing()
    assert standing.active_points == 8 and standing.changed_at == kst(2026, 10, 21, 10, 0)


def test_sanction_evaluation_after_a_violation_expired_uses_the_lower_figure(session: Session, shop: Shop) -> None:
    """After both cancellations expired (6 points), a new missed deadline makes 8 points: nothing moves."""
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=kst(2026, 10, 23, 0, 0))
    assert shop.standing().active_points == 6
    shop.paid(10, at=kst(2026, 10, 20, 9, 0))
    shop.complain(shop.orders[-1], at=kst(2026, 10, 21, 9, 0))  # due 10-26 23:59:59
    escalate(session, now=kst(2026, 10, 27, 0, 0))
    assert shop.standing().active_points == 8
    assert [sanction.stage for sanction in shop.sanctions()] == [Stage.NOTICE, Stage.WARNING]


def test_stage_history_records_each_move_with_its_effective_time(session: Session, shop: Shop) -> None:
    """none → notice → warning on the deadlines, warning → notice when it ran out."""
    from marketplace.sanctions.queries import stage_history

    escalate(session, now=kst(2026, 10, 5, 9, 0))
    run_sweeps(session, now=kst(2026, 10, 12, 0, 0))
    history, total = stage_history(session, shop.seller.id, limit=10, offset=0)
    moves = [(change.from_stage, change.to_stage, change.at, change.cause) for change in reversed(history)]
    assert total == 3
    assert moves == [
        (Stage.NONE, Stage.NOTICE, kst(2026, 9, 29, 23, 59, 59), "violation"),
        (Stage.NOTICE, Stage.WARNING, kst(2026, 10, 2, 23, 59, 59), "violation"),
        (Stage.WARNING, Stage.NOTICE, kst(2026, 10, 9, 23, 59, 59), "sanction_ended"),
    ]


def test_warning_ten_days_later_counts_orders_in_its_own_window(session: Session, make_shop) -> None:
    """A seller with 30 orders: 10 points are 33 % < 40 %, so no warning (and no notice at 6 points: 20 %)."""
    shop = make_shop()
    shop.paid(30, at=kst(2026, 9, 14, 10, 0))
    for index in range(5):
        shop.cancel(shop.orders[index], at=kst(2026, 9, 21, 10, 0) + timedelta(hours=index))
    assert shop.standing().active_points == 10
    assert shop.sanctions() == []
