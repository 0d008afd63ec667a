"""Policy what-if: replay the last N days of violations under a candidate policy and compare with the current one.

The replay runs the same rules as the live evaluation (``marketplace.sanctions.rules``) over the violations that stood
(not overturned, not set aside), in the order they took effect. Before the replayed period the sellers' sanctions are
what they were; sanctions staff imposed stay as they were; sanctions the rules imposed are replayed, and a person's
lifting or shortening of one applies to the replayed sanction of that stage in force then. Points are those of the
policy replayed (a manual violation keeps the points staff gave it), and so are the window, the thresholds, the
durations and when a late shipment becomes severe.

Replaying the current policy gives the standing the system computed, as long as the period's violations were recorded
under that version and in the order they took effect (the normal case: each sweep records what fell due in deadline
order; the judgement of a transaction runs in time order). Comparing the candidate with the current policy's replay,
as ``simulate`` does, keeps the comparison like with like either way.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.errors import ValidationFailed
from marketplace.core.policies import PolicyPreview, register_policy_preview
from marketplace.core.queries import business_calendar
from marketplace.orders.models import Order
from marketplace.sanctions import queries
from marketplace.sanctions.models import EndCause, Sanction, SanctionSource, Stage, Violation, ViolationKind
from marketplace.sanctions.operations import severe_from
from marketplace.sanctions.permissions import SIMULATE_POLICY
from marketplace.sanctions.policy import (
    SANCTIONS,
    SanctionPolicy,
    current_sanction_policy,
    policy_from_document,
    sanction_policy_version,
    validate_sanction_policy,
)
from marketplace.sanctions.rules import (
    Evaluation,
    Fact,
    Held,
    SellerTrack,
    StaffEnd,
    evaluation_points,
    needs_orders,
    orders_limit,
    points_at,
    run_evaluations,
    stage_at,
)
from marketplace.sanctions.standing import held_of
from marketplace.sellers.models import Seller

MAX_DAYS = 365
violations = Violation.__table__
sanctions = Sanction.__table__
orders = Order.__table__


@dataclass(frozen=True, slots=True)
class SellerOutcome:
    """Where a seller ends up at the end of a replay."""

    stage: Stage
    may_list: bool
    may_sell: bool
    active_points: int

    @classmethod
    def clean(cls) -> SellerOutcome:
        """A seller with nothing against it."""
        return cls(Stage.NONE, True, True, 0)


@dataclass(frozen=True, slots=True)
class SellerChange:
    """A seller whose standing differs under the candidate policy."""

    seller_id: int
    external_id: str
    name: str
    current: SellerOutcome
    candidate: SellerOutcome


@dataclass(slots=True)
class SimulationResult:
    """Both replays side by side: sellers per stage, and the sellers that change."""

    days: int
    since: datetime
    at: datetime
    current_version: int
    sellers: int
    current: dict[Stage, int]
    candidate: dict[Stage, int]
    changed: list[SellerChange] = field(default_factory=list)

    @property
    def stages(self) -> list[dict[str, Any]]:
        """Per stage: sellers under the current policy and under the candidate."""
        return [
            {"stage": stage.value, "current": self.current.get(stage, 0), "candidate": self.candidate.get(stage, 0)}
            for stage in Stage
        ]

    @property
    def stage_rows(self) -> list[dict[str, Any]]:
        """``stages``, each with the stage's label for people."""
        return [{**row, "label": Stage(row["stage"]).label} for row in self.stages]


@dataclass(frozen=True, slots=True)
class _Violation:
    id: int
    seller_id: int
    kind: str
    occurred_at: datetime
    points: int
    initial_points: int
    void_at: datetime | None
    shipped_at: datetime | None
    cancelled_at: datetime | None


@dataclass(slots=True)
class _History:
    """What happened in the replayed period, read once and replayed under each policy."""

    since: datetime
    at: datetime
    violations: dict[int, list[_Violation]]
    fixed: dict[int, list[Held]]  # sanctions that stay as they were
    staff_ends: dict[int, list[StaffEnd]]

    @property
    def seller_ids(self) -> set[int]:
        return set(self.violations) | set(self.fixed) | set(self.staff_ends)


def simulate(session: Session, document: Mapping[str, Any], *, days: int, now: datetime) -> SimulationResult:
    """Replay the last ``days`` days under ``document`` and under the current policy; compare."""
    problems = validate_sanction_policy(document)
    if problems:
        first = sorted(problems)[0]
        raise ValidationFailed(problems[first][0], field=f"document.{first}", errors=problems)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(_l("A whole number of days from 1 to %(most)d.", most=MAX_DAYS), field="days")
    current_policy = current_sanction_policy(session)
    candidate_policy = policy_from_document(current_policy.version + 1, document)
    history = _read(session, days=days, now=now, windows=(current_policy.window, candidate_policy.window))
    current = _replay(session, history, current_policy)
    candidate = _replay(session, history, candidate_policy)
    total = session.scalar(sa.select(sa.func.count()).select_from(Seller)) or 0
    changed_ids = sorted(seller_id for seller_id in history.seller_ids if current[seller_id] != candidate[seller_id])
    names = {
        row.id: (row.external_id, row.name)
        for row in session.execute(
            sa.select(Seller.id, Seller.external_id, Seller.name).where(Seller.id.in_(changed_ids))
        )
    }
    return SimulationResult(
        days=days,
        since=history.since,
        at=now,
        current_version=current_policy.version,
        sellers=total,
        current=_per_stage(current, total),
        candidate=_per_stage(candidate, total),
        changed=sorted(
            (
                SellerChange(seller_id, *names[seller_id], current[seller_id], candidate[seller_id])
                for seller_id in changed_ids
            ),
            key=lambda change: (-change.candidate.stage.rank, -change.current.stage.rank, change.external_id),
        ),
    )


def replay(session: Session, policy: SanctionPolicy, *, days: int, now: datetime) -> dict[int, SellerOutcome]:
    """Where each seller with something in the period ends up under ``policy`` (the others are clean)."""
    history = _read(session, days=days, now=now, windows=(policy.window,))
    return _replay(session, history, policy)


def _per_stage(outcomes: Mapping[int, SellerOutcome], total: int) -> dict[Stage, int]:
    counts = Counter(outcome.stage for outcome in outcomes.values())
    counts[Stage.NONE] += total - len(outcomes)
    return dict(counts)


def _read(session: Session, *, days: int, now: datetime, windows: tuple[timedelta, ...]) -> _History:
    since = now - timedelta(days=days)
    # Violations before the period still count inside it, for as long as the longest window says.
    earliest = since - max(windows)
    found: dict[int, list[_Violation]] = defaultdict(list)
    void_at = sa.func.coalesce(violations.c.overturned_at, violations.c.set_aside_at)
    rows = session.execute(
        sa.select(
            violations.c.id,
            violations.c.seller_id,
            violations.c.kind,
            violations.c.occurred_at,
            violations.c.points,
            violations.c.initial_points,
            void_at.label("void_at"),
            orders.c.shipped_at,
            orders.c.cancelled_at,
        )
        .join_from(violations, orders, violations.c.order_id == orders.c.id, isouter=True)
        .where(
            violations.c.occurred_at > earliest,
            violations.c.occurred_at <= now,
            # Set aside as it was recorded (inside a pause declared before): it never stood.
            sa.or_(void_at.is_(None), void_at > violations.c.occurred_at),
        )
        .order_by(violations.c.seller_id, violations.c.occurred_at, violations.c.id)
    )
    for row in rows:
        found[row.seller_id].append(_Violation(row[0], row[1], _value(row[2]), *row[3:]))
    fixed: dict[int, list[Held]] = defaultdict(list)
    staff_ends: dict[int, list[StaffEnd]] = defaultdict(list)
    policies: dict[int, SanctionPolicy] = {}
    for sanction in session.scalars(
        sa.select(Sanction)
        .where(Sanction.starts_at <= now, sa.or_(Sanction.ended_at.is_(None), Sanction.ended_at > since))
        .order_by(Sanction.id)
    ):
        if sanction.source is SanctionSource.STAFF or sanction.starts_at <= since:
            # Imposed by a person, or before the period: it stays as it was (a rules' one may still be lifted).
            if sanction.policy_version not in policies:
                policies[sanction.policy_version] = sanction_policy_version(session, sanction.policy_version)
            fixed[sanction.seller_id].append(held_of(sanction, policies[sanction.policy_version]))
            continue
        if sanction.shortened_at is not None:
            staff_ends[sanction.seller_id].append(StaffEnd(sanction.shortened_at, sanction.stage, sanction.ends_at))
        if sanction.end_cause in (EndCause.LIFTED_BY_STAFF, EndCause.APPEAL_ACCEPTED):
            staff_ends[sanction.seller_id].append(StaffEnd(sanction.ended_at, sanction.stage))
    return _History(
        since=since,
        at=now,
        violations=found,
        fixed=fixed,
        staff_ends={seller_id: sorted(ends, key=lambda end: end.at) for seller_id, ends in staff_ends.items()},
    )


def _value(value: Any) -> str:
    return value.value if isinstance(value, enum.Enum) else str(value)


def _replay(session: Session, history: _History, policy: SanctionPolicy) -> dict[int, SellerOutcome]:
    calendar = business_calendar(session)
    severe_cache: dict[datetime, datetime] = {}
    tracks: dict[int, SellerTrack] = {}
    judged: dict[int, list[Evaluation]] = {}
    for seller_id in history.seller_ids:
        facts: list[Fact] = []
        evaluations: list[Evaluation] = []
        for violation in history.violations.get(seller_id, []):
            fact = _fact(violation, policy, calendar, severe_cache, history.at)
            facts.append(fact)
            if violation.occurred_at > history.since:
                evaluations.append(
                    Evaluation(seller_id, fact.occurred_at, fact.kind, fact.id, f"violation:{fact.id}", fact.id)
                )
            if fact.raised_at is not None and fact.raised_at > history.since:
                evaluations.append(Evaluation(seller_id, fact.raised_at, fact.kind, fact.id, f"raise:{fact.id}", None))
        tracks[seller_id] = SellerTrack(
            facts,
            # Copies: each replay ends its own.
            [replace(held) for held in history.fixed.get(seller_id, [])],
            list(history.staff_ends.get(seller_id, [])),
            sorted({fact.void_at for fact in facts if fact.void_at is not None and fact.void_at > history.since}),
        )
        judged[seller_id] = sorted(evaluations, key=lambda evaluation: evaluation.sort_key)
    limits: dict[tuple[int, datetime], int | None] = {}
    for seller_id, evaluations in judged.items():
        for evaluation, points in evaluation_points(tracks[seller_id], evaluations):
            if needs_orders(points, policy):
                key = (seller_id, evaluation.at)
                limit = orders_limit(points, policy)
                previous = limits.get(key, 0)
                limits[key] = None if limit is None or previous is None else max(previous, limit)
    moments = list(limits)
    counts = queries.count_orders(session, moments, policy.window, [limits[moment] for moment in moments])
    orders_at = dict(zip(moments, counts, strict=True))
    outcomes: dict[int, SellerOutcome] = {}
    for seller_id, track in tracks.items():
        run_evaluations(track, judged[seller_id], orders_at, policy)
        track.catch_up(history.at)
        stage = stage_at(track.held, history.at)
        points, _ids = points_at(track.facts, history.at)
        outcomes[seller_id] = SellerOutcome(stage, stage.may_list, stage.may_sell, points)
    return outcomes


def _fact(
    violation: _Violation,
    policy: SanctionPolicy,
    calendar: Any,
    severe_cache: dict[datetime, datetime],
    now: datetime,
) -> Fact:
    """A violation as it would have counted under ``policy``."""
    expires_at = violation.occurred_at + policy.window
    if violation.kind == ViolationKind.MANUAL:
        return Fact(
            violation.id,
            violation.seller_id,
            violation.kind,
            violation.occurred_at,
            expires_at,
            violation.points,
            violation.points,
            void_at=violation.void_at,
        )
    points = policy.points_for(violation.kind)
    raised_at = None
    severe_points = points
    if violation.kind == ViolationKind.LATE_SHIPMENT:
        # The ship-by is the violation's time; the order became severe at the start of the N-th business day after.
        if violation.occurred_at not in severe_cache:
            severe_cache[violation.occurred_at] = severe_from(
                calendar, violation.occurred_at, policy.late_shipment_severe_business_days
            )
        severe = severe_cache[violation.occurred_at]
        severe_points = policy.points_for(violation.kind, severe=True)
        if (
            severe <= now
            and severe < expires_at
            and severe_points > points
            and (violation.shipped_at is None or violation.shipped_at >= severe)
            and (violation.cancelled_at is None or violation.cancelled_at >= severe)
        ):
            raised_at = severe
    return Fact(
        violation.id,
        violation.seller_id,
        violation.kind,
        violation.occurred_at,
        expires_at,
        severe_points if raised_at is not None else points,
        points,
        raised_at,
        violation.void_at,
    )


register_policy_preview(
    SANCTIONS,
    PolicyPreview(run=simulate, template="sanctions/staff/_simulation.html", permission=SIMULATE_POLICY),
)
