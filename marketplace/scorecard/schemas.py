"""What the scorecard API returns: a seller's figures per window with the grade, its categories and its trend."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from marketplace.scorecard.metrics import Figures
from marketplace.scorecard.models import CLAIM_TYPES, WINDOWS, ScorecardSnapshot
from marketplace.scorecard.queries import RANKABLE, Card

_RATE = {"description": "A fraction of the window's orders (0.061 is 6.1 %); null when there were none"}


class ScorecardSellerSchema(Schema):
    """A seller."""

    id = fields.String(required=True, metadata={"description": "The marketplace's seller id"})
    name = fields.String(required=True)


class GradeReasonSchema(Schema):
    """A metric over the limit that decided the grade (or, for not_enough_data, the orders counted)."""

    metric = fields.String(required=True)
    value = fields.Float(required=True, metadata={"description": "Percent, or a count of orders"})
    limit = fields.Float(required=True)
    window_days = fields.Integer(required=True)


class WindowSchema(Schema):
    """A window's figures, over the orders paid in its days (Asia/Seoul)."""

    window_days = fields.Integer(required=True)
    orders = fields.Integer(required=True)
    seller_cancel_rate = fields.Float(allow_none=True, metadata=_RATE)
    late_shipment_rate = fields.Float(allow_none=True, metadata=_RATE)
    defect_rate = fields.Float(allow_none=True, metadata=_RATE)
    claim_rate = fields.Float(allow_none=True, metadata=_RATE)
    claim_rates = fields.Dict(
        keys=fields.String(), values=fields.Float(allow_none=True), required=True, metadata={"description": "By type"}
    )
    response_compliance = fields.Float(
        allow_none=True, metadata={"description": "Claims answered by the deadline / claims answered or let pass"}
    )
    lead_days_avg = fields.Float(allow_none=True, metadata={"description": "Business days, payment to shipment"})
    lead_days_p90 = fields.Integer(allow_none=True, metadata={"description": "90th percentile; 10 means 10 or more"})
    refund_days_avg = fields.Float(allow_none=True, metadata={"description": "Business days, cancellation to refund"})
    overdue_refund_days_avg = fields.Float(allow_none=True)
    overdue_refunds = fields.Integer(required=True)
    counterfeit_claims = fields.Integer(required=True)


class CategorySchema(Schema):
    """One category's figures (category "" holds the orders that name none)."""

    category = fields.String(required=True)
    windows = fields.List(fields.Nested(WindowSchema), required=True)


class TrendPointSchema(Schema):
    """One day of the trend (the 30-day window)."""

    day = fields.Date(required=True)
    grade = fields.String(required=True)
    orders = fields.Integer(required=True)
    defect_rate = fields.Float(allow_none=True)
    late_shipment_rate = fields.Float(allow_none=True)
    seller_cancel_rate = fields.Float(allow_none=True)


class ScorecardSchema(Schema):
    """A seller's scorecard as of its newest snapshot."""

    seller = fields.Nested(ScorecardSellerSchema, required=True)
    day = fields.Date(allow_none=True, metadata={"description": "The day snapshotted; null before any"})
    grade = fields.String(
        allow_none=True, metadata={"description": "top_rated, above_standard, below_standard or not_enough_data"}
    )
    grade_reasons = fields.List(fields.Nested(GradeReasonSchema), required=True)
    policy_version = fields.Integer(allow_none=True)
    active_points = fields.Integer(required=True)
    windows = fields.List(fields.Nested(WindowSchema), required=True)
    categories = fields.List(fields.Nested(CategorySchema), required=True)
    trend = fields.List(fields.Nested(TrendPointSchema), required=True)


class RankArgsSchema(Schema):
    """How to rank sellers."""

    metric = fields.String(load_default="defect_rate", validate=validate.OneOf(RANKABLE))
    window = fields.Integer(load_default=90, validate=validate.OneOf(WINDOWS))
    order = fields.String(load_default="desc", validate=validate.OneOf(("asc", "desc")))
    grade = fields.List(
        fields.String(validate=validate.OneOf(("top_rated", "above_standard", "below_standard", "not_enough_data"))),
        load_default=list,
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class RankedSellerSchema(Schema):
    """A seller in the ranking."""

    seller = fields.Nested(ScorecardSellerSchema, required=True)
    grade = fields.String(required=True)
    grade_reasons = fields.List(fields.Nested(GradeReasonSchema), required=True)
    window = fields.Nested(WindowSchema, required=True)
    active_points = fields.Integer(required=True)


class RankPageSchema(Schema):
    """One page of the ranking."""

    day = fields.Date(allow_none=True)
    items = fields.List(fields.Nested(RankedSellerSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


def window_out(value: Figures) -> dict[str, Any]:
    """A window's figures, computed from its sums."""
    return {
        "window_days": value.window_days,
        "orders": value.orders,
        "seller_cancel_rate": value.seller_cancel_rate,
        "late_shipment_rate": value.late_shipment_rate,
        "defect_rate": value.defect_rate,
        "claim_rate": value.claim_rate,
        "claim_rates": {claim_type: value.claim_rate_of(claim_type) for claim_type in CLAIM_TYPES},
        "response_compliance": value.response_compliance,
        "lead_days_avg": value.lead_days_avg,
        "lead_days_p90": value.lead_days_p90,
        "refund_days_avg": value.refund_days_avg,
        "overdue_refund_days_avg": value.overdue_refund_days_avg,
        "overdue_refunds": value.counts["overdue_refunds"],
        "counterfeit_claims": value.counterfeit_claims,
    }


def snapshot_figures(snapshot: ScorecardSnapshot) -> Figures:
    """The figures a snapshot was computed from."""
    return Figures(snapshot.window_days, {name: int(count) for name, count in snapshot.counts.items()})


def card_out(card: Card) -> dict[str, Any]:
    """The API's view of a card."""
    carrier = card.grade
    return {
        "seller": {"id": card.seller.external_id, "name": card.seller.name},
        "day": card.day,
        "grade": carrier.grade if carrier else None,
        "grade_reasons": carrier.grade_reasons if carrier else [],
        "policy_version": carrier.policy_version if carrier else None,
        "active_points": carrier.active_points if carrier else 0,
        "windows": [window_out(snapshot_figures(card.windows[days])) for days in WINDOWS if days in card.windows],
        "categories": [
            {"category": category, "windows": [window_out(by_window[days]) for days in WINDOWS]}
            for category, by_window in card.categories.items()
        ],
        "trend": [
            {
                "day": point.day,
                "grade": point.grade,
                "orders": point.orders,
                "defect_rate": point.defect_rate,
                "late_shipment_rate": point.late_shipment_rate,
                "seller_cancel_rate": point.seller_cancel_rate,
            }
            for point in card.trend
        ],
    }


def ranked_out(seller: Any, snapshot: ScorecardSnapshot) -> dict[str, Any]:
    """A ranked seller."""
    return {
        "seller": {"id": seller.external_id, "name": seller.name},
        "grade": snapshot.grade,
        "grade_reasons": snapshot.grade_reasons,
        "window": window_out(snapshot_figures(snapshot)),
        "active_points": snapshot.active_points,
    }
