"""Scorecard metrics on hand-built histories: every figure worked out by hand, across the 2026 Chuseok holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from marketplace.core.calendar import BusinessCalendar
from marketplace.scorecard.metrics import (
    ABOVE_STANDARD,
    BELOW_STANDARD,
    NOT_ENOUGH_DATA,
    TOP_RATED,
    add_into,
    figures,
    grade,
    order_counters,
)
from marketplace.scorecard.models import COUNTERS
from marketplace.scorecard.policy import DEFAULT_SCORECARD_POLICY, GradePolicy, validate_scorecard_policy

KST = timezone(timedelta(hours=9))
CALENDAR = BusinessCalendar()
POLICY = GradePolicy.from_document(0, DEFAULT_SCORECARD_POLICY)


def kst(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=KST)


def order(number, *, paid, ship_by=None, shipped=None, status="paid", by=None, cancelled=None, refunded=None, cat=None):
    return (number, 7, cat, paid, ship_by, shipped, status, by, cancelled, refunded)


def claim(number, claim_type, *, status="resolved", decision=None, reason=None, proposed=None, due=None, late=None):
    return (number, claim_type, status, decision, reason, proposed, due or kst(12, 31), late)


def sums(history):
    """The window sums of (order, claims) pairs, as the day rows would add them up."""
    total = [0] * len(COUNTERS)
    for one, claims in history:
        _key, counters = order_counters(one, claims, CALENDAR)
        add_into(total, counters)
    return total


# Paid Wednesday 23 September 2026, the day before Chuseok (24–26 September, a Thursday to a Saturday).
HISTORY = [
    # Shipped the Monday after Chuseok: one business day.
    (order(1, paid=kst(9, 23), ship_by=kst(9, 30, 23), shipped=kst(9, 28, 9)), []),
    # Shipped 6 October: 28, 29, 30 Sep, 1, 2 Oct and 6 Oct (5 Oct is 개천절's substitute) = 6 days; after ship-by.
    (order(2, paid=kst(9, 23), ship_by=kst(9, 30, 23), shipped=kst(10, 6)), []),
    # Shipped the next day, and in a category.
    (order(3, paid=kst(9, 22), ship_by=kst(9, 28, 23), shipped=kst(9, 23), cat="fashion"), []),
    # The seller cancelled on 22 Sep and refunded on 28 Sep: 23 and 28 Sep = 2 business days; the refund in time.
    (
        order(4, paid=kst(9, 21), status="cancelled", by="seller", cancelled=kst(9, 22), refunded=kst(9, 28)),
        [claim(4, "seller_cancellation", proposed=kst(9, 22, 12), due=kst(9, 24, 23), late=0)],
    ),
    # The seller cancelled on 21 Sep and refunded 6 Oct: 8 business days, 5 past the statutory deadline; silent.
    (
        order(5, paid=kst(9, 21), status="cancelled", by="seller", cancelled=kst(9, 21), refunded=kst(10, 6)),
        [claim(5, "seller_cancellation", status="escalated", reason="seller_silent", late=5)],
    ),
    # A counterfeit claim decided for the buyer: a defect.
    (
        order(6, paid=kst(9, 22), shipped=kst(9, 22, 18)),
        [claim(6, "counterfeit", status="resolved", decision="for_buyer", proposed=kst(9, 25), due=kst(9, 29, 23))],
    ),
    # A damaged item the seller answered in time and the buyer accepted: not a defect.
    (
        order(7, paid=kst(9, 22), shipped=kst(9, 23)),
        [claim(7, "damaged", proposed=kst(9, 28), due=kst(9, 30, 23))],
    ),
    # Non-delivery the seller answered late; staff decided it for the seller: not a defect, the deadline missed.
    (
        order(8, paid=kst(9, 22), shipped=kst(9, 23)),
        [claim(8, "non_delivery", decision="for_seller", reason="buyer_rejected", proposed=kst(10, 2), due=kst(9, 30))],
    ),
    # A late-shipment claim the buyer withdrew when the parcel came: not late.
    (
        order(9, paid=kst(9, 22), ship_by=kst(9, 28, 23), shipped=kst(9, 28, 20)),
        [claim(9, "late_shipment", status="withdrawn")],
    ),
    # Cancelled by the buyer: an order, nothing against the seller.
    (order(10, paid=kst(9, 22), status="cancelled", by="buyer", cancelled=kst(9, 22, 12), refunded=kst(9, 22, 13)), []),
]


def test_each_order_adds_to_the_day_it_was_paid_in_its_category() -> None:
    key, _ = order_counters(HISTORY[2][0], [], CALENDAR)
    assert key == (7, "fashion", kst(9, 22).date())
    key, _ = order_counters(HISTORY[0][0], [], CALENDAR)
    assert key == (7, "", kst(9, 23).date())
    # Paid at 00:30 KST on 23 Sep is 22 Sep in UTC, and counts on the 23rd.
    key, _ = order_counters(order(11, paid=datetime(2026, 9, 22, 15, 30, tzinfo=UTC)), [], CALENDAR)
    assert key[2].isoformat() == "2026-09-23"


def test_figures_of_a_hand_built_history() -> None:
    window = figures(30, sums(HISTORY))
    assert window.orders == 10
    assert window.seller_cancel_rate == pytest.approx(2 / 10)
    # Order 2 shipped after its ship-by; order 9's claim was withdrawn and it shipped in time.
    assert window.late_shipment_rate == pytest.approx(1 / 10)
    # Shipped: 1 (1 day), 2 (6), 3 (1), 6 (0), 7 (1), 8 (1), 9 (23 and 28 Sep: 2).
    assert window.counts["shipped"] == 7
    assert window.lead_days_avg == pytest.approx((1 + 6 + 1 + 0 + 1 + 1 + 2) / 7)
    # Nearest rank: ceil(0.9 × 7) = 7th of [0, 1, 1, 1, 1, 2, 6] = 6.
    assert window.lead_days_p90 == 6
    # Refunds: order 4 (2 days), order 5 (8 days), order 10 (same day, 0).
    assert window.refund_days_avg == pytest.approx((2 + 8 + 0) / 3)
    assert window.overdue_refund_days_avg == pytest.approx(5.0)
    assert window.counts["overdue_refunds"] == 1
    # Defects: the two seller cancellations and the counterfeit decided for the buyer.
    assert window.defect_rate == pytest.approx(3 / 10)
    assert window.counterfeit_claims == 1
    # Claims on orders 4, 5, 6, 7, 8, 9.
    assert window.claim_rate == pytest.approx(6 / 10)
    assert window.claim_rate_of("seller_cancellation") == pytest.approx(2 / 10)
    assert window.claim_rate_of("wrong_item") == 0
    # Answered or let pass: 4 (in time), 5 (silent), 6 (in time), 7 (in time), 8 (late) → 3 of 5.
    assert window.response_compliance == pytest.approx(3 / 5)


def test_lead_days_count_business_days_across_chuseok_and_ten_or_more_as_ten() -> None:
    # Paid Wednesday before Chuseok, shipped Friday 9 Oct (한글날) counts to 8 Oct: 28, 29, 30, 1, 2, 6, 7, 8 = 8.
    _, counters = order_counters(order(1, paid=kst(9, 23), shipped=kst(10, 9)), [], CALENDAR)
    assert counters[COUNTERS.index("lead_days_sum")] == 8
    assert counters[COUNTERS.index("lead_8")] == 1
    # Fifteen business days later: the sum is exact, the bucket is "10 or more".
    _, counters = order_counters(order(2, paid=kst(9, 21), shipped=kst(10, 16)), [], CALENDAR)
    assert counters[COUNTERS.index("lead_days_sum")] == 15
    assert counters[COUNTERS.index("lead_10")] == 1


def test_an_empty_window_has_no_rates() -> None:
    window = figures(7, [0] * len(COUNTERS))
    assert window.orders == 0
    assert window.seller_cancel_rate is None
    assert window.lead_days_p90 is None
    assert window.response_compliance is None


def _windows(orders: int, **counts: int):
    row = [0] * len(COUNTERS)
    row[COUNTERS.index("orders")] = orders
    for name, value in counts.items():
        row[COUNTERS.index(name)] = value
    return {days: figures(days, row) for days in (7, 30, 90)}


def test_too_few_orders_is_not_enough_data_rather_than_a_grade() -> None:
    verdict = grade(_windows(9, seller_cancels=5), POLICY)
    assert verdict.grade == NOT_ENOUGH_DATA
    assert verdict.reasons == [{"metric": "orders", "value": 9, "limit": 10, "window_days": 90}]


def test_grades_follow_the_published_limits_with_the_reason() -> None:
    assert grade(_windows(1000), POLICY).grade == TOP_RATED
    # Exactly at a limit is within it.
    assert grade(_windows(1000, defects=5), POLICY).grade == TOP_RATED
    above = grade(_windows(1000, defects=12), POLICY)
    assert above.grade == ABOVE_STANDARD
    assert above.reasons == [{"metric": "defect_rate", "value": 1.2, "limit": 0.5, "window_days": 90}]
    below = grade(_windows(1000, late_shipments=61, defects=12), POLICY)
    assert below.grade == BELOW_STANDARD
    assert below.reasons == [{"metric": "late_shipment_rate", "value": 6.1, "limit": 4.0, "window_days": 30}]


def test_the_policy_validator_names_each_bad_field() -> None:
    bad = {
        "min_orders": 0,
        "min_orders_window_days": 60,
        "limits": {
            "defect_rate": {"window_days": 90, "top_rated_percent": 3.0, "standard_percent": 2.0},
            "late_shipment_rate": {"window_days": 30, "top_rated_percent": "x", "standard_percent": 4.0},
            "speed": {},
        },
    }
    problems = validate_scorecard_policy(bad)
    assert set(problems) == {
        "min_orders",
        "min_orders_window_days",
        "limits.defect_rate.top_rated_percent",
        "limits.late_shipment_rate.top_rated_percent",
        "limits.speed",
    }
    assert validate_scorecard_policy(DEFAULT_SCORECARD_POLICY) == {}
