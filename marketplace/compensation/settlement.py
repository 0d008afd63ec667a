"""Settlement events from the marketplace: payouts completed or failed, deductions confirmed.

Idempotent by event id exactly like order events: an event is stored with the hash of its payload in the
transaction of its effects; the same id with the same payload answers the same receipt and changes nothing, a
different payload under a used id is refused (409) naming the first field that differs. Each event of a batch
succeeds or fails on its own; a batch costs a fixed number of reads (used ids, compensations, sellers, open
recoveries) whatever its size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from marketplace.compensation import queries
from marketplace.compensation.models import (
    OWED_STATUSES,
    Compensation,
    CompensationStatus,
    SettlementEvent,
    SettlementEventType,
)
from marketplace.compensation.operations import DeductionReport, PayoutReport, record_deductions, record_payouts
from marketplace.compensation.schemas import load_settlement_event
from marketplace.core.auth import Actor
from marketplace.core.bulk import insert_rows
from marketplace.core.errors import Conflict, DomainError, ValidationFailed, flatten_validation_messages
from marketplace.orders.events import payload_hash
from marketplace.sellers.models import Seller

ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """The outcome for one event."""

    index: int
    event_id: str | None
    status: str
    receipt: dict[str, Any] | None = None
    error: DomainError | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as the API shows it."""
        body: dict[str, Any] = {"index": self.index, "id": self.event_id, "status": self.status}
        if self.receipt is not None:
            body["receipt"] = self.receipt
        if self.error is not None:
            problem = self.error.to_problem()
            body.update(code=problem["code"], detail=problem["detail"], errors=problem.get("errors", {}))
        return body


@dataclass(frozen=True, slots=True)
class SettlementOutcome:
    """Every event's result in request order."""

    results: list[SettlementResult]

    def as_dict(self) -> dict[str, Any]:
        """The batch response body."""
        count = lambda status: sum(1 for result in self.results if result.status == status)  # noqa: E731
        return {
            "accepted": count(ACCEPTED),
            "duplicates": count(DUPLICATE),
            "rejected": count(REJECTED),
            "results": [result.as_dict() for result in self.results],
        }


@dataclass(frozen=True, slots=True)
class _Incoming:
    index: int
    data: dict[str, Any]
    payload: dict[str, Any]
    digest: str

    @property
    def event_id(self) -> str:
        return self.data["id"]


def ingest_settlement_events(
    session: Session, raw_events: Sequence[Any], *, actor: Actor, now: datetime
) -> SettlementOutcome:
    """Validate, store once and apply settlement events; each succeeds or fails on its own. Flushes, never commits."""
    results: dict[int, SettlementResult] = {}
    incoming: list[_Incoming] = []
    for index, raw in enumerate(raw_events):
        parsed = _parse(index, raw)
        if isinstance(parsed, SettlementResult):
            results[index] = parsed
        else:
            incoming.append(parsed)
    stored = (
        {
            row.event_id: row
            for row in session.scalars(
                sa.select(SettlementEvent).where(SettlementEvent.event_id.in_({event.event_id for event in incoming}))
            )
        }
        if incoming
        else {}
    )
    fresh: list[_Incoming] = []
    first_in_batch: dict[str, _Incoming] = {}
    for event in incoming:
        previous = stored.get(event.event_id)
        earlier = first_in_batch.get(event.event_id)
        if previous is not None:
            results[event.index] = _replay(event, previous.payload, previous.payload_hash, previous.receipt)
        elif earlier is not None:
            results[event.index] = _replay(event, earlier.payload, earlier.digest, None)
        else:
            first_in_batch[event.event_id] = event
            fresh.append(event)
    applied = _apply(session, fresh, actor=actor, now=now)
    rows = []
    for event in fresh:
        outcome = applied[event.index]
        results[event.index] = outcome
        if outcome.status == ACCEPTED:
            rows.append(
                {
                    "event_id": event.event_id,
                    "type": event.data["type"],
                    "occurred_at": event.data["occurred_at"],
                    "received_at": now,
                    "payload": event.payload,
                    "payload_hash": event.digest,
                    "receipt": outcome.receipt,
                }
            )
    insert_rows(session, SettlementEvent.__table__, rows)
    # A duplicate inside the batch answers what its first copy got.
    for event in incoming:
        result = results[event.index]
        if result.status == DUPLICATE and result.receipt is None:
            first = results[first_in_batch[event.event_id].index]
            results[event.index] = (
                SettlementResult(event.index, event.event_id, DUPLICATE, receipt=first.receipt)
                if first.status == ACCEPTED
                else SettlementResult(event.index, event.event_id, REJECTED, error=first.error)
            )
    return SettlementOutcome([results[index] for index in range(len(raw_events))])


def _parse(index: int, raw: Any) -> _Incoming | SettlementResult:
    if not isinstance(raw, Mapping):
        error = ValidationFailed(_l("An event must be a JSON object."), field=f"events.{index}")
        return SettlementResult(index, None, REJECTED, error=error)
    try:
        data = load_settlement_event(raw)
    except ValidationError as exc:
        # marshmallow's messages start at the field names; the flattener expects a location level above them.
        errors = flatten_validation_messages({"body": exc.messages})
        names = sorted(errors)
        error = ValidationFailed(
            _l("Check these fields: %(fields)s.", fields=", ".join(names)), field=names[0], errors=errors
        )
        event_id = raw.get("id")
        return SettlementResult(index, event_id if isinstance(event_id, str) else None, REJECTED, error=error)
    return _Incoming(index=index, data=data, payload=dict(raw), digest=payload_hash(raw))


def _replay(event: _Incoming, payload: Mapping[str, Any], digest: str, receipt: dict | None) -> SettlementResult:
    if digest == event.digest:
        return SettlementResult(event.index, event.event_id, DUPLICATE, receipt=receipt)
    differing = sorted(key for key in set(payload) | set(event.payload) if payload.get(key) != event.payload.get(key))
    field = differing[0] if differing else "id"
    error = Conflict(
        _l(
            "Event %(event)s was already received with a different %(field)s. Send a new event under a new id, "
            "or resend the original unchanged.",
            event=event.event_id,
            field=field,
        ),
        field=field,
    )
    return SettlementResult(event.index, event.event_id, REJECTED, error=error)


def _apply(session: Session, events: list[_Incoming], *, actor: Actor, now: datetime) -> dict[int, SettlementResult]:
    """Check every new event against the current state (in request order) and apply the good ones set-based."""
    payout_types = {SettlementEventType.PAYOUT_COMPLETED.value, SettlementEventType.PAYOUT_FAILED.value}
    compensation_ids = {event.data["compensation_id"] for event in events if event.data["type"] in payout_types}
    compensations = (
        {
            compensation.id: compensation
            for compensation in session.scalars(
                sa.select(Compensation).where(Compensation.id.in_(compensation_ids)).with_for_update()
            )
        }
        if compensation_ids
        else {}
    )
    deductions = [event for event in events if event.data["type"] == SettlementEventType.DEDUCTION_CONFIRMED.value]
    sellers = (
        dict(
            session.execute(
                sa.select(Seller.external_id, Seller.id).where(
                    Seller.external_id.in_({event.data["seller_id"] for event in deductions})
                )
            ).all()
        )
        if deductions
        else {}
    )
    latest_end = max((queries.period_end(session, event.data["period"]) for event in deductions), default=None)
    open_lines = queries.open_recoveries(session, list(set(sellers.values())), before=latest_end) if latest_end else []
    taken: set[int] = set()
    status = {compensation_id: compensation.status for compensation_id, compensation in compensations.items()}
    payouts: list[PayoutReport] = []
    deducted: list[DeductionReport] = []
    results: dict[int, SettlementResult] = {}
    for event in events:
        data = event.data
        try:
            if data["type"] in payout_types:
                payouts.append(_check_payout(event, compensations, status))
                receipt = _receipt(data, now, compensation_id=data["compensation_id"])
                receipt["compensation_status"] = status[data["compensation_id"]].value
            else:
                report = _check_deduction(session, event, sellers, open_lines, taken)
                deducted.append(report)
                receipt = _receipt(data, now, seller_id=data["seller_id"], period=data["period"])
                receipt["recovery_ids"] = list(report.recovery_ids)
        except DomainError as error:
            results[event.index] = SettlementResult(event.index, event.event_id, REJECTED, error=error)
            continue
        results[event.index] = SettlementResult(event.index, event.event_id, ACCEPTED, receipt=receipt)
    if payouts:
        record_payouts(session, payouts, actor=actor, now=now)
    if deducted:
        record_deductions(session, deducted, actor=actor, now=now)
    return results


def _check_payout(
    event: _Incoming, compensations: dict[int, Compensation], status: dict[int, CompensationStatus]
) -> PayoutReport:
    data = event.data
    compensation = compensations.get(data["compensation_id"])
    if compensation is None:
        raise ValidationFailed(_l("No compensation has this id."), field="compensation_id")
    if data["amount"] != compensation.amount:
        raise ValidationFailed(
            _l("The compensation is %(amount)d won; the event says otherwise.", amount=compensation.amount),
            field="amount",
        )
    completed = data["type"] == SettlementEventType.PAYOUT_COMPLETED.value
    allowed = OWED_STATUSES if completed else (CompensationStatus.GRANTED,)
    if status[compensation.id] not in allowed:
        raise Conflict(
            _l("The compensation is already %(status)s.", status=status[compensation.id].value),
            field="compensation_id",
            current_status=status[compensation.id].value,
        )
    status[compensation.id] = CompensationStatus.PAID_OUT if completed else CompensationStatus.FAILED
    return PayoutReport(
        compensation=compensation,
        completed=completed,
        event_id=event.event_id,
        occurred_at=data["occurred_at"],
        reason=data.get("reason"),
    )


def _check_deduction(
    session: Session, event: _Incoming, sellers: dict[str, int], open_lines: list[Any], taken: set[int]
) -> DeductionReport:
    data = event.data
    seller_id = sellers.get(data["seller_id"])
    if seller_id is None:
        raise ValidationFailed(_l("No seller has this id."), field="seller_id")
    end = queries.period_end(session, data["period"])
    lines = [
        line for line in open_lines if line.seller_id == seller_id and line.booked_at < end and line.id not in taken
    ]
    expected = sum(line.amount for line in lines)
    if data["amount"] != expected:
        raise ValidationFailed(
            _l(
                "The seller's open deductions for %(period)s add up to %(expected)d won.",
                period=data["period"],
                expected=expected,
            ),
            field="amount",
        )
    taken.update(line.id for line in lines)
    return DeductionReport(
        seller_id=seller_id,
        period=data["period"],
        amount=expected,
        event_id=event.event_id,
        occurred_at=data["occurred_at"],
        recovery_ids=[line.id for line in lines],
    )


def _receipt(data: Mapping[str, Any], now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": data["id"],
        "type": data["type"],
        "occurred_at": data["occurred_at"].astimezone(UTC).isoformat(),
        "received_at": now.astimezone(UTC).isoformat(),
        "amount": data["amount"],
        **extra,
    }
