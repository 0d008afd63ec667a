"""REST: compensations and their rule, the compensation policy, sellers' deductions, and settlement events."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import RAISE

from marketplace.compensation import operations, queries
from marketplace.compensation.models import Compensation
from marketplace.compensation.permissions import (
    PUBLISH_COMPENSATION_POLICY,
    READ_COMPENSATION,
    READ_COMPENSATION_POLICY,
    READ_DEDUCTIONS,
    RECORD_SETTLEMENT_EVENTS,
    VOID_COMPENSATION,
)
from marketplace.compensation.policy import COMPENSATION
from marketplace.compensation.schemas import (
    EVENT_SCHEMA_NAMES,
    EVENT_SCHEMAS,
    CompensationPageSchema,
    CompensationPolicyUpdateSchema,
    CompensationPolicyVersionSchema,
    CompensationQueryArgsSchema,
    CompensationSchema,
    DeductionListSchema,
    DeductionQueryArgsSchema,
    SettlementBatchResultSchema,
    SettlementEventsBodySchema,
    SettlementReceiptSchema,
    VoidCreateSchema,
)
from marketplace.compensation.settlement import ACCEPTED, ingest_settlement_events
from marketplace.core import clock
from marketplace.core.auth import Actor, ActorKind
from marketplace.core.errors import NotFound
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import authorize
from marketplace.core.policies import current_policy, publish_policy
from marketplace.extensions import db
from marketplace.sellers.queries import get_seller_by_external_id
from marketplace.web.session import api_actor


class _Blueprint(Blueprint):
    """Adds the settlement event schemas to the OpenAPI document (the body takes any of them)."""

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, *, name: str, parameters: Any) -> None:
        """Register each event type's schema as a component, then the views."""
        for event_type, schema_name in EVENT_SCHEMA_NAMES.items():
            if schema_name not in spec.components.schemas:
                spec.components.schema(schema_name, schema=EVENT_SCHEMAS[event_type])
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


blp = _Blueprint(
    "compensation_api", __name__, description="Compensations, the compensation policy, deductions, settlement events"
)
_SEE = (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


def _problems(*statuses: HTTPStatus) -> Any:
    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blp.alt_response(status, response=status.name)(view)
        return view

    return decorate


def _view(compensation: Compensation, order_ids: dict[int, str]) -> dict[str, Any]:
    """A compensation as the API shows it, with the marketplace's order id."""
    shown = {column.name: getattr(compensation, column.name) for column in Compensation.__table__.columns}
    shown.pop("idempotency_key")
    return {**shown, "order_id": order_ids.get(compensation.order_id, "")}


def _compensation_for(actor: Actor, compensation_id: int, *, for_update: bool = False) -> Compensation:
    authorize(actor, READ_COMPENSATION)
    compensation = queries.get_compensation(db.session, compensation_id, for_update=for_update)
    if compensation is None:
        raise NotFound(_l("Not found."))
    authorize(actor, READ_COMPENSATION, compensation)
    return compensation


@blp.route("/compensations")
class Compensations(MethodView):
    """Compensations the caller may see."""

    @blp.arguments(CompensationQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, CompensationPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List compensations, newest first (buyers their own, sellers those charged to them, staff all)."""
        actor = api_actor()
        authorize(actor, READ_COMPENSATION)
        page, size = args["page"], args["page_size"]
        items, total = queries.list_compensations(
            db.session,
            actor,
            claim_id=args.get("claim_id"),
            incident_id=args.get("incident_id"),
            statuses=args["status"],
            limit=size,
            offset=(page - 1) * size,
        )
        order_ids = queries.order_external_ids(db.session, [item.order_id for item in items])
        return {"items": [_view(item, order_ids) for item in items], "page": page, "page_size": size, "total": total}


@blp.route("/compensations/<int:compensation_id>")
class CompensationResource(MethodView):
    """One compensation."""

    @_problems(*_SEE)
    @blp.response(200, CompensationSchema)
    def get(self, compensation_id: int) -> dict[str, Any]:
        """Show a compensation with the rule, policy version and calculation that produced it."""
        compensation = _compensation_for(api_actor(), compensation_id)
        return _view(compensation, queries.order_external_ids(db.session, [compensation.order_id]))


@blp.route("/compensations/<int:compensation_id>/void")
class CompensationVoid(MethodView):
    """Correct a grant made in error."""

    @blp.arguments(VoidCreateSchema)
    @_problems(*_SEE, HTTPStatus.CONFLICT)
    @blp.response(200, CompensationSchema)
    def post(self, data: dict[str, Any], compensation_id: int) -> dict[str, Any]:
        """Void an unpaid compensation: the ledger reverses its grant and its recovery (supervisors)."""
        actor = api_actor()
        authorize(actor, VOID_COMPENSATION)
        compensation = _compensation_for(actor, compensation_id, for_update=True)
        operations.void_compensation(db.session, compensation, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return _view(compensation, queries.order_external_ids(db.session, [compensation.order_id]))


@blp.route("/policies/compensation")
class CompensationPolicy(MethodView):
    """The compensation policy: per claim type and outcome, the form, amount and recovery."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, CompensationPolicyVersionSchema)
    def get(self) -> PolicyVersion:
        """Show the compensation policy in force (staff)."""
        authorize(api_actor(), READ_COMPENSATION_POLICY)
        return current_policy(db.session, COMPENSATION)

    @blp.arguments(CompensationPolicyUpdateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.CONFLICT)
    @blp.response(200, CompensationPolicyVersionSchema)
    def put(self, data: dict[str, Any]) -> PolicyVersion:
        """Publish a new compensation policy version; grants from now on use it (supervisors)."""
        actor = api_actor()
        authorize(actor, PUBLISH_COMPENSATION_POLICY)
        policy = publish_policy(
            db.session, COMPENSATION, data["document"], note=data["note"], actor=actor, now=clock.now()
        )
        db.session.commit()
        return policy


@blp.route("/policies/compensation/versions")
class CompensationPolicyVersions(MethodView):
    """Every compensation policy version."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, CompensationPolicyVersionSchema(many=True))
    def get(self) -> list[PolicyVersion]:
        """List every compensation policy version, newest first, down to the built-in default (staff)."""
        authorize(api_actor(), READ_COMPENSATION_POLICY)
        return queries.compensation_history(db.session)


@blp.route("/settlements/deductions")
class Deductions(MethodView):
    """What each seller's next settlement deducts."""

    @blp.arguments(DeductionQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(*_SEE)
    @blp.response(200, DeductionListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List per seller what to deduct in a period, each line traceable to its claim and compensation."""
        actor = api_actor()
        authorize(actor, READ_DEDUCTIONS)
        seller_id = actor.seller_id if actor.kind is ActorKind.SELLER_USER else None
        if args.get("seller") is not None:
            seller = get_seller_by_external_id(db.session, args["seller"])
            if seller is None:
                raise NotFound(_l("Not found."))
            authorize(actor, READ_DEDUCTIONS, seller)
            seller_id = seller.id
        sellers = queries.deductions(db.session, args["period"], seller_id=seller_id)
        total = sum(seller.to_deduct for seller in sellers)
        return {"period": args["period"], "total_to_deduct": total, "sellers": sellers}


@blp.route("/settlement-events")
class SettlementEvents(MethodView):
    """Payouts and deductions confirmed by the marketplace."""

    @blp.arguments(SettlementEventsBodySchema, description='One event object on its own, or {"events": [...]}')
    @blp.response(200, SettlementBatchResultSchema, description="A batch: every event's result, in request order")
    @blp.alt_response(201, schema=SettlementReceiptSchema, description="One event, applied (again: 200, same body)")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any]) -> Response:
        """Receive payout.completed, payout.failed or deduction.confirmed events; the same id twice applies once."""
        actor = api_actor()
        authorize(actor, RECORD_SETTLEMENT_EVENTS)
        outcome = ingest_settlement_events(db.session, body["events"], actor=actor, now=clock.now())
        db.session.commit()
        if not body["single"]:
            return jsonify(outcome.as_dict())
        result = outcome.results[0]
        if result.error is not None:
            raise result.error
        response = jsonify(result.receipt)
        response.status_code = 201 if result.status == ACCEPTED else 200
        return response
