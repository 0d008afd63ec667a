"""The grade policy: published limits per metric and window, and the fewest orders a grade needs.

Defaults follow the anchors: eBay's defect-rate levels (≤ 0.5 % top rated, ≤ 2 % above standard), Amazon's
pre-fulfilment cancel rate (< 2.5 %) and late-shipment rate (< 4 %); a seller with fewer orders than the minimum in
its window gets "not enough data", as both do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.policies import current_policy, register_policy
from marketplace.scorecard.models import WINDOWS

SCORECARD = "scorecard"

# The metrics a grade may limit: each is a rate in percent of the window's orders.
GRADED_METRICS = ("defect_rate", "seller_cancel_rate", "late_shipment_rate")

DEFAULT_SCORECARD_POLICY: dict[str, Any] = {
    "min_orders": 10,
    "min_orders_window_days": 90,
    "limits": {
        "defect_rate": {"window_days": 90, "top_rated_percent": 0.5, "standard_percent": 2.0},
        "seller_cancel_rate": {"window_days": 30, "top_rated_percent": 1.0, "standard_percent": 2.5},
        "late_shipment_rate": {"window_days": 30, "top_rated_percent": 2.0, "standard_percent": 4.0},
    },
}


@dataclass(frozen=True, slots=True)
class Limit:
    """The limits one metric must keep within over its window for each grade (percent)."""

    metric: str
    window_days: int
    top_rated_percent: float
    standard_percent: float


@dataclass(frozen=True, slots=True)
class GradePolicy:
    """A published version of the grade policy, typed."""

    version: int
    min_orders: int
    min_orders_window_days: int
    limits: tuple[Limit, ...]

    @classmethod
    def from_document(cls, version: int, document: Mapping[str, Any]) -> GradePolicy:
        limits = tuple(
            Limit(
                metric=metric,
                window_days=int(rule["window_days"]),
                top_rated_percent=float(rule["top_rated_percent"]),
                standard_percent=float(rule["standard_percent"]),
            )
            for metric, rule in document["limits"].items()
            if rule is not None
        )
        return cls(
            version=version,
            min_orders=int(document["min_orders"]),
            min_orders_window_days=int(document["min_orders_window_days"]),
            limits=limits,
        )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100


def validate_scorecard_policy(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Problems with a candidate grade policy, by field path."""
    problems: dict[str, list[Any]] = {}
    minimum = document.get("min_orders")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 100_000:
        problems["min_orders"] = [_l("A whole number from 1 to 100,000.")]
    if document.get("min_orders_window_days") not in WINDOWS:
        problems["min_orders_window_days"] = [_l("One of 7, 30 or 90 days.")]
    limits = document.get("limits")
    if not isinstance(limits, Mapping):
        return {**problems, "limits": [_l("An object of limits keyed by metric.")]}
    for metric in sorted(set(limits) - set(GRADED_METRICS)):
        problems[f"limits.{metric}"] = [_l("Unknown metric.")]
    for metric in GRADED_METRICS:
        rule = limits.get(metric)
        if rule is None:
            continue
        if not isinstance(rule, Mapping):
            problems[f"limits.{metric}"] = [_l("An object with window_days, top_rated_percent, standard_percent.")]
            continue
        if rule.get("window_days") not in WINDOWS:
            problems[f"limits.{metric}.window_days"] = [_l("One of 7, 30 or 90 days.")]
        top, standard = rule.get("top_rated_percent"), rule.get("standard_percent")
        for field, value in (("top_rated_percent", top), ("standard_percent", standard)):
            if not _number(value):
                problems[f"limits.{metric}.{field}"] = [_l("A percentage from 0 to 100.")]
        if _number(top) and _number(standard) and top > standard:
            problems[f"limits.{metric}.top_rated_percent"] = [
                _l("The top-rated limit cannot be above the standard one.")
            ]
    return problems


METRIC_LABELS = {
    "defect_rate": _l("defect rate"),
    "seller_cancel_rate": _l("seller-cancel rate"),
    "late_shipment_rate": _l("late-shipment rate"),
}


def _labels() -> dict[str, Any]:
    labels: dict[str, Any] = {
        "min_orders": _l("Fewest orders a grade needs"),
        "min_orders_window_days": _l("Window the fewest orders are counted over, days (7, 30 or 90)"),
    }
    for metric, label in METRIC_LABELS.items():
        labels[f"limits.{metric}.window_days"] = _l("%(metric)s: window, days", metric=label)
        labels[f"limits.{metric}.top_rated_percent"] = _l("%(metric)s: top rated at most, %%", metric=label)
        labels[f"limits.{metric}.standard_percent"] = _l("%(metric)s: standard at most, %%", metric=label)
    return labels


register_policy(
    SCORECARD,
    DEFAULT_SCORECARD_POLICY,
    validate_scorecard_policy,
    title=_l("Seller scorecard grades"),
    labels=_labels(),
)


def current_grade_policy(session: Session) -> GradePolicy:
    """The grade policy in force."""
    policy = current_policy(session, SCORECARD)
    return GradePolicy.from_document(policy.version, policy.document)
