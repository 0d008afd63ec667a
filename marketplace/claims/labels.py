"""How claims read to people: every type, state, remedy, decision and timeline step in Korean and English."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from marketplace.claims.models import (
    ClaimStatus,
    ClaimType,
    Decision,
    EscalationReason,
    Queue,
    RefundStatus,
    Remedy,
)

TYPE_LABELS = {
    ClaimType.SELLER_CANCELLATION: _l("Seller cancelled the order"),
    ClaimType.LATE_SHIPMENT: _l("Not shipped on time"),
    ClaimType.NON_DELIVERY: _l("Never arrived"),
    ClaimType.DAMAGED: _l("Arrived damaged"),
    ClaimType.WRONG_ITEM: _l("Wrong item"),
    ClaimType.NOT_AS_DESCRIBED: _l("Not as described"),
    ClaimType.COUNTERFEIT: _l("Counterfeit"),
    ClaimType.PLATFORM_INCIDENT: _l("Platform incident"),
}

# Short state names for lists and badges; STATUS_LABELS reads inside a sentence.
STATUS_BADGES = {
    ClaimStatus.AWAITING_SELLER: _l("Awaiting seller"),
    ClaimStatus.SELLER_PROPOSED: _l("Proposal to answer"),
    ClaimStatus.ESCALATED: _l("With staff"),
    ClaimStatus.RESOLVED: _l("Resolved"),
    ClaimStatus.CLOSED: _l("Closed"),
    ClaimStatus.WITHDRAWN: _l("Withdrawn"),
}

REMEDY_LABELS = {
    Remedy.SHIP_NOW: _l("Ship now"),
    Remedy.REPLACE: _l("Replace the item"),
    Remedy.REFUND: _l("Full refund"),
    Remedy.PARTIAL_REFUND: _l("Partial refund"),
    Remedy.EXPLANATION: _l("Explanation with evidence"),
}

DECISION_LABELS = {
    Decision.FOR_BUYER: _l("For the buyer"),
    Decision.FOR_SELLER: _l("For the seller"),
    Decision.PARTIAL: _l("Partly for the buyer"),
}

ESCALATION_LABELS = {
    EscalationReason.SELLER_SILENT: _l("the seller did not answer in time"),
    EscalationReason.BUYER_REJECTED: _l("the buyer rejected the proposal"),
    EscalationReason.STAFF: _l("staff took the claim"),
}

QUEUE_LABELS = {Queue.STAFF: _l("Staff queue"), Queue.SUPERVISOR: _l("Supervisors' queue")}

REFUND_LABELS = {
    RefundStatus.PENDING: _l("Refund pending"),
    RefundStatus.MET: _l("Refunded in time"),
    RefundStatus.OVERDUE: _l("Refund overdue"),
    RefundStatus.LATE: _l("Refunded late"),
}

TIMELINE_LABELS = {
    "opened": _l("Claim opened"),
    "proposed": _l("Seller proposed a remedy"),
    "accepted": _l("Buyer accepted the proposal"),
    "rejected": _l("Buyer rejected the proposal"),
    "escalated": _l("Escalated to staff"),
    "supervisor_queued": _l("Sent to the supervisors' queue"),
    "decided": _l("Staff decided"),
    "withdrawn": _l("Buyer withdrew the claim"),
    "closed": _l("Closed"),
    "refunded": _l("Refund reported"),
    "refund_overdue": _l("Refund overdue"),
    "evidence": _l("Files attached"),
    "note": _l("Internal note"),
    "assigned": _l("Assigned"),
}

PARTY_LABELS = {
    "buyer": _l("Buyer"),
    "seller": _l("Seller"),
    "staff": _l("Staff"),
    "marketplace": _l("Marketplace"),
    "system": _l("Platform (automatic)"),
}


def label(mapping: dict, value: object) -> str:
    """The label of ``value`` in ``mapping`` (an enum member or its value); the value itself when unknown."""
    if value is None:
        return ""
    for key, text in mapping.items():
        if key == value:
            return str(text)
    return str(value)
