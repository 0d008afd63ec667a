"""Violations and their points, staged sanctions, stage history, appeals, force-majeure pauses and standing.

A seller's *stage* is the most severe stage among its sanctions in force (``none`` when none is): every stage
reached is a sanction with that stage (a notice has no restriction, a warning stops new listings, a restriction
stops all selling). The rules that move a seller are in ``marketplace.sanctions.rules``.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.errors import IllegalTransition
from marketplace.db import Base, BigIntPK, JSONDocument

if TYPE_CHECKING:
    from marketplace.orders.models import Order
    from marketplace.sellers.models import Seller


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum], length: int = 24) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=length, values_callable=_values, validate_strings=True)


class ViolationKind(enum.StrEnum):
    """What the seller did wrong; the points per kind are in the sanction policy."""

    SELLER_CANCELLATION = "seller_cancellation"
    LATE_SHIPMENT = "late_shipment"
    RESPONSE_MISSED = "response_missed"
    REFUND_OVERDUE = "refund_overdue"
    COUNTERFEIT = "counterfeit"
    MANUAL = "manual"


# The kinds a force-majeure pause may cover: the ones that come from deadlines outside the seller's control.
PAUSABLE_KINDS = (
    ViolationKind.SELLER_CANCELLATION,
    ViolationKind.LATE_SHIPMENT,
    ViolationKind.RESPONSE_MISSED,
    ViolationKind.REFUND_OVERDUE,
)

KIND_LABELS = {
    ViolationKind.SELLER_CANCELLATION: _l("cancelled by the seller"),
    ViolationKind.LATE_SHIPMENT: _l("late shipment"),
    ViolationKind.RESPONSE_MISSED: _l("response deadline missed"),
    ViolationKind.REFUND_OVERDUE: _l("refund overdue"),
    ViolationKind.COUNTERFEIT: _l("counterfeit confirmed"),
    ViolationKind.MANUAL: _l("recorded by staff"),
}


class ViolationState(enum.StrEnum):
    """Whether a violation's points count."""

    ACTIVE = "active"  # counts
    EXPIRED = "expired"  # older than the window
    OVERTURNED = "overturned"  # staff decided it does not stand (an accepted appeal, a supervisor)
    SET_ASIDE = "set_aside"  # fell in a force-majeure pause


# Violations that stood when they happened: they count for any moment inside their window.
STOOD = (ViolationState.ACTIVE, ViolationState.EXPIRED)

STATE_LABELS = {
    ViolationState.ACTIVE: _l("counts"),
    ViolationState.EXPIRED: _l("expired"),
    ViolationState.OVERTURNED: _l("overturned"),
    ViolationState.SET_ASIDE: _l("set aside (force majeure)"),
}


class Stage(enum.StrEnum):
    """The ladder a seller climbs one stage at a time; ``none`` is the bottom."""

    NONE = "none"
    NOTICE = "notice"
    WARNING = "warning"
    RESTRICTED = "restricted"
    TERMINATION_REVIEW = "termination_review"

    @property
    def rank(self) -> int:
        """0 for none … 4 for termination review."""
        return _RANKS[self]

    @property
    def label(self) -> Any:
        """How people read the stage, in their language."""
        return STAGE_LABELS[self]

    @property
    def next(self) -> Stage | None:
        """The stage above, or None at the top."""
        index = _RANKS[self] + 1
        return _STAGE_ORDER[index] if index < len(_STAGE_ORDER) else None

    @property
    def may_list(self) -> bool:
        """Whether a seller at this stage may list new products."""
        return self.rank < Stage.WARNING.rank

    @property
    def may_sell(self) -> bool:
        """Whether a seller at this stage may sell."""
        return self.rank < Stage.RESTRICTED.rank


_STAGE_ORDER = list(Stage)
_RANKS = {stage: rank for rank, stage in enumerate(_STAGE_ORDER)}
SANCTION_STAGES = tuple(_STAGE_ORDER[1:])

STAGE_LABELS = {
    Stage.NONE: _l("in good standing"),
    Stage.NOTICE: _l("notice"),
    Stage.WARNING: _l("warning (no new listings)"),
    Stage.RESTRICTED: _l("selling restricted"),
    Stage.TERMINATION_REVIEW: _l("termination review"),
}


def highest_stage(stages: Any) -> Stage:
    """The most severe of ``stages`` (``none`` for none)."""
    best = 0
    for stage in stages:
        best = max(best, _RANKS[Stage(stage)])
    return _STAGE_ORDER[best]


class SanctionSource(enum.StrEnum):
    """Who imposed a sanction: the rules, or a supervisor."""

    RULES = "rules"
    STAFF = "staff"


class SanctionRule(enum.StrEnum):
    """Which rule imposed an automatic sanction."""

    NOTICE_THRESHOLD = "notice_threshold"
    SANCTION_THRESHOLD = "sanction_threshold"
    JUMP = "jump"  # a kind that sends the seller straight to a stage (counterfeit → restricted)


class SanctionEnd(enum.StrEnum):
    """How a sanction ended."""

    EXPIRED = "expired"  # its time ran out
    SHORTENED = "shortened"  # its time ran out after a supervisor shortened it
    LIFTED = "lifted"  # a supervisor lifted it, an appeal was accepted, or it was no longer justified


class EndCause(enum.StrEnum):
    """Why a sanction ended, more precisely than how (the policy what-if replays people's decisions)."""

    EXPIRED = "expired"
    SHORTENED = "shortened"
    LIFTED_BY_STAFF = "lifted_by_staff"
    APPEAL_ACCEPTED = "appeal_accepted"
    NO_LONGER_JUSTIFIED = "no_longer_justified"


class AppealStatus(enum.StrEnum):
    """Where an appeal stands."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Violation(Base):
    """One breach of an obligation by a seller, with its points and whether they count."""

    __tablename__ = "violations"
    __table_args__ = (
        # A replayed signal or a second scheduler never records the same breach twice.
        sa.UniqueConstraint("claim_id", "kind"),
        sa.Index(None, "seller_id", "occurred_at"),
        sa.Index(None, "kind", "occurred_at"),
        # The sweeps read only what can fall due.
        sa.Index(
            "ix_violations_active_expires",
            "expires_at",
            postgresql_where=sa.text("state = 'active'"),
            sqlite_where=sa.text("state = 'active'"),
        ),
        sa.Index(
            "ix_violations_severe_due",
            "severe_due_at",
            postgresql_where=sa.text("severe_due_at IS NOT NULL AND severe_judged_at IS NULL"),
            sqlite_where=sa.text("severe_due_at IS NOT NULL AND severe_judged_at IS NULL"),
        ),
        sa.CheckConstraint("points >= 0 AND initial_points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    kind: Mapped[ViolationKind] = mapped_column(_enum(ViolationKind))
    state: Mapped[ViolationState] = mapped_column(_enum(ViolationState))
    # What it counts now, and what it counted before a late shipment was raised to its severe points.
    points: Mapped[int]
    initial_points: Mapped[int]
    claim_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claims.id", ondelete="RESTRICT"))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="RESTRICT"))
    # When the breach took effect (the missed deadline), and when its points stop counting.
    occurred_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(sa.String(80))
    policy_version: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    # Late shipments: when the order becomes 4+ business days late, and when the sweep judged that.
    severe_due_at: Mapped[datetime | None]
    severe_judged_at: Mapped[datetime | None]
    raised_at: Mapped[datetime | None]
    appeal_due_at: Mapped[datetime]
    pause_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sanction_pauses.id", ondelete="RESTRICT"))
    # When a pause set it aside: its time when it fell in a pause declared before, else the declaration.
    set_aside_at: Mapped[datetime | None]
    overturned_at: Mapped[datetime | None]
    overturned_by: Mapped[str | None] = mapped_column(sa.String(80))
    overturn_reason: Mapped[str | None] = mapped_column(sa.Text)

    seller: Mapped[Seller] = relationship(lazy="joined", innerjoin=True)
    order: Mapped[Order | None] = relationship(lazy="joined")

    @property
    def counts(self) -> bool:
        """Whether its points count now."""
        return self.state is ViolationState.ACTIVE

    @property
    def void_at(self) -> datetime | None:
        """When it stopped standing (overturned or set aside), if it did."""
        return self.overturned_at or self.set_aside_at

    def overturn(self, *, reason: str, by: str, now: datetime) -> None:
        """Staff decided the violation does not stand: its points stop counting."""
        if self.state not in STOOD:
            raise IllegalTransition(
                _l("This violation is %(state)s already.", state=STATE_LABELS[self.state]),
                current_status=self.state.value,
            )
        self.state = ViolationState.OVERTURNED
        self.overturned_at = now
        self.overturned_by = by
        self.overturn_reason = reason

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a violation."""
        return {
            "seller_id": self.seller_id,
            "kind": self.kind.value,
            "state": self.state.value,
            "points": self.points,
            "claim_id": self.claim_id,
            "order_id": self.order_id,
            "occurred_at": self.occurred_at,
            "expires_at": self.expires_at,
            "reason": self.reason,
        }


class Sanction(Base):
    """A stage reached by a seller: what it may no longer do, from when until when, and why."""

    __tablename__ = "sanctions"
    __table_args__ = (
        sa.Index(None, "seller_id", "starts_at"),
        sa.Index(
            "ix_sanctions_running_ends",
            "ends_at",
            postgresql_where=sa.text("ended_at IS NULL AND ends_at IS NOT NULL"),
            sqlite_where=sa.text("ended_at IS NULL AND ends_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_sanctions_in_force_stage",
            "stage",
            "starts_at",
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    stage: Mapped[Stage] = mapped_column(_enum(Stage))
    source: Mapped[SanctionSource] = mapped_column(_enum(SanctionSource))
    rule: Mapped[SanctionRule | None] = mapped_column(_enum(SanctionRule))
    # One automatic sanction per evaluation ("violation:<id>" or "raise:<id>"): two runners never double it.
    trigger_key: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    trigger_violation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("violations.id", ondelete="RESTRICT"))
    # The violations that counted when it was imposed, and the figures the rule compared.
    violation_ids: Mapped[list[int]] = mapped_column(JSONDocument)
    points: Mapped[int | None]
    orders: Mapped[int | None]
    policy_version: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]  # None: until a supervisor's review
    imposed_at: Mapped[datetime]
    imposed_by: Mapped[str] = mapped_column(sa.String(80))
    appeal_due_at: Mapped[datetime]
    original_ends_at: Mapped[datetime | None]
    shortened_at: Mapped[datetime | None]
    shortened_by: Mapped[str | None] = mapped_column(sa.String(80))
    ended_at: Mapped[datetime | None]
    ended_how: Mapped[SanctionEnd | None] = mapped_column(_enum(SanctionEnd))
    end_cause: Mapped[EndCause | None] = mapped_column(_enum(EndCause))
    ended_by: Mapped[str | None] = mapped_column(sa.String(80))
    end_reason: Mapped[str | None] = mapped_column(sa.Text)

    seller: Mapped[Seller] = relationship(lazy="joined", innerjoin=True)

    @property
    def in_force(self) -> bool:
        """Whether it has not ended."""
        return self.ended_at is None

    def require_in_force(self) -> None:
        """Refuse to act on a sanction that has ended."""
        if self.ended_at is not None:
            raise IllegalTransition(_l("This sanction has ended already."), current_status="ended")

    def shorten(self, ends_at: datetime, *, reason: str, by: str, now: datetime) -> None:
        """A supervisor brings the end forward (or gives an open-ended sanction an end)."""
        self.require_in_force()
        if self.original_ends_at is None:
            self.original_ends_at = self.ends_at
        self.ends_at = ends_at
        self.shortened_at = now
        self.shortened_by = by
        self.end_reason = reason
        if ends_at <= now:
            self.end(SanctionEnd.SHORTENED, EndCause.SHORTENED, at=ends_at, reason=reason, by=by)

    def end(self, how: SanctionEnd, cause: EndCause, *, at: datetime, reason: str | None, by: str) -> None:
        """The sanction stops applying at ``at``."""
        self.require_in_force()
        self.ended_at = at
        self.ended_how = how
        self.end_cause = cause
        self.ended_by = by
        self.end_reason = reason

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a sanction."""
        return {
            "seller_id": self.seller_id,
            "stage": self.stage.value,
            "source": self.source.value,
            "rule": self.rule.value if self.rule else None,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "ended_at": self.ended_at,
            "ended_how": self.ended_how.value if self.ended_how else None,
            "reason": self.reason,
            "end_reason": self.end_reason,
            "violation_ids": list(self.violation_ids),
        }


class StageChange(Base):
    """One move of a seller between stages: the stage history."""

    __tablename__ = "seller_stage_changes"
    __table_args__ = (sa.Index(None, "seller_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    from_stage: Mapped[Stage] = mapped_column(_enum(Stage))
    to_stage: Mapped[Stage] = mapped_column(_enum(Stage))
    cause: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(80))
    recorded_at: Mapped[datetime]


class Appeal(Base):
    """A seller's appeal of a violation or a sanction, with its plan of action."""

    __tablename__ = "appeals"
    __table_args__ = (
        sa.CheckConstraint("(violation_id IS NULL) <> (sanction_id IS NULL)", name="one_item"),
        # One open appeal per item.
        sa.Index(
            "uq_appeals_open_violation",
            "violation_id",
            unique=True,
            postgresql_where=sa.text("status = 'open' AND violation_id IS NOT NULL"),
            sqlite_where=sa.text("status = 'open' AND violation_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_appeals_open_sanction",
            "sanction_id",
            unique=True,
            postgresql_where=sa.text("status = 'open' AND sanction_id IS NOT NULL"),
            sqlite_where=sa.text("status = 'open' AND sanction_id IS NOT NULL"),
        ),
        sa.Index(None, "status", "filed_at"),
        sa.Index(None, "seller_id", "filed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"))
    violation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("violations.id", ondelete="RESTRICT"))
    sanction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sanctions.id", ondelete="RESTRICT"))
    status: Mapped[AppealStatus] = mapped_column(_enum(AppealStatus))
    # Amazon's plan of action: why it happened, what was done, how it will not happen again.
    root_cause: Mapped[str] = mapped_column(sa.Text)
    actions_taken: Mapped[str] = mapped_column(sa.Text)
    prevention: Mapped[str] = mapped_column(sa.Text)
    filed_at: Mapped[datetime]
    filed_by: Mapped[str] = mapped_column(sa.String(80))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(80))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)

    seller: Mapped[Seller] = relationship(lazy="joined", innerjoin=True)

    def decide(self, status: AppealStatus, *, reason: str, by: str, now: datetime) -> None:
        """Staff accept or reject the appeal."""
        if self.status is not AppealStatus.OPEN:
            raise IllegalTransition(_l("This appeal has been decided already."), current_status=self.status.value)
        self.status = status
        self.decided_at = now
        self.decided_by = by
        self.decision_reason = reason

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of an appeal."""
        return {
            "seller_id": self.seller_id,
            "violation_id": self.violation_id,
            "sanction_id": self.sanction_id,
            "status": self.status.value,
            "root_cause": self.root_cause,
            "actions_taken": self.actions_taken,
            "prevention": self.prevention,
            "decision_reason": self.decision_reason,
        }


class SanctionPause(Base):
    """A force-majeure period (a courier strike, a snowstorm, a holiday peak) in which some kinds accrue nothing."""

    __tablename__ = "sanction_pauses"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index(None, "starts_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    kinds: Mapped[list[str]] = mapped_column(JSONDocument)
    reason: Mapped[str] = mapped_column(sa.Text)
    declared_at: Mapped[datetime]
    declared_by: Mapped[str] = mapped_column(sa.String(80))
    set_aside_count: Mapped[int] = mapped_column(default=0)

    def covers(self, kind: str, at: datetime) -> bool:
        """Whether a violation of ``kind`` at ``at`` falls in this pause."""
        return kind in self.kinds and self.starts_at <= at < self.ends_at

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a pause."""
        return {
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "kinds": list(self.kinds),
            "reason": self.reason,
        }


class SellerStanding(Base):
    """The materialised standing of one seller, kept in step with every change: the marketplace reads this row."""

    __tablename__ = "seller_standings"
    __table_args__ = (sa.Index(None, "stage", "active_points"),)

    seller_id: Mapped[int] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"), primary_key=True)
    stage: Mapped[Stage] = mapped_column(_enum(Stage))
    may_list: Mapped[bool]
    may_sell: Mapped[bool]
    active_points: Mapped[int]
    # Counted when the standing was last evaluated (evaluated_at), with the policy version then in force.
    orders_in_window: Mapped[int]
    window_days: Mapped[int]
    policy_version: Mapped[int]
    # The sanctions in force: [{id, stage, starts_at, ends_at, reason}], newest first.
    sanctions: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    evaluated_at: Mapped[datetime]
    changed_at: Mapped[datetime]
    # Counts the changes; each one's webhook is keyed by it.
    revision: Mapped[int]
