"""API schemas for mass incidents: declaring, selecting (in); the incident, preview, progress, report (out)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.compensation.models import CompensationForm


def _text(maximum: int, **kwargs: object) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=maximum), **kwargs)


class IncidentRuleSchema(Schema):
    """The compensation each affected order gets: a percentage of the order (min, cap) or a fixed amount."""

    form = fields.String(required=True, validate=validate.OneOf([form.value for form in CompensationForm]))
    method = fields.String(required=True, validate=validate.OneOf(["percent_of_order", "fixed"]))
    percent = fields.String(metadata={"description": 'A decimal string, e.g. "10"'})
    minimum = fields.Integer(strict=True, allow_none=True)
    cap = fields.Integer(strict=True, allow_none=True)
    amount = fields.Integer(strict=True, metadata={"description": "Won, for the fixed method"})
    recoverable = fields.Boolean(metadata={"description": "Default: recovered from sellers unless platform at fault"})


class IncidentCreateSchema(Schema):
    """A mass incident as a supervisor declares it."""

    title_ko = _text(200)
    title_en = _text(200)
    cause = _text(4000)
    platform_at_fault = fields.Boolean(required=True)
    explanation_ko = _text(4000, metadata={"description": "The public explanation sent to every buyer (Korean)"})
    explanation_en = _text(4000)
    rule = fields.Nested(IncidentRuleSchema, required=True)


class SelectionCreateSchema(Schema):
    """Which orders the incident hit: every filter given must match; or an uploaded list of order ids."""

    sellers = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list)
    skus = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list)
    paid_from = fields.AwareDateTime(load_default=None, metadata={"description": "Paid at or after (ISO 8601)"})
    paid_to = fields.AwareDateTime(load_default=None, metadata={"description": "Paid before (ISO 8601)"})
    coupon_code = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    campaign = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    order_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=None,
        metadata={"description": "The marketplace's order ids (an uploaded list)"},
    )


class IncidentSchema(Schema):
    """An incident, its rule, its selection and its progress counters."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, attribute="status.value")
    title_ko = fields.String(required=True)
    title_en = fields.String(required=True)
    cause = fields.String(required=True)
    platform_at_fault = fields.Boolean(required=True)
    explanation_ko = fields.String(required=True)
    explanation_en = fields.String(required=True)
    rule = fields.Dict(required=True)
    selection = fields.Dict(allow_none=True)
    selected_orders = fields.Integer(required=True)
    selected_amount = fields.Integer(required=True)
    processed_orders = fields.Integer(required=True)
    processed_amount = fields.Integer(required=True)
    declared_at = fields.AwareDateTime(required=True)
    declared_by = fields.String(required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)


class IncidentPageSchema(Schema):
    """A page of incidents."""

    items = fields.List(fields.Nested(IncidentSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class PageArgsSchema(Schema):
    """Paging."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class SampleOrderSchema(Schema):
    """One selected order and what it gets."""

    order_id = fields.String(required=True)
    order_amount = fields.Integer(required=True)
    amount = fields.Integer(required=True)


class PreviewSchema(Schema):
    """What the run would do."""

    incident_id = fields.Integer(required=True)
    orders = fields.Integer(required=True)
    buyers = fields.Integer(required=True)
    sellers = fields.Integer(required=True)
    total_amount = fields.Integer(required=True, metadata={"description": "Total cost in won"})
    form = fields.String(required=True)
    rule = fields.Dict(required=True)
    selection = fields.Dict(allow_none=True)
    sample = fields.List(fields.Nested(SampleOrderSchema), required=True)


class ProgressSchema(Schema):
    """How far a run has come (read it repeatedly while it runs)."""

    incident_id = fields.Integer(required=True)
    status = fields.String(required=True)
    selected_orders = fields.Integer(required=True)
    processed_orders = fields.Integer(required=True)
    remaining_orders = fields.Integer(required=True)
    percent = fields.Float(required=True)
    selected_amount = fields.Integer(required=True)
    processed_amount = fields.Integer(required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    updated_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    orders_per_second = fields.Float(allow_none=True)
    eta_seconds = fields.Integer(allow_none=True)


class OutboxCountsSchema(Schema):
    """Messages written for the incident, by delivery state."""

    written = fields.Integer(required=True)
    sent = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    pending = fields.Integer(required=True)


class ReportSchema(Schema):
    """The run's outcome."""

    incident_id = fields.Integer(required=True)
    status = fields.String(required=True)
    orders = fields.Integer(required=True)
    selected_orders = fields.Integer(required=True)
    buyers = fields.Integer(required=True)
    compensations = fields.Integer(required=True)
    total_amount = fields.Integer(required=True)
    by_form = fields.Dict(required=True)
    notices = fields.Nested(OutboxCountsSchema, required=True)
    payout_instructions = fields.Nested(OutboxCountsSchema, required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
