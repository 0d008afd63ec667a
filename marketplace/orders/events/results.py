"""Order events as a request brings them in, and what becomes of each: accepted, a duplicate, or rejected and why."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from marketplace.core.bulk import EncodedJSON, canonical_json
from marketplace.core.errors import Conflict, DomainError, ValidationFailed, flatten_validation_messages
from marketplace.orders.models import EventType
from marketplace.orders.schemas import load_event


class EventStatus(enum.StrEnum):
    """What became of one event of a request."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One event of a request that passed validation."""

    index: int
    data: dict[str, Any]  # as loaded: datetimes parsed, the type an EventType
    payload: EncodedJSON  # as sent, in canonical JSON: what is stored and hashed
    payload_hash: str

    @property
    def event_id(self) -> str:
        """The marketplace's event id (the idempotency key)."""
        return self.data["id"]

    @property
    def type(self) -> EventType:
        """The event's type."""
        return self.data["type"]

    @property
    def order_id(self) -> str:
        """The marketplace's order id."""
        return self.data["order"]["id"]

    def receipt(self, received_at: datetime) -> dict[str, Any]:
        """The event as stored."""
        return receipt(self.event_id, self.type, self.order_id, self.data["occurred_at"], received_at)


@dataclass(frozen=True, slots=True)
class EventResult:
    """The outcome for one event: accepted (perhaps pending its order.paid), a duplicate, or rejected and why."""

    index: int
    event_id: str | None
    order_id: str | None
    status: EventStatus
    pending: bool = False
    error: DomainError | None = None
    receipt: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result as the API shows it."""
        body: dict[str, Any] = {
            "index": self.index,
            "id": self.event_id,
            "status": self.status.value,
            "order_id": self.order_id,
        }
        if self.pending:
            body["pending"] = True
        if self.error is not None:
            problem = self.error.to_problem()
            body.update(code=problem["code"], detail=problem["detail"], errors=problem.get("errors", {}))
        return body


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """Every event's result, in request order, and the counts."""

    results: list[EventResult]

    def count(self, status: EventStatus) -> int:
        """How many events ended with ``status``."""
        return sum(1 for result in self.results if result.status is status)

    def as_dict(self) -> dict[str, Any]:
        """The batch response body."""
        return {
            "accepted": self.count(EventStatus.ACCEPTED),
            "duplicates": self.count(EventStatus.DUPLICATE),
            "rejected": self.count(EventStatus.REJECTED),
            "results": [result.as_dict() for result in self.results],
        }


def receipt(event_id: str, event_type: str, order_id: str, occurred_at: datetime, received_at: datetime) -> dict:
    """A stored event as a single-event request is answered, the same every time it is sent."""
    return {
        "id": event_id,
        "type": str(event_type),
        "order_id": order_id,
        "occurred_at": occurred_at.astimezone(UTC),
        "received_at": received_at.astimezone(UTC),
    }


def payload_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the event's canonical JSON: the same content always hashes the same, whatever its key order."""
    return _sha256(canonical_json(payload))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parse_event(index: int, raw: Any) -> IncomingEvent | EventResult:
    """The ``index``-th event of a request, validated; or its rejection, naming the fields."""
    if not isinstance(raw, Mapping):
        error = ValidationFailed(_l("An event must be a JSON object."), field=f"events.{index}")
        return rejected(index, raw, error)
    try:
        data = load_event(raw)
    except ValidationError as exc:
        return rejected(index, raw, invalid(exc.messages))
    payload = canonical_json(raw)
    return IncomingEvent(index=index, data=data, payload=payload, payload_hash=_sha256(payload))


def invalid(messages: Any) -> ValidationFailed:
    """A rejection naming every field marshmallow complained about, by dotted path."""
    errors: dict[str, list[str]] = {}
    for name, field_messages in flatten_validation_messages({"body": messages}).items():
        # marshmallow files "not an object" under "<field>._schema": the field is what the sender got wrong.
        errors.setdefault(name.removesuffix("._schema"), []).extend(field_messages)
    names = sorted(errors)
    return ValidationFailed(
        _l("Check these fields: %(fields)s.", fields=", ".join(names)), field=names[0], errors=errors
    )


def rejected(index: int, raw: Any, error: DomainError) -> EventResult:
    """The result of an event refused before it could be read: its id and order id, if it has them."""
    event_id = raw.get("id") if isinstance(raw, Mapping) else None
    order = raw.get("order") if isinstance(raw, Mapping) else None
    order_id = order.get("id") if isinstance(order, Mapping) else None
    return EventResult(
        index=index,
        event_id=event_id if isinstance(event_id, str) else None,
        order_id=order_id if isinstance(order_id, str) else None,
        status=EventStatus.REJECTED,
        error=error,
    )


def conflict(event: IncomingEvent) -> Conflict:
    """A used event id sent again with different content."""
    return Conflict(
        _l(
            "Event %(event)s was already received with different content. Send a new event under a new id, "
            "or resend the original unchanged.",
            event=event.event_id,
        ),
        field="id",
    )
