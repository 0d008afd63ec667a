"""Violations recorded from what claims report (the ``claim.*`` signals), set-based over each list of signals.

Only the claim types on the allow-list below can make a violation: a claim type added later (a platform-fault
``incident``) never penalises a seller unless it is added here on purpose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.core.auth import Actor
from marketplace.core.signals import Signal, subscribe
from marketplace.sanctions.models import ViolationKind
from marketplace.sanctions.operations import ViolationInput, record_violations

# The claim types that are the seller's fault; anything else (platform faults, types added later) is not.
SELLER_FAULT_CLAIM_TYPES = frozenset(
    {
        "seller_cancellation",
        "late_shipment",
        "non_delivery",
        "damaged",
        "wrong_item",
        "not_as_described",
        "counterfeit",
    }
)
# Claims the platform opens for a breach that is a violation in itself.
OPENED_KINDS = {
    "seller_cancellation": ViolationKind.SELLER_CANCELLATION,  # Naver 품절취소
    "late_shipment": ViolationKind.LATE_SHIPMENT,  # Naver 발송지연
}


def _input(signal: Signal, kind: ViolationKind, **extra: object) -> ViolationInput:
    data = signal.data
    return ViolationInput(
        seller_id=data["seller_id"],
        kind=kind,
        occurred_at=signal.at,
        claim_id=data["claim_id"],
        order_id=data["order_id"],
        **extra,  # type: ignore[arg-type]
    )


@subscribe(claim_signals.OPENED)
def record_cancellations_and_late_shipments(
    session: Session, signals: list[Signal], *, actor: Actor, now: datetime
) -> None:
    """A seller cancellation or a late shipment is a violation from the moment of the breach."""
    inputs = [
        _input(signal, OPENED_KINDS[signal.data["claim_type"]], ship_by=signal.data.get("ship_by"))
        for signal in signals
        if signal.data["claim_type"] in OPENED_KINDS
    ]
    record_violations(session, inputs, actor=actor, now=now)


@subscribe(claim_signals.ESCALATED)
def record_missed_responses(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """A seller silent past its response deadline: a violation at the missed deadline."""
    inputs = [
        _input(signal, ViolationKind.RESPONSE_MISSED)
        for signal in signals
        if signal.data.get("reason") == "seller_silent" and signal.data["claim_type"] in SELLER_FAULT_CLAIM_TYPES
    ]
    record_violations(session, inputs, actor=actor, now=now)


@subscribe(claim_signals.REFUND_OVERDUE)
def record_overdue_refunds(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """A statutory refund still missing at its deadline (전자상거래법 §18): a violation at the deadline."""
    inputs = [
        _input(signal, ViolationKind.REFUND_OVERDUE)
        for signal in signals
        if signal.data["claim_type"] in SELLER_FAULT_CLAIM_TYPES
    ]
    record_violations(session, inputs, actor=actor, now=now)


@subscribe(claim_signals.DECIDED)
def record_counterfeits(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Staff confirmed a counterfeit (decided for the buyer): a violation that goes straight to restricted."""
    inputs = [
        _input(signal, ViolationKind.COUNTERFEIT)
        for signal in signals
        if signal.data["claim_type"] == "counterfeit" and signal.data.get("decision") == "for_buyer"
    ]
    record_violations(session, inputs, actor=actor, now=now)
