"""Reads for violations, sanctions, stage history, appeals, pauses and standing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.core.bulk import among
from marketplace.core.permissions import visible_to
from marketplace.db import UTCDateTime
from marketplace.orders.models import Order
from marketplace.sanctions.models import (
    STOOD,
    Appeal,
    AppealStatus,
    Sanction,
    SanctionPause,
    SellerStanding,
    Stage,
    StageChange,
    Violation,
    ViolationState,
)
from marketplace.sanctions.rules import Fact, Held
from marketplace.sellers.models import Seller

# Bound parameters per statement stay well under SQLite's limit (32,766).
_SQLITE_MOMENTS = 5000
violations = Violation.__table__
sanctions = Sanction.__table__
orders = Order.__table__


@dataclass(frozen=True, slots=True)
class SellerRef:
    """Who a standing belongs to."""

    id: int
    external_id: str
    name: str

    @property
    def seller_id(self) -> int:
        """A seller owns its standing (object-level permission checks read ``seller_id``)."""
        return self.id


@dataclass(frozen=True, slots=True)
class StandingRead:
    """A seller and its materialised standing row (None: it never had a violation or sanction)."""

    seller: SellerRef
    standing: Any


def get_seller(session: Session, external_id: str) -> Seller | None:
    """The seller the marketplace knows as ``external_id``."""
    return session.scalar(sa.select(Seller).where(Seller.external_id == external_id))


_STANDING = SellerStanding.__table__
_SELLERS = Seller.__table__


def read_standing(session: Session, external_id: str) -> StandingRead | None:
    """The seller and its standing row in one indexed read (by the seller's unique id, then the standing's key).

    A plain row, not mapped objects: the marketplace asks this on every listing and checkout.
    """
    row = session.execute(
        sa.select(_SELLERS.c.id, _SELLERS.c.external_id, _SELLERS.c.name, _STANDING)
        .select_from(_SELLERS.outerjoin(_STANDING, _STANDING.c.seller_id == _SELLERS.c.id))
        .where(_SELLERS.c.external_id == external_id)
    ).first()
    if row is None:
        return None
    return StandingRead(SellerRef(row.id, row.external_id, row.name), row if row.seller_id is not None else None)


def list_standings(
    session: Session, *, stages: Collection[Stage] = (), limit: int, offset: int
) -> tuple[list[tuple[Seller, SellerStanding]], int]:
    """Sellers with a standing row (they had a violation or sanction), the most points first."""
    conditions = [SellerStanding.stage.in_(stages)] if stages else []
    total = session.scalar(sa.select(sa.func.count()).select_from(SellerStanding).where(*conditions)) or 0
    rows = session.execute(
        sa.select(Seller, SellerStanding)
        .join(SellerStanding, SellerStanding.seller_id == Seller.id)
        .where(*conditions)
        .order_by(SellerStanding.active_points.desc(), Seller.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [(row[0], row[1]) for row in rows], total


def sellers_by_stage(session: Session) -> dict[Stage, int]:
    """How many sellers with a standing row stand at each stage (one grouped count; the rest are in good standing)."""
    counts = dict.fromkeys(Stage, 0)
    for stage, count in session.execute(
        sa.select(SellerStanding.stage, sa.func.count()).group_by(SellerStanding.stage)
    ):
        counts[Stage(stage)] = int(count)
    return counts


def get_violation(session: Session, violation_id: int, *, for_update: bool = False) -> Violation | None:
    """One violation."""
    query = sa.select(Violation).where(Violation.id == violation_id)
    if for_update:
        query = query.with_for_update(of=Violation)
    return session.scalar(query)


def list_violations(
    session: Session,
    seller_id: int,
    *,
    states: Collection[ViolationState] = (),
    limit: int,
    offset: int,
) -> tuple[list[Violation], int]:
    """A seller's violations, newest first."""
    conditions = [Violation.seller_id == seller_id]
    if states:
        conditions.append(Violation.state.in_(states))
    total = session.scalar(sa.select(sa.func.count()).select_from(Violation).where(*conditions)) or 0
    found = session.scalars(
        sa.select(Violation)
        .where(*conditions)
        .order_by(Violation.occurred_at.desc(), Violation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(found), total


def get_sanction(session: Session, sanction_id: int, *, for_update: bool = False) -> Sanction | None:
    """One sanction."""
    query = sa.select(Sanction).where(Sanction.id == sanction_id)
    if for_update:
        query = query.with_for_update(of=Sanction)
    return session.scalar(query)


def list_sanctions(
    session: Session,
    actor: Actor,
    *,
    seller_id: int | None = None,
    stages: Collection[Stage] = (),
    in_force: bool | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Sanction], int]:
    """Sanctions the actor may see, newest first."""
    conditions = [visible_to(actor, Sanction)]
    if seller_id is not None:
        conditions.append(Sanction.seller_id == seller_id)
    if stages:
        conditions.append(Sanction.stage.in_(stages))
    if in_force is True:
        conditions.append(Sanction.ended_at.is_(None))
    elif in_force is False:
        conditions.append(Sanction.ended_at.is_not(None))
    total = session.scalar(sa.select(sa.func.count()).select_from(Sanction).where(*conditions)) or 0
    found = session.scalars(
        sa.select(Sanction)
        .where(*conditions)
        .order_by(Sanction.starts_at.desc(), Sanction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(found), total


def sanctions_in_force(session: Session, seller_id: int) -> list[Sanction]:
    """The seller's sanctions that have not ended, most severe and newest first."""
    found = session.scalars(
        sa.select(Sanction).where(Sanction.seller_id == seller_id, Sanction.ended_at.is_(None)).order_by(Sanction.id)
    )
    return sorted(found, key=lambda sanction: (-sanction.stage.rank, -sanction.id))


def stage_history(session: Session, seller_id: int, *, limit: int, offset: int) -> tuple[list[StageChange], int]:
    """The seller's moves between stages, newest first."""
    condition = StageChange.seller_id == seller_id
    total = session.scalar(sa.select(sa.func.count()).select_from(StageChange).where(condition)) or 0
    found = session.scalars(
        sa.select(StageChange)
        .where(condition)
        .order_by(StageChange.at.desc(), StageChange.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(found), total


def get_appeal(session: Session, appeal_id: int, *, for_update: bool = False) -> Appeal | None:
    """One appeal."""
    query = sa.select(Appeal).where(Appeal.id == appeal_id)
    if for_update:
        query = query.with_for_update(of=Appeal)
    return session.scalar(query)


def open_appeal_for(
    session: Session, *, violation_id: int | None = None, sanction_id: int | None = None
) -> Appeal | None:
    """The open appeal of a violation or a sanction, if any."""
    condition = Appeal.violation_id == violation_id if violation_id is not None else Appeal.sanction_id == sanction_id
    return session.scalar(sa.select(Appeal).where(condition, Appeal.status == AppealStatus.OPEN))


def list_appeals(
    session: Session,
    actor: Actor,
    *,
    seller_id: int | None = None,
    statuses: Collection[AppealStatus] = (),
    limit: int,
    offset: int,
) -> tuple[list[Appeal], int]:
    """Appeals the actor may see; open ones oldest first (the staff queue), decided ones newest first."""
    conditions = [visible_to(actor, Appeal)]
    if seller_id is not None:
        conditions.append(Appeal.seller_id == seller_id)
    if statuses:
        conditions.append(Appeal.status.in_(statuses))
    total = session.scalar(sa.select(sa.func.count()).select_from(Appeal).where(*conditions)) or 0
    found = session.scalars(
        sa.select(Appeal)
        .where(*conditions)
        .order_by(
            sa.case((Appeal.status == AppealStatus.OPEN, 0), else_=1),
            sa.case((Appeal.status == AppealStatus.OPEN, Appeal.filed_at), else_=None),
            Appeal.decided_at.desc(),
            Appeal.id,
        )
        .limit(limit)
        .offset(offset)
    )
    return list(found), total


def list_pauses(session: Session, *, limit: int, offset: int) -> tuple[list[SanctionPause], int]:
    """Force-majeure pauses, the latest period first."""
    total = session.scalar(sa.select(sa.func.count()).select_from(SanctionPause)) or 0
    found = session.scalars(
        sa.select(SanctionPause)
        .order_by(SanctionPause.starts_at.desc(), SanctionPause.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(found), total


def pauses_overlapping(session: Session, start: datetime, end: datetime) -> list[SanctionPause]:
    """Pauses whose period meets [start, end]."""
    return list(
        session.scalars(sa.select(SanctionPause).where(SanctionPause.starts_at <= end, SanctionPause.ends_at > start))
    )


# What the rules need, set-based.


def facts_for(session: Session, since: dict[int, datetime]) -> dict[int, list[Fact]]:
    """For each seller, the violations that counted (or might have) at some instant from ``since[seller]`` on.

    Overturned and set-aside ones come too, with the instant they stopped standing: a violation stood until then.
    """
    if not since:
        return {}
    earliest = min(since.values())
    found: dict[int, list[Fact]] = defaultdict(list)
    void_at = sa.func.coalesce(violations.c.overturned_at, violations.c.set_aside_at)
    rows = session.execute(
        sa.select(
            violations.c.id,
            violations.c.seller_id,
            violations.c.kind,
            violations.c.occurred_at,
            violations.c.expires_at,
            violations.c.points,
            violations.c.initial_points,
            violations.c.raised_at,
            violations.c.overturned_at,
            violations.c.set_aside_at,
        )
        .where(
            among(violations.c.seller_id, since),
            violations.c.expires_at > earliest,
            sa.or_(violations.c.state.in_([state.value for state in STOOD]), void_at > earliest),
        )
        .order_by(violations.c.seller_id, violations.c.occurred_at, violations.c.id)
    )
    for row in rows:
        if row.expires_at > since[row.seller_id]:
            found[row.seller_id].append(Fact(*row[:8], void_at=row.overturned_at or row.set_aside_at))
    return found


def held_for(session: Session, since: dict[int, datetime]) -> dict[int, list[Held]]:
    """For each seller, its sanctions that were in force at or after ``since[seller]`` (or start later)."""
    if not since:
        return {}
    earliest = min(since.values())
    found: dict[int, list[Held]] = defaultdict(list)
    rows = session.execute(
        sa.select(
            sanctions.c.id,
            sanctions.c.seller_id,
            sanctions.c.stage,
            sanctions.c.starts_at,
            sanctions.c.ends_at,
            sanctions.c.ended_at,
            sanctions.c.rule,
        )
        .where(
            among(sanctions.c.seller_id, since),
            sa.or_(sanctions.c.ended_at.is_(None), sanctions.c.ended_at > earliest),
        )
        .order_by(sanctions.c.seller_id, sanctions.c.id)
    )
    for row in rows:
        held = Held(Stage(row.stage), row.starts_at, row.ends_at, row.ended_at, sanction_id=row.id, rule=row.rule)
        end = held.end
        if end is None or end > since[row.seller_id]:
            found[row.seller_id].append(held)
    return found


def count_orders(
    session: Session, moments: Sequence[tuple[int, datetime]], window: timedelta, limits: Sequence[int | None]
) -> list[int]:
    """For each (seller, instant), the orders paid in the window before it: on PostgreSQL counting at most its limit
    (enough to judge a threshold; None counts them all), on SQLite all of them."""
    if not moments:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # One statement for any number of moments: each counts from the orders index, stopping at its limit.
        result = session.execute(
            sa.text(
                "SELECT p.i, (SELECT count(*) FROM (SELECT 1 FROM orders o WHERE o.seller_id = p.seller_id"
                " AND o.paid_at > p.since AND o.paid_at <= p.until LIMIT p.lim) AS counted) AS n"
                " FROM unnest(CAST(:i AS integer[]), CAST(:seller_ids AS bigint[]), CAST(:since AS timestamptz[]),"
                " CAST(:until AS timestamptz[]), CAST(:lim AS bigint[])) AS p(i, seller_id, since, until, lim)"
            ),
            {
                "i": list(range(len(moments))),
                "seller_ids": [seller_id for seller_id, _at in moments],
                "since": [at - window for _seller_id, at in moments],
                "until": [at for _seller_id, at in moments],
                "lim": list(limits),
            },
        )
        counts = dict(result.tuples().all())
        return [counts[index] for index in range(len(moments))]
    # SQLite (one process, small data): the moments as a VALUES list, each counted in full by a correlated subquery.
    counted: list[int] = []
    for start in range(0, len(moments), _SQLITE_MOMENTS):
        chunk = moments[start : start + _SQLITE_MOMENTS]
        table = (
            sa.values(
                sa.column("i", sa.Integer),
                sa.column("seller_id", sa.Integer),
                sa.column("since", UTCDateTime()),
                sa.column("until", UTCDateTime()),
                name="moments",
            )
            .data([(index, seller_id, at - window, at) for index, (seller_id, at) in enumerate(chunk)])
            .cte("moments")
        )
        count = (
            sa.select(sa.func.count())
            .where(orders.c.seller_id == table.c.seller_id, orders.c.paid_at > table.c.since)
            .where(orders.c.paid_at <= table.c.until)
            .scalar_subquery()
        )
        found = dict(session.execute(sa.select(table.c.i, count)).tuples().all())
        counted.extend(found[index] for index in range(len(chunk)))
    return counted


def orders_in_window(session: Session, seller_ids: Iterable[int], *, at: datetime, window: timedelta) -> dict[int, int]:
    """Orders paid in the window before ``at``, per seller (every one counted)."""
    seller_ids = list(seller_ids)
    if not seller_ids:
        return {}
    rows = session.execute(
        sa.select(orders.c.seller_id, sa.func.count())
        .where(among(orders.c.seller_id, seller_ids), orders.c.paid_at > at - window, orders.c.paid_at <= at)
        .group_by(orders.c.seller_id)
    )
    return dict(rows.tuples().all())


def active_points(session: Session, seller_ids: Iterable[int]) -> dict[int, int]:
    """The points of the violations that count now, per seller."""
    seller_ids = list(seller_ids)
    if not seller_ids:
        return {}
    rows = session.execute(
        sa.select(violations.c.seller_id, sa.func.sum(violations.c.points))
        .where(among(violations.c.seller_id, seller_ids), violations.c.state == ViolationState.ACTIVE.value)
        .group_by(violations.c.seller_id)
    )
    return {seller_id: int(points) for seller_id, points in rows.tuples()}


def running_sanctions(session: Session, seller_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The sanctions in force per seller (started and not ended), most severe then newest first."""
    seller_ids = list(seller_ids)
    if not seller_ids:
        return {}
    rows = session.execute(
        sa.select(
            sanctions.c.id,
            sanctions.c.seller_id,
            sanctions.c.stage,
            sanctions.c.starts_at,
            sanctions.c.ends_at,
            sanctions.c.source,
            sanctions.c.rule,
            sanctions.c.reason,
        ).where(among(sanctions.c.seller_id, seller_ids), sanctions.c.ended_at.is_(None))
    )
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        found[row.seller_id].append(row._asdict())
    for running in found.values():
        running.sort(key=lambda sanction: (-Stage(sanction["stage"]).rank, -sanction["id"]))
    return found


def sellers_by_id(session: Session, seller_ids: Iterable[int]) -> dict[int, str]:
    """The marketplace's id of each seller."""
    seller_ids = list(seller_ids)
    if not seller_ids:
        return {}
    return dict(
        session.execute(sa.select(Seller.id, Seller.external_id).where(among(Seller.id, seller_ids))).tuples().all()
    )
