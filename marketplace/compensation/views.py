"""Compensation pages: what a buyer received and why, what a seller will have deducted and why, staff grants."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from marketplace.compensation import labels, queries
from marketplace.compensation.forms import VoidForm
from marketplace.compensation.operations import void_compensation
from marketplace.compensation.permissions import (
    READ_COMPENSATION,
    READ_DEDUCTIONS,
    VOID_COMPENSATION,
)
from marketplace.core import clock
from marketplace.core.errors import Conflict, NotFound, ValidationFailed
from marketplace.core.permissions import authorize
from marketplace.extensions import db
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor
from marketplace.web.templating import current_locale

compensation_buyer = Blueprint("compensation_buyer", __name__, url_prefix="/buyer")
compensation_seller = Blueprint("compensation_seller", __name__, url_prefix="/seller")
compensation_staff = Blueprint("compensation_staff", __name__, url_prefix="/staff")

PAGE_SIZE = 25


@compensation_buyer.get("/compensation")
@login_required
def received() -> str:
    """Every compensation the buyer received, how much, in what form, and why."""
    actor = page_actor()
    authorize(actor, READ_COMPENSATION)
    if actor.buyer_id is None:
        raise NotFound(_("Not found."))
    number = page_number()
    items, total = queries.list_compensations(db.session, actor, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render_template(
        "compensation/buyer/received.html",
        items=items,
        orders=queries.order_external_ids(db.session, [item.order_id for item in items]),
        page=Page(number, PAGE_SIZE, total),
    )


def _period() -> str:
    raw = request.args.get("period", "")
    try:
        return queries.parse_period(raw)
    except ValidationFailed:
        return clock.now().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).strftime("%Y-%m")


@compensation_seller.get("/deductions")
@login_required
def deductions() -> str:
    """What the seller's settlement for a month deducts, line by line, each traceable to its claim."""
    actor = page_actor()
    authorize(actor, READ_DEDUCTIONS)
    if actor.seller_id is None:
        raise NotFound(_("Not found."))
    period = _period()
    found = queries.deductions(db.session, period, seller_id=actor.seller_id)
    return render_template("compensation/seller/deductions.html", period=period, deduction=found[0] if found else None)


@compensation_staff.get("/deductions")
@login_required
def all_deductions() -> str:
    """Every seller's deductions for a month (what the marketplace withholds from settlements)."""
    actor = page_actor()
    authorize(actor, READ_DEDUCTIONS)
    if not actor.is_staff:
        raise NotFound(_("Not found."))
    period = _period()
    return render_template(
        "compensation/staff/deductions.html", period=period, deductions=queries.deductions(db.session, period)
    )


@compensation_staff.post("/compensations/<int:compensation_id>/void")
@login_required
def void(compensation_id: int) -> Response | tuple[str, int]:
    """A supervisor reverses a compensation granted in error (the ledger reverses it too)."""
    actor = page_actor()
    authorize(actor, VOID_COMPENSATION)
    compensation = queries.get_compensation(db.session, compensation_id, for_update=True)
    if compensation is None:
        raise NotFound(_("Not found."))
    form = VoidForm(prefix=f"void-{compensation.id}")
    back = url_for("claims_staff.staff_claim", claim_id=compensation.claim_id) if compensation.claim_id else "/"
    if form.validate_on_submit():
        try:
            void_compensation(db.session, compensation, reason=form.reason.data or "", actor=actor, now=clock.now())
        except (ValidationFailed, Conflict) as exc:
            db.session.rollback()
            flash(str(exc.detail), "error")
        else:
            db.session.commit()
            flash(_("The compensation is voided and reversed in the ledger."), "success")
    return redirect(back)


@compensation_staff.record_once
def _install_labels(state: BlueprintSetupState) -> None:
    """Compensation words as template globals."""
    state.app.jinja_env.globals.update(
        compensation_rule_label=labels.rule_label,
        compensation_calculation=lambda calculation: labels.calculation_text(calculation or {}, current_locale()),
        compensation_status_label=labels.status_label,
        compensation_form_label=labels.form_label,
    )
