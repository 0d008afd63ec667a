"""The stage rules, as plain functions: the live evaluation and the policy what-if both run these.

When is a seller evaluated, and how does it move?

1. Up, one stage at a time, when a violation is recorded and when a late shipment is raised to its severe points,
   effective at that violation's time (the missed deadline, the ship-by, the decision), never at the time a runner
   happened to process it. The figures are those of that instant: the points of the violations that stood then
   (recorded, not overturned, not set aside, inside their window; violations at the very same instant count in the
   order they were recorded), and the orders paid in the window before it.
   - at or above the sanction threshold: the next stage (none → notice → warning → restricted → termination review);
   - otherwise, with no stage, at or above the notice threshold: notice;
   - a kind with a jump stage (counterfeit → restricted) goes straight there when that is higher.
   Each evaluation imposes at most one sanction, so a seller moves at most one stage per violation, except for a
   jump.
2. Down, never by points alone: the stage is the most severe stage among the sanctions in force. A seller drops
   back when a sanction ends: by itself when its days run out (a warning after 7 days, a notice after 30), when a
   supervisor lifts or shortens it, when its appeal is accepted, or when it is no longer justified. A sanction
   imposed by the rules is no longer justified once the violations that stood at its start, without those since
   overturned or set aside, no longer reach the threshold that imposed it (or, for a jump, once its violation is
   overturned); this is checked whenever a violation is overturned or set aside. A restriction lasts until a
   supervisor reviews it.
3. Points leave the count when a violation is older than the window (at ``occurred_at + window``, to the second),
   when it is overturned, and when a force-majeure pause sets it aside. That changes the standing's points, not its
   stage; the next violation is judged on the lower figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from marketplace.sanctions.models import SanctionRule, Stage
from marketplace.sanctions.policy import SanctionPolicy


@dataclass(frozen=True, slots=True)
class Fact:
    """A violation that stood, as the rules count it."""

    id: int
    seller_id: int
    kind: str
    occurred_at: datetime
    expires_at: datetime
    points: int  # what it counts from ``raised_at`` on (or throughout, when never raised)
    initial_points: int
    raised_at: datetime | None = None
    void_at: datetime | None = None  # overturned or set aside then: it stood only before

    def stands_at(self, at: datetime) -> bool:
        """Whether it had not been overturned or set aside by ``at``."""
        return self.void_at is None or self.void_at > at

    def points_at(self, at: datetime) -> int:
        """Its points at the instant ``at`` (a late shipment counts its severe points once raised)."""
        if self.raised_at is not None and self.raised_at <= at:
            return self.points
        return self.initial_points


def points_at(
    facts: Iterable[Fact], at: datetime, *, through_id: int | None = None, as_of: datetime | None = None
) -> tuple[int, list[int]]:
    """The points that count at ``at``, and which violations they come from.

    ``through_id``: evaluating the recording of that violation, later-recorded violations of the same instant do not
    count yet (sweeps record many violations with one deadline; each is judged in turn, as if recorded one by one).
    ``as_of``: leave out what had been overturned or set aside by then (default: by ``at``).
    """
    as_of = at if as_of is None else as_of
    total = 0
    ids: list[int] = []
    for fact in facts:
        if fact.occurred_at > at or fact.expires_at <= at or not fact.stands_at(as_of):
            continue
        if through_id is not None and fact.occurred_at == at and fact.id > through_id:
            continue
        total += fact.points_at(at)
        ids.append(fact.id)
    return total, ids


@dataclass(slots=True)
class Held:
    """A sanction as the rules see it: its stage, when it applies, and (when the rules imposed it) why."""

    stage: Stage
    starts_at: datetime
    ends_at: datetime | None  # None: until a supervisor's review
    ended_at: datetime | None = None  # when it ended before ``ends_at`` (lifted), or None
    sanction_id: int | None = None  # None: imposed by this run of the rules (a replay's own)
    rule: SanctionRule | None = None  # None: staff imposed it
    trigger_id: int | None = None
    through_id: int | None = None
    orders: int | None = None  # the orders the rule compared (at most counted up to what decided it)
    policy: SanctionPolicy | None = None  # the policy that imposed it

    @property
    def end(self) -> datetime | None:
        """When it stops applying, if known."""
        if self.ended_at is not None:
            return self.ended_at if self.ends_at is None else min(self.ended_at, self.ends_at)
        return self.ends_at

    def in_force_at(self, at: datetime) -> bool:
        """Whether it applies at the instant ``at``."""
        end = self.end
        return self.starts_at <= at and (end is None or end > at)


def stage_at(held: Iterable[Held], at: datetime) -> Stage:
    """The seller's stage at ``at``: the most severe sanction in force then."""
    best = Stage.NONE
    for sanction in held:
        if sanction.stage.rank > best.rank and sanction.in_force_at(at):
            best = sanction.stage
    return best


def unjustified(held: Iterable[Held], facts: Sequence[Fact], at: datetime) -> list[Held]:
    """The sanctions the rules imposed, in force at ``at``, that the violations still standing then no longer justify.

    A sanction is judged on its own evidence: its violation must still stand, and (unless it was a jump) the
    violations that stood at its start, less those overturned or set aside by ``at``, must still reach the threshold
    that imposed it, over the orders it counted then.
    """
    standing = {fact.id for fact in facts if fact.stands_at(at)}
    found = []
    for sanction in held:
        if sanction.rule is None or not sanction.in_force_at(at):
            continue
        if sanction.trigger_id not in standing:
            found.append(sanction)
            continue
        if sanction.rule is SanctionRule.JUMP or sanction.policy is None or sanction.orders is None:
            continue
        points, _ids = points_at(facts, sanction.starts_at, through_id=sanction.through_id, as_of=at)
        threshold = (
            sanction.policy.notice_threshold
            if sanction.rule is SanctionRule.NOTICE_THRESHOLD
            else sanction.policy.sanction_threshold
        )
        if not threshold.met(points, sanction.orders):
            found.append(sanction)
    return found


@dataclass(frozen=True, slots=True)
class Move:
    """A stage to impose and the rule that imposes it."""

    stage: Stage
    rule: SanctionRule


def decide(current: Stage, kind: str, points: int, orders: int | None, policy: SanctionPolicy) -> Move | None:
    """The move a violation of ``kind`` causes at ``current``; ``orders`` None: below every threshold's points."""
    moves: list[Move] = []
    if orders is not None:
        if policy.sanction_threshold.met(points, orders) and current.next is not None:
            moves.append(Move(current.next, SanctionRule.SANCTION_THRESHOLD))
        elif current is Stage.NONE and policy.notice_threshold.met(points, orders):
            moves.append(Move(Stage.NOTICE, SanctionRule.NOTICE_THRESHOLD))
    jump = policy.jump_to_stage.get(kind)
    if jump is not None and jump.rank > current.rank:
        moves.append(Move(jump, SanctionRule.JUMP))
    return max(moves, key=lambda move: move.stage.rank) if moves else None


def orders_limit(points: int, policy: SanctionPolicy) -> int | None:
    """How many orders to count at most to judge ``points`` against both thresholds (None: count them all).

    A threshold's ratio holds up to a number of orders; counting one more than the larger of the two tells both
    answers, so a seller with 100,000 orders costs no more to judge than one with 30.
    """
    thresholds = (policy.notice_threshold, policy.sanction_threshold)
    if any(threshold.ratio_percent == 0 for threshold in thresholds):
        return None
    return max(threshold.most_orders(points) for threshold in thresholds) + 1


def needs_orders(points: int, policy: SanctionPolicy) -> bool:
    """Whether the orders matter at all: below every threshold's points they do not."""
    return points >= policy.fewest_points


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One moment a seller is judged: a violation recorded (or raised), effective at its time."""

    seller_id: int
    at: datetime
    kind: str
    violation_id: int
    trigger_key: str
    through_id: int | None  # the recorded violation itself; None for a raise (everything at ``at`` counts)

    @property
    def sort_key(self) -> tuple[datetime, int, int]:
        """Time first, then recordings before raises of the same instant, then the violation id."""
        return (self.at, 0 if self.through_id is not None else 1, self.violation_id)


@dataclass(slots=True)
class Outcome:
    """A sanction an evaluation imposes."""

    evaluation: Evaluation
    move: Move
    from_stage: Stage
    points: int
    orders: int | None
    violation_ids: list[int]
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class StaffEnd:
    """A person ended a sanction early: lifted at ``at``, or shortened at ``at`` to end at ``ends_at``."""

    at: datetime
    stage: Stage
    ends_at: datetime | None = None  # None: lifted

    def apply(self, held: list[Held]) -> None:
        """End (or shorten) the sanction of this stage that the rules imposed and that is in force then."""
        for sanction in held:
            if sanction.sanction_id is None and sanction.stage is self.stage and sanction.in_force_at(self.at):
                if self.ends_at is None:
                    sanction.ended_at = self.at
                else:
                    sanction.ends_at = self.ends_at if sanction.ends_at is None else min(sanction.ends_at, self.ends_at)
                return


@dataclass(slots=True)
class SellerTrack:
    """One seller's facts and sanctions while its evaluations are run in order."""

    facts: list[Fact] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    # Replays only, in time order: what people did, and when violations stopped standing (each such moment lifts
    # what is no longer justified, as ``standing.lift_unjustified`` does live).
    staff_ends: list[StaffEnd] = field(default_factory=list)
    void_times: list[datetime] = field(default_factory=list)

    def catch_up(self, until: datetime) -> None:
        """Apply what people did, and the lifts of what stopped being justified, up to ``until``."""
        while (self.staff_ends and self.staff_ends[0].at <= until) or (self.void_times and self.void_times[0] <= until):
            if self.staff_ends and (not self.void_times or self.staff_ends[0].at <= self.void_times[0]):
                self.staff_ends.pop(0).apply(self.held)
                continue
            at = self.void_times.pop(0)
            for sanction in unjustified(self.held, self.facts, at):
                sanction.ended_at = at


def run_evaluations(
    track: SellerTrack,
    evaluations: Sequence[Evaluation],
    orders_at: dict[tuple[int, datetime], int],
    policy: SanctionPolicy,
) -> list[Outcome]:
    """Judge ``evaluations`` (sorted) in turn; each sanction imposed is held for the evaluations after it.

    ``orders_at`` has the orders of (seller, instant) for every evaluation whose points reach a threshold's points
    (possibly capped by ``orders_limit``); see ``evaluation_points``.
    """
    outcomes: list[Outcome] = []
    for evaluation in evaluations:
        track.catch_up(evaluation.at)
        # A stage the rules imposed later than this instant counts as reached: a runner that judged a later
        # violation first (two runners at once) must not impose the same stage again.
        current = stage_at(track.held, evaluation.at)
        for held in track.held:
            if held.rule is not None and held.starts_at > evaluation.at and held.stage.rank > current.rank:
                current = held.stage
        if current.next is None:
            continue
        points, ids = points_at(track.facts, evaluation.at, through_id=evaluation.through_id)
        orders = orders_at.get((evaluation.seller_id, evaluation.at)) if needs_orders(points, policy) else None
        move = decide(current, evaluation.kind, points, orders, policy)
        if move is None:
            continue
        duration = policy.duration(move.stage)
        ends_at = None if duration is None else evaluation.at + duration
        track.held.append(
            Held(
                move.stage,
                evaluation.at,
                ends_at,
                rule=move.rule,
                trigger_id=evaluation.violation_id,
                through_id=evaluation.through_id,
                orders=orders,
                policy=policy,
            )
        )
        outcomes.append(Outcome(evaluation, move, current, points, orders, ids, ends_at))
    return outcomes


def evaluation_points(track: SellerTrack, evaluations: Iterable[Evaluation]) -> list[tuple[Evaluation, int]]:
    """Each evaluation with the points that count at it (they do not depend on the stage, so they come first)."""
    return [
        (evaluation, points_at(track.facts, evaluation.at, through_id=evaluation.through_id)[0])
        for evaluation in evaluations
    ]


def standing_of(held: Iterable[Held], at: datetime) -> tuple[Stage, bool, bool]:
    """Stage, may list, may sell at ``at``."""
    stage = stage_at(held, at)
    return stage, stage.may_list, stage.may_sell
