"""Reads: compensations as a caller may see them, and what each seller owes from its next settlement."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim
from marketplace.compensation.models import Compensation, CompensationStatus, Recovery, RecoveryStatus
from marketplace.core.auth import Actor
from marketplace.core.errors import ValidationFailed
from marketplace.core.permissions import visible_to
from marketplace.core.policies import builtin_policy, policy_history
from marketplace.core.queries import business_calendar
from marketplace.orders.models import Order
from marketplace.sellers.models import Seller

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def get_compensation(session: Session, compensation_id: int, *, for_update: bool = False) -> Compensation | None:
    """One compensation."""
    stmt = sa.select(Compensation).where(Compensation.id == compensation_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_compensations(
    session: Session,
    actor: Actor,
    *,
    claim_id: int | None = None,
    incident_id: int | None = None,
    statuses: Sequence[str] = (),
    limit: int,
    offset: int = 0,
) -> tuple[list[Compensation], int]:
    """Compensations the actor may see, newest first, and how many there are."""
    conditions = [visible_to(actor, Compensation)]
    if claim_id is not None:
        conditions.append(Compensation.claim_id == claim_id)
    if incident_id is not None:
        conditions.append(Compensation.incident_id == incident_id)
    if statuses:
        conditions.append(Compensation.status.in_(statuses))
    total = session.scalar(sa.select(sa.func.count()).select_from(Compensation).where(*conditions)) or 0
    rows = session.scalars(
        sa.select(Compensation).where(*conditions).order_by(Compensation.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def order_external_ids(session: Session, order_ids: Sequence[int]) -> dict[int, str]:
    """The marketplace's ids of these orders."""
    if not order_ids:
        return {}
    return dict(session.execute(sa.select(Order.id, Order.external_id).where(Order.id.in_(set(order_ids)))).all())


def parse_period(period: str, *, field: str = "period") -> str:
    """A settlement period ``YYYY-MM``, or a ValidationFailed naming ``field``."""
    # 0000-01 and 9999-12 match the pattern but have no first instant, or no end, that a date can hold.
    if not isinstance(period, str) or not _PERIOD.match(period) or not "0001-01" <= period <= "9999-11":
        raise ValidationFailed(_l("A settlement period is a month written YYYY-MM."), field=field)
    return period


def period_end(session: Session, period: str) -> datetime:
    """The first instant after the period: the next month's first day at 00:00 in the business time zone."""
    year, month = (int(part) for part in parse_period(period).split("-"))
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return datetime.combine(first_of_next, time(0), tzinfo=business_calendar(session).tz)


@dataclass
class SellerDeduction:
    """What one seller's settlement of a period deducts: open lines (to deduct) and lines already deducted."""

    seller_id: int
    seller_external_id: str
    seller_name: str
    period: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def to_deduct(self) -> int:
        """The total of the open lines: what the next settlement must withhold."""
        return sum(line["amount"] for line in self.lines if line["status"] == RecoveryStatus.OPEN.value)

    @property
    def deducted(self) -> int:
        """The total already confirmed as deducted in this period."""
        return sum(line["amount"] for line in self.lines if line["status"] == RecoveryStatus.DEDUCTED.value)


def deductions(session: Session, period: str, *, seller_id: int | None = None) -> list[SellerDeduction]:
    """Per seller: every recovery booked before the period ends and not yet deducted, plus those deducted in it."""
    end = period_end(session, period)
    recoveries, compensations, claims = Recovery.__table__, Compensation.__table__, Claim.__table__
    orders, sellers = Order.__table__, Seller.__table__
    conditions = [
        recoveries.c.booked_at < end,
        sa.or_(
            recoveries.c.status == RecoveryStatus.OPEN.value,
            sa.and_(recoveries.c.status == RecoveryStatus.DEDUCTED.value, recoveries.c.deducted_period == period),
        ),
    ]
    if seller_id is not None:
        conditions.append(recoveries.c.seller_id == seller_id)
    rows = session.execute(
        sa.select(
            recoveries.c.id.label("recovery_id"),
            recoveries.c.seller_id,
            sellers.c.external_id.label("seller_external_id"),
            sellers.c.name.label("seller_name"),
            recoveries.c.compensation_id,
            recoveries.c.claim_id,
            claims.c.type.label("claim_type"),
            orders.c.external_id.label("order_id"),
            recoveries.c.amount,
            recoveries.c.status,
            recoveries.c.booked_at,
            recoveries.c.deducted_at,
            compensations.c.rule,
            compensations.c.policy_version,
            compensations.c.incident_id,
            compensations.c.form,
            compensations.c.calculation,
        )
        .join_from(recoveries, compensations, compensations.c.id == recoveries.c.compensation_id)
        .join(sellers, sellers.c.id == recoveries.c.seller_id)
        .join(orders, orders.c.id == recoveries.c.order_id)
        .join(claims, claims.c.id == recoveries.c.claim_id, isouter=True)
        .where(*conditions)
        .order_by(sellers.c.external_id, recoveries.c.booked_at, recoveries.c.id)
    )
    result: dict[int, SellerDeduction] = {}
    for row in rows:
        line = row._asdict()
        deduction = result.setdefault(
            row.seller_id,
            SellerDeduction(row.seller_id, row.seller_external_id, row.seller_name, period),
        )
        for name in ("seller_id", "seller_external_id", "seller_name"):
            line.pop(name)
        line["status"] = str(getattr(row.status, "value", row.status))
        line["claim_type"] = str(getattr(row.claim_type, "value", row.claim_type)) if row.claim_type else None
        line["form"] = str(getattr(row.form, "value", row.form))
        deduction.lines.append(line)
    return list(result.values())


def open_recoveries(session: Session, seller_ids: Sequence[int], *, before: datetime) -> list[Any]:
    """The open recoveries of these sellers booked before ``before``, locked for the deduction that settles them."""
    if not seller_ids:
        return []
    stmt = (
        sa.select(Recovery.id, Recovery.seller_id, Recovery.amount, Recovery.booked_at)
        .where(
            Recovery.seller_id.in_(seller_ids),
            Recovery.status == RecoveryStatus.OPEN,
            Recovery.booked_at < before,
        )
        .order_by(Recovery.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(session.execute(stmt).all())


def compensation_history(session: Session) -> list[Any]:
    """Every published compensation policy version, newest first, ending with the built-in default."""
    from marketplace.compensation.policy import COMPENSATION

    return [*policy_history(session, COMPENSATION), builtin_policy(COMPENSATION)]


def month_totals(session: Session, start: datetime, end: datetime, period: str) -> dict[str, int]:
    """For the dashboard: compensation granted in [start, end] (``end`` is now: a grant this moment counts), what
    of it is owed by sellers, what was deducted."""
    compensations, recoveries = Compensation.__table__, Recovery.__table__
    granted, recoverable = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(compensations.c.amount), 0),
            sa.func.coalesce(sa.func.sum(sa.case((compensations.c.recoverable, compensations.c.amount), else_=0)), 0),
        ).where(
            compensations.c.granted_at >= start,
            compensations.c.granted_at <= end,
            compensations.c.status != CompensationStatus.VOIDED.value,
        )
    ).one()
    deducted = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(recoveries.c.amount), 0)).where(
            recoveries.c.status == RecoveryStatus.DEDUCTED.value, recoveries.c.deducted_period == period
        )
    )
    return {"granted": int(granted), "recoverable": int(recoverable), "deducted": int(deducted or 0)}
