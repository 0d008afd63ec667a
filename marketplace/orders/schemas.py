"""API schemas for order events: one schema per event type (in), the batch and its results (out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from marketplace.orders.fastload import FastLoader
from marketplace.orders.models import CancelInitiator, CancelReason, EventType

MAX_BATCH = 1000
MAX_ITEMS = 200


class StrictInteger(fields.Integer):
    """An integer as JSON writes one: floats, strings and booleans are refused, never rounded or guessed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)

    @staticmethod
    def loads_as_itself(value: Any) -> bool:
        """Whether ``value`` loads unchanged (validators aside): the fast path's check for this field."""
        return type(value) is int


# ₩1,000,000,000,000: larger than any order, and small enough that 110 % of it, or years of delay interest on it,
# still fits the BIGINT amount columns (an amount beyond them was a 500, not a 422).
MAX_WON = 10**12


class Won(StrictInteger):
    """A whole number of won (원), never a float."""

    def __init__(self, *, minimum: int = 0, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=minimum, max=MAX_WON), **kwargs)


def _text(maximum: int, **kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=maximum), **kwargs)


def _choice(values: Any, **kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf([str(value) for value in values]), **kwargs)


class SellerRefSchema(Schema):
    """The seller as the marketplace knows it."""

    id = _text(64, metadata={"description": "The marketplace's seller id"})
    name = _text(200)


class BuyerRefSchema(Schema):
    """The buyer as the marketplace knows it."""

    id = _text(64, metadata={"description": "The marketplace's buyer id"})
    name = _text(200)
    contact = fields.String(required=True, allow_none=True, validate=validate.Length(max=254))
    language = _choice(("ko", "en"), metadata={"description": "The language the buyer is told things in"})


class ItemSchema(Schema):
    """One line of an order."""

    sku = _text(64)
    name = _text(200)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=100_000))
    price = Won(metadata={"description": "Unit price in won"})
    category = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The marketplace's category code; the scorecard counts an order under its first"},
    )


class OrderRefSchema(Schema):
    """The order an event concerns."""

    id = _text(64, metadata={"description": "The marketplace's order id"})


class PaidOrderSchema(OrderRefSchema):
    """The order as paid: who bought what from whom, for how much, and when."""

    seller = fields.Nested(SellerRefSchema, required=True)
    buyer = fields.Nested(BuyerRefSchema, required=True)
    amount = Won(required=True, metadata={"description": "The amount paid, in won"})
    items = fields.List(fields.Nested(ItemSchema), required=True, validate=validate.Length(min=1, max=MAX_ITEMS))
    paid_at = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with an offset"})
    ship_by = fields.AwareDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "The promised ship-by time; default: payment + the SLA's business days"},
    )
    # Kept in the stored event, so that staff can select a mass incident's orders by them.
    coupon_code = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "Coupon used"})
    campaign = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "Campaign or event"})


class EventSchema(Schema):
    """What every order event has."""

    id = _text(100, metadata={"description": "The event's id: the idempotency key"})
    type = _choice(EventType)  # each event type's schema allows only its own
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with an offset"})
    order = fields.Nested(OrderRefSchema, required=True)


class OrderPaidEventSchema(EventSchema):
    """``order.paid``: the order is created from this event."""

    type = _choice((EventType.ORDER_PAID,))
    order = fields.Nested(PaidOrderSchema, required=True)


class OrderShippedEventSchema(EventSchema):
    """``order.shipped``: the seller handed the parcel to a carrier."""

    type = _choice((EventType.ORDER_SHIPPED,))
    carrier = _text(60)
    tracking_number = _text(80)


class OrderDeliveredEventSchema(EventSchema):
    """``order.delivered``: the buyer has the parcel."""

    type = _choice((EventType.ORDER_DELIVERED,))


class OrderCancelledEventSchema(EventSchema):
    """``order.cancelled``: who cancelled, and why."""

    type = _choice((EventType.ORDER_CANCELLED,))
    initiated_by = _choice(CancelInitiator)
    reason = _choice(CancelReason)


class RefundCompletedEventSchema(EventSchema):
    """``refund.completed``: money went back to the buyer."""

    type = _choice((EventType.REFUND_COMPLETED,))
    amount = Won(required=True, minimum=1, metadata={"description": "The amount refunded, in won"})
    refunded_at = fields.AwareDateTime(
        allow_none=True, load_default=None, metadata={"description": "Default: occurred_at"}
    )


EVENT_SCHEMAS: dict[EventType, Schema] = {
    EventType.ORDER_PAID: OrderPaidEventSchema(),
    EventType.ORDER_SHIPPED: OrderShippedEventSchema(),
    EventType.ORDER_DELIVERED: OrderDeliveredEventSchema(),
    EventType.ORDER_CANCELLED: OrderCancelledEventSchema(),
    EventType.REFUND_COMPLETED: RefundCompletedEventSchema(),
}
_TYPE_CHOICES = ", ".join(EventType)
# How the OpenAPI document names each event's schema (the API blueprint registers them).
EVENT_SCHEMA_NAMES = {
    event_type: type(schema).__name__.removesuffix("Schema") for event_type, schema in EVENT_SCHEMAS.items()
}
_FAST_LOADERS = {event_type: FastLoader(schema) for event_type, schema in EVENT_SCHEMAS.items()}


def load_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one event against the schema of its type; raises ValidationError with messages by field."""
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_SCHEMAS:
        message = "Missing data for required field." if event_type is None else f"Must be one of: {_TYPE_CHOICES}."
        raise ValidationError({"type": [message]})
    event_type = EventType(event_type)
    data = _FAST_LOADERS[event_type].load(raw)
    if data is None:
        data = EVENT_SCHEMAS[event_type].load(raw)
    data["type"] = event_type
    return data


class EventsBodySchema(Schema):
    """One event object, or ``{"events": [...]}`` with up to 1,000 of them."""

    # Raw, not Nested: each event is validated on its own, so that one bad event does not sink the batch.
    events = fields.List(
        fields.Raw(
            metadata={
                "description": "An order event, by its type",
                "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in EVENT_SCHEMA_NAMES.values()],
            }
        ),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
    )

    @pre_load
    def _wrap_single_event(self, data: Any, **_kwargs: Any) -> Any:
        return {"events": [data]} if _is_single(data) else data

    @post_load(pass_original=True)
    def _mark_single(self, data: dict[str, Any], original: Any, **_kwargs: Any) -> dict[str, Any]:
        # A batch of one is still a batch: the response's shape follows the request's.
        return {**data, "single": _is_single(original)}


def _is_single(data: Any) -> bool:
    return isinstance(data, Mapping) and "events" not in data


class EventResultSchema(Schema):
    """What became of one event of a batch."""

    index = fields.Integer(required=True, metadata={"description": "Its position in the request, from 0"})
    id = fields.String(allow_none=True, metadata={"description": "The event id, when one was given"})
    status = fields.String(required=True, metadata={"description": "accepted, duplicate or rejected"})
    order_id = fields.String(allow_none=True)
    pending = fields.Boolean(
        metadata={"description": "Stored, but the order's order.paid has not arrived yet; it counts once it does"}
    )
    code = fields.String(metadata={"description": "Why it was rejected: validation-error, conflict, …"})
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class EventBatchResultSchema(Schema):
    """The outcome of a batch, one result per event in request order."""

    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    results = fields.List(fields.Nested(EventResultSchema), required=True)


class EventReceiptSchema(Schema):
    """A single event as stored: the same body every time the same event is sent."""

    id = fields.String(required=True)
    type = fields.String(required=True)
    order_id = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    received_at = fields.AwareDateTime(required=True)
