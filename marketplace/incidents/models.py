"""Mass incidents: what went wrong, which orders it hit, and how far compensating them has come."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.errors import IllegalTransition
from marketplace.db import Base, BigIntPK, JSONDocument


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=20, values_callable=_values, validate_strings=True)


class IncidentStatus(enum.StrEnum):
    """Declared (orders may be selected), running (compensating in batches), completed."""

    DECLARED = "declared"
    RUNNING = "running"
    COMPLETED = "completed"


STATUS_LABELS = {
    IncidentStatus.DECLARED: _l("declared"),
    IncidentStatus.RUNNING: _l("running"),
    IncidentStatus.COMPLETED: _l("completed"),
}


class Incident(Base):
    """A mass incident declared by a supervisor, with its public explanation and its compensation rule."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    title_ko: Mapped[str] = mapped_column(sa.String(200))
    title_en: Mapped[str] = mapped_column(sa.String(200))
    cause: Mapped[str] = mapped_column(sa.Text)
    platform_at_fault: Mapped[bool]
    explanation_ko: Mapped[str] = mapped_column(sa.Text)
    explanation_en: Mapped[str] = mapped_column(sa.Text)
    # {"form": "coupon", "percent": "10", "minimum": 0, "cap": 100000} or {"form": ..., "amount": 5000}.
    rule: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus))
    # The last selection: its filters (or the uploaded list's size), what it matched and what it would cost.
    selection: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    selected_orders: Mapped[int] = mapped_column(default=0)
    selected_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Progress of the run, updated with every batch, read by the API and the staff page.
    processed_orders: Mapped[int] = mapped_column(default=0)
    processed_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    declared_at: Mapped[datetime]
    declared_by: Mapped[str] = mapped_column(sa.String(80))
    started_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(sa.String(80))
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    def _require(self, *allowed: IncidentStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                _l("This is not possible while the incident is %(status)s.", status=STATUS_LABELS[self.status]),
                current_status=self.status.value,
            )

    def require_status(self, *allowed: IncidentStatus) -> None:
        """Refuse the action unless the incident is in one of ``allowed``."""
        self._require(*allowed)

    def start(self, *, by: str, now: datetime) -> None:
        """Freeze the selection and start compensating; starting a running incident again resumes it."""
        self._require(IncidentStatus.DECLARED, IncidentStatus.RUNNING)
        if self.status is IncidentStatus.DECLARED:
            self.status = IncidentStatus.RUNNING
            self.started_at = now
            self.started_by = by
        self.updated_at = now

    def complete(self, *, now: datetime) -> None:
        """Every selected order is compensated."""
        self._require(IncidentStatus.RUNNING)
        self.status = IncidentStatus.COMPLETED
        self.completed_at = now
        self.updated_at = now

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of an incident."""
        return {
            "status": self.status.value,
            "title_ko": self.title_ko,
            "title_en": self.title_en,
            "platform_at_fault": self.platform_at_fault,
            "rule": self.rule,
            "selected_orders": self.selected_orders,
            "selected_amount": self.selected_amount,
            "processed_orders": self.processed_orders,
        }


class IncidentOrderStatus(enum.StrEnum):
    """One affected order: selected (to compensate) or compensated."""

    SELECTED = "selected"
    COMPENSATED = "compensated"


class IncidentOrder(Base):
    """An order an incident hit and the compensation its rule gives; once run, the order's incident claim and
    compensation carry the incident's id (the compensation's idempotency key is ``incident:<id>:order:<order id>``)."""

    __tablename__ = "incident_orders"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "order_id"),
        # The run reads the next batch of one incident's selected orders in id order.
        sa.Index(
            "ix_incident_orders_pending",
            "incident_id",
            "id",
            postgresql_where=sa.text("status = 'selected'"),
            sqlite_where=sa.text("status = 'selected'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id", ondelete="RESTRICT"))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    buyer_id: Mapped[int] = mapped_column(sa.BigInteger)
    seller_id: Mapped[int] = mapped_column(sa.BigInteger)
    order_amount: Mapped[int] = mapped_column(sa.BigInteger)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # the compensation the incident's rule gives this order
    status: Mapped[IncidentOrderStatus] = mapped_column(_enum(IncidentOrderStatus))
    processed_at: Mapped[datetime | None]
