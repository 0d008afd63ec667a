"""Reads of the scorecard: one seller's card (windows, categories, trend) and the ranking of sellers by a metric."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.queries import business_calendar
from marketplace.scorecard.build import window_sums
from marketplace.scorecard.metrics import GRADES, Figures
from marketplace.scorecard.models import WINDOWS, ScorecardSnapshot
from marketplace.sellers.models import Seller

# What a listing may be ranked by: a snapshot column each.
RANKABLE = (
    "orders",
    "defect_rate",
    "seller_cancel_rate",
    "late_shipment_rate",
    "claim_rate",
    "response_compliance",
    "lead_days_avg",
    "lead_days_p90",
    "refund_days_avg",
    "overdue_refund_days_avg",
    "counterfeit_claims",
    "active_points",
)
TREND_DAYS = 90


@dataclass(frozen=True, slots=True)
class Card:
    """A seller's scorecard as of ``day``: a snapshot per window (None before any), its categories, its trend."""

    seller: Seller
    day: date | None
    windows: dict[int, ScorecardSnapshot]
    categories: dict[str, dict[int, Figures]] = field(default_factory=dict)
    trend: list[ScorecardSnapshot] = field(default_factory=list)

    @property
    def grade(self) -> ScorecardSnapshot | None:
        """The snapshot that carries the grade (every window's holds the same grade)."""
        return self.windows.get(90) or next(iter(self.windows.values()), None)


def latest_day(session: Session) -> date | None:
    """The newest day snapshotted."""
    return session.scalar(sa.select(sa.func.max(ScorecardSnapshot.day)))


def read_card(session: Session, seller: Seller, *, trend_window: int = 30) -> Card:
    """``seller``'s card: its newest snapshots, its categories' figures (from the day rows) and its trend."""
    day = session.scalar(sa.select(sa.func.max(ScorecardSnapshot.day)).where(ScorecardSnapshot.seller_id == seller.id))
    if day is None:
        return Card(seller=seller, day=None, windows={})
    windows = {
        snapshot.window_days: snapshot
        for snapshot in session.scalars(
            sa.select(ScorecardSnapshot).where(ScorecardSnapshot.seller_id == seller.id, ScorecardSnapshot.day == day)
        )
    }
    categories = {
        category: by_window
        for (_seller, category), by_window in sorted(
            window_sums(session, day, sellers=[seller.id], by_category=True).items()
        )
    }
    trend = list(
        session.scalars(
            sa.select(ScorecardSnapshot)
            .where(
                ScorecardSnapshot.seller_id == seller.id,
                ScorecardSnapshot.window_days == trend_window,
                ScorecardSnapshot.day > day - timedelta(days=TREND_DAYS),
            )
            .order_by(ScorecardSnapshot.day)
        )
    )
    return Card(seller=seller, day=day, windows=windows, categories=categories, trend=trend)


def today(session: Session, now: datetime) -> date:
    return business_calendar(session).local_date(now)


def rank_sellers(
    session: Session,
    *,
    metric: str = "defect_rate",
    window_days: int = 90,
    descending: bool = True,
    grades: list[str] | None = None,
    limit: int | None = 50,
    offset: int = 0,
    day: date | None = None,
) -> tuple[list[tuple[Seller, ScorecardSnapshot]], int, date | None]:
    """Sellers on the newest snapshot day ranked by ``metric`` over ``window_days`` (sellers without a value last);
    with the total and the day."""
    if metric not in RANKABLE:
        raise ValueError(f"cannot rank by {metric!r}")
    if window_days not in WINDOWS:
        raise ValueError(f"no window of {window_days} days")
    day = day or latest_day(session)
    if day is None:
        return [], 0, None
    column = getattr(ScorecardSnapshot, metric)
    conditions = [ScorecardSnapshot.day == day, ScorecardSnapshot.window_days == window_days]
    if grades:
        conditions.append(ScorecardSnapshot.grade.in_([grade for grade in grades if grade in GRADES]))
    ordering = (column.is_(None), column.desc() if descending else column.asc(), ScorecardSnapshot.seller_id)
    # The page's sellers first, sorting only what the order needs; then their whole rows. Sorting the whole rows
    # (the seller's and the snapshot's, documents included) for a deep page spilled to disk: ~110 ms at 10,000.
    page = sa.select(ScorecardSnapshot.seller_id).where(*conditions).order_by(*ordering).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    query = (
        sa.select(Seller, ScorecardSnapshot)
        .join(ScorecardSnapshot, ScorecardSnapshot.seller_id == Seller.id)
        .where(*conditions, ScorecardSnapshot.seller_id.in_(page.scalar_subquery()))
        .order_by(*ordering)
    )
    rows = [(seller, snapshot) for seller, snapshot in session.execute(query).tuples()]
    total = session.scalar(sa.select(sa.func.count()).select_from(ScorecardSnapshot).where(*conditions)) or 0
    return rows, total, day


def grade_distribution(session: Session, day: date | None = None) -> dict[str, int]:
    """How many sellers have each grade on the newest snapshot day (every grade present, zero or more)."""
    day = day or latest_day(session)
    counts = dict.fromkeys(GRADES, 0)
    if day is None:
        return counts
    rows = session.execute(
        sa.select(ScorecardSnapshot.grade, sa.func.count())
        .where(ScorecardSnapshot.day == day, ScorecardSnapshot.window_days == max(WINDOWS))
        .group_by(ScorecardSnapshot.grade)
    )
    for grade, count in rows:
        counts[grade] = count
    return counts


def summary_of(session: Session, seller_id: int) -> ScorecardSnapshot | None:
    """The newest 90-day snapshot of a seller (the claim page's summary), or None."""
    return session.scalar(
        sa.select(ScorecardSnapshot)
        .where(ScorecardSnapshot.seller_id == seller_id, ScorecardSnapshot.window_days == max(WINDOWS))
        .order_by(ScorecardSnapshot.day.desc())
        .limit(1)
    )
