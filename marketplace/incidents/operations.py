"""Write use-cases for mass incidents: declare, select the affected orders, start, and run one batch.

The run is set-based in batches: each batch locks its next selected orders (SKIP LOCKED on PostgreSQL, so two
runners share the work), writes their incident claims, grants their compensations (ledger and payout webhooks
included), marks them compensated and advances the stored progress, all in the caller's transaction. The
entry point commits after each batch, so a run stopped half-way keeps what it committed and a run started again
picks up the orders still selected: nobody is paid twice (the compensation's idempotency key is per incident and
order) and nobody is missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim, ClaimEvent, ClaimStatus, ClaimType, Decision, Visibility
from marketplace.compensation import signals as compensation_signals
from marketplace.compensation.models import CompensationForm
from marketplace.compensation.operations import GrantRequest, grant_compensations, incident_grant_key
from marketplace.compensation.policy import validate_rule
from marketplace.core.audit import AuditEntry, audit_at_the_end, jsonable, record_audit, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.bulk import among, insert_new, insert_rows
from marketplace.core.errors import ValidationFailed
from marketplace.core.signals import Signal, publish
from marketplace.core.sweeps import lock_due_rows
from marketplace.incidents.models import Incident, IncidentOrder, IncidentOrderStatus, IncidentStatus
from marketplace.orders.models import EventType, Order, OrderEvent
from marketplace.sellers.models import Seller

DEFAULT_BATCH = 2000
MAX_ORDER_IDS = 500_000
_INCIDENT_METHODS = ("percent_of_order", "fixed")

incident_orders = IncidentOrder.__table__
orders = Order.__table__
claims = Claim.__table__
claim_events = ClaimEvent.__table__


def _text(value: Any, field: str, maximum: int) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else None
    if not value:
        raise ValidationFailed(_l("This field is required."), field=field)
    if len(value) > maximum:
        raise ValidationFailed(_l("At most %(count)d characters.", count=maximum), field=field)
    return value


def validate_incident_rule(rule: Mapping[str, Any], *, platform_at_fault: bool) -> dict[str, Any]:
    """The incident's compensation rule, checked: a percentage of each order (min, cap) or a fixed amount."""
    if not isinstance(rule, Mapping):
        raise ValidationFailed(_l("Give the compensation rule."), field="rule")
    rule = {"recoverable": not platform_at_fault, **rule}
    problems = validate_rule(rule, "rule")
    if rule.get("method") not in _INCIDENT_METHODS and "rule.method" not in problems:
        problems["rule.method"] = [_l("One of: %(values)s.", values="percent_of_order, fixed")]
    if platform_at_fault and rule.get("recoverable") is True:
        problems["rule.recoverable"] = [_l("The platform's own fault is never recovered from sellers.")]
    if problems:
        first = sorted(problems)[0]
        raise ValidationFailed(problems[first][0], field=first, errors=problems)
    return dict(rule)


def declare_incident(
    session: Session,
    *,
    title_ko: str,
    title_en: str,
    cause: str,
    platform_at_fault: bool,
    explanation_ko: str,
    explanation_en: str,
    rule: Mapping[str, Any],
    actor: Actor,
    now: datetime,
) -> Incident:
    """A supervisor declares a mass incident with its public explanation and its compensation rule."""
    incident = Incident(
        title_ko=_text(title_ko, "title_ko", 200),
        title_en=_text(title_en, "title_en", 200),
        cause=_text(cause, "cause", 4000),
        platform_at_fault=bool(platform_at_fault),
        explanation_ko=_text(explanation_ko, "explanation_ko", 4000),
        explanation_en=_text(explanation_en, "explanation_en", 4000),
        rule=validate_incident_rule(rule, platform_at_fault=bool(platform_at_fault)),
        status=IncidentStatus.DECLARED,
        selected_orders=0,
        selected_amount=0,
        processed_orders=0,
        processed_amount=0,
        declared_at=now,
        declared_by=actor.ref,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="incident.declare",
        entity_type="incident",
        entity_id=incident.id,
        before=None,
        after=incident.snapshot(),
        now=now,
    )
    return incident


def compensation_expression(rule: Mapping[str, Any], amount: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """The rule's amount for an order of ``amount`` won, in SQL: exact integer arithmetic, rounded down like
    ``marketplace.core.money.percent_of`` (then raised to the minimum, then limited to the cap)."""
    if rule["method"] == "fixed":
        return sa.literal(int(rule["amount"]), sa.BigInteger)
    numerator, denominator = Decimal(str(rule["percent"])).as_integer_ratio()
    # Integer division of non-negative integers rounds down on both databases.
    value: sa.ColumnElement[int] = (amount * numerator) // (denominator * 100)
    if rule.get("minimum") is not None:
        value = sa.case((value < rule["minimum"], sa.literal(rule["minimum"], sa.BigInteger)), else_=value)
    if rule.get("cap") is not None:
        value = sa.case((value > rule["cap"], sa.literal(rule["cap"], sa.BigInteger)), else_=value)
    return value


def select_orders(
    session: Session,
    incident: Incident,
    *,
    sellers: Sequence[str] = (),
    skus: Sequence[str] = (),
    paid_from: datetime | None = None,
    paid_to: datetime | None = None,
    coupon_code: str | None = None,
    campaign: str | None = None,
    order_ids: Sequence[str] | None = None,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """Replace the incident's selection with the orders matching every filter given; returns what was selected.

    Filters: sellers (marketplace ids), SKUs in the order's items, a paid-at window [from, to), the coupon code
    or campaign the order.paid event carried, or an uploaded list of the marketplace's order ids.
    """
    incident.require_status(IncidentStatus.DECLARED)
    conditions: list[sa.ColumnElement[bool]] = []
    if sellers:
        known = session.scalars(sa.select(Seller.id).where(Seller.external_id.in_(set(sellers)))).all()
        conditions.append(orders.c.seller_id.in_(known))
    if skus:
        conditions.append(_has_sku(session, sorted(set(skus))))
    if paid_from is not None:
        conditions.append(orders.c.paid_at >= paid_from)
    if paid_to is not None:
        conditions.append(orders.c.paid_at < paid_to)
    if paid_from is not None and paid_to is not None and paid_to <= paid_from:
        raise ValidationFailed(_l("The end of the window must come after its start."), field="paid_to")
    for key, value in (("coupon_code", coupon_code), ("campaign", campaign)):
        if value:
            conditions.append(_paid_event_carries(key, value))
    if order_ids is not None and len(order_ids) > MAX_ORDER_IDS:
        raise ValidationFailed(_l("At most %(count)d order ids.", count=MAX_ORDER_IDS), field="order_ids")
    if not conditions and not order_ids:
        raise ValidationFailed(_l("Give at least one filter or a list of order ids."), field="sellers")
    session.execute(sa.delete(incident_orders).where(incident_orders.c.incident_id == incident.id))
    select = sa.select(
        sa.literal(incident.id, sa.BigInteger),
        orders.c.id,
        orders.c.buyer_id,
        orders.c.seller_id,
        orders.c.amount,
        compensation_expression(incident.rule, orders.c.amount),
        sa.literal(IncidentOrderStatus.SELECTED.value),
    )
    columns = ["incident_id", "order_id", "buyer_id", "seller_id", "order_amount", "amount", "status"]
    unknown = 0
    if order_ids is not None:
        wanted = sorted(set(order_ids))
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            session.execute(
                sa.insert(incident_orders).from_select(
                    columns, select.where(orders.c.external_id.in_(chunk), *conditions)
                )
            )
        unknown = len(wanted) - (
            session.scalar(sa.select(sa.func.count()).select_from(orders).where(orders.c.external_id.in_(wanted)))
            if len(wanted) <= 5000
            else _count_known(session, wanted)
        )
    else:
        session.execute(sa.insert(incident_orders).from_select(columns, select.where(*conditions)))
    count, total, buyers = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(incident_orders.c.amount), 0),
            sa.func.count(sa.distinct(incident_orders.c.buyer_id)),
        ).where(incident_orders.c.incident_id == incident.id)
    ).one()
    before = incident.snapshot()
    selection = {
        "sellers": sorted(set(sellers)),
        "skus": sorted(set(skus)),
        "paid_from": paid_from,
        "paid_to": paid_to,
        "coupon_code": coupon_code,
        "campaign": campaign,
        "order_ids": len(set(order_ids)) if order_ids is not None else None,
        "unknown_order_ids": unknown,
    }
    incident.selection = jsonable(selection)
    incident.selected_orders = int(count)
    incident.selected_amount = int(total)
    incident.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="incident.select",
        entity_type="incident",
        entity_id=incident.id,
        before=before,
        after={**incident.snapshot(), "selection": incident.selection},
        now=now,
    )
    return {"orders": int(count), "amount": int(total), "buyers": int(buyers), "unknown_order_ids": unknown}


def _count_known(session: Session, wanted: list[str]) -> int:
    return sum(
        session.scalar(
            sa.select(sa.func.count()).select_from(orders).where(orders.c.external_id.in_(wanted[i : i + 5000]))
        )
        or 0
        for i in range(0, len(wanted), 5000)
    )


def _has_sku(session: Session, skus: list[str]) -> sa.ColumnElement[bool]:
    """The order's items contain one of ``skus``."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.text(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(orders.items) AS item WHERE item->>'sku' = ANY(:skus))"
        ).bindparams(sa.bindparam("skus", skus, type_=postgresql.ARRAY(sa.String)))
    return sa.text(
        "EXISTS (SELECT 1 FROM json_each(orders.items) AS item WHERE json_extract(item.value, '$.sku') IN :skus)"
    ).bindparams(sa.bindparam("skus", skus, expanding=True))


def _paid_event_carries(key: str, value: str) -> sa.ColumnElement[bool]:
    """The order's order.paid event carried ``order.<key> = value`` (coupon code, campaign)."""
    events = OrderEvent.__table__
    return sa.exists().where(
        events.c.order_external_id == orders.c.external_id,
        events.c.type == EventType.ORDER_PAID.value,
        events.c.payload[("order", key)].as_string() == value,
    )


def _analyze_selection(session: Session) -> None:
    """On PostgreSQL: statistics for ``incident_orders``, which a selection has just grown, before the run reads it.

    Without them (autovacuum takes up to a minute, and some servers run without it) the planner took the 200,000
    selected rows for four: each batch's "next 2,000 in id order" read them all and sorted them on disk (55 ms
    a batch instead of 1 ms), and each batch's update scanned the table. ANALYZE samples the table; it does not
    read all of it, and it runs inside this transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("ANALYZE incident_orders"))


def start_incident(session: Session, incident: Incident, *, actor: Actor, now: datetime) -> Incident:
    """Freeze the selection and start the run (the scheduler or `marketplace incidents run` carries it out)."""
    if incident.status is IncidentStatus.DECLARED and incident.selected_orders == 0:
        raise ValidationFailed(_l("Select the affected orders first."), field="selection")
    before = incident.snapshot()
    incident.start(by=actor.ref, now=now)
    session.flush()
    _analyze_selection(session)
    record_audit(
        session,
        actor=actor,
        action="incident.start",
        entity_type="incident",
        entity_id=incident.id,
        before=before,
        after=incident.snapshot(),
        now=now,
    )
    return incident


def run_incident_batch(
    session: Session, incident_id: int, *, actor: Actor, now: datetime, batch_size: int = DEFAULT_BATCH
) -> int:
    """Compensate the next batch of the incident's selected orders; returns how many (0: none left for us)."""
    incident = session.execute(sa.select(Incident.__table__).where(Incident.id == incident_id)).one()
    if incident.status != IncidentStatus.RUNNING:
        return 0
    batch = lock_due_rows(
        session,
        sa.select(
            incident_orders.c.id,
            incident_orders.c.order_id,
            incident_orders.c.buyer_id,
            incident_orders.c.seller_id,
            incident_orders.c.amount,
        )
        .where(incident_orders.c.incident_id == incident_id, incident_orders.c.status == IncidentOrderStatus.SELECTED)
        .order_by(incident_orders.c.id)
        .limit(batch_size),
        of=incident_orders,
    )
    if not batch:
        _complete_if_done(session, incident_id, actor=actor, now=now)
        return 0
    # Audit records last: the chain's lock is then held for the end of the batch only, not the whole of it,
    # and several runners overlap (each one's Python while the other's statements run).
    with audit_at_the_end(session):
        _compensate_batch(session, incident, batch, actor=actor, now=now)
    return len(batch)


def _compensate_batch(session: Session, incident: Any, batch: list[Any], *, actor: Actor, now: datetime) -> None:
    incident_id = incident.id
    rule = incident.rule
    form = CompensationForm(rule["form"])
    description = f"incident {incident_id}: {incident.title_ko}"[:4000]
    claim_rows = [
        {
            "type": ClaimType.PLATFORM_INCIDENT.value,
            "status": ClaimStatus.RESOLVED.value,
            "order_id": row.order_id,
            "seller_id": row.seller_id,
            "buyer_id": row.buyer_id,
            "description": description,
            "opened_at": now,
            "opened_by": actor.ref,
            # Nothing is asked of the seller: the claim is settled by the platform the moment it opens.
            "response_due_at": now,
            "response_policy_version": 0,
            "decision": Decision.FOR_BUYER.value,
            "decision_amount": row.amount,
            "decided_at": now,
            "decided_by": actor.ref,
            "resolved_at": now,
        }
        for row in batch
    ]
    new_ids = insert_new(session, claims, claim_rows)
    claim_ids = {row["order_id"]: claim_id for row, claim_id in zip(claim_rows, new_ids, strict=True)}
    insert_rows(
        session,
        claim_events,
        [
            {
                "claim_id": claim_ids[row.order_id],
                "occurred_at": now,
                "actor": actor.ref,
                "kind": "incident",
                "message": incident.explanation_ko,
                "visibility": Visibility.PARTIES.value,
                "data": {"incident_id": incident_id, "amount": row.amount, "form": form.value},
            }
            for row in batch
        ],
    )
    granted = {
        grant.request.order_id: grant.compensation_id
        for grant in grant_compensations(
            session,
            [
                GrantRequest(
                    key=incident_grant_key(incident_id, row.order_id),
                    buyer_id=row.buyer_id,
                    seller_id=row.seller_id,
                    order_id=row.order_id,
                    claim_id=claim_ids[row.order_id],
                    incident_id=incident_id,
                    amount=row.amount,
                    form=form,
                    rule="incident",
                    policy_version=None,
                    recoverable=bool(rule.get("recoverable")),
                    effective_at=now,
                    calculation={**rule, "incident_id": incident_id},
                )
                for row in batch
            ],
            actor=actor,
            now=now,
            fresh=True,  # these orders are locked and still selected: none has been granted
        )
    }
    session.execute(
        sa.update(incident_orders)
        .where(among(incident_orders.c.id, [row.id for row in batch]))
        .values(status=IncidentOrderStatus.COMPENSATED.value, processed_at=now)
    )
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="claim.open",
                entity_type="claim",
                entity_id=str(claim_ids[row.order_id]),
                before=None,
                after={
                    "type": ClaimType.PLATFORM_INCIDENT.value,
                    "status": ClaimStatus.RESOLVED.value,
                    "order_id": row.order_id,
                    "incident_id": incident_id,
                    "decision": Decision.FOR_BUYER.value,
                    "decision_amount": row.amount,
                },
                occurred_at=now,
            )
            for row in batch
        ],
    )
    texts = {
        "title_ko": incident.title_ko,
        "title_en": incident.title_en,
        "explanation_ko": incident.explanation_ko,
        "explanation_en": incident.explanation_en,
    }
    publish(
        session,
        [
            Signal(
                compensation_signals.INCIDENT_ORDER_COMPENSATED,
                now,
                {
                    "incident_id": incident_id,
                    "order_id": row.order_id,
                    "buyer_id": row.buyer_id,
                    "claim_id": claim_ids[row.order_id],
                    "compensation_id": granted.get(row.order_id),
                    "amount": row.amount if row.order_id in granted else 0,
                    "form": form.value,
                    **texts,
                },
            )
            for row in batch
        ],
        actor=actor,
        now=now,
    )
    # The incident's row is what every runner updates: locked last, for the shortest time.
    amount = sum(row.amount for row in batch)
    session.execute(
        sa.update(Incident.__table__)
        .where(Incident.id == incident_id)
        .values(
            processed_orders=Incident.__table__.c.processed_orders + len(batch),
            processed_amount=Incident.__table__.c.processed_amount + amount,
            updated_at=now,
        )
    )


def _complete_if_done(session: Session, incident_id: int, *, actor: Actor, now: datetime) -> None:
    """Nothing selected is left (not even rows another runner holds): the incident is completed."""
    left = session.scalar(
        sa.select(sa.func.count())
        .select_from(incident_orders)
        .where(incident_orders.c.incident_id == incident_id, incident_orders.c.status == IncidentOrderStatus.SELECTED)
    )
    if left:
        return
    incident = session.scalar(sa.select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None or incident.status is not IncidentStatus.RUNNING:
        return
    before = incident.snapshot()
    incident.complete(now=now)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="incident.complete",
        entity_type="incident",
        entity_id=incident.id,
        before=before,
        after=incident.snapshot(),
        now=now,
    )
