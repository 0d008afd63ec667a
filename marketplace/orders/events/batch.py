"""One batch of order events, set-based: a fixed number of statements whatever its size, never one per event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims.policy import current_sla
from marketplace.core.audit import AuditEntry, audit_at_the_end, record_audit_many
from marketplace.core.auth import Actor, ActorKind
from marketplace.core.bulk import allocate_ids, insert_rows, inserting, update_rows
from marketplace.core.errors import Conflict, DomainError, ValidationFailed
from marketplace.core.queries import business_calendar
from marketplace.orders import queries
from marketplace.orders.events.results import EventResult, EventStatus, IncomingEvent, conflict, receipt
from marketplace.orders.models import (
    LIFECYCLE_FIELDS,
    Buyer,
    CancelInitiator,
    EventType,
    LifecycleEvent,
    Order,
    OrderEvent,
    OrderLifecycle,
    order_category,
    order_snapshot,
)
from marketplace.orders.schemas import load_event
from marketplace.sellers.models import Seller

# Any constant works; every process that ingests events must use the same one.
_INGEST_LOCK_KEY = 0x6D6B_6F72_6465_72


@dataclass(frozen=True, slots=True)
class OrderChange:
    """An order the batch created (``before`` None) or changed, with its event-derived state before and after."""

    order_pk: int
    before: OrderLifecycle | None
    after: OrderLifecycle

    @property
    def opens_seller_cancellation(self) -> bool:
        """The order has just become cancelled by its seller."""
        return self.after.cancelled_by_seller and not (self.before is not None and self.before.cancelled_by_seller)

    @property
    def refund_changed(self) -> bool:
        """The refunded amount or the time of the refund moved."""
        before = (self.before.refunded_at, self.before.refunded_amount) if self.before is not None else (None, 0)
        return (self.after.refunded_at, self.after.refunded_amount) != before


def prepare_transaction(session: Session) -> None:
    """On PostgreSQL: take the ingestion lock and plan the batch's lookups for their actual values."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite's BEGIN IMMEDIATE already serialises writers; it has no plan cache to mislead.
    # The lock: two requests carrying events of the same order must not fold it concurrently, each blind to the
    # other's uncommitted event. The audit chain serialises writing transactions at commit anyway, so one
    # ingester at a time costs little.
    # The plans: psycopg prepares a statement after a few runs, and PostgreSQL may then keep a generic plan made
    # while the tables were small (a sequential scan for ``external_id = ANY($1)``) long after they have grown:
    # 250 ms instead of 2 ms per lookup at 20,000 buyers. A custom plan per batch costs well under a millisecond.
    # No sequential scans: every lookup of a batch probes a unique or indexed key for at most a batch's keys, so
    # an index is always the right way in. The planner only thinks otherwise without statistics (a table that grew
    # faster than autovacuum analyses it, or a server without autovacuum): it then scanned all 180,000 stored
    # events for a batch's 1,000 orders, 35 ms against 1.4 ms through the index.
    session.execute(
        sa.select(
            sa.func.pg_advisory_xact_lock(_INGEST_LOCK_KEY),
            sa.func.set_config("plan_cache_mode", "force_custom_plan", True),
            sa.func.set_config("enable_seqscan", "off", True),
        )
    )


def end_of_lookups(session: Session) -> None:
    """On PostgreSQL: plan what follows the batch's lookups as usual again (sequential scans allowed too).

    The foreign-key checks of a COPY run one prepared query per row; forced to plan each anew, a batch of 1,000
    orders spends some 15 ms of the server's time on it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL plan_cache_mode TO DEFAULT"))
        session.execute(sa.text("SET LOCAL enable_seqscan TO DEFAULT"))


def _lifecycle_event(event_id: str, data: Mapping[str, Any]) -> LifecycleEvent:
    event_type = data["type"]
    is_refund = event_type is EventType.REFUND_COMPLETED
    return LifecycleEvent(
        occurred_at=data["occurred_at"],
        type=event_type,
        event_id=event_id,
        carrier=data.get("carrier"),
        tracking_number=data.get("tracking_number"),
        initiated_by=CancelInitiator(data["initiated_by"]) if "initiated_by" in data else None,
        reason=data.get("reason"),
        refund_amount=data["amount"] if is_refund else 0,
        refunded_at=data.get("refunded_at") if is_refund else None,
    )


class Batch:
    """One batch: classify, check against the orders' state, store, then create and fold the orders touched."""

    def __init__(self, session: Session, *, actor: Actor, now: datetime) -> None:
        self.session = session
        self.actor = actor
        self.actor_ref = actor.ref  # spelled once: a batch audits thousands of changes
        self.now = now
        self.api_key_id = actor.id if actor.kind is ActorKind.API_CLIENT else None
        self.orders: dict[str, sa.Row[Any]] = {}
        # Every event of an order but its payment: a payment changes nothing in the fold, wherever it sorts.
        self.history: dict[str, list[LifecycleEvent]] = defaultdict(list)
        self.refunded: dict[str, int] = defaultdict(int)
        self.paid: dict[str, IncomingEvent] = {}
        self.audit: list[AuditEntry] = []

    def run(self, events: list[IncomingEvent]) -> list[EventResult]:
        """Every event's result; the accepted ones are stored and applied."""
        results: list[EventResult] = []
        stored = queries.stored_events_by_id(self.session, {event.event_id for event in events})
        candidates = []
        for event in events:
            previous = stored.get(event.event_id)
            if previous is None:
                candidates.append(event)
            elif previous.payload_hash == event.payload_hash:
                results.append(
                    EventResult(
                        event.index,
                        event.event_id,
                        event.order_id,
                        EventStatus.DUPLICATE,
                        receipt=receipt(
                            previous.event_id,
                            previous.type,
                            previous.order_external_id,
                            previous.occurred_at,
                            previous.received_at,
                        ),
                    )
                )
            else:
                results.append(self._reject(event, conflict(event)))
        if not candidates:
            return results
        self._load_orders({event.order_id for event in candidates})
        accepted, admitted = self._admit(candidates)
        results.extend(admitted)
        if accepted:
            # The audit records go in last, after every row this batch locks (orders, claims, standings): the chain's
            # lock is then the last one taken, as the sweeps take it, so an ingester and a sweep never wait on each
            # other in a cycle (taken first, it deadlocked with a sweep escalating the same seller's claims).
            with audit_at_the_end(self.session):
                self._apply(accepted)
        return [self._mark_pending(result) for result in results]

    def _reject(self, event: IncomingEvent, error: DomainError) -> EventResult:
        return EventResult(event.index, event.event_id, event.order_id, EventStatus.REJECTED, error=error)

    def _load_orders(self, order_ids: set[str]) -> None:
        self.orders = queries.order_rows(self.session, order_ids)
        for row in queries.stored_events_of_orders(self.session, order_ids):
            if row.type == EventType.ORDER_PAID:
                continue  # the order row carries what the payment said
            event = _lifecycle_event(row.event_id, load_event(row.payload))
            self.history[row.order_external_id].append(event)
            self.refunded[row.order_external_id] += event.refund_amount

    def _admit(self, candidates: list[IncomingEvent]) -> tuple[list[IncomingEvent], list[EventResult]]:
        """Check each new event against its order's state; an id repeated within the batch gets its first's fate."""
        accepted: list[IncomingEvent] = []
        results: list[EventResult] = []
        first: dict[str, tuple[IncomingEvent, EventResult]] = {}
        for event in candidates:
            if event.event_id in first:
                earlier, outcome = first[event.event_id]
                if earlier.payload_hash != event.payload_hash:
                    results.append(self._reject(event, conflict(event)))
                elif outcome.status is EventStatus.ACCEPTED:
                    results.append(EventResult(event.index, event.event_id, event.order_id, EventStatus.DUPLICATE))
                else:
                    results.append(self._reject(event, outcome.error or conflict(event)))
                continue
            error = self._refusal(event)
            if error is None:
                outcome = EventResult(
                    event.index, event.event_id, event.order_id, EventStatus.ACCEPTED, receipt=event.receipt(self.now)
                )
                accepted.append(event)
                if event.type is EventType.ORDER_PAID:
                    self.paid[event.order_id] = event
                elif event.type is EventType.REFUND_COMPLETED:
                    self.refunded[event.order_id] += event.data["amount"]
            else:
                outcome = self._reject(event, error)
            first[event.event_id] = (event, outcome)
            results.append(outcome)
        return accepted, results

    def _refusal(self, event: IncomingEvent) -> DomainError | None:
        """Why the order's state refuses ``event``, if it does."""
        order_id = event.order_id
        if event.type is EventType.ORDER_PAID and (order_id in self.orders or order_id in self.paid):
            return Conflict(
                _l("Order %(order)s is already paid: an order has one order.paid event.", order=order_id),
                field="order.id",
            )
        if event.type is EventType.REFUND_COMPLETED:
            amount = self._amount(order_id)
            total = self.refunded[order_id] + event.data["amount"]
            if amount is not None and total > amount:
                return ValidationFailed(
                    _l(
                        "Refunds of order %(order)s would come to %(total)s won, more than the %(amount)s won paid.",
                        order=order_id,
                        total=f"{total:,}",
                        amount=f"{amount:,}",
                    ),
                    field="amount",
                )
        return None

    def _amount(self, order_id: str) -> int | None:
        if order_id in self.orders:
            return self.orders[order_id].amount
        if order_id in self.paid:
            return self.paid[order_id].data["order"]["amount"]
        return None  # not paid yet: there is nothing to compare the refund with

    def _mark_pending(self, result: EventResult) -> EventResult:
        # Accepted, but its order is neither stored nor paid in this batch: it counts once the payment arrives.
        waiting = result.order_id not in self.orders and result.order_id not in self.paid
        return replace(result, pending=True) if result.status is EventStatus.ACCEPTED and waiting else result

    def _event_rows(self, accepted: list[IncomingEvent]) -> list[dict[str, Any]]:
        return [
            {
                "event_id": event.event_id,
                "type": event.type,
                "order_external_id": event.order_id,
                "occurred_at": event.data["occurred_at"],
                "received_at": self.now,
                "payload": event.payload,
                "payload_hash": event.payload_hash,
                "api_key_id": self.api_key_id,
            }
            for event in accepted
        ]

    def _apply(self, accepted: list[IncomingEvent]) -> None:
        """Store the events, create the orders paid in this batch, fold the others it touches, audit, tell claims.

        What the writes need from the database (ids, the ship-by rule) is read first; then each table's rows are
        built while the database stores the previous table's (``inserting``), so that the server's work and ours
        overlap. The audit records are held and appended when the batch ends (``audit_at_the_end``).
        """
        for event in accepted:
            if event.type is not EventType.ORDER_PAID:
                self.history[event.order_id].append(_lifecycle_event(event.event_id, event.data))
        paid = [event.data["order"] for event in self.paid.values()]
        # Reversed, so that the first mention of a seller or buyer in the batch is the one kept.
        sellers = {order["seller"]["id"]: order["seller"] for order in reversed(paid)}
        buyers = {order["buyer"]["id"]: order["buyer"] for order in reversed(paid)}
        seller_ids = queries.ids_by_external_id(self.session, Seller, sellers)
        buyer_ids = queries.ids_by_external_id(self.session, Buyer, buyers)
        end_of_lookups(self.session)
        new_sellers = self._new_ids(Seller, sellers, seller_ids)
        new_buyers = self._new_ids(Buyer, buyers, buyer_ids)
        order_ids = allocate_ids(self.session, Order.__table__, len(paid))
        ship_by_of = self._ship_by_rule() if any(order["ship_by"] is None for order in paid) else None
        with inserting(self.session, OrderEvent.__table__, self._event_rows(accepted)):
            seller_rows = self._party_rows(Seller, sellers, new_sellers)
            buyer_rows = self._party_rows(Buyer, buyers, new_buyers)
            order_rows, changes = self._order_rows(paid, order_ids, seller_ids, buyer_ids, ship_by_of)
        insert_rows(self.session, Seller.__table__, seller_rows)
        insert_rows(self.session, Buyer.__table__, buyer_rows)
        with inserting(self.session, Order.__table__, order_rows):
            for row in order_rows:
                self._audit("order.create", "order", row["id"], None, order_snapshot(row))
            updates, updated = self._folds({event.order_id for event in accepted})
        # One statement for all of them (an executemany of 300 updates took some 10 ms of the batch).
        update_rows(self.session, Order.__table__, "id", updates)
        record_audit_many(self.session, self.audit)
        self._notify_claims(changes + updated)

    def _order_rows(
        self,
        orders: list[dict[str, Any]],
        order_ids: list[int],
        seller_ids: dict[str, int],
        buyer_ids: dict[str, int],
        ship_by_of: Callable[[datetime], tuple[datetime, int]] | None,
    ) -> tuple[list[dict[str, Any]], list[OrderChange]]:
        """The rows of the orders paid in this batch, folded."""
        rows = []
        changes = []
        for order, order_pk in zip(orders, order_ids, strict=True):
            lifecycle = OrderLifecycle.of_paid_order(self.history[order["id"]])
            ship_by, policy_version = order["ship_by"], None
            if ship_by is None and ship_by_of is not None:
                ship_by, policy_version = ship_by_of(order["paid_at"])
            row = {
                "id": order_pk,
                "external_id": order["id"],
                "seller_id": seller_ids[order["seller"]["id"]],
                "buyer_id": buyer_ids[order["buyer"]["id"]],
                "amount": order["amount"],
                "items": order["items"],
                "category": order_category(order["items"]),
                "paid_at": order["paid_at"],
                "ship_by": ship_by,
                "ship_by_policy_version": policy_version,
                "created_at": self.now,
                "late_shipment_checked_at": None,
                **lifecycle.values(),
            }
            rows.append(row)
            changes.append(OrderChange(order_pk, None, lifecycle))
        return rows, changes

    def _folds(self, touched: set[str]) -> tuple[list[dict[str, Any]], list[OrderChange]]:
        """The stored orders among ``touched`` whose fold changed: their updates, audited, and the changes."""
        changes = []
        updates = []
        for order_id in sorted(touched & self.orders.keys()):
            row = self.orders[order_id]
            before = OrderLifecycle.from_values(row._mapping)
            after = OrderLifecycle.of_paid_order(self.history[order_id])
            if after == before:
                continue
            updates.append({"id": row.id, **after.values()})
            old, new = before.values(), after.values()
            changed = [name for name in LIFECYCLE_FIELDS if old[name] != new[name]]
            self._audit(
                "order.update",
                "order",
                row.id,
                order_snapshot({name: old[name] for name in changed}),
                order_snapshot({name: new[name] for name in changed}),
            )
            changes.append(OrderChange(row.id, before, after))
        return updates, changes

    def _new_ids(
        self, model: type[Seller] | type[Buyer], refs: dict[str, Mapping[str, Any]], ids: dict[str, int]
    ) -> dict[str, int]:
        """Ids for the sellers or buyers of ``refs`` that ``ids`` (ours, by theirs) lacks; added to ``ids`` too."""
        missing = [external_id for external_id in refs if external_id not in ids]
        new = dict(zip(missing, allocate_ids(self.session, model.__table__, len(missing)), strict=True))
        ids.update(new)
        return new

    def _party_rows(
        self, model: type[Seller] | type[Buyer], refs: dict[str, Mapping[str, Any]], new: dict[str, int]
    ) -> list[dict[str, Any]]:
        """The rows of the new sellers or buyers, audited; the first name we were told is kept."""
        entity = "seller" if model is Seller else "buyer"
        rows = []
        for external_id, pk in new.items():
            row = _party_row(model, external_id, refs[external_id], self.now)
            self._audit(f"{entity}.create", entity, pk, None, {k: v for k, v in row.items() if k != "created_at"})
            rows.append({"id": pk, **row})
        return rows

    def _ship_by_rule(self) -> Callable[[datetime], tuple[datetime, int]]:
        """The ship-by of a payment that came without one, and the SLA version it follows.

        Read once per batch, and only when some payment did not come with a promised ship-by time. The deadline
        depends on the payment's local date alone, so it is worked out once per date.
        """
        calendar, sla = business_calendar(self.session), current_sla(self.session)
        by_date: dict[date, datetime] = {}

        def ship_by(paid_at: datetime) -> tuple[datetime, int]:
            day = calendar.local_date(paid_at)
            if day not in by_date:
                # 전자상거래법 §15①: ship within the SLA's business days of payment unless agreed otherwise.
                by_date[day] = calendar.add_business_days(paid_at, sla.ship_by_business_days)
            return by_date[day], sla.version

        return ship_by

    def _audit(
        self, action: str, entity_type: str, entity_id: int, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        # The snapshots hold only strings, numbers and None already (order_snapshot), as the audit log needs.
        self.audit.append(
            AuditEntry(
                actor=self.actor_ref,
                action=action,
                entity_type=entity_type,
                entity_id=str(entity_id),
                before=before,
                after=after,
                occurred_at=self.now,
            )
        )

    def _notify_claims(self, changes: list[OrderChange]) -> None:
        """Open a claim for a fresh seller cancellation; report a changed refund. Only when the fold changed it."""
        due = [change for change in changes if change.opens_seller_cancellation or change.refund_changed]
        if not due:
            return
        # Imported here: claims build on orders, so orders may not import claims' operations at load time.
        from marketplace.claims import operations as claims

        orders = {
            order.id: order
            for order in self.session.scalars(
                sa.select(Order)
                .where(Order.id.in_([change.order_pk for change in due]))
                # The rows were written with Core statements: whatever the session holds of them is stale.
                .execution_options(populate_existing=True)
            )
        }
        claims.follow_order_changes(
            self.session,
            [orders[change.order_pk] for change in due],
            cancelled_by_seller={change.order_pk for change in due if change.opens_seller_cancellation},
            refunded={change.order_pk for change in due if change.refund_changed},
            actor=self.actor,
            now=self.now,
        )


def _party_row(
    model: type[Seller] | type[Buyer], external_id: str, ref: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    if model is Seller:
        return {
            "external_id": external_id,
            "name": ref["name"],
            "contact_email": None,
            "language": "ko",
            "created_at": now,
        }
    return {
        "external_id": external_id,
        "name": ref["name"],
        "contact": ref["contact"],
        "language": ref["language"],
        "created_at": now,
    }
