"""Claim pages for the three portals: the staff queue and case page, the seller's claims, the buyer's claims.

Each handler reads its form, authorizes, calls one operation, commits and redirects (so that a reload never posts
twice); a refused form is shown again with the message beside its field, what was typed, and the files kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace.claims import queries
from marketplace.claims.evidence import attach_evidence, evidence_store, file_claim_with_evidence
from marketplace.claims.forms import (
    AssignForm,
    DecisionForm,
    EvidenceForm,
    FileClaimForm,
    NoteForm,
    ProposalForm,
    ReasonForm,
)
from marketplace.claims.labels import TYPE_LABELS
from marketplace.claims.models import OPEN_STATUSES, Claim, ClaimStatus, ClaimType, Queue
from marketplace.claims.operations import (
    accept_proposal,
    add_note,
    assign_claim,
    decide_claim,
    escalate_claim,
    propose_remedy,
    reject_proposal,
    withdraw_claim,
)
from marketplace.claims.permissions import (
    ADD_EVIDENCE,
    ASSIGN_CLAIM,
    DECIDE_CLAIM,
    ESCALATE_CLAIM,
    FILE_CLAIM,
    NOTE_CLAIM,
    PROPOSE_REMEDY,
    READ_CLAIM,
    RESPOND_TO_CLAIM,
    sees_buyer_contact,
    sees_internal,
)
from marketplace.compensation import queries as compensation_queries
from marketplace.compensation.forms import GrantForm, VoidForm
from marketplace.compensation.models import OWED_STATUSES
from marketplace.compensation.operations import grant_by_staff
from marketplace.compensation.permissions import GRANT_COMPENSATION, VOID_COMPENSATION
from marketplace.core import clock
from marketplace.core import queries as core_queries
from marketplace.core.auth import Actor
from marketplace.core.errors import Conflict, NotFound, ValidationFailed
from marketplace.core.models import Role
from marketplace.core.permissions import Permission, authorize, can
from marketplace.extensions import db
from marketplace.orders.queries import get_order_by_external_id
from marketplace.sanctions import queries as sanctions_queries
from marketplace.sanctions.models import STAGE_LABELS
from marketplace.web.forms import show_errors
from marketplace.web.forms import submit_form as _act
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor
from marketplace.web.uploads import UploadSet

claims_staff = Blueprint("claims_staff", __name__, url_prefix="/staff/claims")
claims_seller = Blueprint("claims_seller", __name__, url_prefix="/seller/claims")
claims_buyer = Blueprint("claims_buyer", __name__, url_prefix="/buyer")

PAGE_SIZE = 25


def _claim(permission: Permission, claim_id: int, *, for_update: bool = False) -> tuple[Actor, Claim]:
    """The viewer and the claim; another party's claim is as not found as a missing one."""
    actor = page_actor()
    authorize(actor, READ_CLAIM)
    claim = queries.get_claim(db.session, claim_id, for_update=for_update)
    if claim is None:
        raise NotFound(_("Not found."))
    authorize(actor, READ_CLAIM, claim)
    authorize(actor, permission, claim)
    return actor, claim


def _case(claim: Claim, actor: Actor) -> dict[str, Any]:
    """What every portal's claim page shows: the claim, its timeline and files, as this viewer may see them."""
    internal = sees_internal(actor)
    timeline = queries.claim_timeline(db.session, claim.id, include_staff=internal)
    return {
        "claim": claim,
        "internal": internal,
        "buyer_contact": sees_buyer_contact(actor, claim.buyer_id),
        "timeline": timeline,
        "names": core_queries.actor_names(db.session, [entry.actor for entry in timeline]) if internal else {},
        "evidence": queries.claim_evidence(db.session, claim.id),
        "compensations": compensation_queries.list_compensations(db.session, actor, claim_id=claim.id, limit=50)[0],
    }


def _text(form: FlaskForm, name: str) -> str:
    return (form[name].data or "").strip()


# Staff console --------------------------------------------------------------------------------------------------


def _staff() -> Actor:
    actor = page_actor()
    if not actor.is_staff:
        abort(403)
    return actor


@claims_staff.get("/")
@login_required
def queue() -> str:
    """Open claims, the least time left before breach first (overdue at the top), with filters."""
    actor = _staff()
    args = request.args
    statuses = [ClaimStatus(value) for value in args.getlist("status") if value in ClaimStatus._value2member_map_]
    types = [ClaimType(value) for value in args.getlist("type") if value in ClaimType._value2member_map_]
    agent = args.get("agent", "")
    assignee = actor.id if agent == "me" else (int(agent) if agent.isdigit() else None)
    number = page_number()
    claims, total = queries.list_claims(
        db.session,
        actor,
        statuses=statuses or list(OPEN_STATUSES),
        types=types,
        seller_external_id=args.get("seller", "").strip() or None,
        assignee_id=assignee,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    return render_template(
        "claims/staff/queue.html",
        claims=claims,
        page=Page(number, PAGE_SIZE, total),
        staff=core_queries.staff_members(db.session),
        filters={"status": [s.value for s in statuses], "type": [t.value for t in types], "agent": agent},
        names=core_queries.user_names(db.session, {claim.assignee_id for claim in claims if claim.assignee_id}),
    )


def render_staff_claim(claim: Claim, actor: Actor, **forms: FlaskForm) -> str:
    """The staff case page, with the forms given (a refused one keeps what was typed and its errors)."""
    case = _case(claim, actor)
    return render_template(
        "claims/staff/claim.html",
        **case,
        grant_form=(forms.get("grant") or GrantForm(prefix="grant")) if can(actor, GRANT_COMPENSATION) else None,
        void_forms={
            item.id: VoidForm(prefix=f"void-{item.id}")
            for item in case["compensations"]
            if item.status in OWED_STATUSES and can(actor, VOID_COMPENSATION)
        },
        assign_form=forms.get("assign") or AssignForm(),
        escalate_form=forms.get("escalate") or ReasonForm(prefix="escalate"),
        decision_form=forms.get("decision") or DecisionForm(prefix="decision"),
        note_form=forms.get("note") or NoteForm(prefix="note"),
        staff=core_queries.staff_members(db.session),
        may_decide=claim.is_open and (claim.queue is not Queue.SUPERVISOR or actor.role is not Role.AGENT),
        seller_standing=sanctions_queries.read_standing(db.session, claim.order.seller.external_id),
        stage_labels=STAGE_LABELS,
    )


@claims_staff.get("/<int:claim_id>")
@login_required
def staff_claim(claim_id: int) -> str:
    """The case on one screen: order, buyer, seller, deadlines, the whole timeline, and the actions."""
    actor, claim = _claim(READ_CLAIM, claim_id)
    _staff()
    return render_staff_claim(claim, actor)


@claims_staff.post("/<int:claim_id>/assign")
@login_required
def assign(claim_id: int) -> Response | tuple[str, int]:
    """Take the claim, give it to a colleague, or put it back in the common queue."""
    actor, claim = _claim(ASSIGN_CLAIM, claim_id, for_update=True)
    form = AssignForm()
    raw = _text(form, "assignee")
    user = (
        core_queries.get_user(db.session, actor.id if raw == "me" else int(raw))
        if raw.isdigit() or raw == "me"
        else None
    )
    return _act(
        form,
        lambda: assign_claim(db.session, claim, user, actor=actor, now=clock.now()),
        done=_("Assignment saved."),
        back=url_for("claims_staff.staff_claim", claim_id=claim.id),
        render=lambda: render_staff_claim(claim, actor, assign=form),
    )


@claims_staff.post("/<int:claim_id>/escalate")
@login_required
def escalate(claim_id: int) -> Response | tuple[str, int]:
    """Take the claim to staff now, with a reason."""
    actor, claim = _claim(ESCALATE_CLAIM, claim_id, for_update=True)
    form = ReasonForm(prefix="escalate")
    return _act(
        form,
        lambda: escalate_claim(db.session, claim, reason=_text(form, "reason"), actor=actor, now=clock.now()),
        done=_("The claim is escalated."),
        back=url_for("claims_staff.staff_claim", claim_id=claim.id),
        render=lambda: render_staff_claim(claim, actor, escalate=form),
    )


@claims_staff.post("/<int:claim_id>/decision")
@login_required
def decide(claim_id: int) -> Response | tuple[str, int]:
    """Decide the claim for the buyer, for the seller, or partly."""
    actor, claim = _claim(DECIDE_CLAIM, claim_id, for_update=True)
    form = DecisionForm(prefix="decision")
    return _act(
        form,
        lambda: decide_claim(
            db.session,
            claim,
            form.decision.data,
            amount=form.amount.data,
            reason=_text(form, "reason"),
            actor=actor,
            now=clock.now(),
        ),
        done=_("The decision is recorded and both parties can see it."),
        back=url_for("claims_staff.staff_claim", claim_id=claim.id),
        render=lambda: render_staff_claim(claim, actor, decision=form),
    )


@claims_staff.post("/<int:claim_id>/compensation")
@login_required
def compensate(claim_id: int) -> Response | tuple[str, int]:
    """A supervisor compensates the buyer of the claim (paid at once by the platform)."""
    actor, claim = _claim(GRANT_COMPENSATION, claim_id, for_update=True)
    form = GrantForm(prefix="grant")
    return _act(
        form,
        lambda: grant_by_staff(
            db.session,
            claim,
            amount=form.amount.data,
            form=form.form.data,
            recoverable=form.recoverable.data,
            reason=_text(form, "reason"),
            actor=actor,
            now=clock.now(),
        ),
        done=_("The buyer is compensated; the marketplace is told to pay."),
        back=url_for("claims_staff.staff_claim", claim_id=claim.id),
        render=lambda: render_staff_claim(claim, actor, grant=form),
    )


@claims_staff.post("/<int:claim_id>/notes")
@login_required
def note(claim_id: int) -> Response | tuple[str, int]:
    """An internal note on the case."""
    actor, claim = _claim(NOTE_CLAIM, claim_id)
    form = NoteForm(prefix="note")
    return _act(
        form,
        lambda: add_note(db.session, claim, message=_text(form, "message"), actor=actor, now=clock.now()),
        done=_("Note added."),
        back=url_for("claims_staff.staff_claim", claim_id=claim.id),
        render=lambda: render_staff_claim(claim, actor, note=form),
    )


# Seller portal --------------------------------------------------------------------------------------------------


@claims_seller.get("/")
@login_required
def seller_claims() -> str:
    """The seller's claims: those waiting for its answer first, the nearest deadline first."""
    actor = page_actor()
    authorize(actor, PROPOSE_REMEDY)
    number = page_number()
    claims, total = queries.party_claims(db.session, actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render_template("claims/seller/list.html", claims=claims, page=Page(number, PAGE_SIZE, total))


def _render_seller(
    claim: Claim,
    actor: Actor,
    *,
    proposal: ProposalForm | None = None,
    evidence_form: EvidenceForm | None = None,
    kept: list | None = None,
) -> str:
    return render_template(
        "claims/seller/claim.html",
        **_case(claim, actor),
        proposal_form=proposal or ProposalForm(),
        evidence_form=evidence_form or EvidenceForm(prefix="more"),
        kept=kept or [],
    )


@claims_seller.get("/<int:claim_id>")
@login_required
def seller_claim(claim_id: int) -> str:
    """One claim against the seller, its deadline counting down, and the answer form."""
    actor, claim = _claim(PROPOSE_REMEDY, claim_id)
    return _render_seller(claim, actor)


@claims_seller.post("/<int:claim_id>/proposal")
@login_required
def propose(claim_id: int) -> Response | tuple[str, int]:
    """Answer the claim with a remedy, and the evidence for it."""
    actor, claim = _claim(PROPOSE_REMEDY, claim_id, for_update=True)
    form = ProposalForm()
    uploads = UploadSet(evidence_store(), actor)
    if form.validate_on_submit():
        try:
            now = clock.now()
            files = uploads.uploads()
            propose_remedy(
                db.session,
                claim,
                form.remedy.data,
                amount=form.amount.data if form.remedy.data == "partial_refund" else None,
                message=_text(form, "message"),
                actor=actor,
                now=now,
            )
            if files:
                attach_evidence(db.session, claim, files, actor=actor, now=now, store=evidence_store())
        except (ValidationFailed, Conflict) as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            uploads.discard()
            flash(_("Your answer is sent to the buyer."), "success")
            return redirect(url_for("claims_seller.seller_claim", claim_id=claim.id))
    kept, problems = uploads.keep()
    form.evidence.errors = [*form.evidence.errors, *(p for p in problems if p not in form.evidence.errors)]
    return _render_seller(claim, actor, proposal=form, kept=kept), 422


@claims_seller.post("/<int:claim_id>/evidence")
@login_required
def seller_evidence(claim_id: int) -> Response | tuple[str, int]:
    """Attach more files to an open claim."""
    actor, claim = _claim(ADD_EVIDENCE, claim_id, for_update=True)
    back = url_for("claims_seller.seller_claim", claim_id=claim.id)
    return _add_evidence(claim, actor, back, lambda form: _render_seller(claim, actor, evidence_form=form))


def _add_evidence(
    claim: Claim, actor: Actor, back: str, render: Callable[[EvidenceForm], str]
) -> Response | tuple[str, int]:
    form = EvidenceForm(prefix="more")
    uploads = UploadSet(evidence_store(), actor, field="more-evidence")
    return _act(
        form,
        lambda: attach_evidence(
            db.session, claim, uploads.uploads(), actor=actor, now=clock.now(), store=evidence_store()
        ),
        done=_("Files attached."),
        back=back,
        render=lambda: render(form),
    )


# Buyer pages ----------------------------------------------------------------------------------------------------


@claims_buyer.get("/claims")
@login_required
def buyer_claims() -> str:
    """The buyer's claims: open ones first."""
    actor = page_actor()
    authorize(actor, RESPOND_TO_CLAIM)
    number = page_number()
    claims, total = queries.party_claims(db.session, actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render_template("claims/buyer/list.html", claims=claims, page=Page(number, PAGE_SIZE, total))


def _render_buyer(claim: Claim, actor: Actor, **forms: FlaskForm) -> str:
    return render_template(
        "claims/buyer/claim.html",
        **_case(claim, actor),
        reject_form=forms.get("reject") or ReasonForm(prefix="reject"),
        withdraw_form=forms.get("withdraw") or ReasonForm(prefix="withdraw"),
        accept_form=forms.get("accept") or FlaskForm(prefix="accept"),
        evidence_form=forms.get("evidence") or EvidenceForm(prefix="more"),
    )


@claims_buyer.get("/claims/<int:claim_id>")
@login_required
def buyer_claim(claim_id: int) -> str:
    """One of the buyer's claims with its timeline, and the answer to the seller's proposal."""
    actor, claim = _claim(RESPOND_TO_CLAIM, claim_id)
    return _render_buyer(claim, actor)


@claims_buyer.post("/claims/<int:claim_id>/accept")
@login_required
def accept(claim_id: int) -> Response | tuple[str, int]:
    """Accept the seller's proposal."""
    actor, claim = _claim(RESPOND_TO_CLAIM, claim_id, for_update=True)
    form = FlaskForm(prefix="accept")
    return _act(
        form,
        lambda: accept_proposal(db.session, claim, actor=actor, now=clock.now()),
        done=_("You accepted the proposal; the claim is resolved."),
        back=url_for("claims_buyer.buyer_claim", claim_id=claim.id),
        render=lambda: _render_buyer(claim, actor, accept=form),
    )


@claims_buyer.post("/claims/<int:claim_id>/reject")
@login_required
def reject(claim_id: int) -> Response | tuple[str, int]:
    """Reject the seller's proposal: staff take over."""
    actor, claim = _claim(RESPOND_TO_CLAIM, claim_id, for_update=True)
    form = ReasonForm(prefix="reject")
    return _act(
        form,
        lambda: reject_proposal(db.session, claim, reason=_text(form, "reason"), actor=actor, now=clock.now()),
        done=_("You rejected the proposal; our staff will decide."),
        back=url_for("claims_buyer.buyer_claim", claim_id=claim.id),
        render=lambda: _render_buyer(claim, actor, reject=form),
    )


@claims_buyer.post("/claims/<int:claim_id>/withdraw")
@login_required
def withdraw(claim_id: int) -> Response | tuple[str, int]:
    """Withdraw the claim."""
    actor, claim = _claim(RESPOND_TO_CLAIM, claim_id, for_update=True)
    form = ReasonForm(prefix="withdraw")
    return _act(
        form,
        lambda: withdraw_claim(db.session, claim, reason=_text(form, "reason"), actor=actor, now=clock.now()),
        done=_("You withdrew the claim."),
        back=url_for("claims_buyer.buyer_claim", claim_id=claim.id),
        render=lambda: _render_buyer(claim, actor, withdraw=form),
    )


@claims_buyer.post("/claims/<int:claim_id>/evidence")
@login_required
def buyer_evidence(claim_id: int) -> Response | tuple[str, int]:
    """Attach more files to an open claim."""
    actor, claim = _claim(ADD_EVIDENCE, claim_id, for_update=True)
    back = url_for("claims_buyer.buyer_claim", claim_id=claim.id)
    return _add_evidence(claim, actor, back, lambda form: _render_buyer(claim, actor, evidence=form))


@claims_buyer.route("/orders/<order_id>/claim", methods=["GET", "POST"])
@login_required
def file(order_id: str) -> Response | str | tuple[str, int]:
    """File a claim on one of the buyer's orders, with photos."""
    actor = page_actor()
    authorize(actor, FILE_CLAIM)
    order = get_order_by_external_id(db.session, order_id)
    if order is None:
        raise NotFound(_("Not found."))
    authorize(actor, FILE_CLAIM, order)
    form = FileClaimForm()
    if request.method == "GET":
        return render_template("claims/buyer/file.html", form=form, order=order, kept=[], type_labels=TYPE_LABELS)
    uploads = UploadSet(evidence_store(), actor)
    if form.validate_on_submit():
        try:
            claim = file_claim_with_evidence(
                db.session,
                order,
                form.type.data,
                description=_text(form, "description"),
                files=uploads.uploads(),
                actor=actor,
                now=clock.now(),
                store=evidence_store(),
            )
        except (ValidationFailed, Conflict) as exc:
            db.session.rollback()
            show_errors(form, exc)
        else:
            db.session.commit()
            uploads.discard()
            flash(_("Your claim is filed. The seller has been given a deadline to answer."), "success")
            return redirect(url_for("claims_buyer.buyer_claim", claim_id=claim.id))
    kept, problems = uploads.keep()
    form.evidence.errors = [*form.evidence.errors, *(p for p in problems if p not in form.evidence.errors)]
    return render_template("claims/buyer/file.html", form=form, order=order, kept=kept, type_labels=TYPE_LABELS), 422


@claims_staff.record_once
def _install_labels(state: BlueprintSetupState) -> None:
    """Claim words as template globals, so that every page and imported macro can use them."""
    from marketplace.claims import labels
    from marketplace.claims.schemas import party_of

    state.app.jinja_env.globals.update(
        claim_type_label=lambda value: labels.label(labels.TYPE_LABELS, value),
        claim_status_label=lambda value: labels.label(labels.STATUS_BADGES, value),
        remedy_label=lambda value: labels.label(labels.REMEDY_LABELS, value),
        decision_label=lambda value: labels.label(labels.DECISION_LABELS, value),
        escalation_label=lambda value: labels.label(labels.ESCALATION_LABELS, value),
        queue_label=lambda value: labels.label(labels.QUEUE_LABELS, value),
        refund_label=lambda value: labels.label(labels.REFUND_LABELS, value),
        timeline_label=lambda value: labels.label(labels.TIMELINE_LABELS, value),
        party_label=lambda ref: labels.label(labels.PARTY_LABELS, party_of(ref)),
    )
