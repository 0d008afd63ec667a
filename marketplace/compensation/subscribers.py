"""Compensation reacts to claims: the buyer is paid at once, in the transaction that escalates or decides the claim.

Each handler is set-based over its signal list (a sweep publishes up to 1,000): one policy read, one read of the
cash already granted on the claims, then ``grant_compensations`` writes everything in a few batched statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.compensation.models import Compensation, CompensationForm, CompensationStatus
from marketplace.compensation.operations import GrantRequest, grant_compensations, grant_key
from marketplace.compensation.policy import CompensationPolicy, Rule, current_compensation_policy
from marketplace.core.auth import Actor
from marketplace.core.queries import business_calendar
from marketplace.core.signals import Signal, subscribe

compensations = Compensation.__table__


@subscribe(claim_signals.ESCALATED)
def compensate_silent_sellers(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """A seller let the response deadline pass: the buyer gets the ``<type>.seller_silent`` rule's compensation."""
    silent = [signal for signal in signals if signal.data.get("reason") == "seller_silent"]
    if silent:
        policy = current_compensation_policy(session)
        _grant(session, policy, [(signal, "seller_silent", None) for signal in silent], actor=actor, now=now)


@subscribe(claim_signals.DECIDED)
def compensate_decisions(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """Staff decided for the buyer (or partly): the buyer gets the refund the decision names, per the policy."""
    decided = [signal for signal in signals if signal.data.get("decision") in {"for_buyer", "partial"}]
    if decided:
        policy = current_compensation_policy(session)
        _grant(
            session,
            policy,
            [(signal, signal.data["decision"], signal.data.get("amount")) for signal in decided],
            actor=actor,
            now=now,
        )


@subscribe(claim_signals.REFUNDED)
def compensate_late_refunds(session: Session, signals: list[Signal], *, actor: Actor, now: datetime) -> None:
    """A statutory refund came late: delay interest on the amount refunded (전자상거래법 §18②, 지연배상금)."""
    late = [signal for signal in signals if signal.data.get("refund_status") == "late"]
    if not late:
        return
    policy = current_compensation_policy(session)
    calendar = business_calendar(session)
    requests = []
    for signal in late:
        data = signal.data
        rule = policy.rule(data["claim_type"], "refund_late")
        refunded = data.get("refunded_amount") or 0
        if rule is None or refunded <= 0 or data.get("refund_due_at") is None:
            continue
        amount, calculation = rule.delay_interest(
            refunded, calendar.local_date(data["refund_due_at"]), calendar.local_date(data["refunded_at"])
        )
        requests.append(_request(signal, rule, amount, calculation))
    grant_compensations(session, requests, actor=actor, now=now)


def _grant(
    session: Session,
    policy: CompensationPolicy,
    cases: Iterable[tuple[Signal, str, int | None]],
    *,
    actor: Actor,
    now: datetime,
) -> None:
    cases = list(cases)
    cash = _cash_granted(session, {signal.data["claim_id"] for signal, _outcome, _amount in cases})
    requests = []
    for signal, outcome, decision_amount in cases:
        rule = policy.rule(signal.data["claim_type"], outcome)
        if rule is None:
            continue
        amount, calculation = rule.compute(order_amount=signal.data["order_amount"], decision_amount=decision_amount)
        if rule.tops_up:
            already = cash.get(signal.data["claim_id"], 0)
            if already:
                calculation = {**calculation, "computed": amount, "cash_already_granted": already}
                amount = max(amount - already, 0)
            cash[signal.data["claim_id"]] = already + amount
        requests.append(_request(signal, rule, amount, calculation))
    grant_compensations(session, requests, actor=actor, now=now)


def _request(signal: Signal, rule: Rule, amount: int, calculation: dict) -> GrantRequest:
    data = signal.data
    return GrantRequest(
        key=grant_key(data["claim_id"], rule.key),
        buyer_id=data["buyer_id"],
        seller_id=data["seller_id"],
        order_id=data["order_id"],
        claim_id=data["claim_id"],
        amount=amount,
        form=rule.form,
        rule=rule.key,
        policy_version=rule.version,
        recoverable=rule.recoverable,
        effective_at=signal.at,
        calculation=calculation,
    )


def _cash_granted(session: Session, claim_ids: set[int]) -> dict[int, int]:
    """Cash already granted as refunds on these claims (delay interest and voided grants excluded)."""
    rows = session.execute(
        sa.select(compensations.c.claim_id, sa.func.sum(compensations.c.amount))
        .where(
            compensations.c.claim_id.in_(claim_ids),
            compensations.c.form == CompensationForm.CASH.value,
            compensations.c.status != CompensationStatus.VOIDED.value,
            compensations.c.rule.not_like("%.refund_late"),
        )
        .group_by(compensations.c.claim_id)
    )
    return {claim_id: int(total) for claim_id, total in rows}
