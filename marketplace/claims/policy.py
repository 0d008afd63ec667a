"""The SLA policy: how many business days each party has (defaults from DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims.labels import TYPE_LABELS
from marketplace.claims.models import SELLER_ANSWERED_TYPES, ClaimType
from marketplace.core.policies import current_policy, register_policy

SLA = "sla"

DEFAULT_SLA: dict[str, Any] = {
    # eBay Money Back Guarantee: the seller has 3 business days to respond.
    "seller_response_business_days": {claim_type.value: 3 for claim_type in SELLER_ANSWERED_TYPES},
    "staff_decision_business_days": 2,
    # 전자상거래법 §15②, §18: a prepaid order's refund within 3 business days.
    "refund_business_days": 3,
    # 전자상거래법 §15①: ship within 3 business days of payment unless agreed otherwise.
    "ship_by_business_days": 3,
    "reminder_business_days_before": 1,
}
_DAYS_FIELDS = ("staff_decision_business_days", "refund_business_days", "ship_by_business_days")


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """One version of the SLA policy, as the code reads it."""

    version: int
    seller_response_business_days: Mapping[str, int]
    staff_decision_business_days: int
    refund_business_days: int
    ship_by_business_days: int
    reminder_business_days_before: int

    def seller_response_days(self, claim_type: ClaimType) -> int:
        """The seller's business days to respond to a claim of this type."""
        return self.seller_response_business_days[claim_type.value]


def validate_sla(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Problems with a candidate SLA document, by field."""
    problems: dict[str, list[Any]] = {}

    def days(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 60

    unknown = set(document) - set(DEFAULT_SLA)
    for field in sorted(unknown):
        problems[field] = [_l("Unknown field.")]
    response = document.get("seller_response_business_days")
    if not isinstance(response, Mapping):
        problems["seller_response_business_days"] = [_l("Give business days for every claim type.")]
    else:
        for claim_type in SELLER_ANSWERED_TYPES:
            if not days(response.get(claim_type.value)) or response.get(claim_type.value) == 0:
                problems[f"seller_response_business_days.{claim_type.value}"] = [_l("A whole number from 1 to 60.")]
        for extra in sorted(set(response) - {claim_type.value for claim_type in SELLER_ANSWERED_TYPES}):
            problems[f"seller_response_business_days.{extra}"] = [_l("Unknown claim type.")]
    for field in _DAYS_FIELDS:
        if not days(document.get(field)) or document.get(field) == 0:
            problems[field] = [_l("A whole number from 1 to 60.")]
    reminder = document.get("reminder_business_days_before")
    if not days(reminder):
        problems["reminder_business_days_before"] = [_l("A whole number from 0 to 60.")]
    return problems


register_policy(
    SLA,
    DEFAULT_SLA,
    validate_sla,
    title=_l("Deadlines (SLA)"),
    labels={
        **{
            f"seller_response_business_days.{claim_type.value}": _l(
                "Seller's answer, business days: %(type)s", type=TYPE_LABELS[claim_type]
            )
            for claim_type in SELLER_ANSWERED_TYPES
        },
        "staff_decision_business_days": _l("Staff decision on an escalated claim, business days"),
        "refund_business_days": _l("Refund after a seller cancellation, business days (전자상거래법 §18)"),
        "ship_by_business_days": _l("Ship-by when the marketplace gives none, business days after payment"),
        "reminder_business_days_before": _l("Reminder to the seller, business days before its deadline"),
    },
)


def current_sla(session: Session) -> SlaPolicy:
    """The SLA policy in force."""
    policy = current_policy(session, SLA)
    return sla_from_document(policy.version, policy.document)


def sla_from_document(version: int, document: Mapping[str, Any]) -> SlaPolicy:
    """Read a stored document."""
    return SlaPolicy(
        version=version,
        seller_response_business_days=dict(document["seller_response_business_days"]),
        staff_decision_business_days=document["staff_decision_business_days"],
        refund_business_days=document["refund_business_days"],
        ship_by_business_days=document["ship_by_business_days"],
        reminder_business_days_before=document["reminder_business_days_before"],
    )
