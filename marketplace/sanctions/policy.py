"""The sanction policy: points per violation, the rolling window, the thresholds, stage durations, appeal days.

Defaults from DESIGN.md §5 (Naver SmartStore's 판매관리 페널티): 2 points for a seller cancellation (품절취소),
1 for a late shipment and 3 once it is 4 or more business days late (발송지연), 2 for a missed response deadline,
1 for an overdue refund, 10 for a confirmed counterfeit (straight to selling restricted); a sanction when a seller
has >= 10 points in 30 days and points ÷ orders >= 40 %; a warning stops new listings for 7 days; a restriction
stops selling until a supervisor's review.

The stage rules (``marketplace.sanctions.rules``) read it like this. A violation that leaves the seller at or
above ``sanction_threshold`` moves it ONE stage up (none → notice → warning → restricted → termination review).
A seller with no stage is given a notice earlier, as a heads-up without any restriction, once it reaches
``notice_threshold`` (default 5 points at 40 %): so the usual path is notice at 5 points, warning at 10, and
restricted at the next violation while still at or above 10. A kind in ``jump_to_stage`` sends the seller straight
to that stage. ``stage_days`` says how long each stage's sanction lasts (null: until a supervisor reviews it).

A published version applies from then on, like the SLA policy: a violation keeps the points and the expiry it was
recorded with, a sanction its end and the threshold that imposed it (an appeal is judged against that version); new
violations and evaluations use the new version. ``marketplace policy simulate`` shows what a version would have
done over the last N days before it is published.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.core.models import PolicyVersion
from marketplace.core.policies import current_policy, policy_history, register_policy
from marketplace.sanctions.models import SANCTION_STAGES, Stage, ViolationKind

SANCTIONS = "sanctions"
_POLICY_KEY = "sanction_policy"
LATE_SHIPMENT_SEVERE = "late_shipment_severe"
POINT_KEYS = (*(kind.value for kind in ViolationKind if kind is not ViolationKind.MANUAL), LATE_SHIPMENT_SEVERE)

DEFAULT_SANCTION_POLICY: dict[str, Any] = {
    "window_days": 30,
    "points": {
        "seller_cancellation": 2,  # Naver 품절취소
        "late_shipment": 1,  # Naver 발송지연
        LATE_SHIPMENT_SEVERE: 3,  # Naver: 4 business days or more past the ship-by
        "response_missed": 2,
        "refund_overdue": 1,
        "counterfeit": 10,  # WeMakePrice, Coupang
    },
    "late_shipment_severe_business_days": 4,
    "notice_threshold": {"points": 5, "ratio_percent": 40},
    "sanction_threshold": {"points": 10, "ratio_percent": 40},  # Naver
    "stage_days": {"notice": 30, "warning": 7, "restricted": None, "termination_review": None},
    "jump_to_stage": {"counterfeit": "restricted"},
    "appeal_business_days": 7,
    "manual_points_max": 10,
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """At least ``points`` points, and points ÷ orders at least ``ratio_percent`` %."""

    points: int
    ratio_percent: int

    def met(self, points: int, orders: int) -> bool:
        """Whether ``points`` over ``orders`` orders reach the threshold (no orders: any ratio is reached)."""
        return points >= self.points and points * 100 >= self.ratio_percent * orders

    def most_orders(self, points: int) -> int:
        """The most orders at which ``points`` still reach the ratio."""
        return points * 100 // self.ratio_percent if self.ratio_percent else 2**62


@dataclass(frozen=True, slots=True)
class SanctionPolicy:
    """One version of the sanction policy, as the code reads it."""

    version: int
    window_days: int
    points: Mapping[str, int]
    late_shipment_severe_business_days: int
    notice_threshold: Threshold
    sanction_threshold: Threshold
    stage_days: Mapping[str, int | None]
    jump_to_stage: Mapping[str, Stage]
    appeal_business_days: int
    manual_points_max: int

    @property
    def window(self) -> timedelta:
        """The rolling window in which points and orders count."""
        return timedelta(days=self.window_days)

    def points_for(self, kind: str, *, severe: bool = False) -> int:
        """The points of a violation of ``kind`` (a late shipment's severe points when ``severe``)."""
        if kind == ViolationKind.LATE_SHIPMENT and severe:
            return self.points[LATE_SHIPMENT_SEVERE]
        return self.points[kind]

    def duration(self, stage: Stage) -> timedelta | None:
        """How long a sanction at ``stage`` lasts; None: until a supervisor's review."""
        days = self.stage_days[stage.value]
        return None if days is None else timedelta(days=days)

    @property
    def fewest_points(self) -> int:
        """Below this many points no threshold can be reached, whatever the orders."""
        return min(self.notice_threshold.points, self.sanction_threshold.points)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def validate_sanction_policy(document: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Problems with a candidate sanction policy document, by field."""
    problems: dict[str, list[Any]] = {}

    def check(field: str, ok: bool, message: Any) -> None:
        if not ok:
            problems[field] = [message]

    for field in sorted(set(document) - set(DEFAULT_SANCTION_POLICY)):
        problems[field] = [_l("Unknown field.")]
    check("window_days", _whole(document.get("window_days"), 1, 365), _l("A whole number from 1 to 365."))
    points = document.get("points")
    if not isinstance(points, Mapping):
        problems["points"] = [_l("Give the points of every kind of violation.")]
    else:
        for key in POINT_KEYS:
            check(f"points.{key}", _whole(points.get(key), 0, 100), _l("A whole number from 0 to 100."))
        for extra in sorted(set(points) - set(POINT_KEYS)):
            problems[f"points.{extra}"] = [_l("Unknown kind of violation.")]
    check(
        "late_shipment_severe_business_days",
        _whole(document.get("late_shipment_severe_business_days"), 1, 60),
        _l("A whole number from 1 to 60."),
    )
    for name in ("notice_threshold", "sanction_threshold"):
        threshold = document.get(name)
        if not isinstance(threshold, Mapping) or set(threshold) != {"points", "ratio_percent"}:
            problems[name] = [_l("Give points and ratio_percent.")]
            continue
        check(f"{name}.points", _whole(threshold["points"], 1, 1000), _l("A whole number from 1 to 1000."))
        check(
            f"{name}.ratio_percent", _whole(threshold["ratio_percent"], 0, 1000), _l("A whole number from 0 to 1000.")
        )
    stage_days = document.get("stage_days")
    if not isinstance(stage_days, Mapping) or set(stage_days) != {stage.value for stage in SANCTION_STAGES}:
        problems["stage_days"] = [_l("Give the days of every stage: notice, warning, restricted, termination_review.")]
    else:
        for stage in SANCTION_STAGES:
            days = stage_days[stage.value]
            check(
                f"stage_days.{stage.value}",
                days is None or _whole(days, 1, 3650),
                _l("A whole number of days from 1 to 3650, or null for until a supervisor's review."),
            )
    jumps = document.get("jump_to_stage")
    if not isinstance(jumps, Mapping):
        problems["jump_to_stage"] = [_l("Give an object of kind: stage (it may be empty).")]
    else:
        kinds = {kind.value for kind in ViolationKind}
        stages = {stage.value for stage in SANCTION_STAGES}
        for kind, stage in jumps.items():
            check(f"jump_to_stage.{kind}", kind in kinds, _l("Unknown kind of violation."))
            if kind in kinds:
                check(f"jump_to_stage.{kind}", stage in stages, _l("Unknown stage."))
    check(
        "appeal_business_days", _whole(document.get("appeal_business_days"), 1, 60), _l("A whole number from 1 to 60.")
    )
    check("manual_points_max", _whole(document.get("manual_points_max"), 1, 100), _l("A whole number from 1 to 100."))
    return problems


register_policy(SANCTIONS, DEFAULT_SANCTION_POLICY, validate_sanction_policy)


def policy_from_document(version: int, document: Mapping[str, Any]) -> SanctionPolicy:
    """Read a stored (valid) document."""
    return SanctionPolicy(
        version=version,
        window_days=document["window_days"],
        points=dict(document["points"]),
        late_shipment_severe_business_days=document["late_shipment_severe_business_days"],
        notice_threshold=Threshold(**document["notice_threshold"]),
        sanction_threshold=Threshold(**document["sanction_threshold"]),
        stage_days=dict(document["stage_days"]),
        jump_to_stage={kind: Stage(stage) for kind, stage in document["jump_to_stage"].items()},
        appeal_business_days=document["appeal_business_days"],
        manual_points_max=document["manual_points_max"],
    )


def current_sanction_policy(session: Session) -> SanctionPolicy:
    """The sanction policy in force (read once per transaction; a commit or rollback forgets it)."""
    cached = session.info.get(_POLICY_KEY)
    if cached is None:
        policy = current_policy(session, SANCTIONS)
        cached = session.info[_POLICY_KEY] = policy_from_document(policy.version, policy.document)
    return cached


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_policy(session: Session, *_args: object) -> None:
    # A version another transaction published applies from the next transaction on.
    session.info.pop(_POLICY_KEY, None)


def sanction_policy_version(session: Session, version: int) -> SanctionPolicy:
    """A version that was in force once (0 is the built-in default)."""
    for policy in sanction_policy_history(session):
        if policy.version == version:
            return policy_from_document(policy.version, policy.document)
    return current_sanction_policy(session)


def sanction_policy_history(session: Session) -> list[PolicyVersion]:
    """Every version, newest first, ending with the built-in default (version 0)."""
    builtin = PolicyVersion(
        name=SANCTIONS, version=0, document=copy.deepcopy(DEFAULT_SANCTION_POLICY), note="built-in default"
    )
    return [*policy_history(session, SANCTIONS), builtin]
