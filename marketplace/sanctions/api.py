"""REST: a seller's standing (for the marketplace), its violations, sanctions, stage history and appeals; manual
violations, impose / shorten / lift, appeal decisions, force-majeure pauses, and the sanction policy with its what-if.

A seller's user sees its own seller only (another seller is a 404); buyers see none of it (403).
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import RAISE

from marketplace.core import clock
from marketplace.core.auth import Actor, ActorKind
from marketplace.core.errors import NotFound
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import Permission, authorize
from marketplace.core.policies import current_policy, publish_policy
from marketplace.extensions import db
from marketplace.orders.queries import get_order_by_external_id
from marketplace.sanctions import operations, queries
from marketplace.sanctions.models import AppealStatus, Stage, ViolationState
from marketplace.sanctions.permissions import (
    DECIDE_APPEAL,
    DECLARE_PAUSE,
    FILE_APPEAL,
    LIST_ALL,
    MANAGE_SANCTION,
    OVERTURN_VIOLATION,
    PUBLISH_SANCTION_POLICY,
    READ_PAUSES,
    READ_SANCTION_POLICY,
    READ_SANCTIONS,
    READ_STANDING,
    RECORD_VIOLATION,
    SIMULATE_POLICY,
)
from marketplace.sanctions.policy import SANCTIONS, sanction_policy_history
from marketplace.sanctions.schemas import (
    AppealCreateSchema,
    AppealDecisionSchema,
    AppealPageSchema,
    AppealQueryArgsSchema,
    AppealSchema,
    ManualViolationCreateSchema,
    PageArgsSchema,
    PauseCreateSchema,
    PausePageSchema,
    PauseSchema,
    ReasonSchema,
    SanctionCreateSchema,
    SanctionPageSchema,
    SanctionPolicyUpdateSchema,
    SanctionPolicyVersionSchema,
    SanctionQueryArgsSchema,
    SanctionSchema,
    SanctionShortenSchema,
    SimulationCreateSchema,
    SimulationSchema,
    StageChangePageSchema,
    StandingPageSchema,
    StandingQueryArgsSchema,
    StandingSchema,
    ViolationPageSchema,
    ViolationQueryArgsSchema,
    ViolationSchema,
    appeal_out,
    pause_out,
    sanction_out,
    simulation_out,
    stage_change_out,
    standing_out,
    violation_out,
)
from marketplace.sanctions.simulation import simulate
from marketplace.sellers.models import Seller
from marketplace.web.session import api_actor

blp = Blueprint(
    "sanctions_api",
    __name__,
    description="Seller standing, violations, sanctions, appeals, force-majeure pauses and the sanction policy",
)

_View = TypeVar("_View", bound=Callable[..., Any])
_SEE = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
_ACT = (*_SEE, HTTPStatus.CONFLICT)


def _problems(*statuses: HTTPStatus) -> Callable[[_View], _View]:
    """Document the problem+json answers an endpoint gives besides its own (422 is documented by its schema)."""

    def decorate(view: _View) -> _View:
        for status in statuses:
            view = blp.alt_response(status, response=status.name)(view)
        return view

    return decorate


def _internal(actor: Actor) -> bool:
    """Staff and the marketplace's systems see which account acted; a seller sees the party."""
    return actor.kind is not ActorKind.SELLER_USER


def _seller_for(permission: Permission, seller_id: str) -> tuple[Actor, Seller]:
    """The caller and the seller: 403 unless the role may at all, 404 for an unknown or someone else's seller."""
    actor = api_actor()
    authorize(actor, permission)
    seller = queries.get_seller(db.session, seller_id)
    if seller is None:
        raise NotFound(_l("Not found."))
    authorize(actor, permission, seller)
    return actor, seller


def _found(actor: Actor, obj: Any, *permissions: Permission) -> Any:
    """``obj`` when the caller may see it (and do each of ``permissions``); else 404 (or 403 for the role)."""
    authorize(actor, READ_SANCTIONS)
    if obj is None:
        raise NotFound(_l("Not found."))
    authorize(actor, READ_SANCTIONS, obj)
    for permission in permissions:
        authorize(actor, permission, obj)
    return obj


def _page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"items": items, "page": args["page"], "page_size": args["page_size"], "total": total}


def _window(args: dict[str, Any]) -> dict[str, int]:
    return {"limit": args["page_size"], "offset": (args["page"] - 1) * args["page_size"]}


@blp.route("/sellers/<string:seller_id>/standing")
class StandingResource(MethodView):
    """What a seller may do now."""

    @_problems(*_SEE)
    @blp.response(200, StandingSchema)
    def get(self, seller_id: str) -> dict[str, Any]:
        """Whether the seller may list and sell now, its stage, active points and sanctions in force (one read)."""
        actor = api_actor()
        authorize(actor, READ_STANDING)
        read = queries.read_standing(db.session, seller_id)
        if read is None:
            raise NotFound(_l("Not found."))
        authorize(actor, READ_STANDING, read.seller)
        return standing_out(read.seller, read.standing)


@blp.route("/standings")
class Standings(MethodView):
    """Every seller with a standing row."""

    @blp.arguments(StandingQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, StandingPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List sellers' standings, the most points first, by stage (staff)."""
        authorize(api_actor(), LIST_ALL)
        rows, total = queries.list_standings(db.session, stages=[Stage(s) for s in args["stage"]], **_window(args))
        return _page([standing_out(seller, standing) for seller, standing in rows], total, args)


@blp.route("/sellers/<string:seller_id>/violations")
class SellerViolations(MethodView):
    """A seller's violations."""

    @blp.arguments(ViolationQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(*_SEE)
    @blp.response(200, ViolationPageSchema)
    def get(self, args: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """List the seller's violations, newest first (staff, the seller's users)."""
        actor, seller = _seller_for(READ_SANCTIONS, seller_id)
        found, total = queries.list_violations(
            db.session, seller.id, states=[ViolationState(s) for s in args["state"]], **_window(args)
        )
        return _page([violation_out(v, internal=_internal(actor)) for v in found], total, args)

    @blp.arguments(ManualViolationCreateSchema)
    @_problems(*_ACT)
    @blp.response(201, ViolationSchema)
    def post(self, data: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """Record a violation the rules do not see, with its points and why (staff)."""
        actor, seller = _seller_for(RECORD_VIOLATION, seller_id)
        order = get_order_by_external_id(db.session, data["order_id"]) if data["order_id"] else None
        if data["order_id"] and (order is None or order.seller_id != seller.id):
            raise NotFound(_l("No order of this seller has this id."), field="order_id")
        violation = operations.record_manual_violation(
            db.session,
            seller,
            points=data["points"],
            reason=data["reason"],
            occurred_at=data["occurred_at"],
            order=order,
            actor=actor,
            now=clock.now(),
        )
        db.session.commit()
        return violation_out(violation, internal=True)


@blp.route("/violations/<int:violation_id>")
class ViolationResource(MethodView):
    """One violation."""

    @_problems(*_SEE)
    @blp.response(200, ViolationSchema)
    def get(self, violation_id: int) -> dict[str, Any]:
        """Show a violation (staff, the seller's users)."""
        actor = api_actor()
        violation = _found(actor, queries.get_violation(db.session, violation_id))
        return violation_out(violation, internal=_internal(actor))


@blp.route("/violations/<int:violation_id>/overturn")
class Overturn(MethodView):
    """A supervisor overturns a violation."""

    @blp.arguments(ReasonSchema)
    @_problems(*_ACT)
    @blp.response(200, ViolationSchema)
    def post(self, data: dict[str, Any], violation_id: int) -> dict[str, Any]:
        """Overturn a violation: its points stop counting; what it alone justified is lifted (supervisors)."""
        actor = api_actor()
        violation = _found(actor, queries.get_violation(db.session, violation_id, for_update=True), OVERTURN_VIOLATION)
        operations.overturn_violation(db.session, violation, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return violation_out(violation, internal=True)


@blp.route("/violations/<int:violation_id>/appeals")
class ViolationAppeals(MethodView):
    """Appealing a violation."""

    @blp.arguments(AppealCreateSchema)
    @_problems(*_ACT)
    @blp.response(201, AppealSchema)
    def post(self, data: dict[str, Any], violation_id: int) -> dict[str, Any]:
        """Appeal a violation with a plan of action, before its appeal deadline (the seller's users)."""
        actor = api_actor()
        violation = _found(actor, queries.get_violation(db.session, violation_id, for_update=True), FILE_APPEAL)
        appeal = operations.file_appeal(db.session, violation=violation, actor=actor, now=clock.now(), **data)
        db.session.commit()
        return appeal_out(appeal, internal=_internal(actor))


@blp.route("/sellers/<string:seller_id>/sanctions")
class SellerSanctions(MethodView):
    """A seller's sanctions."""

    @blp.arguments(SanctionQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(*_SEE)
    @blp.response(200, SanctionPageSchema)
    def get(self, args: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """List the seller's sanctions, newest first (staff, the seller's users)."""
        actor, seller = _seller_for(READ_SANCTIONS, seller_id)
        found, total = queries.list_sanctions(
            db.session,
            actor,
            seller_id=seller.id,
            stages=[Stage(s) for s in args["stage"]],
            in_force=args.get("in_force"),
            **_window(args),
        )
        return _page([sanction_out(s, internal=_internal(actor)) for s in found], total, args)

    @blp.arguments(SanctionCreateSchema)
    @_problems(*_ACT)
    @blp.response(201, SanctionSchema)
    def post(self, data: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """Impose a sanction from now, for the policy's days unless an end is given (supervisors)."""
        actor, seller = _seller_for(MANAGE_SANCTION, seller_id)
        sanction = operations.impose_sanction(db.session, seller, actor=actor, now=clock.now(), **data)
        db.session.commit()
        return sanction_out(sanction, internal=True)


@blp.route("/sanctions")
class Sanctions(MethodView):
    """Sanctions across sellers."""

    @blp.arguments(SanctionQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, SanctionPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List sanctions of every seller, newest first (staff)."""
        actor = api_actor()
        authorize(actor, LIST_ALL)
        found, total = queries.list_sanctions(
            db.session, actor, stages=[Stage(s) for s in args["stage"]], in_force=args.get("in_force"), **_window(args)
        )
        return _page([sanction_out(s, internal=True) for s in found], total, args)


@blp.route("/sanctions/<int:sanction_id>")
class SanctionResource(MethodView):
    """One sanction."""

    @_problems(*_SEE)
    @blp.response(200, SanctionSchema)
    def get(self, sanction_id: int) -> dict[str, Any]:
        """Show a sanction (staff, the seller's users)."""
        actor = api_actor()
        sanction = _found(actor, queries.get_sanction(db.session, sanction_id))
        return sanction_out(sanction, internal=_internal(actor))


@blp.route("/sanctions/<int:sanction_id>/shorten")
class Shorten(MethodView):
    """A supervisor shortens a sanction."""

    @blp.arguments(SanctionShortenSchema)
    @_problems(*_ACT)
    @blp.response(200, SanctionSchema)
    def post(self, data: dict[str, Any], sanction_id: int) -> dict[str, Any]:
        """Bring a sanction's end forward (now at the earliest), or give a restriction an end (supervisors)."""
        actor = api_actor()
        sanction = _found(actor, queries.get_sanction(db.session, sanction_id, for_update=True), MANAGE_SANCTION)
        operations.shorten_sanction(db.session, sanction, actor=actor, now=clock.now(), **data)
        db.session.commit()
        return sanction_out(sanction, internal=True)


@blp.route("/sanctions/<int:sanction_id>/lift")
class Lift(MethodView):
    """A supervisor lifts a sanction."""

    @blp.arguments(ReasonSchema)
    @_problems(*_ACT)
    @blp.response(200, SanctionSchema)
    def post(self, data: dict[str, Any], sanction_id: int) -> dict[str, Any]:
        """Lift a sanction now (supervisors)."""
        actor = api_actor()
        sanction = _found(actor, queries.get_sanction(db.session, sanction_id, for_update=True), MANAGE_SANCTION)
        operations.lift_sanction(db.session, sanction, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return sanction_out(sanction, internal=True)


@blp.route("/sanctions/<int:sanction_id>/appeals")
class SanctionAppeals(MethodView):
    """Appealing a sanction."""

    @blp.arguments(AppealCreateSchema)
    @_problems(*_ACT)
    @blp.response(201, AppealSchema)
    def post(self, data: dict[str, Any], sanction_id: int) -> dict[str, Any]:
        """Appeal a sanction in force with a plan of action, before its appeal deadline (the seller's users)."""
        actor = api_actor()
        sanction = _found(actor, queries.get_sanction(db.session, sanction_id, for_update=True), FILE_APPEAL)
        appeal = operations.file_appeal(db.session, sanction=sanction, actor=actor, now=clock.now(), **data)
        db.session.commit()
        return appeal_out(appeal, internal=_internal(actor))


@blp.route("/sellers/<string:seller_id>/stage-history")
class StageHistory(MethodView):
    """A seller's moves between stages."""

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @_problems(*_SEE)
    @blp.response(200, StageChangePageSchema)
    def get(self, args: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """List the seller's moves between stages, newest first (staff, the seller's users)."""
        actor, seller = _seller_for(READ_SANCTIONS, seller_id)
        found, total = queries.stage_history(db.session, seller.id, **_window(args))
        return _page([stage_change_out(change, internal=_internal(actor)) for change in found], total, args)


@blp.route("/sellers/<string:seller_id>/appeals")
class SellerAppeals(MethodView):
    """A seller's appeals."""

    @blp.arguments(AppealQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(*_SEE)
    @blp.response(200, AppealPageSchema)
    def get(self, args: dict[str, Any], seller_id: str) -> dict[str, Any]:
        """List the seller's appeals (staff, the seller's users)."""
        actor, seller = _seller_for(READ_SANCTIONS, seller_id)
        found, total = queries.list_appeals(
            db.session, actor, seller_id=seller.id, statuses=[AppealStatus(s) for s in args["status"]], **_window(args)
        )
        return _page([appeal_out(appeal, internal=_internal(actor)) for appeal in found], total, args)


@blp.route("/appeals")
class Appeals(MethodView):
    """The appeals queue."""

    @blp.arguments(AppealQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, AppealPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List appeals: open ones oldest first, then decided ones (staff: all; the seller's users: their own)."""
        actor = api_actor()
        authorize(actor, READ_SANCTIONS)
        found, total = queries.list_appeals(
            db.session, actor, statuses=[AppealStatus(s) for s in args["status"]], **_window(args)
        )
        return _page([appeal_out(appeal, internal=_internal(actor)) for appeal in found], total, args)


@blp.route("/appeals/<int:appeal_id>")
class AppealResource(MethodView):
    """One appeal."""

    @_problems(*_SEE)
    @blp.response(200, AppealSchema)
    def get(self, appeal_id: int) -> dict[str, Any]:
        """Show an appeal (staff, the seller's users)."""
        actor = api_actor()
        appeal = _found(actor, queries.get_appeal(db.session, appeal_id))
        return appeal_out(appeal, internal=_internal(actor))


@blp.route("/appeals/<int:appeal_id>/decision")
class AppealDecision(MethodView):
    """Staff decide an appeal."""

    @blp.arguments(AppealDecisionSchema)
    @_problems(*_ACT)
    @blp.response(200, AppealSchema)
    def post(self, data: dict[str, Any], appeal_id: int) -> dict[str, Any]:
        """Accept (the violation is overturned or the sanction lifted) or reject an appeal (staff)."""
        actor = api_actor()
        appeal = _found(actor, queries.get_appeal(db.session, appeal_id, for_update=True), DECIDE_APPEAL)
        operations.decide_appeal(
            db.session, appeal, data["outcome"], reason=data["reason"], actor=actor, now=clock.now()
        )
        db.session.commit()
        return appeal_out(appeal, internal=True)


@blp.route("/pauses")
class Pauses(MethodView):
    """Force-majeure pauses."""

    @blp.arguments(PageArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, PausePageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List force-majeure pauses, the latest period first (staff, sellers)."""
        actor = api_actor()
        authorize(actor, READ_PAUSES)
        found, total = queries.list_pauses(db.session, **_window(args))
        return _page([pause_out(pause, internal=_internal(actor)) for pause in found], total, args)

    @blp.arguments(PauseCreateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.CONFLICT)
    @blp.response(201, PauseSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Declare force majeure: violations of these kinds in the period count nothing (supervisors)."""
        actor = api_actor()
        authorize(actor, DECLARE_PAUSE)
        pause = operations.declare_pause(db.session, actor=actor, now=clock.now(), **data)
        db.session.commit()
        return pause_out(pause, internal=True)


@blp.route("/policies/sanctions")
class SanctionPolicyResource(MethodView):
    """The sanction policy."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, SanctionPolicyVersionSchema)
    def get(self) -> PolicyVersion:
        """Show the sanction policy in force (staff, sellers)."""
        authorize(api_actor(), READ_SANCTION_POLICY)
        return current_policy(db.session, SANCTIONS)

    @blp.arguments(SanctionPolicyUpdateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.CONFLICT)
    @blp.response(200, SanctionPolicyVersionSchema)
    def put(self, data: dict[str, Any]) -> PolicyVersion:
        """Publish a new sanction policy version; violations and evaluations from now on use it (supervisors)."""
        actor = api_actor()
        authorize(actor, PUBLISH_SANCTION_POLICY)
        policy = publish_policy(
            db.session, SANCTIONS, data["document"], note=data["note"], actor=actor, now=clock.now()
        )
        db.session.commit()
        return policy


@blp.route("/policies/sanctions/versions")
class SanctionPolicyVersions(MethodView):
    """Every sanction policy version."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, SanctionPolicyVersionSchema(many=True))
    def get(self) -> list[PolicyVersion]:
        """List every sanction policy version, newest first, down to the built-in default (staff, sellers)."""
        authorize(api_actor(), READ_SANCTION_POLICY)
        return sanction_policy_history(db.session)


@blp.route("/policies/sanctions/simulation")
class SanctionPolicySimulation(MethodView):
    """The what-if of a candidate policy."""

    @blp.arguments(SimulationCreateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, SimulationSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Replay the last N days under a candidate policy beside the current one; nothing is saved (staff)."""
        authorize(api_actor(), SIMULATE_POLICY)
        return simulation_out(simulate(db.session, data["document"], days=data["days"], now=clock.now()))
