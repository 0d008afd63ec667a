"""How the scorecard reads to people: grades, metrics and the reasons for a grade, in Korean and English.

Rates are stored as fractions and grade reasons in percent; both are shown in percent with one decimal
("6.1 %" in English, "6.1%" in Korean).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.scorecard.metrics import ABOVE_STANDARD, BELOW_STANDARD, NOT_ENOUGH_DATA, TOP_RATED
from marketplace.scorecard.models import NO_CATEGORY
from marketplace.scorecard.policy import METRIC_LABELS as SENTENCE_LABELS

GRADE_LABELS = {
    TOP_RATED: _l("Top rated"),
    ABOVE_STANDARD: _l("Above standard"),
    BELOW_STANDARD: _l("Below standard"),
    NOT_ENOUGH_DATA: _l("Not enough data"),
}
# The badge tone of each grade (the CSS classes grade-… and the chart's bar-…).
GRADE_TONES = {TOP_RATED: "ok", ABOVE_STANDARD: "accent", BELOW_STANDARD: "danger", NOT_ENOUGH_DATA: "muted"}

# Column and row headings, one for each metric a listing may be ranked by (queries.RANKABLE).
METRIC_LABELS = {
    "orders": _l("Orders"),
    "defect_rate": _l("Defect rate"),
    "seller_cancel_rate": _l("Seller-cancel rate"),
    "late_shipment_rate": _l("Late-shipment rate"),
    "claim_rate": _l("Claim rate"),
    "response_compliance": _l("Response-deadline compliance"),
    "lead_days_avg": _l("Shipping lead days, average"),
    "lead_days_p90": _l("Shipping lead days, 90th percentile"),
    "refund_days_avg": _l("Refund completion days, average"),
    "overdue_refund_days_avg": _l("Overdue refund days, average"),
    "counterfeit_claims": _l("Counterfeit claims"),
    "active_points": _l("Active points"),
}
# Fractions of the window's orders (or of the claims due, for compliance), shown in percent.
RATES = frozenset({"defect_rate", "seller_cancel_rate", "late_shipment_rate", "claim_rate", "response_compliance"})
# Averages of business days, shown with one decimal.
DAYS = frozenset({"lead_days_avg", "refund_days_avg", "overdue_refund_days_avg"})
# The counters behind each rate: (what was counted, out of what), so that a rate can read "3 of 120".
RATE_COUNTS = {
    "defect_rate": ("defects", "orders"),
    "seller_cancel_rate": ("seller_cancels", "orders"),
    "late_shipment_rate": ("late_shipments", "orders"),
    "claim_rate": ("claimed", "orders"),
    "response_compliance": ("responses_met", "responses_due"),
}
# What a lowest-first ranking by the metric puts on top is the worst (for every other metric, highest first).
LOW_IS_WORSE = frozenset({"response_compliance"})


def grade_label(grade: str | None) -> str:
    """A grade's name; before any snapshot, "no scorecard yet"."""
    if grade is None:
        return _("No scorecard yet")
    label = GRADE_LABELS.get(grade)
    return str(label) if label is not None else grade


def grade_tone(grade: str | None) -> str:
    """The tone a grade is shown in."""
    return GRADE_TONES.get(grade or NOT_ENOUGH_DATA, "muted")


def metric_label(metric: str) -> str:
    """A metric's heading."""
    label = METRIC_LABELS.get(metric)
    return str(label) if label is not None else metric


def category_label(category: str) -> str:
    """A category as the marketplace names it; the orders that name none are "uncategorised"."""
    return _("Uncategorised") if category == NO_CATEGORY else category


def percent(value: float | None, *, decimals: bool = True) -> str:
    """``value`` (already in percent) as "6.1 %" / "6.1%"; limits drop a trailing ".0" (``decimals=False``)."""
    if value is None:
        return "—"
    number = format_decimal(round(value, 1), format="#,##0.0") if decimals else format_decimal(value)
    return _("%(number)s %%", number=number)


def metric_value(metric: str, value: Any) -> str:
    """A metric's value as the tables show it: rates in percent, day averages with one decimal, counts whole."""
    if value is None:
        return "—"
    if metric in RATES:
        return percent(value * 100)
    if metric in DAYS:
        return str(format_decimal(round(value, 1), format="#,##0.0"))
    return str(format_decimal(value))


def rate_counts(metric: str, counts: Mapping[str, Any] | None) -> str:
    """What a rate was computed from ("3 of 120"), or "" for a metric that is no rate or a rate of nothing."""
    pair = RATE_COUNTS.get(metric)
    if pair is None or not counts or not counts.get(pair[1]):
        return ""
    return _(
        "%(part)s of %(whole)s", part=format_decimal(counts.get(pair[0], 0)), whole=format_decimal(counts[pair[1]])
    )


def reason_text(reason: Mapping[str, Any]) -> str:
    """One reason for a grade: "late-shipment rate 6.1 % > 4 % (30 days)", or the orders a grade lacked."""
    metric = str(reason.get("metric", ""))
    days = int(reason.get("window_days") or 0)
    if metric == "orders":
        count = int(reason.get("value") or 0)
        return ngettext(
            "%(num)d order in %(days)d days, fewer than the %(needed)d a grade needs",
            "%(num)d orders in %(days)d days, fewer than the %(needed)d a grade needs",
            count,
            days=days,
            needed=int(reason.get("limit") or 0),
        )
    label = SENTENCE_LABELS.get(metric)
    return _(
        "%(metric)s %(value)s > %(limit)s (%(days)d days)",
        metric=str(label) if label is not None else metric,
        value=percent(reason.get("value")),
        limit=percent(reason.get("limit"), decimals=False),
        days=days,
    )


def reasons_text(reasons: list[Mapping[str, Any]] | None) -> str:
    """Every reason for a grade, in one line."""
    return "; ".join(reason_text(reason) for reason in reasons or [])
