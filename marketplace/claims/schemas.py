"""API schemas for claims and the SLA policy: what a client may send (in) and what it is shown (out).

Input schemas refuse unknown fields, so a client can never set a status, a party, a deadline or an amount the
policy computes. Output is shaped per viewer by ``ClaimView``: the parties never see internal notes or which staff
member acted, and a seller never sees the buyer's contact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema
from werkzeug.datastructures import FileStorage

from marketplace.claims.models import (
    BUYER_FILED_TYPES,
    Claim,
    ClaimEvent,
    ClaimStatus,
    ClaimType,
    Decision,
    Evidence,
    Remedy,
)
from marketplace.claims.operations import MAX_TEXT
from marketplace.claims.policy import validate_sla

MAX_PAGE_SIZE = 100

# How the timeline names who acted, for readers who may not know which account it was.
_PARTY_BY_ACTOR_KIND = {
    "buyer_user": "buyer",
    "buyer": "buyer",
    "seller_user": "seller",
    "user": "staff",
    "api_client": "marketplace",
    "system": "system",
}


def party_of(actor_ref: str | None) -> str | None:
    """``buyer``, ``seller``, ``staff``, ``marketplace`` or ``system`` for an audit-style actor reference."""
    if actor_ref is None:
        return None
    return _PARTY_BY_ACTOR_KIND.get(actor_ref.partition(":")[0], "system")


# Fields shared by several schemas.


class Won(fields.Integer):
    """A whole number of won: floats, numeric strings and booleans are refused, never rounded."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=validate.Range(min=0), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class LocalDateTime(fields.AwareDateTime):
    """An instant shown in business time (Asia/Seoul by default), the way people read deadlines."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return super()._serialize(value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])), attr, obj, **kwargs)


class ChoiceList(fields.List):
    """Values from a fixed set, repeated (``?status=a&status=b``), comma-separated (``?status=a,b``), or both."""

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        self.choices = list(choices)
        super().__init__(fields.String(metadata={"enum": self.choices}), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list[str]:
        items = super()._deserialize(value if isinstance(value, list) else [value], attr, data, **kwargs)
        values = [part.strip() for item in items for part in item.split(",") if part.strip()]
        unknown = [value for value in values if value not in self.choices]
        if unknown:
            raise ValidationError(f"Unknown value {unknown[0]!r}; choose from: {', '.join(self.choices)}.")
        return list(dict.fromkeys(values))


class EvidenceFile(Upload):
    """An uploaded file (multipart/form-data); its content is checked when it is stored."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        if not isinstance(value, FileStorage):
            raise ValidationError("Send evidence as files in a multipart/form-data request.")
        return value


def _text(*, required: bool = True, maximum: int = MAX_TEXT, **kwargs: Any) -> fields.String:
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=maximum), **kwargs)
    return fields.String(load_default="", validate=validate.Length(max=maximum), **kwargs)


def _choice(values: Sequence[str], **kwargs: Any) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(list(values)), **kwargs)


# In: what clients send.


class ClaimQueryArgsSchema(Schema):
    """Filters and paging for the claim list."""

    status = ChoiceList(
        [status.value for status in ClaimStatus],
        load_default=list,
        metadata={"description": "Repeat it or separate values with commas"},
    )
    type = ChoiceList([claim_type.value for claim_type in ClaimType], load_default=list)
    seller = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "The marketplace's seller id"}
    )
    deadline_before = fields.AwareDateTime(
        metadata={
            "description": "Claims whose running deadline (the seller's while awaiting it, staff's while escalated)"
            " ends before this instant; ISO 8601 with an offset"
        }
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class ClaimCreateSchema(Schema):
    """A claim a buyer files on their order (JSON, or multipart/form-data with evidence files)."""

    order_id = _text(maximum=64, metadata={"description": "The marketplace's order id"})
    type = _choice(sorted(claim_type.value for claim_type in BUYER_FILED_TYPES))
    description = _text(metadata={"description": "What happened, in the buyer's words"})
    evidence = fields.List(
        EvidenceFile(),
        load_default=list,
        metadata={"description": "multipart/form-data only: photos or PDFs (JPEG, PNG, WebP, GIF, PDF), repeatable"},
    )


class ProposalCreateSchema(Schema):
    """The seller's answer to a claim."""

    remedy = _choice([remedy.value for remedy in Remedy])
    amount = Won(allow_none=True, load_default=None, metadata={"description": "Won; only for a partial_refund"})
    message = _text(required=False, metadata={"description": "Required for an explanation"})


class ProposalAcceptSchema(Schema):
    """Accepting the seller's proposal takes nothing but the request itself."""


class ProposalRejectSchema(Schema):
    """Why the buyer rejects the seller's proposal."""

    reason = _text()


class WithdrawalSchema(Schema):
    """The buyer drops the claim, optionally saying why."""

    reason = _text(required=False)


class EscalationCreateSchema(Schema):
    """Staff take a claim over."""

    reason = _text()


class DecisionCreateSchema(Schema):
    """Staff decide a claim."""

    decision = _choice([decision.value for decision in Decision])
    amount = Won(
        allow_none=True,
        load_default=None,
        metadata={"description": "Won; required for for_buyer and partial, absent for for_seller"},
    )
    reason = _text()


class NoteCreateSchema(Schema):
    """An internal note, seen by staff only."""

    message = _text()


class EvidenceUploadSchema(Schema):
    """Evidence files (multipart/form-data, field ``evidence``, repeatable)."""

    evidence = fields.List(EvidenceFile(), required=True, validate=validate.Length(min=1))


class SlaPolicyUpdateSchema(Schema):
    """A new SLA policy: the whole document, and why it changes."""

    document = fields.Dict(keys=fields.String(), required=True)
    note = _text(maximum=500, metadata={"description": "Why the policy changes (kept with the version)"})

    @validates_schema
    def _check_document(self, data: dict[str, Any], **_kwargs: Any) -> None:
        problems = validate_sla(data.get("document") or {})
        if problems:
            raise ValidationError({"document": {name: problems[name] for name in sorted(problems)}})


# Out: what clients are shown.


@dataclass(frozen=True, slots=True)
class ClaimView:
    """A claim as one viewer may see it."""

    claim: Claim
    internal: bool = False  # internal notes and which account acted: staff and the marketplace's systems
    buyer_contact: bool = False  # staff, the marketplace's systems and the buyer themself
    timeline: Sequence[ClaimEvent] = field(default_factory=tuple)
    evidence: Sequence[Evidence] = field(default_factory=tuple)


class ClaimOrderSchema(Schema):
    """The order a claim is about."""

    id = fields.String(required=True, metadata={"description": "The marketplace's order id"})
    amount = fields.Integer(required=True, metadata={"description": "Won"})
    paid_at = LocalDateTime(required=True)
    status = fields.String(required=True)


class ClaimSellerSchema(Schema):
    """The seller a claim is against."""

    id = fields.String(required=True, metadata={"description": "The marketplace's seller id"})
    name = fields.String(required=True)


class ClaimBuyerSchema(Schema):
    """The buyer who claims; the seller is shown the name only."""

    id = fields.String(metadata={"description": "The marketplace's buyer id; not shown to the seller"})
    name = fields.String(required=True)
    contact = fields.String(allow_none=True, metadata={"description": "Not shown to the seller"})


class ClaimDeadlineSchema(Schema):
    """A deadline and the SLA policy version that produced it."""

    due_at = LocalDateTime(required=True)
    policy_version = fields.Integer(required=True)


class ClaimDeadlinesSchema(Schema):
    """Every deadline of the claim; null where it does not apply (yet)."""

    seller_response = fields.Nested(ClaimDeadlineSchema, required=True)
    staff_decision = fields.Nested(ClaimDeadlineSchema, allow_none=True)
    refund = fields.Nested(ClaimDeadlineSchema, allow_none=True, metadata={"description": "전자상거래법 §18"})


class ProposalSchema(Schema):
    """What the seller offered."""

    remedy = fields.String(required=True)
    amount = fields.Integer(allow_none=True)
    message = fields.String(allow_none=True)
    proposed_at = LocalDateTime(required=True)


class EscalationSchema(Schema):
    """When and why the claim went to staff, and whose desk it is on."""

    escalated_at = LocalDateTime(required=True)
    reason = fields.String(required=True, metadata={"description": "seller_silent, buyer_rejected or staff"})
    queue = fields.String(
        metadata={"description": "staff, or supervisor once staff's deadline passed; staff and API clients only"}
    )
    supervisor_queued_at = LocalDateTime(allow_none=True, metadata={"description": "Staff and API clients only"})


class DecisionSchema(Schema):
    """How staff decided."""

    decision = fields.String(required=True)
    amount = fields.Integer(allow_none=True)
    decided_at = LocalDateTime(required=True)
    decided_by = fields.String(required=True, metadata={"description": "The staff account, or 'staff' for parties"})


class ClaimRefundSchema(Schema):
    """The statutory refund after a seller's cancellation (전자상거래법 §15②, §18)."""

    status = fields.String(required=True, metadata={"description": "pending, met, overdue or late"})
    due_at = LocalDateTime(allow_none=True)
    policy_version = fields.Integer(allow_none=True)
    overdue_at = LocalDateTime(allow_none=True)
    refunded_at = LocalDateTime(allow_none=True)
    days_late = fields.Integer(allow_none=True, metadata={"description": "Business days"})


class ClaimEventSchema(Schema):
    """One step: who, what, when, and a message."""

    id = fields.Integer(required=True)
    occurred_at = LocalDateTime(required=True)
    by = fields.String(required=True, metadata={"description": "buyer, seller, staff, marketplace or system"})
    actor = fields.String(metadata={"description": "The exact account; staff and API clients only"})
    kind = fields.String(required=True)
    message = fields.String(required=True)
    visibility = fields.String(required=True, metadata={"description": "parties, or staff for internal notes"})
    data = fields.Dict(allow_none=True)


class EvidenceSchema(Schema):
    """An evidence file's description (download it from its own address)."""

    id = fields.Integer(required=True)
    filename = fields.String(required=True)
    content_type = fields.String(required=True, metadata={"description": "As detected from the content"})
    size = fields.Integer(required=True, metadata={"description": "Bytes"})
    uploaded_at = LocalDateTime(required=True)
    uploaded_by = fields.String(required=True, metadata={"description": "buyer, seller, staff or marketplace"})


class ClaimSummarySchema(Schema):
    """A claim in a list: enough to see what it is and how urgent."""

    id = fields.Integer(required=True)
    type = fields.String(required=True)
    status = fields.String(required=True)
    order = fields.Nested(ClaimOrderSchema, required=True)
    seller = fields.Nested(ClaimSellerSchema, required=True)
    buyer = fields.Nested(ClaimBuyerSchema, required=True)
    opened_at = LocalDateTime(required=True)
    due_at = LocalDateTime(
        allow_none=True,
        metadata={"description": "The running deadline: the seller's while awaiting it, staff's while escalated"},
    )
    queue = fields.String(
        allow_none=True, metadata={"description": "staff or supervisor while escalated; staff and API clients only"}
    )
    deadlines = fields.Nested(ClaimDeadlinesSchema, required=True)

    @pre_dump
    def _from_view(self, view: ClaimView | Claim, **_kwargs: Any) -> dict[str, Any]:
        if isinstance(view, Claim):
            view = ClaimView(view)
        return _claim_fields(view)


class ClaimSchema(ClaimSummarySchema):
    """A claim with everything its viewer may see: deadlines, answers, decision, refund, timeline, evidence."""

    description = fields.String(required=True)
    opened_by = fields.String(required=True, metadata={"description": "buyer, staff, marketplace or system"})
    proposal = fields.Nested(ProposalSchema, allow_none=True)
    escalation = fields.Nested(EscalationSchema, allow_none=True)
    decision = fields.Nested(DecisionSchema, allow_none=True)
    refund = fields.Nested(ClaimRefundSchema, allow_none=True)
    resolved_at = LocalDateTime(allow_none=True)
    closed_at = LocalDateTime(allow_none=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    timeline = fields.List(fields.Nested(ClaimEventSchema), required=True)
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)

    @pre_dump
    def _from_view(self, view: ClaimView | Claim, **_kwargs: Any) -> dict[str, Any]:
        if isinstance(view, Claim):
            view = ClaimView(view)
        return {**_claim_fields(view), **_claim_details(view)}


class ClaimPageSchema(Schema):
    """One page of claims, the most urgent first."""

    items = fields.List(fields.Nested(ClaimSummarySchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Claims matching the filters, on all pages"})


class PolicyVersionSchema(Schema):
    """One version of the SLA policy."""

    version = fields.Integer(required=True, metadata={"description": "0 is the built-in default (DESIGN.md §5)"})
    document = fields.Dict(required=True)
    note = fields.String(required=True)
    created_at = LocalDateTime(allow_none=True)
    created_by = fields.String(allow_none=True)


def _claim_fields(view: ClaimView) -> dict[str, Any]:
    claim, order = view.claim, view.claim.order
    buyer = {"name": order.buyer.name}
    if view.buyer_contact:
        buyer.update(id=order.buyer.external_id, contact=order.buyer.contact)
    shown = {
        "id": claim.id,
        "type": claim.type.value,
        "status": claim.status.value,
        "order": {
            "id": order.external_id,
            "amount": order.amount,
            "paid_at": order.paid_at,
            "status": order.status.value,
        },
        "seller": {"id": order.seller.external_id, "name": order.seller.name},
        "buyer": buyer,
        "opened_at": claim.opened_at,
        "due_at": _running_deadline(claim),
        "deadlines": {
            "seller_response": _deadline(claim.response_due_at, claim.response_policy_version),
            "staff_decision": _deadline(claim.staff_due_at, claim.staff_policy_version),
            "refund": _deadline(claim.refund_due_at, claim.refund_policy_version),
        },
    }
    if view.internal:
        # Whose desk a claim is on is the platform's business (its timeline entry is staff-only too).
        shown["queue"] = claim.queue.value if claim.queue else None
    return shown


def _claim_details(view: ClaimView) -> dict[str, Any]:
    claim = view.claim
    return {
        "description": claim.description,
        "opened_by": _who(claim.opened_by, view.internal),
        "proposal": None
        if claim.proposal_remedy is None
        else {
            "remedy": claim.proposal_remedy.value,
            "amount": claim.proposal_amount,
            "message": claim.proposal_message,
            "proposed_at": claim.proposed_at,
        },
        "escalation": _escalation(claim, view.internal),
        "decision": None
        if claim.decision is None
        else {
            "decision": claim.decision.value,
            "amount": claim.decision_amount,
            "decided_at": claim.decided_at,
            "decided_by": _who(claim.decided_by, view.internal),
        },
        "refund": None
        if claim.refund_status is None
        else {
            "status": claim.refund_status.value,
            "due_at": claim.refund_due_at,
            "policy_version": claim.refund_policy_version,
            "overdue_at": claim.refund_overdue_at,
            "refunded_at": claim.refunded_at,
            "days_late": claim.refund_days_late,
        },
        "resolved_at": claim.resolved_at,
        "closed_at": claim.closed_at,
        "withdrawn_at": claim.withdrawn_at,
        "timeline": [_timeline_entry(entry, view.internal) for entry in view.timeline],
        "evidence": [
            {
                "id": evidence.id,
                "filename": evidence.filename,
                "content_type": evidence.content_type,
                "size": evidence.size,
                "uploaded_at": evidence.uploaded_at,
                "uploaded_by": _who(evidence.uploaded_by, view.internal),
            }
            for evidence in view.evidence
        ],
    }


def _escalation(claim: Claim, internal: bool) -> dict[str, Any] | None:
    if claim.escalated_at is None:
        return None
    shown = {
        "escalated_at": claim.escalated_at,
        "reason": claim.escalation_reason.value if claim.escalation_reason else None,
    }
    if internal:
        shown.update(queue=claim.queue.value if claim.queue else None, supervisor_queued_at=claim.supervisor_queued_at)
    return shown


def _timeline_entry(entry: ClaimEvent, internal: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": entry.id,
        "occurred_at": entry.occurred_at,
        "by": party_of(entry.actor),
        "kind": entry.kind,
        "message": entry.message,
        "visibility": entry.visibility.value,
        "data": entry.data,
    }
    if internal:
        shown["actor"] = entry.actor
    return shown


def _who(actor_ref: str | None, internal: bool) -> str | None:
    return actor_ref if internal else party_of(actor_ref)


def _deadline(due_at: datetime | None, policy_version: int | None) -> dict[str, Any] | None:
    return None if due_at is None else {"due_at": due_at, "policy_version": policy_version}


def _running_deadline(claim: Claim) -> datetime | None:
    if claim.status is ClaimStatus.AWAITING_SELLER:
        return claim.response_due_at
    if claim.status is ClaimStatus.ESCALATED:
        return claim.staff_due_at
    return None
