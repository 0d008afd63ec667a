"""API schemas for the caller's identity and the business calendar."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema


class ProblemSchema(Schema):
    """An RFC 9457 problem: what went wrong, and which fields."""

    class Meta:
        # Problems may carry extension members (the current state, the permission that was missing).
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    code = fields.String()
    field = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class MeSchema(Schema):
    """Who the API sees behind the credentials."""

    kind = fields.String(required=True, metadata={"description": "user, seller_user, buyer or api_client"})
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(allow_none=True)
    seller_id = fields.Integer(allow_none=True)
    buyer_id = fields.Integer(allow_none=True)
    scopes = fields.List(fields.String(), required=True)


class HolidayQueryArgsSchema(Schema):
    """A date range, at most three years long."""

    start = fields.Date(data_key="from", required=True)
    end = fields.Date(data_key="to", required=True)

    @validates_schema
    def _check_range(self, data: dict, **_kwargs: object) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError("'to' must not be before 'from'.", field_name="to")
            if (end - start).days > 3 * 366:
                raise ValidationError("Ask for at most three years at a time.", field_name="to")


class HolidaySchema(Schema):
    """A day on which no business day counts."""

    date = fields.Date(required=True)
    name = fields.String(required=True, metadata={"description": "In the language of the request"})
    name_ko = fields.String(required=True)
    name_en = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "public (Korean law) or platform (added by staff)"})


class HolidayCreateSchema(Schema):
    """A platform holiday to add."""

    date = fields.Date(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class DeadlineQueryArgsSchema(Schema):
    """A start instant and a number of business days."""

    # Deadlines are for the platform's years: the holidays package knows Korean holidays from 1948 only, and before
    # 1908 Asia/Seoul was on local mean time, an offset in seconds that no ISO 8601 instant can carry.
    start = fields.AwareDateTime(
        required=True,
        validate=validate.Range(
            min=datetime(1950, 1, 1, tzinfo=UTC),
            max=datetime(2100, 1, 1, tzinfo=UTC),
            max_inclusive=False,
            error="Give an instant from 1950 to 2099.",
        ),
        metadata={"description": "ISO 8601 with an offset, from 1950 to 2099"},
    )
    business_days = fields.Integer(required=True, validate=validate.Range(min=0, max=365))


class DeadlineSchema(Schema):
    """When N business days after an instant end."""

    start = fields.AwareDateTime(required=True)
    business_days = fields.Integer(required=True)
    deadline = fields.AwareDateTime(required=True, metadata={"description": "23:59:59 Asia/Seoul on the last day"})
