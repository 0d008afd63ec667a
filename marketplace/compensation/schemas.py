"""API schemas: compensations and their rule, the policy, deductions, and settlement events (in and out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from marketplace.compensation.models import CompensationStatus, SettlementEventType
from marketplace.db import MAX_BIGINT

MAX_BATCH = 1000


class StrictInteger(fields.Integer):
    """An integer as JSON writes one: floats, strings and booleans are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class CompensationSchema(Schema):
    """A compensation: to whom, for what, how much, in what form, by which rule, and where it stands."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "granted, paid_out, failed or voided"})
    amount = fields.Integer(required=True, metadata={"description": "Won"})
    form = fields.String(required=True, metadata={"description": "points, coupon or cash"})
    rule = fields.String(required=True, metadata={"description": "<claim type>.<outcome>, or incident"})
    policy_version = fields.Integer(allow_none=True, metadata={"description": "The compensation policy version"})
    calculation = fields.Dict(required=True, metadata={"description": "How the amount was computed"})
    recoverable = fields.Boolean(required=True, metadata={"description": "Recovered from the seller's settlement"})
    buyer_id = fields.Integer(required=True)
    seller_id = fields.Integer(required=True)
    order_id = fields.String(required=True, metadata={"description": "The marketplace's order id"})
    claim_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    effective_at = fields.AwareDateTime(required=True)
    granted_at = fields.AwareDateTime(required=True)
    paid_out_at = fields.AwareDateTime(allow_none=True)
    failed_at = fields.AwareDateTime(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    voided_at = fields.AwareDateTime(allow_none=True)


class CompensationPageSchema(Schema):
    """A page of compensations."""

    items = fields.List(fields.Nested(CompensationSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class CompensationQueryArgsSchema(Schema):
    """Filters for the list."""

    claim_id = fields.Integer(validate=validate.Range(min=1, max=MAX_BIGINT))
    incident_id = fields.Integer(validate=validate.Range(min=1, max=MAX_BIGINT))
    status = fields.List(
        fields.String(validate=validate.OneOf([s.value for s in CompensationStatus])), load_default=list
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class VoidCreateSchema(Schema):
    """Why a compensation is voided."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CompensationPolicyVersionSchema(Schema):
    """One version of the compensation policy."""

    version = fields.Integer(required=True, metadata={"description": "0 is the built-in default (DESIGN.md §5)"})
    document = fields.Dict(required=True)
    note = fields.String(required=True)
    created_at = fields.AwareDateTime(allow_none=True)
    created_by = fields.String(allow_none=True)


class CompensationPolicyUpdateSchema(Schema):
    """A new version of the compensation policy: the whole document and why it changes."""

    document = fields.Dict(required=True, metadata={"description": '{"rules": {"<claim type>.<outcome>": {...}}}'})
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class DeductionQueryArgsSchema(Schema):
    """Which settlement period, and (staff) which seller."""

    period = fields.String(
        required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"), metadata={"description": "YYYY-MM"}
    )
    seller = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "Marketplace seller id"})


class DeductionLineSchema(Schema):
    """One line of a deduction, traceable to its compensation and claim."""

    recovery_id = fields.Integer(required=True)
    compensation_id = fields.Integer(required=True)
    claim_id = fields.Integer(allow_none=True)
    claim_type = fields.String(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    order_id = fields.String(required=True, metadata={"description": "The marketplace's order id"})
    amount = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "open (to deduct) or deducted"})
    rule = fields.String(required=True, metadata={"description": "Why: the compensation rule"})
    policy_version = fields.Integer(allow_none=True)
    form = fields.String(required=True)
    calculation = fields.Dict(required=True)
    booked_at = fields.AwareDateTime(required=True)
    deducted_at = fields.AwareDateTime(allow_none=True)


class DeductionSchema(Schema):
    """What one seller's settlement of the period deducts."""

    seller = fields.Function(lambda d: {"id": d.seller_external_id, "name": d.seller_name}, required=True)
    period = fields.String(required=True)
    to_deduct = fields.Integer(required=True, metadata={"description": "Open lines' total: withhold this"})
    deducted = fields.Integer(required=True, metadata={"description": "Already confirmed in this period"})
    lines = fields.List(fields.Nested(DeductionLineSchema), required=True)


class DeductionListSchema(Schema):
    """Deductions of a period, per seller."""

    period = fields.String(required=True)
    total_to_deduct = fields.Integer(required=True)
    sellers = fields.List(fields.Nested(DeductionSchema), required=True)


def _text(maximum: int, **kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=maximum), **kwargs)


class SettlementEventSchema(Schema):
    """What every settlement event has."""

    id = _text(100, metadata={"description": "The event's id: the idempotency key"})
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in SettlementEventType]))
    occurred_at = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with an offset"})


class PayoutCompletedSchema(SettlementEventSchema):
    """``payout.completed``: the buyer received the compensation (settles the payable)."""

    type = fields.String(required=True, validate=validate.Equal(SettlementEventType.PAYOUT_COMPLETED.value))
    compensation_id = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_BIGINT))
    amount = StrictInteger(
        required=True, validate=validate.Range(min=1, max=MAX_BIGINT), metadata={"description": "Won paid"}
    )


class PayoutFailedSchema(SettlementEventSchema):
    """``payout.failed``: the payout did not reach the buyer; the buyer is still owed."""

    type = fields.String(required=True, validate=validate.Equal(SettlementEventType.PAYOUT_FAILED.value))
    compensation_id = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_BIGINT))
    amount = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_BIGINT))
    reason = _text(500)


class DeductionConfirmedSchema(SettlementEventSchema):
    """``deduction.confirmed``: a seller's open recoveries were withheld from its settlement of ``period``."""

    type = fields.String(required=True, validate=validate.Equal(SettlementEventType.DEDUCTION_CONFIRMED.value))
    seller_id = _text(64, metadata={"description": "The marketplace's seller id"})
    period = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    amount = StrictInteger(
        required=True, validate=validate.Range(min=0, max=MAX_BIGINT), metadata={"description": "Won withheld"}
    )


EVENT_SCHEMAS: dict[str, Schema] = {
    SettlementEventType.PAYOUT_COMPLETED.value: PayoutCompletedSchema(),
    SettlementEventType.PAYOUT_FAILED.value: PayoutFailedSchema(),
    SettlementEventType.DEDUCTION_CONFIRMED.value: DeductionConfirmedSchema(),
}
EVENT_SCHEMA_NAMES = {name: type(schema).__name__.removesuffix("Schema") for name, schema in EVENT_SCHEMAS.items()}


def load_settlement_event(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one settlement event against the schema of its type."""
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_SCHEMAS:
        choices = ", ".join(EVENT_SCHEMAS)
        message = "Missing data for required field." if event_type is None else f"Must be one of: {choices}."
        raise ValidationError({"type": [message]})
    return EVENT_SCHEMAS[event_type].load(raw)


class SettlementEventsBodySchema(Schema):
    """One event object, or ``{"events": [...]}`` with up to 1,000 of them."""

    events = fields.List(
        fields.Raw(
            metadata={
                "description": "A settlement event, by its type",
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
        return {**data, "single": _is_single(original)}


def _is_single(data: Any) -> bool:
    return isinstance(data, Mapping) and "events" not in data


class SettlementReceiptSchema(Schema):
    """A settlement event as applied: the same body every time the same event is sent."""

    id = fields.String(required=True)
    type = fields.String(required=True)
    occurred_at = fields.String(required=True)
    received_at = fields.String(required=True)
    compensation_id = fields.Integer()
    compensation_status = fields.String()
    seller_id = fields.String()
    period = fields.String()
    amount = fields.Integer(required=True)
    recovery_ids = fields.List(fields.Integer())


class SettlementResultSchema(Schema):
    """What became of one event of a batch."""

    index = fields.Integer(required=True)
    id = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "accepted, duplicate or rejected"})
    receipt = fields.Nested(SettlementReceiptSchema)
    code = fields.String()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class SettlementBatchResultSchema(Schema):
    """The outcome of a batch, one result per event in request order."""

    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    results = fields.List(fields.Nested(SettlementResultSchema), required=True)
