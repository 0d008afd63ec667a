"""Write use-cases for violations, sanctions, appeals and force-majeure pauses.

Each takes ``actor`` and ``now``, audits, keeps the sellers' standing rows in step (``standing.refresh_standings``)
and flushes; only the entry point commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.core.audit import AuditEntry, record_audit, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.bulk import insert_returning, utc_iso
from marketplace.core.calendar import BusinessCalendar
from marketplace.core.errors import Conflict, Forbidden, ValidationFailed
from marketplace.core.models import Role
from marketplace.core.queries import business_calendar
from marketplace.core.signals import Signal, publish
from marketplace.orders.models import Order
from marketplace.sanctions import queries
from marketplace.sanctions import signals as sanction_signals
from marketplace.sanctions.models import (
    PAUSABLE_KINDS,
    SANCTION_STAGES,
    STOOD,
    Appeal,
    AppealStatus,
    EndCause,
    Sanction,
    SanctionEnd,
    SanctionPause,
    SanctionSource,
    Stage,
    Violation,
    ViolationKind,
    ViolationState,
)
from marketplace.sanctions.policy import current_sanction_policy
from marketplace.sanctions.rules import Evaluation
from marketplace.sanctions.standing import (
    judge_later,
    lift_unjustified,
    lock_standings,
    record_ended,
    record_imposed,
    refresh_standings,
    settle,
)
from marketplace.sellers.models import Seller

MAX_TEXT = 4000
# A pause longer than a year is a policy change, not force majeure.
MAX_PAUSE = timedelta(days=366)
_REFRESH_CHUNK = 1000

violations = Violation.__table__


@dataclass(frozen=True, slots=True)
class ViolationInput:
    """A breach to record: whose, what kind, when it took effect, and what it came from."""

    seller_id: int
    kind: ViolationKind
    occurred_at: datetime
    claim_id: int | None = None
    order_id: int | None = None
    ship_by: datetime | None = None  # late shipments: the promised date
    points: int | None = None  # manual violations only; the policy gives the others' points
    reason: str = ""
    audit_at: datetime | None = None  # when the record is audited; default: when it took effect


def _text(value: str | None, field: str, *, required: bool = True, maximum: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_l("Write a few words about why."), field=field)
    if len(value) > maximum:
        raise ValidationFailed(_l("At most %(count)d characters.", count=maximum), field=field)
    return value


def severe_from(calendar: BusinessCalendar, ship_by: datetime, business_days: int) -> datetime:
    """The instant an unshipped order becomes ``business_days`` business days late: the start of that day."""
    day = calendar.local_date(calendar.add_business_days(ship_by, business_days))
    return datetime.combine(day, time(0), tzinfo=calendar.tz).astimezone(UTC)


def record_violations(
    session: Session, inputs: Sequence[ViolationInput], *, actor: Actor, now: datetime
) -> list[dict[str, Any]]:
    """Record breaches (at most one per claim and kind); their sellers are judged and their standing brought up to
    date before the transaction commits (``standing.judge_later``).

    Set-based: one insert for the whole list, whatever its size. A breach inside a force-majeure pause of its kind is
    recorded as set aside and counts nothing. Returns the violations newly recorded.
    """
    if not inputs:
        return []
    policy = current_sanction_policy(session)
    calendar = business_calendar(session)
    pausable = [item for item in inputs if item.kind in PAUSABLE_KINDS]
    pauses = (
        queries.pauses_overlapping(
            session, min(item.occurred_at for item in pausable), max(item.occurred_at for item in pausable)
        )
        if pausable
        else []
    )
    due: dict[datetime, datetime] = {}
    severe: dict[datetime, datetime] = {}
    window = policy.window
    rows = []
    for item in sorted(inputs, key=lambda item: (item.occurred_at, item.claim_id or 0, item.seller_id)):
        kind = _PLAIN[item.kind]
        pause = next((pause for pause in pauses if pause.covers(kind, item.occurred_at)), None)
        points = item.points if item.kind is ViolationKind.MANUAL else policy.points_for(item.kind)
        appeal_from = item.audit_at or item.occurred_at
        if appeal_from not in due:
            due[appeal_from] = calendar.add_business_days(appeal_from, policy.appeal_business_days)
        severe_due = None
        if item.kind is ViolationKind.LATE_SHIPMENT:
            ship_by = item.ship_by or item.occurred_at
            if ship_by not in severe:
                severe[ship_by] = severe_from(calendar, ship_by, policy.late_shipment_severe_business_days)
            severe_due = severe[ship_by]
        rows.append(
            {
                "seller_id": item.seller_id,
                "kind": kind,
                "state": _SET_ASIDE if pause else _ACTIVE,
                "points": points,
                "initial_points": points,
                "claim_id": item.claim_id,
                "order_id": item.order_id,
                "occurred_at": item.occurred_at,
                "expires_at": item.occurred_at + window,
                "recorded_at": now,
                "recorded_by": actor.ref,
                "policy_version": policy.version,
                "reason": item.reason,
                "severe_due_at": severe_due,
                "severe_judged_at": None,
                "raised_at": None,
                "appeal_due_at": due[appeal_from],
                "pause_id": pause.id if pause else None,
                "set_aside_at": item.occurred_at if pause else None,
            }
        )
    audit_at = {(item.claim_id, _PLAIN[item.kind]): item.audit_at for item in inputs if item.audit_at is not None}
    inserted = insert_returning(
        session,
        violations,
        rows,
        conflict=("claim_id", "kind"),
        returning=(
            "id",
            "seller_id",
            "kind",
            "state",
            "points",
            "claim_id",
            "order_id",
            "occurred_at",
            "pause_id",
            "reason",
        ),
    )
    if not inserted:
        return []
    recorded = sorted((row._asdict() for row in inserted), key=lambda row: row["id"])
    _count_set_aside(session, recorded)
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="violation.record",
                entity_type="violation",
                entity_id=str(row["id"]),
                before=None,
                after={
                    "seller_id": row["seller_id"],
                    "kind": _value(row["kind"]),
                    "state": _value(row["state"]),
                    "points": row["points"],
                    "claim_id": row["claim_id"],
                    "order_id": row["order_id"],
                    "occurred_at": utc_iso(row["occurred_at"]),
                    "pause_id": row["pause_id"],
                    "reason": row["reason"],
                },
                occurred_at=audit_at.get((row["claim_id"], _value(row["kind"]))) or row["occurred_at"],
            )
            for row in recorded
        ],
    )
    counting = [row for row in recorded if row["state"] == _ACTIVE]
    publish(
        session,
        [
            Signal(
                sanction_signals.VIOLATION_RECORDED,
                row["occurred_at"],
                {
                    "violation_id": row["id"],
                    "seller_id": row["seller_id"],
                    "kind": _value(row["kind"]),
                    "points": row["points"],
                    "claim_id": row["claim_id"],
                    "order_id": row["order_id"],
                },
            )
            for row in counting
        ],
        actor=actor,
        now=now,
    )
    judge_later(
        session,
        [
            Evaluation(
                seller_id=row["seller_id"],
                at=row["occurred_at"],
                kind=_value(row["kind"]),
                violation_id=row["id"],
                trigger_key=f"violation:{row['id']}",
                through_id=row["id"],
            )
            for row in counting
        ],
        actor=actor,
        now=now,
    )
    return recorded


# Enum members to their plain values by a dictionary lookup (a member hashes and compares as its value, so a plain
# string maps to itself): the hot loops run it for every violation of a batch.
_PLAIN: dict[Any, str] = {member: member.value for member in (*ViolationKind, *ViolationState)}
_ACTIVE = ViolationState.ACTIVE.value
_SET_ASIDE = ViolationState.SET_ASIDE.value


def _value(value: Any) -> str:
    return _PLAIN.get(value, value)


def _count_set_aside(session: Session, recorded: Iterable[dict[str, Any]]) -> None:
    per_pause: dict[int, int] = defaultdict(int)
    for row in recorded:
        if row["pause_id"] is not None:
            per_pause[row["pause_id"]] += 1
    for pause_id, count in per_pause.items():
        session.execute(
            sa.update(SanctionPause.__table__)
            .where(SanctionPause.__table__.c.id == pause_id)
            .values(set_aside_count=SanctionPause.__table__.c.set_aside_count + count)
        )


def record_manual_violation(
    session: Session,
    seller: Seller,
    *,
    points: int,
    reason: str,
    occurred_at: datetime | None = None,
    order: Order | None = None,
    actor: Actor,
    now: datetime,
) -> Violation:
    """Staff record a violation the rules do not see, with its points and why; judged like any other."""
    policy = current_sanction_policy(session)
    reason = _text(reason, "reason")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= policy.manual_points_max:
        raise ValidationFailed(
            _l("A whole number of points from 1 to %(most)d.", most=policy.manual_points_max), field="points"
        )
    occurred_at = occurred_at or now
    if occurred_at > now:
        raise ValidationFailed(_l("A violation cannot happen in the future."), field="occurred_at")
    if occurred_at <= now - policy.window:
        raise ValidationFailed(
            _l("This is older than the %(days)d-day window; it would count nothing.", days=policy.window_days),
            field="occurred_at",
        )
    if order is not None and order.seller_id != seller.id:
        raise ValidationFailed(_l("This order is not the seller's."), field="order_id")
    recorded = record_violations(
        session,
        [
            ViolationInput(
                seller_id=seller.id,
                kind=ViolationKind.MANUAL,
                occurred_at=occurred_at,
                order_id=order.id if order else None,
                points=points,
                reason=reason,
                audit_at=now,
            )
        ],
        actor=actor,
        now=now,
    )
    settle(session)
    violation = session.get(Violation, recorded[0]["id"])
    assert violation is not None  # nosec B101  # narrows the type of a row just read
    return violation


def overturn_violation(
    session: Session, violation: Violation, *, reason: str, actor: Actor, now: datetime, cause: str = "overturned"
) -> Violation:
    """Staff decide a violation does not stand: its points stop counting and what it alone justified is lifted."""
    reason = _text(reason, "reason")
    before = violation.snapshot()
    violation.overturn(reason=reason, by=actor.ref, now=now)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="violation.overturn",
        entity_type="violation",
        entity_id=violation.id,
        before=before,
        after=violation.snapshot(),
        now=now,
    )
    publish(
        session,
        [
            Signal(
                sanction_signals.VIOLATION_OVERTURNED,
                now,
                {
                    "violation_id": violation.id,
                    "seller_id": violation.seller_id,
                    "kind": violation.kind.value,
                    "points": violation.points,
                    "reason": reason,
                },
            )
        ],
        actor=actor,
        now=now,
    )
    lift_unjustified(session, [violation.seller_id], reason=reason, actor=actor, now=now)
    refresh_standings(session, [violation.seller_id], changed_at=now, cause=cause, actor=actor, now=now)
    return violation


def impose_sanction(
    session: Session,
    seller: Seller,
    stage: Stage | str,
    *,
    reason: str,
    ends_at: datetime | None = None,
    violation_ids: Sequence[int] = (),
    actor: Actor,
    now: datetime,
) -> Sanction:
    """A supervisor imposes a stage from now, for the policy's days unless ``ends_at`` says otherwise."""
    try:
        stage = Stage(stage)
    except ValueError:
        stage = Stage.NONE
    if stage not in SANCTION_STAGES:
        raise ValidationFailed(
            _l("Choose one of: %(stages)s.", stages=", ".join(s.value for s in SANCTION_STAGES)), field="stage"
        )
    reason = _text(reason, "reason")
    policy = current_sanction_policy(session)
    if ends_at is not None and ends_at <= now:
        raise ValidationFailed(_l("The end must be in the future."), field="ends_at")
    if ends_at is None:
        duration = policy.duration(stage)
        ends_at = None if duration is None else now + duration
    violation_ids = sorted(set(violation_ids))
    if violation_ids:
        owned = set(
            session.scalars(
                sa.select(Violation.id).where(Violation.id.in_(violation_ids), Violation.seller_id == seller.id)
            )
        )
        if owned != set(violation_ids):
            raise ValidationFailed(_l("Name only violations of this seller."), field="violation_ids")
    sanction = Sanction(
        seller_id=seller.id,
        stage=stage,
        source=SanctionSource.STAFF,
        rule=None,
        trigger_key=None,
        trigger_violation_id=None,
        violation_ids=violation_ids,
        points=None,
        orders=None,
        policy_version=policy.version,
        reason=reason,
        starts_at=now,
        ends_at=ends_at,
        imposed_at=now,
        imposed_by=actor.ref,
        appeal_due_at=business_calendar(session).add_business_days(now, policy.appeal_business_days),
    )
    session.add(sanction)
    session.flush()
    record_imposed(session, [_imposed_row(sanction)], actor=actor)
    # Written first, then judged under the seller's lock: two supervisors imposing at once cannot both pass.
    lock_standings(session, [seller.id], now=now)
    same = session.scalar(
        sa.select(sa.func.count())
        .select_from(Sanction)
        .where(Sanction.seller_id == seller.id, Sanction.stage == stage, Sanction.ended_at.is_(None))
    )
    if same and same > 1:
        raise Conflict(_l("A sanction at this stage is in force already; shorten or lift it instead."), field="stage")
    refresh_standings(session, [seller.id], changed_at=now, cause="sanction_imposed", actor=actor, now=now)
    return sanction


def _imposed_row(sanction: Sanction) -> dict[str, Any]:
    return {
        "id": sanction.id,
        "seller_id": sanction.seller_id,
        "stage": sanction.stage.value,
        "source": sanction.source.value,
        "rule": sanction.rule.value if sanction.rule else None,
        "starts_at": sanction.starts_at,
        "ends_at": sanction.ends_at,
        "reason": sanction.reason,
        "points": sanction.points,
        "orders": sanction.orders,
        "violation_ids": list(sanction.violation_ids),
        "policy_version": sanction.policy_version,
        "imposed_at": sanction.imposed_at,
    }


def shorten_sanction(
    session: Session, sanction: Sanction, *, ends_at: datetime, reason: str, actor: Actor, now: datetime
) -> Sanction:
    """A supervisor brings a sanction's end forward (now at the earliest), or gives a restriction an end."""
    reason = _text(reason, "reason")
    sanction.require_in_force()
    if ends_at < now:
        raise ValidationFailed(
            _l("The new end cannot be in the past; lift the sanction to end it now."), field="ends_at"
        )
    if sanction.ends_at is not None and ends_at >= sanction.ends_at:
        raise ValidationFailed(_l("The new end must be earlier than the current one."), field="ends_at")
    before = sanction.snapshot()
    sanction.shorten(ends_at, reason=reason, by=actor.ref, now=now)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="sanction.shorten",
        entity_type="sanction",
        entity_id=sanction.id,
        before=before,
        after=sanction.snapshot(),
        now=now,
    )
    if sanction.ended_at is not None:
        record_ended(session, [_ended_row(sanction)], actor=actor, now=now)
    refresh_standings(session, [sanction.seller_id], changed_at=now, cause="sanction_shortened", actor=actor, now=now)
    return sanction


def lift_sanction(
    session: Session, sanction: Sanction, *, reason: str, actor: Actor, now: datetime, appeal: bool = False
) -> Sanction:
    """A supervisor lifts a sanction now (or staff accepted its appeal)."""
    reason = _text(reason, "reason")
    cause = EndCause.APPEAL_ACCEPTED if appeal else EndCause.LIFTED_BY_STAFF
    sanction.end(SanctionEnd.LIFTED, cause, at=now, reason=reason, by=actor.ref)
    session.flush()
    record_ended(session, [_ended_row(sanction)], actor=actor, now=now)
    refresh_standings(
        session,
        [sanction.seller_id],
        changed_at=now,
        cause="appeal_accepted" if appeal else "sanction_lifted",
        actor=actor,
        now=now,
    )
    return sanction


def _ended_row(sanction: Sanction) -> dict[str, Any]:
    return {
        "id": sanction.id,
        "seller_id": sanction.seller_id,
        "stage": sanction.stage.value,
        "ended_at": sanction.ended_at,
        "how": sanction.ended_how.value if sanction.ended_how else None,
        "reason": sanction.end_reason,
    }


def file_appeal(
    session: Session,
    *,
    violation: Violation | None = None,
    sanction: Sanction | None = None,
    root_cause: str,
    actions_taken: str,
    prevention: str,
    actor: Actor,
    now: datetime,
) -> Appeal:
    """The seller appeals a violation that counts or a sanction in force, with a plan of action, before its deadline."""
    if (violation is None) == (sanction is None):
        raise ValidationFailed(_l("Appeal one violation or one sanction."), field="item")
    plan = {
        "root_cause": _text(root_cause, "root_cause"),
        "actions_taken": _text(actions_taken, "actions_taken"),
        "prevention": _text(prevention, "prevention"),
    }
    item: Violation | Sanction
    if violation is not None:
        item = violation
        if not violation.counts:
            raise Conflict(_l("Only a violation that counts can be appealed."), current_status=violation.state.value)
    else:
        assert sanction is not None  # nosec B101  # narrows the type: one of the two is given
        item = sanction
        sanction.require_in_force()
    if now > item.appeal_due_at:
        raise Conflict(
            _l("The appeal deadline passed at %(deadline)s.", deadline=_local(session, item.appeal_due_at)),
            field="item",
        )
    open_appeal = queries.open_appeal_for(
        session, violation_id=violation.id if violation else None, sanction_id=sanction.id if sanction else None
    )
    if open_appeal is not None:
        raise Conflict(_l("An appeal of this is open already."), field="item")
    appeal = Appeal(
        seller_id=item.seller_id,
        violation_id=violation.id if violation else None,
        sanction_id=sanction.id if sanction else None,
        status=AppealStatus.OPEN,
        filed_at=now,
        filed_by=actor.ref,
        **plan,
    )
    try:
        with session.begin_nested():
            session.add(appeal)
    except sa.exc.IntegrityError:
        # Filed twice at the same moment: the partial unique index keeps one.
        raise Conflict(_l("An appeal of this is open already."), field="item") from None
    record_audit(
        session,
        actor=actor,
        action="appeal.file",
        entity_type="appeal",
        entity_id=appeal.id,
        before=None,
        after=appeal.snapshot(),
        now=now,
    )
    return appeal


def _local(session: Session, instant: datetime) -> str:
    return instant.astimezone(business_calendar(session).tz).strftime("%Y-%m-%d %H:%M")


def decide_appeal(
    session: Session, appeal: Appeal, outcome: str, *, reason: str, actor: Actor, now: datetime
) -> Appeal:
    """Staff accept (the violation is overturned, or the sanction lifted) or reject an appeal, with a reason.

    Lifting a selling restriction, directly or because it is no longer justified, needs a supervisor.
    """
    try:
        status = AppealStatus(outcome)
    except ValueError:
        status = AppealStatus.OPEN
    if status is AppealStatus.OPEN:
        raise ValidationFailed(_l("Choose accepted or rejected."), field="outcome")
    reason = _text(reason, "reason")
    sanction = queries.get_sanction(session, appeal.sanction_id, for_update=True) if appeal.sanction_id else None
    if (
        status is AppealStatus.ACCEPTED
        and sanction is not None
        and sanction.stage.rank >= Stage.RESTRICTED.rank
        and actor.role is Role.AGENT
    ):
        raise Forbidden(_l("Lifting a selling restriction needs a supervisor."))
    before = appeal.snapshot()
    appeal.decide(status, reason=reason, by=actor.ref, now=now)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="appeal.decide",
        entity_type="appeal",
        entity_id=appeal.id,
        before=before,
        after=appeal.snapshot(),
        now=now,
    )
    if status is AppealStatus.ACCEPTED:
        if appeal.violation_id is not None:
            violation = queries.get_violation(session, appeal.violation_id, for_update=True)
            assert violation is not None  # nosec B101  # narrows the type of a row just read
            overturn_violation(session, violation, reason=reason, actor=actor, now=now, cause="appeal_accepted")
        elif sanction is not None and sanction.in_force:
            lift_sanction(session, sanction, reason=reason, actor=actor, now=now, appeal=True)
    publish(
        session,
        [
            Signal(
                sanction_signals.APPEAL_DECIDED,
                now,
                {
                    "appeal_id": appeal.id,
                    "seller_id": appeal.seller_id,
                    "outcome": status.value,
                    "reason": reason,
                    "violation_id": appeal.violation_id,
                    "sanction_id": appeal.sanction_id,
                },
            )
        ],
        actor=actor,
        now=now,
    )
    return appeal


def declare_pause(
    session: Session,
    *,
    starts_at: datetime,
    ends_at: datetime,
    kinds: Sequence[str],
    reason: str,
    actor: Actor,
    now: datetime,
) -> SanctionPause:
    """A supervisor declares force majeure: violations of ``kinds`` in [starts_at, ends_at) count nothing.

    Those recorded already are set aside (and what they alone justified is lifted); those recorded later are set
    aside as they come.
    """
    reason = _text(reason, "reason")
    if ends_at <= starts_at:
        raise ValidationFailed(_l("The end must be after the start."), field="ends_at")
    if ends_at - starts_at > MAX_PAUSE:
        raise ValidationFailed(_l("A pause lasts at most a year."), field="ends_at")
    pausable = {kind.value for kind in PAUSABLE_KINDS}
    kinds = sorted(set(kinds))
    if not kinds or not set(kinds) <= pausable:
        raise ValidationFailed(
            _l("Choose among: %(kinds)s.", kinds=", ".join(kind.value for kind in PAUSABLE_KINDS)), field="kinds"
        )
    pause = SanctionPause(
        starts_at=starts_at,
        ends_at=ends_at,
        kinds=kinds,
        reason=reason,
        declared_at=now,
        declared_by=actor.ref,
        set_aside_count=0,
    )
    session.add(pause)
    session.flush()
    set_aside = session.execute(
        sa.update(violations)
        .where(
            violations.c.kind.in_(kinds),
            violations.c.occurred_at >= starts_at,
            violations.c.occurred_at < ends_at,
            violations.c.state.in_([state.value for state in STOOD]),
        )
        .values(state=ViolationState.SET_ASIDE.value, pause_id=pause.id, set_aside_at=now)
        .returning(violations.c.id, violations.c.seller_id, violations.c.points)
    ).all()
    pause.set_aside_count = len(set_aside)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="pause.declare",
        entity_type="sanction_pause",
        entity_id=pause.id,
        before=None,
        after={**pause.snapshot(), "set_aside": len(set_aside)},
        now=now,
    )
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="violation.set_aside",
                entity_type="violation",
                entity_id=str(row.id),
                before=None,
                after={"state": ViolationState.SET_ASIDE.value, "pause_id": pause.id},
                occurred_at=now,
            )
            for row in set_aside
        ],
    )
    sellers = sorted({row.seller_id for row in set_aside})
    for start in range(0, len(sellers), _REFRESH_CHUNK):
        chunk = sellers[start : start + _REFRESH_CHUNK]
        lift_unjustified(session, chunk, reason=reason, actor=actor, now=now)
        refresh_standings(session, chunk, changed_at=now, cause="pause", actor=actor, now=now)
    return pause
