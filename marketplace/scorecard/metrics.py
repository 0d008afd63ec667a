"""What one order adds to its day row, and the figures and grade a window's sums give. No database here.

Definitions (each over the orders *paid* in the window, in Asia/Seoul days; the window of N days ending on day D
holds the days D-N+1 … D):

- seller-cancel rate: orders the seller itself cancelled / orders;
- late-shipment rate: orders shipped after their ship-by, or with a late-shipment claim that stands / orders;
- shipping lead days: business days from payment to shipment (the average, and the 90th percentile by nearest
  rank, "10 or more" counted as 10), over the orders shipped;
- refund completion days: business days from cancellation to refund, over the orders refunded;
- overdue refund days: business days a statutory refund came (or is) late, averaged over the late ones;
- claim rate by type: orders with a claim of that type / orders (the overall claim rate counts each order once);
- defect rate: orders with a seller cancellation, a counterfeit claim that stands, or a claim decided against the
  seller (for the buyer, partly, or by default against a silent seller) / orders;
- response-deadline compliance: claims the seller answered by its deadline / claims it answered or let pass.

A claim "stands" unless the buyer withdrew it or staff decided it for the seller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.core.calendar import BusinessCalendar
from marketplace.scorecard.models import CLAIM_TYPES, COUNTERS, LEAD_BUCKETS, NO_CATEGORY
from marketplace.scorecard.policy import GradePolicy

INDEX = {name: position for position, name in enumerate(COUNTERS)}
_ORDERS = INDEX["orders"]
_SELLER_CANCELS = INDEX["seller_cancels"]
_LATE = INDEX["late_shipments"]
_SHIPPED = INDEX["shipped"]
_LEAD_SUM = INDEX["lead_days_sum"]
_LEAD_0 = INDEX["lead_0"]
_REFUNDS = INDEX["refunds"]
_REFUND_DAYS = INDEX["refund_days_sum"]
_OVERDUE = INDEX["overdue_refunds"]
_OVERDUE_DAYS = INDEX["overdue_days_sum"]
_CLAIMS = {claim_type: INDEX[f"claims_{claim_type}"] for claim_type in CLAIM_TYPES}
_CLAIMED = INDEX["claimed"]
_DEFECTS = INDEX["defects"]
_DUE = INDEX["responses_due"]
_MET = INDEX["responses_met"]

AGAINST_SELLER = frozenset({"for_buyer", "partial"})

# The columns of an order and of a claim the counters read, in the order the queries select them.
ORDER_COLUMNS = (
    "id",
    "seller_id",
    "category",
    "paid_at",
    "ship_by",
    "shipped_at",
    "status",
    "cancel_initiated_by",
    "cancelled_at",
    "refunded_at",
)
CLAIM_COLUMNS = (
    "order_id",
    "type",
    "status",
    "decision",
    "escalation_reason",
    "proposed_at",
    "response_due_at",
    "refund_days_late",
)


def _text(value: Any) -> str | None:
    return None if value is None else getattr(value, "value", value)


def order_counters(
    order: Sequence[Any], claims: Iterable[Sequence[Any]], calendar: BusinessCalendar
) -> tuple[tuple[int, str, Any], list[int]]:
    """The day-row key ``(seller_id, category, day paid)`` of ``order`` and what it adds to that row.

    ``order`` holds ORDER_COLUMNS, each claim CLAIM_COLUMNS (only the order's own claims).
    """
    _id, seller_id, category, paid_at, ship_by, shipped_at, status, initiated_by, cancelled_at, refunded_at = order
    counters = [0] * len(COUNTERS)
    counters[_ORDERS] = 1
    seller_cancel = _text(status) == "cancelled" and _text(initiated_by) == "seller"
    late = shipped_at is not None and ship_by is not None and shipped_at > ship_by
    defect = seller_cancel
    if shipped_at is not None:
        lead = max(0, calendar.business_days_between(paid_at, shipped_at))
        counters[_SHIPPED] = 1
        counters[_LEAD_SUM] = lead
        counters[_LEAD_0 + min(lead, LEAD_BUCKETS - 1)] = 1
    if refunded_at is not None and cancelled_at is not None:
        counters[_REFUNDS] = 1
        counters[_REFUND_DAYS] = max(0, calendar.business_days_between(cancelled_at, refunded_at))
    for claim in claims:
        _order_id, claim_type, claim_status, decision, reason, proposed_at, response_due_at, days_late = claim
        claim_type, decision = _text(claim_type), _text(decision)
        position = _CLAIMS.get(claim_type)
        if position is None:
            continue  # a platform incident is not the seller's doing
        counters[position] = 1
        counters[_CLAIMED] = 1
        stands = _text(claim_status) != "withdrawn" and decision != "for_seller"
        silent = _text(reason) == "seller_silent"
        if decision in AGAINST_SELLER or (silent and stands):
            defect = True
        if claim_type == "counterfeit" and stands:
            defect = True
        if claim_type == "late_shipment" and stands:
            late = True
        if proposed_at is not None or silent:
            counters[_DUE] += 1
            if proposed_at is not None and proposed_at <= response_due_at:
                counters[_MET] += 1
        if days_late:
            counters[_OVERDUE] += 1
            counters[_OVERDUE_DAYS] += days_late
    counters[_SELLER_CANCELS] = int(seller_cancel)
    counters[_LATE] = int(late)
    counters[_DEFECTS] = int(defect)
    return (seller_id, category or NO_CATEGORY, calendar.local_date(paid_at)), counters


def add_into(total: list[int], counters: Sequence[int]) -> None:
    """``total += counters``, element by element."""
    for position, value in enumerate(counters):
        if value:
            total[position] += value


@dataclass(frozen=True, slots=True)
class Figures:
    """One window's figures, from its sums (``counts`` holds every counter by name)."""

    window_days: int
    counts: Mapping[str, int]

    @property
    def orders(self) -> int:
        return self.counts["orders"]

    def _rate(self, name: str) -> float | None:
        return self.counts[name] / self.orders if self.orders else None

    @property
    def seller_cancel_rate(self) -> float | None:
        return self._rate("seller_cancels")

    @property
    def late_shipment_rate(self) -> float | None:
        return self._rate("late_shipments")

    @property
    def defect_rate(self) -> float | None:
        return self._rate("defects")

    @property
    def claim_rate(self) -> float | None:
        """Orders with a claim of any type / orders."""
        return self._rate("claimed")

    def claim_rate_of(self, claim_type: str) -> float | None:
        return self._rate(f"claims_{claim_type}")

    @property
    def counterfeit_claims(self) -> int:
        return self.counts["claims_counterfeit"]

    @property
    def response_compliance(self) -> float | None:
        due = self.counts["responses_due"]
        return self.counts["responses_met"] / due if due else None

    @property
    def lead_days_avg(self) -> float | None:
        shipped = self.counts["shipped"]
        return self.counts["lead_days_sum"] / shipped if shipped else None

    @property
    def lead_days_p90(self) -> int | None:
        """The 90th percentile by nearest rank: the smallest d with at least 90 % of shipments in d days or fewer."""
        shipped = self.counts["shipped"]
        if not shipped:
            return None
        rank = math.ceil(0.9 * shipped)
        seen = 0
        for bucket in range(LEAD_BUCKETS):
            seen += self.counts[f"lead_{bucket}"]
            if seen >= rank:
                return bucket
        return LEAD_BUCKETS - 1

    @property
    def refund_days_avg(self) -> float | None:
        refunds = self.counts["refunds"]
        return self.counts["refund_days_sum"] / refunds if refunds else None

    @property
    def overdue_refund_days_avg(self) -> float | None:
        overdue = self.counts["overdue_refunds"]
        return self.counts["overdue_days_sum"] / overdue if overdue else None


def figures(window_days: int, sums: Sequence[int | None]) -> Figures:
    """The figures of a window from its sums in COUNTERS order (None as 0)."""
    return Figures(window_days, {name: int(value or 0) for name, value in zip(COUNTERS, sums, strict=True)})


NOT_ENOUGH_DATA = "not_enough_data"
TOP_RATED = "top_rated"
ABOVE_STANDARD = "above_standard"
BELOW_STANDARD = "below_standard"
GRADES = (TOP_RATED, ABOVE_STANDARD, BELOW_STANDARD, NOT_ENOUGH_DATA)


@dataclass(frozen=True, slots=True)
class Grade:
    """A grade and why: each reason names a metric, its value and the limit it went over (percent)."""

    grade: str
    reasons: list[dict[str, Any]]


def grade(by_window: Mapping[int, Figures], policy: GradePolicy) -> Grade:
    """The grade the policy gives for these windows' figures.

    Below standard when any metric is over its standard limit; above standard when any is over its top-rated
    limit; else top rated. The reasons list every metric over the limit that decided the grade.
    """
    orders = by_window[policy.min_orders_window_days].orders
    if orders < policy.min_orders:
        return Grade(
            NOT_ENOUGH_DATA,
            [
                {
                    "metric": "orders",
                    "value": orders,
                    "limit": policy.min_orders,
                    "window_days": policy.min_orders_window_days,
                }
            ],
        )
    below: list[dict[str, Any]] = []
    above: list[dict[str, Any]] = []
    for limit in policy.limits:
        rate = getattr(by_window[limit.window_days], limit.metric)
        if rate is None:
            continue
        percent = rate * 100
        reason = {"metric": limit.metric, "value": round(percent, 2), "window_days": limit.window_days}
        # Compared in hundredths of a percent, so that 4.0 % is not "over 4 %" by a float's last bit.
        if round(percent, 6) > limit.standard_percent:
            below.append({**reason, "limit": limit.standard_percent})
        elif round(percent, 6) > limit.top_rated_percent:
            above.append({**reason, "limit": limit.top_rated_percent})
    if below:
        return Grade(BELOW_STANDARD, below)
    if above:
        return Grade(ABOVE_STANDARD, above)
    return Grade(TOP_RATED, [])
