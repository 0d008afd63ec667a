"""The scorecard's tables: additive counters per seller, category and day of payment; daily snapshots per seller.

A *day row* counts what happened to the orders a seller was paid for on one day (in Asia/Seoul) in one category:
every counter is a plain sum, so the figures of any window are sums of day rows. A *snapshot* is what a seller's
scorecard said at the end of one day for one window, with its grade: trends and rankings read snapshots.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigIntPK, JSONDocument

# Shipping lead days are counted in buckets 0 … 9 and "10 or more": enough for a 90th percentile to be exact
# below ten business days, and summable in SQL.
LEAD_BUCKETS = 11
WINDOWS = (7, 30, 90)
# Orders whose items name no category are counted under this one.
NO_CATEGORY = ""

# The claim types a scorecard counts (a platform incident is never the seller's doing).
CLAIM_TYPES = (
    "seller_cancellation",
    "late_shipment",
    "non_delivery",
    "damaged",
    "wrong_item",
    "not_as_described",
    "counterfeit",
)

# Every additive counter of a day row, in the order the tables hold them.
COUNTERS = (
    "orders",
    "seller_cancels",
    "late_shipments",
    "shipped",
    "lead_days_sum",
    *(f"lead_{bucket}" for bucket in range(LEAD_BUCKETS)),
    "refunds",
    "refund_days_sum",
    "overdue_refunds",
    "overdue_days_sum",
    *(f"claims_{claim_type}" for claim_type in CLAIM_TYPES),
    # Orders with a claim of any of these types (an order with two claims counts once).
    "claimed",
    "defects",
    "responses_due",
    "responses_met",
)


def _counter() -> Any:
    return mapped_column(sa.Integer, default=0, server_default="0")


class ScorecardDay(Base):
    """What became of the orders one seller was paid for on one day in one category."""

    __tablename__ = "scorecard_days"
    # Keyed by (seller, day, category): the update finds and replaces a seller's day with one index range. No
    # foreign key to sellers: every row is derived from orders, whose seller is checked (checking it again for each
    # of a rebuild's million rows costs seconds and protects nothing).
    # No index on the day alone: the window sums read the longest window's rows in one sequential pass, and an
    # index nothing reads would only slow the rebuild's 1.3 million inserts and each night's.
    __table_args__ = (sa.PrimaryKeyConstraint("seller_id", "day", "category"),)

    seller_id: Mapped[int] = mapped_column(BigIntPK)
    category: Mapped[str] = mapped_column(sa.String(64))
    day: Mapped[date] = mapped_column(sa.Date)
    orders: Mapped[int] = _counter()
    seller_cancels: Mapped[int] = _counter()
    late_shipments: Mapped[int] = _counter()
    shipped: Mapped[int] = _counter()
    lead_days_sum: Mapped[int] = _counter()
    lead_0: Mapped[int] = _counter()
    lead_1: Mapped[int] = _counter()
    lead_2: Mapped[int] = _counter()
    lead_3: Mapped[int] = _counter()
    lead_4: Mapped[int] = _counter()
    lead_5: Mapped[int] = _counter()
    lead_6: Mapped[int] = _counter()
    lead_7: Mapped[int] = _counter()
    lead_8: Mapped[int] = _counter()
    lead_9: Mapped[int] = _counter()
    lead_10: Mapped[int] = _counter()
    refunds: Mapped[int] = _counter()
    refund_days_sum: Mapped[int] = _counter()
    overdue_refunds: Mapped[int] = _counter()
    overdue_days_sum: Mapped[int] = _counter()
    claims_seller_cancellation: Mapped[int] = _counter()
    claims_late_shipment: Mapped[int] = _counter()
    claims_non_delivery: Mapped[int] = _counter()
    claims_damaged: Mapped[int] = _counter()
    claims_wrong_item: Mapped[int] = _counter()
    claims_not_as_described: Mapped[int] = _counter()
    claims_counterfeit: Mapped[int] = _counter()
    claimed: Mapped[int] = _counter()
    defects: Mapped[int] = _counter()
    responses_due: Mapped[int] = _counter()
    responses_met: Mapped[int] = _counter()


class ScorecardSnapshot(Base):
    """A seller's scorecard at the end of one day over one window, with the grade the policy then gave."""

    __tablename__ = "scorecard_snapshots"
    __table_args__ = (sa.Index(None, "day", "window_days", "grade"),)

    # No foreign key to sellers, as for the day rows: each night writes 30,000 snapshots derived from rows whose
    # seller is checked already, and each check locked the seller's row.
    seller_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    window_days: Mapped[int] = mapped_column(primary_key=True)
    orders: Mapped[int]
    # Rates are fractions of the window's orders (0.061 is 6.1 %); None when there is nothing to divide by.
    seller_cancel_rate: Mapped[float | None] = mapped_column(sa.Float)
    late_shipment_rate: Mapped[float | None] = mapped_column(sa.Float)
    claim_rate: Mapped[float | None] = mapped_column(sa.Float)
    defect_rate: Mapped[float | None] = mapped_column(sa.Float)
    response_compliance: Mapped[float | None] = mapped_column(sa.Float)
    lead_days_avg: Mapped[float | None] = mapped_column(sa.Float)
    lead_days_p90: Mapped[int | None]
    refund_days_avg: Mapped[float | None] = mapped_column(sa.Float)
    overdue_refund_days_avg: Mapped[float | None] = mapped_column(sa.Float)
    counterfeit_claims: Mapped[int]
    active_points: Mapped[int]
    # top_rated, above_standard, below_standard or not_enough_data; the reasons name each metric over its limit.
    grade: Mapped[str] = mapped_column(sa.String(24))
    grade_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    # The window's raw sums (every counter of the day rows), so each rate can be shown as "3 of 120".
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    policy_version: Mapped[int]
    computed_at: Mapped[datetime]


class ScorecardState(Base):
    """Where the incremental update stands: the event ids it has read and the last day it snapshotted.

    Each run reads events after the ids the run *before* the last one had reached, so an event whose transaction
    committed after a later id was read is still seen (re-reading a day row is harmless: it is recomputed whole).
    """

    __tablename__ = "scorecard_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    claim_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    previous_order_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    previous_claim_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    snapshot_day: Mapped[date | None] = mapped_column(sa.Date)
    updated_at: Mapped[datetime]
