"""Reads: incidents, the preview of a selection, the progress of a run, and the final report."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.compensation.models import Compensation
from marketplace.compensation.signals import incident_notice_prefix
from marketplace.incidents.models import Incident, IncidentOrder, IncidentOrderStatus, IncidentStatus
from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus
from marketplace.orders.models import Order

incident_orders = IncidentOrder.__table__


def get_incident(session: Session, incident_id: int, *, for_update: bool = False) -> Incident | None:
    """One incident."""
    stmt = sa.select(Incident).where(Incident.id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_incidents(session: Session, *, limit: int, offset: int = 0) -> tuple[list[Incident], int]:
    """Incidents, newest first, and how many there are."""
    total = session.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0
    rows = session.scalars(sa.select(Incident).order_by(Incident.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def running_incident_ids(session: Session) -> list[int]:
    """Incidents whose run has started and not finished."""
    return list(session.scalars(sa.select(Incident.id).where(Incident.status == IncidentStatus.RUNNING)))


def preview(session: Session, incident: Incident, *, sample: int = 20) -> dict[str, Any]:
    """What running the selection would do: how many orders and buyers, the total cost, and a sample."""
    orders = Order.__table__
    count, total, buyers, sellers = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(incident_orders.c.amount), 0),
            sa.func.count(sa.distinct(incident_orders.c.buyer_id)),
            sa.func.count(sa.distinct(incident_orders.c.seller_id)),
        ).where(incident_orders.c.incident_id == incident.id)
    ).one()
    rows = session.execute(
        sa.select(orders.c.external_id, incident_orders.c.order_amount, incident_orders.c.amount)
        .join_from(incident_orders, orders, orders.c.id == incident_orders.c.order_id)
        .where(incident_orders.c.incident_id == incident.id)
        .order_by(incident_orders.c.id)
        .limit(sample)
    ).all()
    return {
        "incident_id": incident.id,
        "orders": int(count),
        "buyers": int(buyers),
        "sellers": int(sellers),
        "total_amount": int(total),
        "form": incident.rule["form"],
        "rule": incident.rule,
        "selection": incident.selection,
        "sample": [{"order_id": r.external_id, "order_amount": r.order_amount, "amount": r.amount} for r in rows],
    }


def progress(incident: Incident, *, now: Any) -> dict[str, Any]:
    """How far the run has come, from the counters every batch advances (no scan of the orders)."""
    selected, processed = incident.selected_orders, incident.processed_orders
    elapsed = (incident.updated_at - incident.started_at).total_seconds() if incident.started_at else 0.0
    rate = processed / elapsed if elapsed > 0 else None
    left = max(selected - processed, 0)
    return {
        "incident_id": incident.id,
        "status": incident.status.value,
        "selected_orders": selected,
        "processed_orders": processed,
        "remaining_orders": left,
        "percent": round(100 * processed / selected, 1) if selected else 0.0,
        "selected_amount": incident.selected_amount,
        "processed_amount": incident.processed_amount,
        "started_at": incident.started_at,
        "updated_at": incident.updated_at,
        "completed_at": incident.completed_at,
        "orders_per_second": round(rate, 1) if rate else None,
        "eta_seconds": round(left / rate) if rate and incident.status is IncidentStatus.RUNNING else None,
    }


def incident_report(session: Session, incident: Incident) -> dict[str, Any]:
    """The run's outcome: orders, buyers, total compensation, and the notices written, sent and failed."""
    compensations = Compensation.__table__
    outbox = OutboxMessage.__table__
    orders, buyers = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(incident_orders.c.buyer_id))).where(
            incident_orders.c.incident_id == incident.id,
            incident_orders.c.status == IncidentOrderStatus.COMPENSATED,
        )
    ).one()
    by_form = {
        str(getattr(form, "value", form)): (int(count), int(total))
        for form, count, total in session.execute(
            sa.select(compensations.c.form, sa.func.count(), sa.func.sum(compensations.c.amount))
            .where(compensations.c.incident_id == incident.id)
            .group_by(compensations.c.form)
        )
    }
    notices = _status_counts(
        session,
        sa.and_(
            outbox.c.dedupe_key.startswith(incident_notice_prefix(incident.id), autoescape=True),
            outbox.c.audience != Audience.MARKETPLACE,
        ),
    )
    webhook_keys = sa.literal("compensation.granted:") + sa.cast(compensations.c.id, sa.String)
    webhooks = _status_counts(
        session,
        outbox.c.dedupe_key.in_(
            sa.select(webhook_keys).where(compensations.c.incident_id == incident.id).scalar_subquery()
        ),
    )
    return {
        "incident_id": incident.id,
        "status": incident.status.value,
        "orders": int(orders),
        "selected_orders": incident.selected_orders,
        "buyers": int(buyers),
        "compensations": sum(count for count, _total in by_form.values()),
        "total_amount": sum(total for _count, total in by_form.values()),
        "by_form": {form: {"count": count, "amount": total} for form, (count, total) in by_form.items()},
        "notices": notices,
        "payout_instructions": webhooks,
        "started_at": incident.started_at,
        "completed_at": incident.completed_at,
    }


def _status_counts(session: Session, condition: sa.ColumnElement[bool]) -> dict[str, int]:
    outbox = OutboxMessage.__table__
    counts = {
        str(getattr(status, "value", status)): int(count)
        for status, count in session.execute(
            sa.select(outbox.c.status, sa.func.count()).where(condition).group_by(outbox.c.status)
        )
    }
    return {
        "written": sum(counts.values()),
        "sent": counts.get(OutboxStatus.SENT.value, 0),
        "failed": counts.get(OutboxStatus.FAILED.value, 0) + counts.get(OutboxStatus.DEAD.value, 0),
        "pending": counts.get(OutboxStatus.PENDING.value, 0),
    }
