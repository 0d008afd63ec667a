"""REST: claims (filing, the seller's answer, the buyer's, staff's), their evidence, and the SLA policy."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import flask
from flask import send_file
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from marketplace.claims import operations, queries
from marketplace.claims.evidence import (
    CONTENT_TYPES,
    attach_evidence,
    evidence_store,
    file_claim_with_evidence,
    open_evidence,
)
from marketplace.claims.models import Claim, ClaimStatus, ClaimType
from marketplace.claims.permissions import (
    ADD_EVIDENCE,
    DECIDE_CLAIM,
    ESCALATE_CLAIM,
    FILE_CLAIM,
    NOTE_CLAIM,
    PROPOSE_REMEDY,
    PUBLISH_POLICY,
    READ_CLAIM,
    READ_POLICY,
    RESPOND_TO_CLAIM,
    sees_buyer_contact,
    sees_internal,
)
from marketplace.claims.policy import SLA
from marketplace.claims.schemas import (
    ClaimCreateSchema,
    ClaimPageSchema,
    ClaimQueryArgsSchema,
    ClaimSchema,
    ClaimView,
    DecisionCreateSchema,
    EscalationCreateSchema,
    EvidenceUploadSchema,
    NoteCreateSchema,
    PolicyVersionSchema,
    ProposalAcceptSchema,
    ProposalCreateSchema,
    ProposalRejectSchema,
    SlaPolicyUpdateSchema,
    WithdrawalSchema,
)
from marketplace.core import clock
from marketplace.core.auth import Actor
from marketplace.core.errors import NotFound
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import Permission, authorize
from marketplace.core.policies import current_policy, publish_policy
from marketplace.extensions import db
from marketplace.orders.models import Order
from marketplace.orders.queries import get_order_by_external_id
from marketplace.web.session import api_actor

_FORM_MIMETYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


class _Parser(FlaskParser):
    """webargs, plus form fields and files read as one body, so that one schema refuses unknown parts of either."""

    __location_map__ = {
        **FlaskParser.__location_map__,
        "multipart": "load_multipart",
        "json_or_multipart": "load_json_or_multipart",
    }

    def load_multipart(self, req: flask.Request, schema: Schema) -> Any:
        """Form fields and files together."""
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)

    def load_json_or_multipart(self, req: flask.Request, schema: Schema) -> Any:
        """A form post when the request is one, else JSON."""
        if req.mimetype in _FORM_MIMETYPES:
            return self.load_multipart(req, schema)
        return self.load_json(req, schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
        "json_or_multipart": "application/json",
    }


blp = _Blueprint("claims_api", __name__, description="Claims, their evidence and timeline, and the SLA policy")

_MULTIPART_CLAIM = {"content": {"multipart/form-data": {"schema": ClaimCreateSchema}}}
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


def _claim_for(permission: Permission, claim_id: int, *, for_update: bool = True) -> tuple[Actor, Claim]:
    """The caller and the claim: 404 unless the caller may see it (whatever it asks), 403 unless it may act."""
    actor = api_actor()
    authorize(actor, READ_CLAIM)
    claim = queries.get_claim(db.session, claim_id, for_update=for_update)
    if claim is None:
        raise NotFound(_l("Not found."))
    authorize(actor, READ_CLAIM, claim)
    authorize(actor, permission, claim)
    return actor, claim


def _order_for(actor: Actor, order_id: str) -> Order:
    """The order to file on: someone else's order is as not found as a missing one."""
    authorize(actor, FILE_CLAIM)
    order = get_order_by_external_id(db.session, order_id)
    if order is None:
        raise NotFound(_l("Not found."))
    authorize(actor, FILE_CLAIM, order)
    return order


def _view(claim: Claim, actor: Actor, *, detail: bool = True) -> ClaimView:
    """The claim as this caller may see it."""
    internal = sees_internal(actor)
    if not detail:
        return ClaimView(claim, internal=internal, buyer_contact=sees_buyer_contact(actor, claim.buyer_id))
    return ClaimView(
        claim,
        internal=internal,
        buyer_contact=sees_buyer_contact(actor, claim.buyer_id),
        timeline=queries.claim_timeline(db.session, claim.id, include_staff=internal),
        evidence=queries.claim_evidence(db.session, claim.id),
    )


@blp.route("/claims")
class Claims(MethodView):
    """Claims the caller may see."""

    @blp.arguments(ClaimQueryArgsSchema, location="query", unknown=RAISE)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, ClaimPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List claims, the least time left before breach first (overdue ones at the top)."""
        actor = api_actor()
        authorize(actor, READ_CLAIM)
        page, size = args["page"], args["page_size"]
        claims, total = queries.list_claims(
            db.session,
            actor,
            statuses=[ClaimStatus(value) for value in args["status"]],
            types=[ClaimType(value) for value in args["type"]],
            seller_external_id=args.get("seller"),
            deadline_before=args.get("deadline_before"),
            limit=size,
            offset=(page - 1) * size,
        )
        items = [_view(claim, actor, detail=False) for claim in claims]
        return {"items": items, "page": page, "page_size": size, "total": total}

    @blp.arguments(ClaimCreateSchema, location="json_or_multipart")
    @blp.doc(requestBody=_MULTIPART_CLAIM)
    @_problems(*_ACT)
    @blp.response(201, ClaimSchema)
    def post(self, data: dict[str, Any]) -> ClaimView:
        """File a claim on an order (JSON, or multipart/form-data with evidence files)."""
        actor = api_actor()
        order = _order_for(actor, data["order_id"])
        claim = file_claim_with_evidence(
            db.session,
            order,
            data["type"],
            description=data["description"],
            files=data["evidence"],
            actor=actor,
            now=clock.now(),
            store=evidence_store(),
        )
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>")
class ClaimResource(MethodView):
    """One claim."""

    @_problems(*_SEE)
    @blp.response(200, ClaimSchema)
    def get(self, claim_id: int) -> ClaimView:
        """Show a claim with its deadlines, answers, timeline and evidence (its parties and staff)."""
        actor, claim = _claim_for(READ_CLAIM, claim_id, for_update=False)
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/proposal")
class Proposal(MethodView):
    """The seller's answer."""

    @blp.arguments(ProposalCreateSchema)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Propose a remedy: ship now, replace, refund, partial refund or an explanation (the claim's seller)."""
        actor, claim = _claim_for(PROPOSE_REMEDY, claim_id)
        operations.propose_remedy(
            db.session,
            claim,
            data["remedy"],
            amount=data["amount"],
            message=data["message"],
            actor=actor,
            now=clock.now(),
        )
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/accept")
class Accept(MethodView):
    """The buyer accepts."""

    @blp.arguments(ProposalAcceptSchema, required=False)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, _data: dict[str, Any], claim_id: int) -> ClaimView:
        """Accept the seller's proposal; the claim is resolved (the claim's buyer)."""
        actor, claim = _claim_for(RESPOND_TO_CLAIM, claim_id)
        operations.accept_proposal(db.session, claim, actor=actor, now=clock.now())
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/reject")
class Reject(MethodView):
    """The buyer rejects."""

    @blp.arguments(ProposalRejectSchema)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Reject the seller's proposal; staff take the claim over, with their own deadline (the claim's buyer)."""
        actor, claim = _claim_for(RESPOND_TO_CLAIM, claim_id)
        operations.reject_proposal(db.session, claim, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/withdraw")
class Withdraw(MethodView):
    """The buyer drops the claim."""

    @blp.arguments(WithdrawalSchema, required=False)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Withdraw an open claim (the claim's buyer)."""
        actor, claim = _claim_for(RESPOND_TO_CLAIM, claim_id)
        operations.withdraw_claim(db.session, claim, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/escalate")
class Escalate(MethodView):
    """Staff take the claim."""

    @blp.arguments(EscalationCreateSchema)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Escalate a claim to staff before its deadline, with a reason (staff)."""
        actor, claim = _claim_for(ESCALATE_CLAIM, claim_id)
        operations.escalate_claim(db.session, claim, reason=data["reason"], actor=actor, now=clock.now())
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/decision")
class DecisionResource(MethodView):
    """Staff decide."""

    @blp.arguments(DecisionCreateSchema)
    @_problems(*_ACT)
    @blp.response(200, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Decide a claim for the buyer, for the seller, or partly; resolves it (staff)."""
        actor, claim = _claim_for(DECIDE_CLAIM, claim_id)
        operations.decide_claim(
            db.session,
            claim,
            data["decision"],
            amount=data["amount"],
            reason=data["reason"],
            actor=actor,
            now=clock.now(),
        )
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/notes")
class Notes(MethodView):
    """Internal notes."""

    @blp.arguments(NoteCreateSchema)
    @_problems(*_ACT)
    @blp.response(201, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Add an internal note to the claim's timeline, seen by staff only (staff)."""
        actor, claim = _claim_for(NOTE_CLAIM, claim_id)
        operations.add_note(db.session, claim, message=data["message"], actor=actor, now=clock.now())
        db.session.commit()
        return _view(claim, actor)


@blp.route("/claims/<int:claim_id>/evidence")
class EvidenceFiles(MethodView):
    """Evidence files of a claim."""

    @blp.arguments(EvidenceUploadSchema, location="multipart")
    @_problems(*_ACT, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    @blp.response(201, ClaimSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> ClaimView:
        """Attach evidence files to an open claim: JPEG, PNG, WebP, GIF or PDF (its parties and staff)."""
        actor, claim = _claim_for(ADD_EVIDENCE, claim_id)
        attach_evidence(db.session, claim, data["evidence"], actor=actor, now=clock.now(), store=evidence_store())
        db.session.commit()
        return _view(claim, actor)


# The download is served as the type its content was checked to be: each is documented.
_DOWNLOAD = {
    "description": "The file as an attachment, with the content type it was checked to be",
    "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in CONTENT_TYPES},
}


@blp.route("/claims/<int:claim_id>/evidence/<int:evidence_id>")
class EvidenceDownload(MethodView):
    """One evidence file."""

    @_problems(*_SEE)
    @blp.response(200, description=_DOWNLOAD["description"])
    @blp.doc(responses={"200": _DOWNLOAD})
    def get(self, claim_id: int, evidence_id: int) -> flask.Response:
        """Download an evidence file (the claim's parties and staff)."""
        _actor, claim = _claim_for(READ_CLAIM, claim_id, for_update=False)
        evidence = queries.get_evidence(db.session, claim.id, evidence_id)
        if evidence is None:
            raise NotFound(_l("Not found."))
        response = send_file(
            open_evidence(evidence_store(), evidence),
            mimetype=evidence.content_type,
            as_attachment=True,
            download_name=evidence.filename,
            etag=evidence.sha256,
            last_modified=evidence.uploaded_at,
        )
        # Served as what the content was checked to be, never rendered in our origin.
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, no-cache"
        return response


@blp.route("/policies/sla")
class SlaPolicy(MethodView):
    """The SLA policy: business days per claim type and party."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, PolicyVersionSchema)
    def get(self) -> PolicyVersion:
        """Show the SLA policy in force (staff)."""
        authorize(api_actor(), READ_POLICY)
        return current_policy(db.session, SLA)

    @blp.arguments(SlaPolicyUpdateSchema)
    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.CONFLICT)
    @blp.response(200, PolicyVersionSchema)
    def put(self, data: dict[str, Any]) -> PolicyVersion:
        """Publish a new SLA policy version; claims opened from now on use it (supervisors)."""
        actor = api_actor()
        authorize(actor, PUBLISH_POLICY)
        policy = publish_policy(db.session, SLA, data["document"], note=data["note"], actor=actor, now=clock.now())
        db.session.commit()
        return policy


@blp.route("/policies/sla/versions")
class SlaPolicyVersions(MethodView):
    """Every SLA policy version."""

    @_problems(HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    @blp.response(200, PolicyVersionSchema(many=True))
    def get(self) -> list[PolicyVersion]:
        """List every SLA policy version, newest first, down to the built-in default (staff)."""
        authorize(api_actor(), READ_POLICY)
        return queries.sla_history(db.session)
