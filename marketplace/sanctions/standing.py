"""The rules applied to the database: evaluate sellers, impose and end sanctions, and keep each standing row current.

Everything here is set-based over the sellers of a batch: a sweep that escalates 1,000 claims judges their sellers
with a handful of statements, never a query per violation. Each seller's standing row is locked (in seller order)
before its facts are read, so two runners judging the same seller run one after the other, the second on what the
first committed; and each automatic sanction is keyed by the evaluation that imposed it, so none is ever doubled.

Recorded violations are judged once per transaction, just before it commits (``judge_later`` / ``settle``): a caller
that records them one order at a time (the order-event ingestion opens one claim per cancelled order) still gets one
set-based judgement for all of them, in the order they took effect, in the same transaction. Anything else that
reads or changes standing settles first, so it always sees the judgement of every violation recorded before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.core.audit import AuditEntry, jsonable, record_audit_many
from marketplace.core.auth import Actor
from marketplace.core.bulk import among, insert_returning, insert_rows, update_rows, utc_iso
from marketplace.core.errors import Forbidden
from marketplace.core.models import Role
from marketplace.core.queries import business_calendar
from marketplace.core.signals import Signal, publish
from marketplace.notifications.models import Audience
from marketplace.notifications.outbox import WEBHOOK_CHANNEL, Outgoing, enqueue, webhook_body
from marketplace.sanctions import queries
from marketplace.sanctions import signals as sanction_signals
from marketplace.sanctions.models import (
    EndCause,
    Sanction,
    SanctionEnd,
    SanctionSource,
    SellerStanding,
    Stage,
    StageChange,
    highest_stage,
)
from marketplace.sanctions.policy import SanctionPolicy, current_sanction_policy, sanction_policy_version
from marketplace.sanctions.rules import (
    Evaluation,
    Held,
    Outcome,
    SellerTrack,
    evaluation_points,
    needs_orders,
    orders_limit,
    run_evaluations,
    stage_at,
    unjustified,
)

standings = SellerStanding.__table__
sanctions = Sanction.__table__
STANDING_CHANGED_TOPIC = "seller.standing_changed"


_PENDING = "sanctions_pending"


def judge_later(session: Session, evaluations: Sequence[Evaluation], *, actor: Actor, now: datetime) -> None:
    """Have these recorded violations judged, and their sellers' standing refreshed, before the transaction commits."""
    if evaluations:
        session.info.setdefault(_PENDING, []).append((list(evaluations), actor, now))


def settle(session: Session) -> None:
    """Judge what ``judge_later`` was given in this transaction: one set-based pass per acting party."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    groups: dict[str, tuple[Actor, datetime, list[Evaluation]]] = {}
    for evaluations, actor, now in pending:
        _actor, latest_now, collected = groups.get(actor.ref, (actor, now, []))
        groups[actor.ref] = (actor, max(latest_now, now), [*collected, *evaluations])
    for actor, now, evaluations in groups.values():
        latest: dict[int, datetime] = {}
        for evaluation in evaluations:
            latest[evaluation.seller_id] = max(latest.get(evaluation.seller_id, evaluation.at), evaluation.at)
        locked = lock_standings(session, latest, now=now)
        reached = evaluate(session, evaluations, cause="violation", actor=actor, now=now, locked=locked)
        refresh_standings(
            session,
            latest,
            changed_at=latest,
            cause="violation",
            actor=actor,
            now=now,
            history_from=reached,
            stored=locked,
        )


@event.listens_for(Session, "before_commit")
def _settle_before_commit(session: Session) -> None:
    # The outermost commit only: a savepoint released inside an operation is not the end of the transaction.
    if not session.in_nested_transaction():
        settle(session)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    # The violations were rolled back with the transaction.
    session.info.pop(_PENDING, None)


def lock_standings(session: Session, seller_ids: Iterable[int], *, now: datetime) -> dict[int, Any]:
    """The sellers' standing rows, created clean when missing, locked until commit (in seller order)."""
    settle(session)
    seller_ids = sorted(set(seller_ids))
    if not seller_ids:
        return {}
    locked = _lock(session, seller_ids)
    missing = [seller_id for seller_id in seller_ids if seller_id not in locked]
    if missing:
        policy = current_sanction_policy(session)
        insert_returning(
            session,
            standings,
            [
                {
                    "seller_id": seller_id,
                    "stage": Stage.NONE.value,
                    "may_list": True,
                    "may_sell": True,
                    "active_points": 0,
                    "orders_in_window": 0,
                    "window_days": policy.window_days,
                    "policy_version": policy.version,
                    "sanctions": [],
                    "evaluated_at": now,
                    "changed_at": now,
                    "revision": 0,
                }
                for seller_id in missing
            ],
            conflict=("seller_id",),
            returning=("seller_id",),
        )
        locked.update(_lock(session, missing))
    return locked


def _lock(session: Session, seller_ids: list[int]) -> dict[int, Any]:
    query = sa.select(standings).where(among(standings.c.seller_id, seller_ids)).order_by(standings.c.seller_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.seller_id: row for row in session.execute(query)}


def evaluate(
    session: Session,
    evaluations: Sequence[Evaluation],
    *,
    cause: str,
    actor: Actor,
    now: datetime,
    locked: Mapping[int, Any] | None = None,
) -> dict[int, Stage]:
    """Judge each evaluation in time order per seller; impose what the rules say, and write each move's history.

    Returns the stage each seller that moved reached, for ``refresh_standings(history_from=...)``. ``locked``: the
    sellers' standing rows when the caller locked them already.
    """
    if not evaluations:
        return {}
    policy = current_sanction_policy(session)
    by_seller: dict[int, list[Evaluation]] = defaultdict(list)
    for evaluation in sorted(evaluations, key=lambda evaluation: evaluation.sort_key):
        by_seller[evaluation.seller_id].append(evaluation)
    settle(session)
    if locked is None or not set(by_seller) <= set(locked):
        lock_standings(session, by_seller, now=now)
    since = {seller_id: judged[0].at for seller_id, judged in by_seller.items()}
    held = queries.held_for(session, since)
    # A seller already at the top stage at each of its instants has nowhere to go: skip reading its facts.
    for seller_id in list(by_seller):
        by_seller[seller_id] = [e for e in by_seller[seller_id] if stage_at(held[seller_id], e.at).next is not None]
        if not by_seller[seller_id]:
            del by_seller[seller_id]
    if not by_seller:
        return {}
    facts = queries.facts_for(session, {seller_id: since[seller_id] for seller_id in by_seller})
    for seller_id in list(by_seller):
        # A violation rolled back with a savepoint since it was recorded is judged no more.
        known = {fact.id for fact in facts[seller_id]}
        by_seller[seller_id] = [e for e in by_seller[seller_id] if e.violation_id in known]
    tracks = {seller_id: SellerTrack(facts[seller_id], list(held[seller_id])) for seller_id in by_seller}
    orders_at = _orders_at(session, tracks, by_seller, policy)
    outcomes = [
        outcome
        for seller_id, judged in by_seller.items()
        for outcome in run_evaluations(tracks[seller_id], judged, orders_at, policy)
    ]
    imposed = impose_outcomes(session, outcomes, policy=policy, actor=actor, now=now)
    reached: dict[int, Stage] = {}
    moves = []
    for outcome, row in zip(outcomes, imposed, strict=True):
        if row is None:
            continue
        moves.append(
            {
                "seller_id": row["seller_id"],
                "at": row["starts_at"],
                "from_stage": outcome.from_stage.value,
                "to_stage": row["stage"],
                "cause": cause,
                "actor": actor.ref,
                "recorded_at": now,
            }
        )
        reached[row["seller_id"]] = Stage(row["stage"])
    insert_rows(session, StageChange.__table__, moves)
    return reached


def _orders_at(
    session: Session,
    tracks: Mapping[int, SellerTrack],
    by_seller: Mapping[int, list[Evaluation]],
    policy: SanctionPolicy,
) -> dict[tuple[int, datetime], int]:
    """The orders at each instant whose points reach a threshold's points, counted in one statement."""
    limits: dict[tuple[int, datetime], int | None] = {}
    for seller_id, judged in by_seller.items():
        for evaluation, points in evaluation_points(tracks[seller_id], judged):
            if not needs_orders(points, policy):
                continue
            key = (seller_id, evaluation.at)
            limit = orders_limit(points, policy)
            previous = limits.get(key, 0)
            limits[key] = None if limit is None or previous is None else max(previous, limit)
    moments = list(limits)
    counts = queries.count_orders(session, moments, policy.window, [limits[moment] for moment in moments])
    return dict(zip(moments, counts, strict=True))


def impose_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, policy: SanctionPolicy, actor: Actor, now: datetime
) -> list[dict[str, Any] | None]:
    """Write the sanctions the rules imposed (once per evaluation), audit them and tell the other domains.

    Returns each outcome's sanction row, or None where it had been imposed already (its trigger key was taken).
    """
    if not outcomes:
        return []
    calendar = business_calendar(session)
    # The figures shown with a sanction are exact, even where the rule only needed to know "at most N orders".
    exact = queries.count_orders(
        session,
        [(outcome.evaluation.seller_id, outcome.evaluation.at) for outcome in outcomes],
        policy.window,
        [None] * len(outcomes),
    )
    rows = [
        {
            "seller_id": outcome.evaluation.seller_id,
            "stage": outcome.move.stage.value,
            "source": SanctionSource.RULES.value,
            "rule": outcome.move.rule.value,
            "trigger_key": outcome.evaluation.trigger_key,
            "trigger_violation_id": outcome.evaluation.violation_id,
            "violation_ids": outcome.violation_ids,
            "points": outcome.points,
            "orders": orders,
            "policy_version": policy.version,
            "reason": "",
            "starts_at": outcome.evaluation.at,
            "ends_at": outcome.ends_at,
            "imposed_at": now,
            "imposed_by": actor.ref,
            "appeal_due_at": calendar.add_business_days(outcome.evaluation.at, policy.appeal_business_days),
        }
        for outcome, orders in zip(outcomes, exact, strict=True)
    ]
    inserted = insert_returning(session, sanctions, rows, conflict=("trigger_key",), returning=("id", "trigger_key"))
    ids = {row.trigger_key: row.id for row in inserted}
    imposed = [{**row, "id": ids[row["trigger_key"]]} if row["trigger_key"] in ids else None for row in rows]
    record_imposed(session, [row for row in imposed if row is not None], actor=actor)
    return imposed


def record_imposed(session: Session, imposed: Sequence[Mapping[str, Any]], *, actor: Actor) -> None:
    """Audit newly imposed sanctions (at their start) and publish ``sanction.imposed``."""
    if not imposed:
        return
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="sanction.impose",
                entity_type="sanction",
                entity_id=str(row["id"]),
                before=None,
                after={
                    "seller_id": row["seller_id"],
                    "stage": row["stage"],
                    "source": row["source"],
                    "rule": row["rule"],
                    "starts_at": utc_iso(row["starts_at"]),
                    "ends_at": utc_iso(row["ends_at"]) if row["ends_at"] else None,
                    "reason": row["reason"],
                    "points": row["points"],
                    "orders": row["orders"],
                    "violation_ids": list(row["violation_ids"]),
                    "policy_version": row["policy_version"],
                },
                occurred_at=row["starts_at"],
            )
            for row in imposed
        ],
    )
    publish(
        session,
        [
            Signal(
                sanction_signals.SANCTION_IMPOSED,
                row["starts_at"],
                {
                    "sanction_id": row["id"],
                    "seller_id": row["seller_id"],
                    "stage": row["stage"],
                    "starts_at": row["starts_at"],
                    "ends_at": row["ends_at"],
                    "reason": row["reason"] or row["rule"],
                    "source": row["source"],
                    "rule": row["rule"],
                    "points": row["points"],
                    "orders": row["orders"],
                    "violation_ids": list(row["violation_ids"]),
                },
            )
            for row in imposed
        ],
        actor=actor,
        now=max(row["imposed_at"] for row in imposed),
    )


def record_ended(session: Session, ended: Sequence[Mapping[str, Any]], *, actor: Actor, now: datetime) -> None:
    """Audit sanctions that ended (at their end) and publish ``sanction.ended``.

    Each row: id, seller_id, stage, ended_at, how, reason.
    """
    if not ended:
        return
    record_audit_many(
        session,
        [
            AuditEntry(
                actor=actor.ref,
                action="sanction.end",
                entity_type="sanction",
                entity_id=str(row["id"]),
                before={"ended_at": None},
                after=jsonable({"ended_at": row["ended_at"], "ended_how": row["how"], "end_reason": row["reason"]}),
                occurred_at=row["ended_at"],
            )
            for row in ended
        ],
    )
    publish(
        session,
        [
            Signal(
                sanction_signals.SANCTION_ENDED,
                row["ended_at"],
                {
                    "sanction_id": row["id"],
                    "seller_id": row["seller_id"],
                    "stage": row["stage"],
                    "ended_at": row["ended_at"],
                    "how": row["how"],
                    "reason": row["reason"],
                },
            )
            for row in ended
        ],
        actor=actor,
        now=now,
    )


def lift_unjustified(
    session: Session, seller_ids: Iterable[int], *, reason: str, actor: Actor, now: datetime
) -> list[Sanction]:
    """Lift the sellers' automatic sanctions that the violations still standing no longer justify.

    The rule is ``rules.unjustified``; it is applied whenever violations stop standing (overturned, set aside).
    Lifting a selling restriction needs a supervisor.
    """
    settle(session)
    seller_ids = sorted(set(seller_ids))
    running = list(
        session.scalars(
            sa.select(Sanction)
            .where(
                among(Sanction.seller_id, seller_ids),
                Sanction.ended_at.is_(None),
                Sanction.source == SanctionSource.RULES,
            )
            .order_by(Sanction.seller_id, Sanction.id)
            .with_for_update(of=Sanction)
        )
    )
    if not running:
        return []
    since: dict[int, datetime] = {}
    for sanction in running:
        since[sanction.seller_id] = min(since.get(sanction.seller_id, sanction.starts_at), sanction.starts_at)
    facts = queries.facts_for(session, since)
    policies: dict[int, SanctionPolicy] = {}
    held: dict[int, Held] = {}
    for sanction in running:
        if sanction.policy_version not in policies:
            policies[sanction.policy_version] = sanction_policy_version(session, sanction.policy_version)
        held[sanction.id] = held_of(sanction, policies[sanction.policy_version])
    lifted_ids = {
        found.sanction_id
        for seller_id in since
        for found in unjustified(
            [held[sanction.id] for sanction in running if sanction.seller_id == seller_id], facts[seller_id], now
        )
    }
    unjust = [sanction for sanction in running if sanction.id in lifted_ids]
    if not unjust:
        return []
    if actor.role is Role.AGENT and any(sanction.stage.rank >= Stage.RESTRICTED.rank for sanction in unjust):
        raise Forbidden(_l("Lifting a selling restriction needs a supervisor."))
    for sanction in unjust:
        sanction.end(SanctionEnd.LIFTED, EndCause.NO_LONGER_JUSTIFIED, at=now, reason=reason, by=actor.ref)
    session.flush()
    record_ended(
        session,
        [
            {
                "id": sanction.id,
                "seller_id": sanction.seller_id,
                "stage": sanction.stage.value,
                "ended_at": now,
                "how": SanctionEnd.LIFTED.value,
                "reason": reason,
            }
            for sanction in unjust
        ],
        actor=actor,
        now=now,
    )
    return unjust


def held_of(sanction: Sanction, policy: SanctionPolicy | None) -> Held:
    """A stored sanction as the rules see it."""
    through = sanction.trigger_violation_id if (sanction.trigger_key or "").startswith("violation:") else None
    return Held(
        sanction.stage,
        sanction.starts_at,
        sanction.ends_at,
        sanction.ended_at,
        sanction_id=sanction.id,
        rule=sanction.rule,
        trigger_id=sanction.trigger_violation_id,
        through_id=through,
        orders=sanction.orders,
        policy=policy,
    )


def refresh_standings(
    session: Session,
    seller_ids: Iterable[int],
    *,
    changed_at: Mapping[int, datetime] | datetime,
    cause: str,
    actor: Actor,
    now: datetime,
    history_from: Mapping[int, Stage] | None = None,
    stored: Mapping[int, Any] | None = None,
) -> int:
    """Recompute the sellers' standing rows; for each that changed, a webhook, a signal and its stage history.

    ``changed_at``: the effective time of the change, per seller or for all. ``history_from``: the stage whose move
    the history has recorded already (``evaluate`` writes each move up as it imposes it). Returns how many
    standings changed. ``stored``: the rows as ``lock_standings`` returned them in this transaction, when the
    caller locked them already (and nothing changed them since).
    """
    settle(session)
    seller_ids = sorted(set(seller_ids))
    if not seller_ids:
        return 0
    policy = current_sanction_policy(session)
    if stored is None or not set(seller_ids) <= set(stored):
        stored = lock_standings(session, seller_ids, now=now)
    points = queries.active_points(session, seller_ids)
    counts = queries.orders_in_window(session, seller_ids, at=now, window=policy.window)
    running = queries.running_sanctions(session, seller_ids)
    external_ids = queries.sellers_by_id(session, seller_ids)
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for seller_id in seller_ids:
        old = stored[seller_id]
        in_force = [_in_force(sanction) for sanction in running.get(seller_id, [])]
        stage = highest_stage(sanction["stage"] for sanction in in_force)
        values = {
            "stage": stage.value,
            "may_list": stage.may_list,
            "may_sell": stage.may_sell,
            "active_points": points.get(seller_id, 0),
            "sanctions": in_force,
        }
        update = {
            "seller_id": seller_id,
            "orders_in_window": counts.get(seller_id, 0),
            "window_days": policy.window_days,
            "policy_version": policy.version,
            "evaluated_at": now,
            "changed_at": old.changed_at,
            "revision": old.revision,
            **values,
        }
        if any(getattr(old, key) != value for key, value in values.items()):
            at = changed_at if isinstance(changed_at, datetime) else changed_at.get(seller_id, now)
            update.update(changed_at=at, revision=old.revision + 1)
            base = (history_from or {}).get(seller_id, Stage(old.stage))
            changes.append({**update, "from_stage": base, "at": at})
        updates.append(update)
    update_rows(session, standings, "seller_id", updates)
    _announce(session, changes, external_ids, cause=cause, actor=actor, now=now)
    return len(changes)


def _in_force(sanction: Mapping[str, Any]) -> dict[str, Any]:
    """A sanction in force as the standing row (and its webhook) shows it."""
    return jsonable(
        {
            "id": sanction["id"],
            "stage": sanction["stage"],
            "source": sanction["source"],
            "starts_at": sanction["starts_at"],
            "ends_at": sanction["ends_at"],
            "reason": sanction["reason"] or sanction["rule"],
        }
    )


def _announce(
    session: Session,
    changes: Sequence[Mapping[str, Any]],
    external_ids: Mapping[int, str],
    *,
    cause: str,
    actor: Actor,
    now: datetime,
) -> None:
    """The webhook, the signal and (when the stage moved) the stage history of each changed standing."""
    if not changes:
        return
    _enqueue_webhooks(
        session,
        [
            (
                f"{STANDING_CHANGED_TOPIC}:{change['seller_id']}:{change['revision']}",
                {
                    "seller_id": external_ids[change["seller_id"]],
                    "stage": change["stage"],
                    "may_list": change["may_list"],
                    "may_sell": change["may_sell"],
                    "active_points": change["active_points"],
                    "sanctions": change["sanctions"],
                    "changed_at": jsonable(change["at"]),
                },
            )
            for change in changes
        ],
        now=now,
    )
    moved = [change for change in changes if Stage(change["from_stage"]) is not Stage(change["stage"])]
    if moved:
        insert_rows(
            session,
            StageChange.__table__,
            [
                {
                    "seller_id": change["seller_id"],
                    "at": change["at"],
                    "from_stage": Stage(change["from_stage"]).value,
                    "to_stage": change["stage"],
                    "cause": cause,
                    "actor": actor.ref,
                    "recorded_at": now,
                }
                for change in moved
            ],
        )
    publish(
        session,
        [
            Signal(
                sanction_signals.STANDING_CHANGED,
                change["at"],
                {
                    "seller_id": change["seller_id"],
                    "stage": change["stage"],
                    "may_list": change["may_list"],
                    "may_sell": change["may_sell"],
                    "active_points": change["active_points"],
                },
            )
            for change in changes
        ],
        actor=actor,
        now=now,
    )


def _enqueue_webhooks(session: Session, webhooks: Sequence[tuple[str, dict[str, Any]]], *, now: datetime) -> None:
    """``seller.standing_changed`` webhooks to the marketplace, idempotent by dedupe key, in one statement."""
    enqueue(
        session,
        [
            Outgoing(
                dedupe_key=key,
                topic=STANDING_CHANGED_TOPIC,
                audience=Audience.MARKETPLACE,
                channel=WEBHOOK_CHANNEL,
                payload=webhook_body(STANDING_CHANGED_TOPIC, key, body),
            )
            for key, body in webhooks
        ],
        now=now,
    )
