"""Buyers, their orders as the marketplace reports them, and the order events the marketplace sends."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigIntPK, JSONDocument

if TYPE_CHECKING:
    from marketplace.sellers.models import Seller


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum], length: int) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=length, values_callable=_values, validate_strings=True)


class Buyer(Base):
    """A buyer on the marketplace, keyed by the marketplace's own id."""

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    contact: Mapped[str | None] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(5), default="ko")
    created_at: Mapped[datetime]

    @hybrid_property
    def buyer_id(self) -> int:
        """A buyer owns itself (object-level permission checks read ``buyer_id``)."""
        return self.id

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a buyer."""
        return {"external_id": self.external_id, "name": self.name, "contact": self.contact, "language": self.language}


class OrderStatus(enum.StrEnum):
    """Where an order stands, derived from its events by time of occurrence."""

    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class CancelInitiator(enum.StrEnum):
    """Who cancelled an order: only a seller's own cancellation is the seller's fault."""

    BUYER = "buyer"
    SELLER = "seller"
    PLATFORM = "platform"


class CancelReason(enum.StrEnum):
    """Why an order was cancelled, as the marketplace reports it."""

    OUT_OF_STOCK = "out_of_stock"
    PRICE_ERROR = "price_error"
    BUYER_REQUEST = "buyer_request"
    SYSTEM_ERROR = "system_error"
    OTHER = "other"


class EventType(enum.StrEnum):
    """The order events the marketplace sends, in the order they sort at the same instant."""

    ORDER_PAID = "order.paid"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    REFUND_COMPLETED = "refund.completed"

    @property
    def rank(self) -> int:
        """Tie-break for events that occurred at the same instant: paid < shipped < delivered < cancelled < refund."""
        return _EVENT_RANKS[self]


_EVENT_RANKS = {event_type: rank for rank, event_type in enumerate(EventType)}


class Order(Base):
    """A paid order: who bought what from whom, for how much, by when it must ship, and where it stands."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.Index(None, "seller_id", "paid_at"),
        sa.Index(None, "buyer_id", "paid_at"),
        # The late-shipment sweep reads only paid orders it has not looked at yet, by ship-by.
        sa.Index(
            "ix_orders_ship_by_unchecked",
            "ship_by",
            postgresql_where=sa.text("status = 'paid' AND late_shipment_checked_at IS NULL"),
            sqlite_where=sa.text("status = 'paid' AND late_shipment_checked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("buyers.id", ondelete="RESTRICT"))
    # 원 (KRW) as an integer: never a float.
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    # The category the scorecard counts the order under: its first item's that names one (None when none does).
    category: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus, 20))
    paid_at: Mapped[datetime]
    ship_by: Mapped[datetime | None]
    # None when the marketplace promised a ship-by date itself; else the SLA version that computed it.
    ship_by_policy_version: Mapped[int | None]
    created_at: Mapped[datetime]

    # Derived from the order's events (see OrderLifecycle); never set by a client.
    shipped_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(sa.String(60))
    tracking_number: Mapped[str | None] = mapped_column(sa.String(80))
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_initiated_by: Mapped[CancelInitiator | None] = mapped_column(_enum(CancelInitiator, 20))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(40))
    refunded_at: Mapped[datetime | None]
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # Set by the late-shipment sweep once it has judged the order.
    late_shipment_checked_at: Mapped[datetime | None]

    seller: Mapped[Seller] = relationship(lazy="joined", innerjoin=True)
    buyer: Mapped[Buyer] = relationship(lazy="joined", innerjoin=True)

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of an order."""
        return order_snapshot({name: getattr(self, name) for name in SNAPSHOT_FIELDS})


def order_category(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The category an order counts under: that of its first item naming one, or None."""
    for item in items:
        category = item.get("category")
        if category:
            return category
    return None


# The columns of an order that the audit log records.
SNAPSHOT_FIELDS = (
    "external_id",
    "seller_id",
    "buyer_id",
    "amount",
    "paid_at",
    "ship_by",
    "status",
    "shipped_at",
    "carrier",
    "tracking_number",
    "delivered_at",
    "cancelled_at",
    "cancel_initiated_by",
    "cancel_reason",
    "refunded_at",
    "refunded_amount",
)


def order_snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """An order's audit snapshot from its column values (an ORM row or a plain mapping)."""
    snapshot = {}
    for name in SNAPSHOT_FIELDS:
        if name in values:
            value = values[name]
            # Most columns hold plain values already; only enums and times need spelling (a batch makes thousands).
            snapshot[name] = value if type(value) in _PLAIN_TYPES else _plain(value)
    return snapshot


_PLAIN_TYPES = frozenset({str, int, type(None)})


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One stored or incoming event, reduced to what the order's state depends on."""

    occurred_at: datetime
    type: EventType
    event_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    initiated_by: CancelInitiator | None = None
    reason: str | None = None
    refund_amount: int = 0
    refunded_at: datetime | None = None

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Time of occurrence first, never time of arrival; then the type's rank, then the id for a stable order."""
        return (self.occurred_at, self.type.rank, self.event_id)


@dataclass(frozen=True, slots=True)
class OrderLifecycle:
    """Where an order stands: a fold of all its events, sorted by when they occurred."""

    status: OrderStatus = OrderStatus.PAID
    shipped_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_initiated_by: CancelInitiator | None = None
    cancel_reason: str | None = None
    refunded_at: datetime | None = None
    refunded_amount: int = 0

    @classmethod
    def of_paid_order(cls, events: Iterable[LifecycleEvent]) -> OrderLifecycle:
        """Replay a paid order's events in order of occurrence, whatever order they arrived in.

        An order exists from its payment on, so the replay starts at paid. The status is then the last lifecycle
        event's, except that an order never goes back: a payment changes nothing, and a shipment reported after
        the delivery leaves it delivered. The first shipment and delivery count (the obligation was met then);
        the last cancellation counts; refunds add up, and the refund is complete when the last of them was.
        """
        state = _JUST_PAID
        for event in sorted(events, key=lambda event: event.sort_key):
            state = state.apply(event)
        return state

    def apply(self, event: LifecycleEvent) -> OrderLifecycle:
        """The state after one more event."""
        if event.type is EventType.ORDER_PAID:
            return self
        if event.type is EventType.ORDER_SHIPPED:
            return replace(
                self,
                status=self.status if self.status is OrderStatus.DELIVERED else OrderStatus.SHIPPED,
                shipped_at=self.shipped_at or event.occurred_at,
                carrier=event.carrier,
                tracking_number=event.tracking_number,
            )
        if event.type is EventType.ORDER_DELIVERED:
            return replace(self, status=OrderStatus.DELIVERED, delivered_at=self.delivered_at or event.occurred_at)
        if event.type is EventType.ORDER_CANCELLED:
            return replace(
                self,
                status=OrderStatus.CANCELLED,
                cancelled_at=event.occurred_at,
                cancel_initiated_by=event.initiated_by,
                cancel_reason=event.reason,
            )
        refunded_at = event.refunded_at or event.occurred_at
        return replace(
            self,
            refunded_amount=self.refunded_amount + event.refund_amount,
            refunded_at=max(self.refunded_at, refunded_at) if self.refunded_at else refunded_at,
        )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> OrderLifecycle:
        """The lifecycle stored in an order's columns (a Core row's mapping or a dict of values)."""
        return cls(**{name: values[name] for name in LIFECYCLE_FIELDS})

    def values(self) -> dict[str, Any]:
        """The order columns this lifecycle sets."""
        return {name: getattr(self, name) for name in LIFECYCLE_FIELDS}

    @property
    def cancelled_by_seller(self) -> bool:
        """Whether the order ended cancelled by its seller (which opens a claim)."""
        return self.status is OrderStatus.CANCELLED and self.cancel_initiated_by is CancelInitiator.SELLER


LIFECYCLE_FIELDS = tuple(field.name for field in fields(OrderLifecycle))
_JUST_PAID = OrderLifecycle(status=OrderStatus.PAID)


class OrderEvent(Base):
    """An order event as the marketplace sent it, stored once per event id (the idempotency key)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    type: Mapped[EventType] = mapped_column(_enum(EventType, 40))
    # The marketplace's order id: an event may arrive before the order.paid that creates the order.
    order_external_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    # SHA-256 of the event's canonical JSON: a different payload under a used id is refused.
    payload_hash: Mapped[str] = mapped_column(sa.String(64))
    api_key_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id", ondelete="RESTRICT"))
