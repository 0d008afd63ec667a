"""Write use-cases for compensation: grant (set-based), pay out or fail, deduct from a seller, void.

Each takes ``actor`` and ``now``, writes the ledger, the outbox, the audit records and the signals in the
caller's transaction, flushes, and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim
from marketplace.compensation import ledger
from marketplace.compensation import signals as compensation_signals
from marketplace.compensation.ledger import Account, Posting, debit_credit
from marketplace.compensation.models import (
    OWED_STATUSES,
    Compensation,
    CompensationForm,
    CompensationStatus,
    LedgerTransaction,
    Recovery,
    RecoveryStatus,
)
from marketplace.core.audit import AuditEntry, jsonable, record_audit, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.bulk import insert_new, insert_returning, insert_rows
from marketplace.core.errors import Conflict, ValidationFailed
from marketplace.core.signals import Signal, publish
from marketplace.notifications.models import Audience
from marketplace.notifications.outbox import WEBHOOK_CHANNEL, Outgoing, enqueue

compensations = Compensation.__table__
recoveries = Recovery.__table__


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """A compensation to grant; ``key`` makes it idempotent (the same claim and rule, or incident and order)."""

    key: str
    buyer_id: int
    seller_id: int
    order_id: int
    amount: int
    form: CompensationForm
    rule: str
    policy_version: int | None
    recoverable: bool
    effective_at: datetime
    claim_id: int | None = None
    incident_id: int | None = None
    calculation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Granted:
    """A compensation that was granted now (not one granted before under the same key)."""

    compensation_id: int
    request: GrantRequest


def grant_key(claim_id: int, rule: str) -> str:
    """The idempotency key of a claim's grant under a rule."""
    return f"claim:{claim_id}:{rule}"


def incident_grant_key(incident_id: int, order_id: int) -> str:
    """The idempotency key of an incident's grant for one order."""
    return f"incident:{incident_id}:order:{order_id}"


def webhook_key(compensation_id: int) -> str:
    """The dedupe key of a compensation's payout instruction to the marketplace."""
    return f"compensation.granted:{compensation_id}"


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def grant_compensations(
    session: Session, requests: Iterable[GrantRequest], *, actor: Actor, now: datetime, fresh: bool = False
) -> list[Granted]:
    """Grant compensations set-based: the record, the ledger, the recovery, the payout webhook, audit and signals.

    A key granted before is skipped silently, so a replayed signal or a resumed incident pays nobody twice.
    ``fresh``: the caller holds what the keys name, locked and moved in this transaction (an incident's selected
    orders), so none can have been granted; the rows are COPYed, and a taken key is refused by its unique index.
    """
    unique: dict[str, GrantRequest] = {}
    for request in requests:
        if request.amount > 0:
            unique.setdefault(request.key, request)
    if not unique:
        return []
    rows = [
        {
            "idempotency_key": request.key,
            "buyer_id": request.buyer_id,
            "seller_id": request.seller_id,
            "order_id": request.order_id,
            "claim_id": request.claim_id,
            "incident_id": request.incident_id,
            "amount": request.amount,
            "form": request.form.value,
            "rule": request.rule,
            "policy_version": request.policy_version,
            "calculation": jsonable(request.calculation),
            "recoverable": request.recoverable,
            "status": CompensationStatus.GRANTED.value,
            "effective_at": request.effective_at,
            "granted_at": now,
        }
        for request in unique.values()
    ]
    if fresh:
        ids_made = insert_new(session, compensations, rows)
        created = dict(zip([row["idempotency_key"] for row in rows], ids_made, strict=True))
    else:
        created = dict(
            insert_returning(
                session,
                compensations,
                rows,
                returning=[compensations.c.idempotency_key, compensations.c.id],
                conflict=["idempotency_key"],
            )
        )
    granted = [Granted(created[key], request) for key, request in unique.items() if key in created]
    if not granted:
        return []
    recovered = [grant for grant in granted if grant.request.recoverable]
    insert_rows(
        session,
        recoveries,
        [
            {
                "compensation_id": grant.compensation_id,
                "seller_id": grant.request.seller_id,
                "claim_id": grant.request.claim_id,
                "order_id": grant.request.order_id,
                "amount": grant.request.amount,
                "status": RecoveryStatus.OPEN.value,
                "booked_at": now,
                "deducted_period": None,
                "deducted_at": None,
                "deduction_event_id": None,
            }
            for grant in recovered
        ],
    )
    # Keyed by the compensations just made: no posting of theirs can exist yet.
    ledger.post(session, _grant_postings(granted, recovered), actor=actor, now=now, fresh=True)
    enqueue(session, [_payout_instruction(grant) for grant in granted], now=now)
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="compensation.grant",
                entity_type="compensation",
                entity_id=str(grant.compensation_id),
                before=None,
                after=jsonable(
                    {
                        "status": CompensationStatus.GRANTED.value,
                        "amount": grant.request.amount,
                        "form": grant.request.form.value,
                        "rule": grant.request.rule,
                        "policy_version": grant.request.policy_version,
                        "claim_id": grant.request.claim_id,
                        "incident_id": grant.request.incident_id,
                        "order_id": grant.request.order_id,
                        "recoverable": grant.request.recoverable,
                    }
                ),
                occurred_at=now,
            )
            for grant in granted
        ],
    )
    signals = [
        Signal(compensation_signals.GRANTED, grant.request.effective_at, _granted_data(grant))
        for grant in granted
        if grant.request.incident_id is None
    ]
    signals.extend(
        Signal(
            compensation_signals.RECOVERY_BOOKED,
            grant.request.effective_at,
            {
                "seller_id": grant.request.seller_id,
                "compensation_id": grant.compensation_id,
                "claim_id": grant.request.claim_id,
                "order_id": grant.request.order_id,
                "amount": grant.request.amount,
            },
        )
        for grant in recovered
    )
    if signals:
        publish(session, signals, actor=actor, now=now)
    return granted


def _grant_postings(granted: Sequence[Granted], recovered: Sequence[Granted]) -> list[Posting]:
    postings = [
        Posting(
            key=f"grant:{grant.compensation_id}",
            kind="grant",
            compensation_id=grant.compensation_id,
            effective_at=grant.request.effective_at,
            memo=grant.request.rule,
            legs=debit_credit(
                grant.request.amount,
                Account.COMPENSATION_EXPENSE,
                Account.BUYER_PAYABLE,
                credit_party=("buyer", grant.request.buyer_id),
            ),
        )
        for grant in granted
    ]
    postings.extend(
        Posting(
            key=f"recovery:{grant.compensation_id}",
            kind="recovery",
            compensation_id=grant.compensation_id,
            effective_at=grant.request.effective_at,
            memo=grant.request.rule,
            legs=debit_credit(
                grant.request.amount,
                Account.SELLER_RECEIVABLE,
                Account.COMPENSATION_RECOVERED,
                debit_party=("seller", grant.request.seller_id),
            ),
        )
        for grant in recovered
    )
    return postings


def _granted_data(grant: Granted) -> dict[str, Any]:
    request = grant.request
    return {
        "compensation_id": grant.compensation_id,
        "buyer_id": request.buyer_id,
        "seller_id": request.seller_id,
        "order_id": request.order_id,
        "claim_id": request.claim_id,
        "incident_id": request.incident_id,
        "amount": request.amount,
        "form": request.form.value,
        "rule": request.rule,
        "policy_version": request.policy_version,
        "recoverable": request.recoverable,
    }


def _payout_instruction(grant: Granted) -> Outgoing:
    """The ``compensation.granted`` webhook, in the shape ``outbox.enqueue_webhook`` writes, for a batch at once."""
    key = webhook_key(grant.compensation_id)
    body = {**_granted_data(grant), "effective_at": grant.request.effective_at}
    topic = compensation_signals.GRANTED
    return Outgoing(
        dedupe_key=key,
        topic=topic,
        audience=Audience.MARKETPLACE,
        channel=WEBHOOK_CHANNEL,
        payload={"topic": topic, "id": key, "data": jsonable(body)},
    )


@dataclass(frozen=True, slots=True)
class PayoutReport:
    """The marketplace's word on one payout: completed, or failed with a reason."""

    compensation: Compensation
    completed: bool
    event_id: str
    occurred_at: datetime
    reason: str | None = None


def record_payouts(session: Session, reports: Sequence[PayoutReport], *, actor: Actor, now: datetime) -> None:
    """Apply payout confirmations: a completed payout settles the buyer's payable; a failed one leaves it owed."""
    postings: list[Posting] = []
    audit: list[AuditEntry] = []
    signals: list[Signal] = []
    for report in reports:
        compensation = report.compensation
        before = compensation.snapshot()
        if report.completed:
            compensation.require_status(*OWED_STATUSES)
            compensation.status = CompensationStatus.PAID_OUT
            compensation.paid_out_at = report.occurred_at
            postings.append(
                Posting(
                    key=f"payout:{compensation.id}",
                    kind="payout",
                    compensation_id=compensation.id,
                    effective_at=report.occurred_at,
                    memo=report.event_id,
                    legs=debit_credit(
                        compensation.amount,
                        Account.BUYER_PAYABLE,
                        Account.PLATFORM_CASH,
                        debit_party=("buyer", compensation.buyer_id),
                    ),
                )
            )
        else:
            compensation.require_status(CompensationStatus.GRANTED)
            compensation.status = CompensationStatus.FAILED
            compensation.failed_at = report.occurred_at
            compensation.failure_reason = report.reason
        audit.append(
            AuditEntry(
                actor=actor.ref,
                action="compensation.paid_out" if report.completed else "compensation.payout_failed",
                entity_type="compensation",
                entity_id=str(compensation.id),
                before=jsonable(before),
                after=jsonable({**compensation.snapshot(), "event_id": report.event_id, "reason": report.reason}),
                occurred_at=now,
            )
        )
        signals.append(
            Signal(
                compensation_signals.PAID_OUT if report.completed else compensation_signals.FAILED,
                report.occurred_at,
                {
                    "compensation_id": compensation.id,
                    "buyer_id": compensation.buyer_id,
                    "amount": compensation.amount,
                    "reason": report.reason,
                },
            )
        )
    session.flush()
    ledger.post(session, postings, actor=actor, now=now)
    record_audit_many(session, audit)
    publish(session, signals, actor=actor, now=now)


@dataclass(frozen=True, slots=True)
class DeductionReport:
    """The marketplace deducted a seller's open recoveries from its settlement of ``period``."""

    seller_id: int
    period: str
    amount: int
    event_id: str
    occurred_at: datetime
    recovery_ids: Sequence[int]


def record_deductions(session: Session, reports: Sequence[DeductionReport], *, actor: Actor, now: datetime) -> None:
    """Mark the recoveries deducted and settle the sellers' receivables in the ledger."""
    postings: list[Posting] = []
    audit: list[AuditEntry] = []
    signals: list[Signal] = []
    for report in reports:
        if report.recovery_ids:
            session.execute(
                sa.update(recoveries)
                .where(recoveries.c.id.in_(report.recovery_ids), recoveries.c.status == RecoveryStatus.OPEN.value)
                .values(
                    status=RecoveryStatus.DEDUCTED.value,
                    deducted_period=report.period,
                    deducted_at=report.occurred_at,
                    deduction_event_id=report.event_id,
                )
            )
        if report.amount > 0:
            postings.append(
                Posting(
                    key=f"deduction:{report.event_id}",
                    kind="deduction",
                    effective_at=report.occurred_at,
                    memo=f"{report.period} {report.event_id}"[:200],
                    legs=debit_credit(
                        report.amount,
                        Account.PLATFORM_CASH,
                        Account.SELLER_RECEIVABLE,
                        credit_party=("seller", report.seller_id),
                    ),
                )
            )
        audit.append(
            AuditEntry(
                actor=actor.ref,
                action="seller.deduction_confirmed",
                entity_type="seller",
                entity_id=str(report.seller_id),
                before=None,
                after={
                    "period": report.period,
                    "amount": report.amount,
                    "event_id": report.event_id,
                    "recovery_ids": list(report.recovery_ids),
                },
                occurred_at=now,
            )
        )
        signals.append(
            Signal(
                compensation_signals.DEDUCTION_CONFIRMED,
                report.occurred_at,
                {"seller_id": report.seller_id, "period": report.period, "amount": report.amount},
            )
        )
    ledger.post(session, postings, actor=actor, now=now)
    record_audit_many(session, audit)
    publish(session, signals, actor=actor, now=now)


def void_compensation(
    session: Session, compensation: Compensation, *, reason: str, actor: Actor, now: datetime
) -> Compensation:
    """Staff correct a grant made in error: reversing transactions for the grant and its open recovery."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Say why the compensation is voided."), field="reason")
    recovery = session.scalar(sa.select(Recovery).where(Recovery.compensation_id == compensation.id))
    if recovery is not None and recovery.status is not RecoveryStatus.OPEN:
        raise ValidationFailed(
            _l("The seller was already charged for this compensation; it can no longer be voided."), field="reason"
        )
    before = compensation.snapshot()
    compensation.void(now=now)
    kinds = ["grant", "recovery"] if recovery is not None else ["grant"]
    originals = session.scalars(
        sa.select(LedgerTransaction.id).where(
            LedgerTransaction.compensation_id == compensation.id, LedgerTransaction.kind.in_(kinds)
        )
    ).all()
    for transaction_id in originals:
        ledger.reverse(session, transaction_id, memo=reason, actor=actor, now=now)
    if recovery is not None:
        recovery.status = RecoveryStatus.VOIDED
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="compensation.void",
        entity_type="compensation",
        entity_id=compensation.id,
        before=before,
        after={**compensation.snapshot(), "reason": reason},
        now=now,
    )
    return compensation


def grant_by_staff(
    session: Session,
    claim: Claim,
    *,
    amount: int | None,
    form: CompensationForm | str,
    recoverable: bool,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Granted:
    """A supervisor grants the buyer a compensation the policy did not (goodwill, or a case the rules miss).

    One per claim: a second needs the first voided, so a double submission never pays twice.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Say why the buyer is compensated."), field="reason")
    try:
        form = CompensationForm(form)
    except ValueError:
        raise ValidationFailed(_l("One of: points, coupon, cash."), field="form") from None
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed(_l("Give the amount in won, more than 0."), field="amount")
    if amount > claim.order.amount:
        raise ValidationFailed(_l("The amount cannot exceed the order amount."), field="amount")
    granted = grant_compensations(
        session,
        [
            GrantRequest(
                key=grant_key(claim.id, "staff"),
                buyer_id=claim.buyer_id,
                seller_id=claim.seller_id,
                order_id=claim.order_id,
                claim_id=claim.id,
                amount=amount,
                form=form,
                rule="staff",
                policy_version=None,
                recoverable=recoverable,
                effective_at=now,
                calculation={"method": "staff", "reason": reason, "by": actor.ref},
            )
        ],
        actor=actor,
        now=now,
    )
    if not granted:
        raise Conflict(_l("Staff already compensated this claim; void that compensation first."), field="amount")
    return granted[0]
