"""Reads for claims."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import (
    OPEN_STATUSES,
    Claim,
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    EscalationReason,
    Evidence,
    RefundStatus,
    Visibility,
)
from marketplace.claims.policy import SLA
from marketplace.core.auth import Actor
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import visible_to
from marketplace.core.policies import builtin_policy, policy_history
from marketplace.sellers.models import Seller


def open_claim_for(session: Session, order_id: int, claim_type: ClaimType) -> Claim | None:
    """The open claim of this type on the order, if any."""
    return session.scalar(
        sa.select(Claim).where(Claim.order_id == order_id, Claim.type == claim_type, Claim.status.in_(OPEN_STATUSES))
    )


def orders_with_open_claim(session: Session, order_ids: Collection[int], claim_type: ClaimType) -> set[int]:
    """Those of the orders that have an open claim of this type."""
    if not order_ids:
        return set()
    return set(
        session.scalars(
            sa.select(Claim.order_id).where(
                Claim.order_id.in_(order_ids), Claim.type == claim_type, Claim.status.in_(OPEN_STATUSES)
            )
        )
    )


def claims_awaiting_refund(session: Session, order_id: int) -> list[Claim]:
    """Seller-cancellation claims on the order whose refund has not been reported yet."""
    return claims_awaiting_refund_of(session, [order_id]).get(order_id, [])


def claims_awaiting_refund_of(session: Session, order_ids: Collection[int]) -> dict[int, list[Claim]]:
    """The claims awaiting a refund of each of the orders (those that have any), oldest first."""
    if not order_ids:
        return {}
    awaiting: dict[int, list[Claim]] = {}
    for claim in session.scalars(
        sa.select(Claim)
        .where(Claim.order_id.in_(order_ids), Claim.refund_status.in_((RefundStatus.PENDING, RefundStatus.OVERDUE)))
        .order_by(Claim.id)
    ):
        awaiting.setdefault(claim.order_id, []).append(claim)
    return awaiting


def get_claim(session: Session, claim_id: int, *, for_update: bool = False) -> Claim | None:
    """The claim with ``claim_id`` (its order, seller and buyer loaded with it), if any.

    ``for_update`` locks the claim's row (PostgreSQL) until the transaction ends, so that two answers arriving at
    once, or an answer and the sweep, are judged one after the other against the state the first one left.
    """
    query = sa.select(Claim).where(Claim.id == claim_id)
    if for_update:
        query = query.with_for_update(of=Claim)
    return session.scalar(query)


def relevant_deadline(statuses: Collection[ClaimStatus] = ()) -> sa.ColumnElement[Any]:
    """The deadline that is running now: the seller's while awaiting it, staff's while escalated, else none.

    Limited to one of those statuses it is that plain column, so that the database can read the claims in order
    from the status's partial deadline index instead of sorting them all.
    """
    if set(statuses) == {ClaimStatus.AWAITING_SELLER}:
        return Claim.response_due_at
    if set(statuses) == {ClaimStatus.ESCALATED}:
        return Claim.staff_due_at
    # The generated column, indexed with the claim id over open claims for the staff queue.
    return Claim.due_at


def list_claims(
    session: Session,
    actor: Actor,
    *,
    statuses: Collection[ClaimStatus] = (),
    types: Collection[ClaimType] = (),
    seller_external_id: str | None = None,
    assignee_id: int | None = None,
    deadline_before: datetime | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[Claim], int]:
    """The claims the actor may see, by time left before breach (overdue first), and how many match in all."""
    conditions: list[sa.ColumnElement[bool]] = [visible_to(actor, Claim)]
    if statuses:
        conditions.append(Claim.status.in_(statuses))
    if types:
        conditions.append(Claim.type.in_(types))
    if seller_external_id is not None:
        seller_id = sa.select(Seller.id).where(Seller.external_id == seller_external_id).scalar_subquery()
        conditions.append(Claim.seller_id == seller_id)
    if assignee_id is not None:
        conditions.append(Claim.assignee_id == assignee_id)
    if deadline_before is not None:
        # Spelled per status so that each branch can use its partial deadline index.
        conditions.append(
            sa.or_(
                sa.and_(Claim.status == ClaimStatus.AWAITING_SELLER, Claim.response_due_at < deadline_before),
                sa.and_(Claim.status == ClaimStatus.ESCALATED, Claim.staff_due_at < deadline_before),
            )
        )
    total = session.scalar(sa.select(sa.func.count()).select_from(Claim).where(*conditions)) or 0
    if total <= offset:
        return [], total
    deadline = relevant_deadline(statuses)
    # The page is picked from the claims alone, then joined to its orders, sellers and buyers: the joins cost
    # a page's worth of rows, not the whole match.
    page = (
        sa.select(Claim.id, deadline.label("deadline"))
        .where(*conditions)
        # Claims with a running deadline first, the most overdue first; the rest after; ties by id.
        .order_by(deadline.asc().nulls_last(), Claim.id)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    claims = session.scalars(
        sa.select(Claim).join(page, Claim.id == page.c.id).order_by(page.c.deadline.asc().nulls_last(), page.c.id)
    )
    return list(claims), total


def party_claims(session: Session, actor: Actor, *, limit: int, offset: int) -> tuple[list[Claim], int]:
    """A seller's or buyer's own claims: those waiting for the seller first (nearest deadline first), then the
    other open ones, then the settled ones, newest first."""
    visible = visible_to(actor, Claim)
    total = session.scalar(sa.select(sa.func.count()).select_from(Claim).where(visible)) or 0
    rank = sa.case(
        (Claim.status == ClaimStatus.AWAITING_SELLER, 0),
        (Claim.status.in_(OPEN_STATUSES), 1),
        else_=2,
    )
    claims = session.scalars(
        sa.select(Claim)
        .where(visible)
        .order_by(rank, sa.case((rank == 0, Claim.response_due_at)), Claim.opened_at.desc(), Claim.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(claims), total


def claim_timeline(session: Session, claim_id: int, *, include_staff: bool) -> list[ClaimEvent]:
    """The claim's timeline in the order things happened; staff-only entries only when asked for."""
    query = sa.select(ClaimEvent).where(ClaimEvent.claim_id == claim_id)
    if not include_staff:
        query = query.where(ClaimEvent.visibility == Visibility.PARTIES)
    return list(session.scalars(query.order_by(ClaimEvent.occurred_at, ClaimEvent.id)))


def claim_evidence(session: Session, claim_id: int) -> list[Evidence]:
    """The files attached to the claim, in upload order."""
    return list(session.scalars(sa.select(Evidence).where(Evidence.claim_id == claim_id).order_by(Evidence.id)))


def get_evidence(session: Session, claim_id: int, evidence_id: int) -> Evidence | None:
    """One file of the claim (another claim's file is not found)."""
    return session.scalar(sa.select(Evidence).where(Evidence.id == evidence_id, Evidence.claim_id == claim_id))


def sla_history(session: Session) -> list[PolicyVersion]:
    """Every SLA version, newest first, ending with the built-in default (version 0) that early claims cite."""
    return [*policy_history(session, SLA), builtin_policy(SLA)]


# Time-to-breach buckets for the staff dashboard: (name, upper bound in hours or None for "beyond").
BREACH_BUCKETS: tuple[tuple[str, float | None], ...] = (
    ("overdue", 0),
    ("under_4h", 4),
    ("under_24h", 24),
    ("under_3d", 72),
    ("later", None),
)


def open_claims_by_time_to_breach(session: Session, *, now: datetime) -> dict[str, int]:
    """Open claims by how long until their running deadline; ``no_deadline`` for those waiting on the buyer."""
    branches = []
    for name, hours in BREACH_BUCKETS:
        if hours is not None:
            branches.append((Claim.due_at < now + timedelta(hours=hours), name))
    bucket = sa.case((Claim.due_at.is_(None), "no_deadline"), *branches, else_="later")
    rows = session.execute(
        sa.select(bucket.label("bucket"), sa.func.count()).where(Claim.status.in_(OPEN_STATUSES)).group_by(bucket)
    ).all()
    counts = {name: 0 for name, _hours in BREACH_BUCKETS} | {"no_deadline": 0}
    counts.update({row.bucket: row[1] for row in rows})
    return counts


def breaches_between(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Deadlines breached in [start, end] (``end`` is now: a run this very moment counts): sellers silent past
    their answer, staff past theirs, refunds overdue."""

    def count(*conditions: sa.ColumnElement[bool]) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(Claim).where(*conditions)) or 0

    return {
        "seller_silent": count(
            Claim.escalation_reason == EscalationReason.SELLER_SILENT,
            Claim.escalated_at >= start,
            Claim.escalated_at <= end,
        ),
        "staff_late": count(Claim.supervisor_queued_at >= start, Claim.supervisor_queued_at <= end),
        "refund_overdue": count(Claim.refund_overdue_at >= start, Claim.refund_overdue_at <= end),
    }
