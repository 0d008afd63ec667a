"""The compensation policy: what the platform pays a buyer for each claim type and outcome (DESIGN.md §5).

A rule is found by ``<claim type>.<outcome>``; the outcomes are ``seller_silent`` (the seller let the response
deadline pass and the claim escalated), ``for_buyer`` and ``partial`` (staff decided), and ``refund_late`` (the
statutory refund of a seller cancellation came after its deadline). A missing rule pays nothing. A rule gives
the form (points, coupon, cash), the method, and whether the amount is recovered from the seller:

- ``percent_of_order``: ``percent`` of the order amount, rounded down, raised to ``minimum``, limited to ``cap``;
- ``decision_amount``: the refund the staff decision names (``percent`` of it, 100 by default);
- ``fixed``: ``amount`` won;
- ``delay_interest``: ``annual_percent`` a year on the amount refunded late, for each calendar day of delay
  (전자상거래법 §18②, 지연배상금: from the day after the refund deadline to the day of the refund, in Asia/Seoul
  dates), rounded down to the won.

Cash paid on one claim tops up rather than adds up: a cash rule (other than delay interest, a separate statutory
debt) pays only what its amount exceeds the cash already granted on the same claim, so a silent seller's refund
followed by a decision for the buyer never refunds the order twice. Points and coupons are compensation for
the trouble, not a refund, and are paid independently.

Defaults where DESIGN.md §5 is silent (documented in the README): a silent seller of a late shipment owes 3 %
(min ₩1,000, max ₩10,000) as points — the goods may still come; a silent seller of a non-delivery, damaged, wrong
or not-as-described item owes the order's full refund in cash (the A-to-z / eBay default ruling); every decision
for the buyer or partly for the buyer pays the decision's amount in cash. Everything is recovered from the seller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.claims.labels import TYPE_LABELS
from marketplace.claims.models import SELLER_ANSWERED_TYPES, ClaimType
from marketplace.compensation.models import CompensationForm
from marketplace.core.money import annual_interest, percent_of
from marketplace.core.policies import current_policy, register_policy

COMPENSATION = "compensation"

OUTCOMES = ("seller_silent", "for_buyer", "partial", "refund_late")
METHODS = ("percent_of_order", "decision_amount", "fixed", "delay_interest")
_CASH_REFUND = {"form": "cash", "method": "percent_of_order", "percent": "100", "recoverable": True}
_DECISION = {"form": "cash", "method": "decision_amount", "percent": "100", "recoverable": True}


def _default_rules() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {
        # Lotte Homeshopping: 5 % of the order, min ₩3,000, max ₩20,000, as points; recovered from the seller.
        "seller_cancellation.seller_silent": {
            "form": "points",
            "method": "percent_of_order",
            "percent": "5",
            "minimum": 3000,
            "cap": 20000,
            "recoverable": True,
        },
        # 전자상거래법 §18②: 15 % a year on the refund, per calendar day of delay.
        "seller_cancellation.refund_late": {
            "form": "cash",
            "method": "delay_interest",
            "annual_percent": "15",
            "recoverable": True,
        },
        "late_shipment.seller_silent": {
            "form": "points",
            "method": "percent_of_order",
            "percent": "3",
            "minimum": 1000,
            "cap": 10000,
            "recoverable": True,
        },
        # WeMakePrice: a counterfeit is refunded at 110 % of the price.
        "counterfeit.seller_silent": {**_CASH_REFUND, "percent": "110"},
        "counterfeit.for_buyer": {**_CASH_REFUND, "percent": "110"},
        "counterfeit.partial": dict(_DECISION),
    }
    for claim_type in (ClaimType.NON_DELIVERY, ClaimType.DAMAGED, ClaimType.WRONG_ITEM, ClaimType.NOT_AS_DESCRIBED):
        rules[f"{claim_type.value}.seller_silent"] = dict(_CASH_REFUND)
    for claim_type in SELLER_ANSWERED_TYPES:
        rules.setdefault(f"{claim_type.value}.for_buyer", dict(_DECISION))
        rules.setdefault(f"{claim_type.value}.partial", dict(_DECISION))
    return dict(sorted(rules.items()))


DEFAULT_COMPENSATION: dict[str, Any] = {"rules": _default_rules()}

_RULE_FIELDS = {"form", "method", "percent", "minimum", "cap", "amount", "annual_percent", "recoverable"}
_MAX_WON = 1_000_000_000


def _decimal(value: Any, *, maximum: int) -> Decimal | None:
    """A percentage given as a string or int (never a float), 0 to ``maximum``, at most 2 decimal places."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > maximum or number.as_tuple().exponent < -2:
        return None
    return number


def _won(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_WON


def validate_rule(rule: Any, prefix: str, *, percent_required: bool = True) -> dict[str, list[Any]]:
    """Problems with one rule, by dotted field name."""
    problems: dict[str, list[Any]] = {}
    if not isinstance(rule, Mapping):
        return {prefix: [_l("A rule is an object with form, method and its amounts.")]}
    for field in sorted(set(rule) - _RULE_FIELDS):
        problems[f"{prefix}.{field}"] = [_l("Unknown field.")]
    if rule.get("form") not in {form.value for form in CompensationForm}:
        problems[f"{prefix}.form"] = [_l("One of: points, coupon, cash.")]
    method = rule.get("method")
    if method not in METHODS:
        problems[f"{prefix}.method"] = [_l("One of: %(values)s.", values=", ".join(METHODS))]
    if not isinstance(rule.get("recoverable"), bool):
        problems[f"{prefix}.recoverable"] = [_l("true or false.")]
    if method in {"percent_of_order", "decision_amount"}:
        if (percent_required or "percent" in rule) and _decimal(rule.get("percent"), maximum=1000) is None:
            problems[f"{prefix}.percent"] = [_l("A percentage from 0 to 1000 as a string, at most 2 decimals.")]
        for field in ("minimum", "cap"):
            if field in rule and rule[field] is not None and not _won(rule[field]):
                problems[f"{prefix}.{field}"] = [_l("Whole won from 0 to 1,000,000,000.")]
        minimum, cap = rule.get("minimum"), rule.get("cap")
        if _won(minimum) and _won(cap) and minimum > cap:
            problems[f"{prefix}.minimum"] = [_l("The minimum cannot exceed the cap.")]
    if method == "fixed" and not (_won(rule.get("amount")) and rule.get("amount") > 0):
        problems[f"{prefix}.amount"] = [_l("Whole won from 1 to 1,000,000,000.")]
    if method == "delay_interest" and _decimal(rule.get("annual_percent"), maximum=100) is None:
        problems[f"{prefix}.annual_percent"] = [_l("A yearly percentage from 0 to 100 as a string.")]
    return problems


def validate_compensation(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Problems with a candidate compensation policy document, by field."""
    problems: dict[str, list[Any]] = {}
    for field in sorted(set(document) - {"rules"}):
        problems[field] = [_l("Unknown field.")]
    rules = document.get("rules")
    if not isinstance(rules, Mapping):
        return {**problems, "rules": [_l("An object of rules keyed by '<claim type>.<outcome>'.")]}
    known = {f"{claim_type.value}.{outcome}" for claim_type in SELLER_ANSWERED_TYPES for outcome in OUTCOMES}
    for key, rule in rules.items():
        if key not in known:
            problems[f"rules.{key}"] = [
                _l(
                    "Unknown rule: '<claim type>.<outcome>' with outcome one of %(outcomes)s.",
                    outcomes=", ".join(OUTCOMES),
                )
            ]
        elif rule is not None:
            problems.update(validate_rule(rule, f"rules.{key}"))
    return problems


OUTCOME_LABELS = {
    "seller_silent": _l("seller silent past its deadline"),
    "for_buyer": _l("decided for the buyer"),
    "partial": _l("decided partly for the buyer"),
    "refund_late": _l("refund made late"),
}
_FIELD_LABELS = {
    "form": _l("form (points, coupon, cash)"),
    "method": _l("method"),
    "percent": _l("percent"),
    "minimum": _l("minimum (won)"),
    "cap": _l("cap (won)"),
    "amount": _l("amount (won)"),
    "annual_percent": _l("yearly interest, percent"),
    "recoverable": _l("recovered from the seller"),
}


def _labels() -> dict[str, Any]:
    labels: dict[str, Any] = {}
    for claim_type in SELLER_ANSWERED_TYPES:
        for outcome, outcome_label in OUTCOME_LABELS.items():
            for field, field_label in _FIELD_LABELS.items():
                labels[f"rules.{claim_type.value}.{outcome}.{field}"] = _l(
                    "%(type)s, %(outcome)s: %(field)s",
                    type=TYPE_LABELS[claim_type],
                    outcome=outcome_label,
                    field=field_label,
                )
    return labels


register_policy(COMPENSATION, DEFAULT_COMPENSATION, validate_compensation, title=_l("Compensation"), labels=_labels())


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of one policy version, as the code reads it."""

    key: str
    version: int
    form: CompensationForm
    method: str
    recoverable: bool
    percent: Decimal | None = None
    minimum: int | None = None
    cap: int | None = None
    amount: int | None = None
    annual_percent: Decimal | None = None

    @property
    def tops_up(self) -> bool:
        """Cash paid on the same claim counts against this rule's amount (delay interest is a debt of its own)."""
        return self.form is CompensationForm.CASH and self.method != "delay_interest"

    def compute(self, *, order_amount: int, decision_amount: int | None = None) -> tuple[int, dict[str, Any]]:
        """The amount this rule gives, and how it was computed."""
        if self.method == "fixed":
            return self.amount or 0, {"method": "fixed", "amount": self.amount}
        base = decision_amount if self.method == "decision_amount" else order_amount
        percent = self.percent if self.percent is not None else Decimal(100)
        amount = percent_of(base or 0, percent, minimum=self.minimum, cap=self.cap)
        return amount, {
            "method": self.method,
            "base": base or 0,
            "percent": str(percent),
            "minimum": self.minimum,
            "cap": self.cap,
        }

    def delay_interest(self, refunded_amount: int, deadline_day: date, refund_day: date) -> tuple[int, dict[str, Any]]:
        """지연배상금: ``annual_percent`` a year on the late refund for each calendar day after the deadline's day."""
        days = max((refund_day - deadline_day).days, 0)
        amount = annual_interest(refunded_amount, self.annual_percent or 0, days)
        return amount, {
            "method": "delay_interest",
            "base": refunded_amount,
            "annual_percent": str(self.annual_percent),
            "days": days,
            # 지연기간: from the day after the refund deadline to the day of the refund (Asia/Seoul dates).
            "first_day": date.fromordinal(deadline_day.toordinal() + 1).isoformat(),
            "last_day": refund_day.isoformat(),
            "days_in_year": 365,
        }


@dataclass(frozen=True, slots=True)
class CompensationPolicy:
    """One version of the compensation policy."""

    version: int
    rules: Mapping[str, Rule]

    def rule(self, claim_type: str, outcome: str) -> Rule | None:
        """The rule for a claim type and outcome, or None when it pays nothing."""
        return self.rules.get(f"{claim_type}.{outcome}")


def rule_from_document(key: str, version: int, document: Mapping[str, Any]) -> Rule:
    """Read one stored rule."""

    def decimal(name: str) -> Decimal | None:
        return Decimal(str(document[name])) if document.get(name) is not None else None

    return Rule(
        key=key,
        version=version,
        form=CompensationForm(document["form"]),
        method=document["method"],
        recoverable=bool(document["recoverable"]),
        percent=decimal("percent"),
        minimum=document.get("minimum"),
        cap=document.get("cap"),
        amount=document.get("amount"),
        annual_percent=decimal("annual_percent"),
    )


def current_compensation_policy(session: Session) -> CompensationPolicy:
    """The compensation policy in force."""
    policy = current_policy(session, COMPENSATION)
    rules = policy.document.get("rules", {})
    return CompensationPolicy(
        version=policy.version,
        rules={key: rule_from_document(key, policy.version, rule) for key, rule in rules.items() if rule is not None},
    )
