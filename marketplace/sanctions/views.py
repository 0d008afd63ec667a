"""Pages of a seller's standing: the seller's own (points and the reason for each, sanctions, appeals with a plan
of action) and the staff's view of any seller (the same, with deductions, and the actions their role allows:
impose or lift a sanction, decide an appeal), with the list of sellers that have points or sanctions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from marketplace.compensation import queries as compensation_queries
from marketplace.core import clock
from marketplace.core.errors import NotFound
from marketplace.core.permissions import authorize, can
from marketplace.extensions import db
from marketplace.sanctions import operations, queries
from marketplace.sanctions.forms import AppealDecisionForm, AppealForm, ImposeForm, LiftForm
from marketplace.sanctions.models import (
    KIND_LABELS,
    STAGE_LABELS,
    STATE_LABELS,
    Appeal,
    AppealStatus,
    Sanction,
    Stage,
    Violation,
)
from marketplace.sanctions.permissions import (
    DECIDE_APPEAL,
    FILE_APPEAL,
    LIST_ALL,
    MANAGE_SANCTION,
    READ_SANCTIONS,
    READ_STANDING,
)
from marketplace.sellers.models import Seller
from marketplace.web.forms import submit_form
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor

sanctions_seller = Blueprint("sanctions_seller", __name__, url_prefix="/seller/standing")
sanctions_staff = Blueprint("sanctions_staff", __name__, url_prefix="/staff/sellers")

PAGE_SIZE = 25
LABELS = {"kind_labels": KIND_LABELS, "state_labels": STATE_LABELS, "stage_labels": STAGE_LABELS}


def _standing_page(
    seller: Seller,
    *,
    staff: bool,
    impose: ImposeForm | None = None,
    lift: tuple[int, LiftForm] | None = None,
    decide: tuple[int, AppealDecisionForm] | None = None,
) -> str:
    actor = page_actor()
    authorize(actor, READ_STANDING, queries.SellerRef(seller.id, seller.external_id, seller.name))
    authorize(actor, READ_SANCTIONS)
    read = queries.read_standing(db.session, seller.external_id)
    standing = read.standing if read is not None else None
    number = page_number()
    violations, total = queries.list_violations(db.session, seller.id, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    sanctions, _sanction_total = queries.list_sanctions(db.session, actor, seller_id=seller.id, limit=50, offset=0)
    appeals, _appeal_total = queries.list_appeals(db.session, actor, seller_id=seller.id, limit=50, offset=0)
    now = clock.now()
    appealed = {
        (appeal.violation_id, appeal.sanction_id)
        for appeal in queries.list_appeals(
            db.session, actor, seller_id=seller.id, statuses=[AppealStatus.OPEN], limit=1000, offset=0
        )[0]
    }
    may_appeal = not staff and can(actor, FILE_APPEAL)
    context: dict[str, Any] = {
        "seller": seller,
        "standing": standing,
        "stage": standing.stage if standing is not None else Stage.NONE,
        "violations": violations,
        "sanctions": sanctions,
        "appeals": appeals,
        "page": Page(number, PAGE_SIZE, total),
        "claim_endpoint": "claims_staff.staff_claim" if staff else "claims_seller.seller_claim",
        "staff": staff,
        "appealable_violations": {
            v.id
            for v in violations
            if may_appeal and v.counts and now <= v.appeal_due_at and (v.id, None) not in appealed
        },
        "appealable_sanctions": {
            s.id
            for s in sanctions
            if may_appeal and s.ended_at is None and now <= s.appeal_due_at and (None, s.id) not in appealed
        },
        **LABELS,
    }
    if staff:
        period = now.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m")
        found = compensation_queries.deductions(db.session, period, seller_id=seller.id)
        manage = can(actor, MANAGE_SANCTION)
        context.update(
            period=period,
            deduction=found[0] if found else None,
            impose_form=(impose or ImposeForm(prefix="impose")) if manage else None,
            lift_forms={
                s.id: lift[1] if lift is not None and lift[0] == s.id else LiftForm(prefix=f"lift-{s.id}")
                for s in sanctions
                if manage and s.ended_at is None
            },
            decide_forms={
                a.id: decide[1]
                if decide is not None and decide[0] == a.id
                else AppealDecisionForm(prefix=f"decide-{a.id}")
                for a in appeals
                if a.status is AppealStatus.OPEN and can(actor, DECIDE_APPEAL)
            },
        )
    return render_template("sanctions/standing.html", **context)


# Seller portal ---------------------------------------------------------------------------------------------------


def _own_seller() -> Seller:
    actor = page_actor()
    seller = db.session.get(Seller, actor.seller_id) if actor.seller_id is not None else None
    if seller is None:
        raise NotFound(_("Not found."))
    return seller


@sanctions_seller.get("/")
@login_required
def own_standing() -> str:
    """The seller's points and stage with the reason for every point, its sanctions and its appeals."""
    return _standing_page(_own_seller(), staff=False)


def _appeal(item: Violation | Sanction | None, kind: str) -> Response | tuple[str, int] | str:
    """Show or take the plan of action for one of the seller's own violations or sanctions."""
    actor = page_actor()
    if item is None:
        raise NotFound(_("Not found."))
    authorize(actor, FILE_APPEAL, item)
    form = AppealForm()
    back = url_for("sanctions_seller.own_standing")

    def render() -> str:
        return render_template("sanctions/appeal.html", item=item, kind=kind, form=form, **LABELS)

    if request.method == "GET":
        return render()
    target = {"violation": item} if kind == "violation" else {"sanction": item}
    return submit_form(
        form,
        lambda: operations.file_appeal(
            db.session,
            **target,
            root_cause=form.root_cause.data or "",
            actions_taken=form.actions_taken.data or "",
            prevention=form.prevention.data or "",
            actor=actor,
            now=clock.now(),
        ),
        done=_("Your appeal is filed; staff will answer it."),
        back=back,
        render=render,
    )


@sanctions_seller.route("/violations/<int:violation_id>/appeal", methods=["GET", "POST"])
@login_required
def appeal_violation(violation_id: int) -> Response | tuple[str, int] | str:
    """Appeal a violation that counts, with a plan of action."""
    return _appeal(queries.get_violation(db.session, violation_id, for_update=request.method == "POST"), "violation")


@sanctions_seller.route("/sanctions/<int:sanction_id>/appeal", methods=["GET", "POST"])
@login_required
def appeal_sanction(sanction_id: int) -> Response | tuple[str, int] | str:
    """Appeal a sanction in force, with a plan of action."""
    return _appeal(queries.get_sanction(db.session, sanction_id, for_update=request.method == "POST"), "sanction")


# Staff console ---------------------------------------------------------------------------------------------------


@sanctions_staff.get("/")
@login_required
def sellers() -> str:
    """Sellers with points or sanctions, the most points first; filter by stage."""
    actor = page_actor()
    authorize(actor, LIST_ALL)
    known = {stage.value for stage in Stage}
    wanted = [Stage(value) for value in request.args.getlist("stage") if value in known]
    number = page_number()
    rows, total = queries.list_standings(db.session, stages=wanted, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render_template(
        "sanctions/staff/sellers.html",
        rows=rows,
        stages=[(stage, STAGE_LABELS[stage]) for stage in Stage],
        wanted=wanted,
        page=Page(number, PAGE_SIZE, total),
        **LABELS,
    )


def _staff_seller(external_id: str) -> Seller:
    authorize(page_actor(), LIST_ALL)
    found = queries.get_seller(db.session, external_id)
    if found is None:
        raise NotFound(_("Not found."))
    return found


@sanctions_staff.get("/<external_id>")
@login_required
def seller(external_id: str) -> str:
    """One seller's standing, violations, sanctions, appeals and deductions, with the staff's actions."""
    return _standing_page(_staff_seller(external_id), staff=True)


def _staff_act(
    found: Seller, form: Any, action: Callable[[], object], *, done: str, render: Callable[[], str]
) -> Response | tuple[str, int]:
    return submit_form(
        form, action, done=done, back=url_for("sanctions_staff.seller", external_id=found.external_id), render=render
    )


def _local(value: datetime | None) -> datetime | None:
    """A time typed in the business time zone, as an aware instant."""
    return value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"])) if value is not None else None


@sanctions_staff.post("/<external_id>/sanctions")
@login_required
def impose(external_id: str) -> Response | tuple[str, int]:
    """A supervisor imposes a stage on the seller from now."""
    actor = page_actor()
    found = _staff_seller(external_id)
    authorize(actor, MANAGE_SANCTION)
    form = ImposeForm(prefix="impose")
    return _staff_act(
        found,
        form,
        lambda: operations.impose_sanction(
            db.session,
            found,
            form.stage.data or "",
            reason=form.reason.data or "",
            ends_at=_local(form.ends_at.data),
            actor=actor,
            now=clock.now(),
        ),
        done=_("The sanction is imposed."),
        render=lambda: _standing_page(found, staff=True, impose=form),
    )


def _owned(item: Sanction | Appeal | None, found: Seller) -> Any:
    if item is None or item.seller_id != found.id:
        raise NotFound(_("Not found."))
    return item


@sanctions_staff.post("/<external_id>/sanctions/<int:sanction_id>/lift")
@login_required
def lift(external_id: str, sanction_id: int) -> Response | tuple[str, int]:
    """A supervisor lifts one of the seller's sanctions now."""
    actor = page_actor()
    found = _staff_seller(external_id)
    authorize(actor, MANAGE_SANCTION)
    sanction = _owned(queries.get_sanction(db.session, sanction_id, for_update=True), found)
    form = LiftForm(prefix=f"lift-{sanction_id}")
    return _staff_act(
        found,
        form,
        lambda: operations.lift_sanction(
            db.session, sanction, reason=form.reason.data or "", actor=actor, now=clock.now()
        ),
        done=_("The sanction is lifted."),
        render=lambda: _standing_page(found, staff=True, lift=(sanction_id, form)),
    )


@sanctions_staff.post("/<external_id>/appeals/<int:appeal_id>/decision")
@login_required
def decide(external_id: str, appeal_id: int) -> Response | tuple[str, int]:
    """Staff accept or reject one of the seller's appeals."""
    actor = page_actor()
    found = _staff_seller(external_id)
    authorize(actor, DECIDE_APPEAL)
    appeal = _owned(queries.get_appeal(db.session, appeal_id, for_update=True), found)
    form = AppealDecisionForm(prefix=f"decide-{appeal_id}")
    return _staff_act(
        found,
        form,
        lambda: operations.decide_appeal(
            db.session, appeal, form.outcome.data or "", reason=form.reason.data or "", actor=actor, now=clock.now()
        ),
        done=_("The appeal is decided."),
        render=lambda: _standing_page(found, staff=True, decide=(appeal_id, form)),
    )
