"""Reads for claims."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import (
    OPEN_STATUSES,
    Claim,
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    Evidence,
    RefundStatus,
    Visibility,
)
from marketplace.claims.policy import DEFAULT_SLA, SLA
from marketplace.core.auth import Actor
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import visible_to
from marketplace.core.policies import policy_history
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
    return sa.case(
        (Claim.status == ClaimStatus.AWAITING_SELLER, Claim.response_due_at),
        (Claim.status == ClaimStatus.ESCALATED, Claim.staff_due_at),
        else_=sa.null(),
    )


def list_claims(
    session: Session,
    actor: Actor,
    *,
    statuses: Collection[ClaimStatus] = (),
    types: Collection[ClaimType] = (),
    seller_external_id: str | None = None,
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
    builtin = PolicyVersion(name=SLA, version=0, document=dict(DEFAULT_SLA), note="built-in default")
    return [*policy_history(session, SLA), builtin]
