"""How compensation reads to people: the rule that produced it and how its amount was computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.claims.labels import TYPE_LABELS, label
from marketplace.compensation.models import STATUS_LABELS, CompensationForm
from marketplace.compensation.policy import OUTCOME_LABELS
from marketplace.core.money import format_won

FORM_LABELS = {
    CompensationForm.POINTS: _l("points"),
    CompensationForm.COUPON: _l("coupon"),
    CompensationForm.CASH: _l("cash"),
}


def rule_label(rule: str) -> str:
    """Why the platform paid: "Seller cancelled the order: seller silent past its deadline", "granted by staff"."""
    if rule == "staff":
        return _("granted by staff")
    if rule == "incident":
        return _("platform incident")
    claim_type, _dot, outcome = rule.partition(".")
    return f"{label(TYPE_LABELS, claim_type)}: {label(OUTCOME_LABELS, outcome)}"


def calculation_text(calculation: Mapping[str, Any], locale: str) -> str:
    """The arithmetic behind an amount, as staff and the buyer read it."""
    method = calculation.get("method")

    def won(value: Any) -> str:
        return format_won(int(value), locale) if value is not None else "—"

    if method == "percent_of_order":
        text = _(
            "%(percent)s%% of the order (%(base)s)",
            percent=calculation.get("percent"),
            base=won(calculation.get("base")),
        )
    elif method == "decision_amount":
        text = _(
            "%(percent)s%% of the refund staff decided (%(base)s)",
            percent=calculation.get("percent"),
            base=won(calculation.get("base")),
        )
    elif method == "fixed":
        return _("a fixed %(amount)s", amount=won(calculation.get("amount")))
    elif method == "delay_interest":
        return _(
            "%(rate)s%% a year on %(base)s refunded late, for %(days)s days (%(first)s to %(last)s), 전자상거래법 §18②",
            rate=calculation.get("annual_percent"),
            base=won(calculation.get("base")),
            days=calculation.get("days"),
            first=calculation.get("first_day"),
            last=calculation.get("last_day"),
        )
    elif method == "staff":
        return str(calculation.get("reason", ""))
    else:
        return ""
    limits = []
    if calculation.get("minimum") is not None:
        limits.append(_("at least %(amount)s", amount=won(calculation["minimum"])))
    if calculation.get("cap") is not None:
        limits.append(_("at most %(amount)s", amount=won(calculation["cap"])))
    return f"{text} ({', '.join(limits)})" if limits else text


def status_label(status: Any) -> str:
    """granted, paid out, payout failed, voided."""
    return label(STATUS_LABELS, status)


def form_label(form: Any) -> str:
    """points, coupon, cash."""
    return label(FORM_LABELS, form)
