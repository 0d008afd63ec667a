"""API schemas for standing, violations, sanctions, stage history, appeals, pauses and the sanction policy.

Input schemas refuse unknown fields: no client sets a state, points the policy computes, or a stage the rules decide.
Output is built per viewer by the ``*_out`` functions: the seller sees who acted as a party (``staff``,
``system``), staff and the marketplace's systems see the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.claims.schemas import ChoiceList, LocalDateTime, party_of
from marketplace.db import MAX_BIGINT
from marketplace.sanctions.models import (
    KIND_LABELS,
    PAUSABLE_KINDS,
    SANCTION_STAGES,
    STAGE_LABELS,
    STATE_LABELS,
    Appeal,
    AppealStatus,
    Sanction,
    SanctionPause,
    SanctionRule,
    Stage,
    StageChange,
    Violation,
    ViolationState,
)
from marketplace.sanctions.operations import MAX_TEXT
from marketplace.sanctions.policy import validate_sanction_policy
from marketplace.sanctions.queries import SellerRef
from marketplace.sanctions.simulation import MAX_DAYS, SellerOutcome, SimulationResult
from marketplace.sellers.models import Seller

MAX_PAGE_SIZE = 100


def _text(*, maximum: int = MAX_TEXT, **kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=maximum), **kwargs)


class _Page(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


# In: what clients send.


class ViolationQueryArgsSchema(_Page):
    """Filters and paging for a seller's violations."""

    state = ChoiceList([state.value for state in ViolationState], load_default=list)


class SanctionQueryArgsSchema(_Page):
    """Filters and paging for sanctions."""

    stage = ChoiceList([stage.value for stage in SANCTION_STAGES], load_default=list)
    in_force = fields.Boolean(metadata={"description": "true: only those in force; false: only those ended"})


class StandingQueryArgsSchema(_Page):
    """Filters and paging for the sellers' standings."""

    stage = ChoiceList([stage.value for stage in Stage], load_default=list)


class AppealQueryArgsSchema(_Page):
    """Filters and paging for appeals."""

    status = ChoiceList([status.value for status in AppealStatus], load_default=list)


class PageArgsSchema(_Page):
    """Paging only."""


class ManualViolationCreateSchema(Schema):
    """A violation staff record by hand."""

    points = fields.Integer(
        required=True, strict=True, metadata={"description": "1 to the policy's manual_points_max (10 by default)"}
    )
    reason = _text(metadata={"description": "What the seller did; shown to the seller"})
    occurred_at = fields.AwareDateTime(
        load_default=None, metadata={"description": "When it happened (default: now); within the window"}
    )
    order_id = fields.String(
        load_default=None, validate=validate.Length(min=1, max=64), metadata={"description": "The marketplace's id"}
    )


class ReasonSchema(Schema):
    """Why (kept with the change and shown to the seller)."""

    reason = _text()


class SanctionCreateSchema(Schema):
    """A sanction a supervisor imposes."""

    stage = fields.String(required=True, validate=validate.OneOf([stage.value for stage in SANCTION_STAGES]))
    reason = _text()
    ends_at = fields.AwareDateTime(
        load_default=None,
        metadata={"description": "Default: the policy's days for the stage (a restriction: until a review)"},
    )
    violation_ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_BIGINT)),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={"description": "The seller's violations that led to it"},
    )


class SanctionShortenSchema(Schema):
    """A new, earlier end (now at the earliest) and why."""

    ends_at = fields.AwareDateTime(required=True)
    reason = _text()


class AppealCreateSchema(Schema):
    """The seller's plan of action."""

    root_cause = _text(metadata={"description": "Why it happened"})
    actions_taken = _text(metadata={"description": "What was done about it"})
    prevention = _text(metadata={"description": "How it will not happen again"})


class AppealDecisionSchema(Schema):
    """Staff accept or reject an appeal."""

    outcome = fields.String(required=True, validate=validate.OneOf([AppealStatus.ACCEPTED, AppealStatus.REJECTED]))
    reason = _text()


class PauseCreateSchema(Schema):
    """A force-majeure period and the kinds of violation it covers."""

    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True, metadata={"description": "Exclusive"})
    kinds = fields.List(
        fields.String(validate=validate.OneOf([kind.value for kind in PAUSABLE_KINDS])),
        required=True,
        validate=validate.Length(min=1),
    )
    reason = _text(metadata={"description": "The courier strike, the snowstorm, the holiday peak"})


def _check_document(data: Mapping[str, Any]) -> None:
    problems = validate_sanction_policy(data.get("document") or {})
    if problems:
        raise ValidationError(
            {"document": {name: [str(message) for message in problems[name]] for name in sorted(problems)}}
        )


class SanctionPolicyUpdateSchema(Schema):
    """A new sanction policy: the whole document, and why it changes."""

    document = fields.Dict(keys=fields.String(), required=True)
    note = _text(maximum=500, metadata={"description": "Why the policy changes (kept with the version)"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_document(data)


class SimulationCreateSchema(Schema):
    """A candidate policy to replay, and how many days back."""

    document = fields.Dict(keys=fields.String(), required=True)
    days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=1, max=MAX_DAYS))

    @validates_schema
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _check_document(data)


# Out: what clients are shown.


class SanctionedSellerSchema(Schema):
    """A seller."""

    id = fields.String(required=True, metadata={"description": "The marketplace's seller id"})
    name = fields.String(required=True)


class SanctionInForceSchema(Schema):
    """A sanction in force, as the standing shows it."""

    id = fields.Integer(required=True)
    stage = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "rules or staff"})
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(allow_none=True, metadata={"description": "null: until a supervisor's review"})
    reason = fields.String(required=True, metadata={"description": "Staff's words, or the rule that imposed it"})


class StandingSchema(Schema):
    """What a seller may do now, and why."""

    seller = fields.Nested(SanctionedSellerSchema, required=True)
    stage = fields.String(
        required=True, metadata={"description": "none, notice, warning, restricted or termination_review"}
    )
    stage_label = fields.String(required=True)
    may_list = fields.Boolean(required=True, metadata={"description": "May it list new products?"})
    may_sell = fields.Boolean(required=True, metadata={"description": "May it sell?"})
    active_points = fields.Integer(required=True, metadata={"description": "Points of the violations that count"})
    orders_in_window = fields.Integer(
        allow_none=True, metadata={"description": "Orders paid in the window at evaluated_at; null: never evaluated"}
    )
    ratio_percent = fields.Decimal(
        as_string=True,
        allow_none=True,
        # A decimal sent as a string ("100.0"), so that no client reads it through a float.
        metadata={
            "description": "Points ÷ orders in %, rounded down to 0.1, as a decimal string",
            "type": "string",
            "pattern": r"^\d+\.\d$",
        },
    )
    window_days = fields.Integer(allow_none=True, metadata={"description": "The window at evaluated_at"})
    sanctions = fields.List(fields.Nested(SanctionInForceSchema), required=True)
    evaluated_at = LocalDateTime(allow_none=True)
    changed_at = LocalDateTime(allow_none=True, metadata={"description": "When the standing last changed"})


class StandingPageSchema(Schema):
    """One page of standings, the most points first."""

    items = fields.List(fields.Nested(StandingSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class ViolationSchema(Schema):
    """A violation, its points and whether they count."""

    id = fields.Integer(required=True)
    seller = fields.Nested(SanctionedSellerSchema, required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    points = fields.Integer(required=True)
    state = fields.String(required=True, metadata={"description": "active, expired, overturned or set_aside"})
    state_label = fields.String(required=True)
    claim_id = fields.Integer(allow_none=True)
    order_id = fields.String(allow_none=True, metadata={"description": "The marketplace's order id"})
    reason = fields.String(required=True)
    occurred_at = LocalDateTime(required=True)
    expires_at = LocalDateTime(required=True, metadata={"description": "When it stops counting"})
    raised_at = LocalDateTime(allow_none=True, metadata={"description": "Late shipments: when it became severe"})
    appeal_due_at = LocalDateTime(required=True)
    recorded_at = LocalDateTime(required=True)
    recorded_by = fields.String(required=True)
    pause_id = fields.Integer(allow_none=True)
    overturned_at = LocalDateTime(allow_none=True)
    overturn_reason = fields.String(allow_none=True)


class ViolationPageSchema(Schema):
    """One page of violations, newest first."""

    items = fields.List(fields.Nested(ViolationSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class SanctionSchema(Schema):
    """A sanction: the stage, what it stops, from when until when, and why."""

    id = fields.Integer(required=True)
    seller = fields.Nested(SanctionedSellerSchema, required=True)
    stage = fields.String(required=True)
    stage_label = fields.String(required=True)
    may_list = fields.Boolean(required=True, metadata={"description": "Whether the seller may list under it"})
    may_sell = fields.Boolean(required=True, metadata={"description": "Whether the seller may sell under it"})
    source = fields.String(required=True, metadata={"description": "rules or staff"})
    rule = fields.String(allow_none=True, metadata={"description": "notice_threshold, sanction_threshold or jump"})
    reason = fields.String(required=True, metadata={"description": "Staff's words, or what the rule saw"})
    points = fields.Integer(allow_none=True)
    orders = fields.Integer(allow_none=True)
    violation_ids = fields.List(fields.Integer(), required=True)
    policy_version = fields.Integer(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(allow_none=True, metadata={"description": "null: until a supervisor's review"})
    original_ends_at = LocalDateTime(allow_none=True, metadata={"description": "Before a supervisor shortened it"})
    in_force = fields.Boolean(required=True)
    ended_at = LocalDateTime(allow_none=True)
    ended_how = fields.String(allow_none=True, metadata={"description": "expired, shortened or lifted"})
    end_reason = fields.String(allow_none=True)
    imposed_by = fields.String(required=True)
    appeal_due_at = LocalDateTime(required=True)


class SanctionPageSchema(Schema):
    """One page of sanctions, newest first."""

    items = fields.List(fields.Nested(SanctionSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class StageChangeSchema(Schema):
    """One move between stages."""

    at = LocalDateTime(required=True)
    from_stage = fields.String(required=True)
    to_stage = fields.String(required=True)
    cause = fields.String(required=True)
    by = fields.String(required=True)


class StageChangePageSchema(Schema):
    """One page of the stage history, newest first."""

    items = fields.List(fields.Nested(StageChangeSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class AppealSchema(Schema):
    """An appeal and its plan of action."""

    id = fields.Integer(required=True)
    seller = fields.Nested(SanctionedSellerSchema, required=True)
    violation_id = fields.Integer(allow_none=True)
    sanction_id = fields.Integer(allow_none=True)
    status = fields.String(required=True, metadata={"description": "open, accepted or rejected"})
    root_cause = fields.String(required=True)
    actions_taken = fields.String(required=True)
    prevention = fields.String(required=True)
    filed_at = LocalDateTime(required=True)
    filed_by = fields.String(required=True)
    decided_at = LocalDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class AppealPageSchema(Schema):
    """One page of appeals: open ones oldest first, then decided ones newest first."""

    items = fields.List(fields.Nested(AppealSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class PauseSchema(Schema):
    """A force-majeure pause."""

    id = fields.Integer(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    kinds = fields.List(fields.String(), required=True)
    reason = fields.String(required=True)
    declared_at = LocalDateTime(required=True)
    declared_by = fields.String(required=True)
    set_aside_count = fields.Integer(required=True, metadata={"description": "Violations it set aside so far"})


class PausePageSchema(Schema):
    """One page of pauses, the latest period first."""

    items = fields.List(fields.Nested(PauseSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)


class SanctionPolicyVersionSchema(Schema):
    """One version of the sanction policy."""

    version = fields.Integer(required=True, metadata={"description": "0 is the built-in default (DESIGN.md §5)"})
    document = fields.Dict(required=True)
    note = fields.String(required=True)
    created_at = LocalDateTime(allow_none=True)
    created_by = fields.String(allow_none=True)


class OutcomeSchema(Schema):
    """Where a seller ends up in a replay."""

    stage = fields.String(required=True)
    may_list = fields.Boolean(required=True)
    may_sell = fields.Boolean(required=True)
    active_points = fields.Integer(required=True)


class SellerChangeSchema(Schema):
    """A seller whose standing differs under the candidate."""

    seller = fields.Nested(SanctionedSellerSchema, required=True)
    current = fields.Nested(OutcomeSchema, required=True)
    candidate = fields.Nested(OutcomeSchema, required=True)


class StageCountSchema(Schema):
    """Sellers at one stage under each policy."""

    stage = fields.String(required=True)
    current = fields.Integer(required=True)
    candidate = fields.Integer(required=True)


class SimulationSchema(Schema):
    """The candidate policy replayed beside the current one."""

    days = fields.Integer(required=True)
    since = LocalDateTime(required=True)
    at = LocalDateTime(required=True)
    current_version = fields.Integer(required=True)
    sellers = fields.Integer(required=True)
    stages = fields.List(fields.Nested(StageCountSchema), required=True)
    changed = fields.List(fields.Nested(SellerChangeSchema), required=True)
    changed_total = fields.Integer(required=True)


# Building the output per viewer.

MAX_CHANGED_SHOWN = 500


def _who(actor_ref: str | None, internal: bool) -> str | None:
    return actor_ref if internal else party_of(actor_ref)


def _seller(seller: Seller) -> dict[str, str]:
    return {"id": seller.external_id, "name": seller.name}


def _instant(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def standing_out(seller: Seller | SellerRef, standing: Any) -> dict[str, Any]:
    """A seller's standing (clean when it never had a violation or a sanction)."""
    if standing is None:
        stage = Stage.NONE
        return {
            "seller": _seller(seller),
            "stage": stage.value,
            "stage_label": str(STAGE_LABELS[stage]),
            "may_list": True,
            "may_sell": True,
            "active_points": 0,
            "orders_in_window": None,
            "ratio_percent": None,
            "window_days": None,
            "sanctions": [],
            "evaluated_at": None,
            "changed_at": None,
        }
    ratio = None
    if standing.orders_in_window:
        ratio = (Decimal(standing.active_points * 100) / standing.orders_in_window).quantize(
            Decimal("0.1"), rounding=ROUND_DOWN
        )
    return {
        "seller": _seller(seller),
        "stage": standing.stage.value,
        "stage_label": str(STAGE_LABELS[standing.stage]),
        "may_list": standing.may_list,
        "may_sell": standing.may_sell,
        "active_points": standing.active_points,
        "orders_in_window": standing.orders_in_window,
        "ratio_percent": ratio,
        "window_days": standing.window_days,
        "sanctions": [
            {**sanction, "starts_at": _instant(sanction["starts_at"]), "ends_at": _instant(sanction["ends_at"])}
            for sanction in standing.sanctions
        ],
        "evaluated_at": standing.evaluated_at,
        "changed_at": standing.changed_at,
    }


def violation_out(violation: Violation, *, internal: bool) -> dict[str, Any]:
    """A violation as this viewer may see it."""
    return {
        "id": violation.id,
        "seller": _seller(violation.seller),
        "kind": violation.kind.value,
        "kind_label": str(KIND_LABELS[violation.kind]),
        "points": violation.points,
        "state": violation.state.value,
        "state_label": str(STATE_LABELS[violation.state]),
        "claim_id": violation.claim_id,
        "order_id": violation.order.external_id if violation.order else None,
        "reason": violation.reason,
        "occurred_at": violation.occurred_at,
        "expires_at": violation.expires_at,
        "raised_at": violation.raised_at,
        "appeal_due_at": violation.appeal_due_at,
        "recorded_at": violation.recorded_at,
        "recorded_by": _who(violation.recorded_by, internal),
        "pause_id": violation.pause_id,
        "overturned_at": violation.overturned_at,
        "overturn_reason": violation.overturn_reason,
    }


_RULE_REASONS = {
    SanctionRule.NOTICE_THRESHOLD: _l("%(points)d points over %(orders)d orders reached the notice threshold."),
    SanctionRule.SANCTION_THRESHOLD: _l(
        "%(points)d points over %(orders)d orders reached the sanction threshold: one stage up."
    ),
    SanctionRule.JUMP: _l("This kind of violation goes straight to this stage."),
}


def sanction_reason(sanction: Sanction) -> str:
    """Staff's words, or what the rule saw, in the reader's language."""
    if sanction.rule is None:
        return sanction.reason
    return str(_RULE_REASONS[sanction.rule]) % {"points": sanction.points or 0, "orders": sanction.orders or 0}


def sanction_out(sanction: Sanction, *, internal: bool) -> dict[str, Any]:
    """A sanction as this viewer may see it."""
    return {
        "id": sanction.id,
        "seller": _seller(sanction.seller),
        "stage": sanction.stage.value,
        "stage_label": str(STAGE_LABELS[sanction.stage]),
        "may_list": sanction.stage.may_list,
        "may_sell": sanction.stage.may_sell,
        "source": sanction.source.value,
        "rule": sanction.rule.value if sanction.rule else None,
        "reason": sanction_reason(sanction),
        "points": sanction.points,
        "orders": sanction.orders,
        "violation_ids": list(sanction.violation_ids),
        "policy_version": sanction.policy_version,
        "starts_at": sanction.starts_at,
        "ends_at": sanction.ends_at,
        "original_ends_at": sanction.original_ends_at,
        "in_force": sanction.in_force,
        "ended_at": sanction.ended_at,
        "ended_how": sanction.ended_how.value if sanction.ended_how else None,
        "end_reason": sanction.end_reason,
        "imposed_by": _who(sanction.imposed_by, internal),
        "appeal_due_at": sanction.appeal_due_at,
    }


def stage_change_out(change: StageChange, *, internal: bool) -> dict[str, Any]:
    """One move between stages."""
    return {
        "at": change.at,
        "from_stage": change.from_stage.value,
        "to_stage": change.to_stage.value,
        "cause": change.cause,
        "by": _who(change.actor, internal),
    }


def appeal_out(appeal: Appeal, *, internal: bool) -> dict[str, Any]:
    """An appeal as this viewer may see it."""
    return {
        "id": appeal.id,
        "seller": _seller(appeal.seller),
        "violation_id": appeal.violation_id,
        "sanction_id": appeal.sanction_id,
        "status": appeal.status.value,
        "root_cause": appeal.root_cause,
        "actions_taken": appeal.actions_taken,
        "prevention": appeal.prevention,
        "filed_at": appeal.filed_at,
        "filed_by": _who(appeal.filed_by, internal),
        "decided_at": appeal.decided_at,
        "decided_by": _who(appeal.decided_by, internal),
        "decision_reason": appeal.decision_reason,
    }


def pause_out(pause: SanctionPause, *, internal: bool) -> dict[str, Any]:
    """A force-majeure pause."""
    return {
        "id": pause.id,
        "starts_at": pause.starts_at,
        "ends_at": pause.ends_at,
        "kinds": list(pause.kinds),
        "reason": pause.reason,
        "declared_at": pause.declared_at,
        "declared_by": _who(pause.declared_by, internal),
        "set_aside_count": pause.set_aside_count,
    }


def _outcome(outcome: SellerOutcome) -> dict[str, Any]:
    return {
        "stage": outcome.stage.value,
        "may_list": outcome.may_list,
        "may_sell": outcome.may_sell,
        "active_points": outcome.active_points,
    }


def simulation_out(result: SimulationResult) -> dict[str, Any]:
    """Both replays side by side (at most 500 changed sellers, the most severe first)."""
    return {
        "days": result.days,
        "since": result.since,
        "at": result.at,
        "current_version": result.current_version,
        "sellers": result.sellers,
        "stages": result.stages,
        "changed": [
            {
                "seller": {"id": change.external_id, "name": change.name},
                "current": _outcome(change.current),
                "candidate": _outcome(change.candidate),
            }
            for change in result.changed[:MAX_CHANGED_SHOWN]
        ],
        "changed_total": len(result.changed),
    }
