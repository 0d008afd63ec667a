"""Mass incident pages for staff: declare, select the orders, preview, run with live progress, report."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace.claims.labels import label
from marketplace.core import clock
from marketplace.core.errors import Conflict, NotFound, ValidationFailed
from marketplace.core.money import format_won
from marketplace.core.permissions import authorize, can
from marketplace.extensions import db
from marketplace.incidents import operations, queries
from marketplace.incidents.forms import DeclareForm, SelectionForm
from marketplace.incidents.models import Incident, IncidentStatus
from marketplace.incidents.permissions import MANAGE_INCIDENT, READ_INCIDENT
from marketplace.web.forms import show_errors
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor
from marketplace.web.templating import current_locale

incidents_staff = Blueprint("incidents_staff", __name__, url_prefix="/staff/incidents")

PAGE_SIZE = 25
MAX_UPLOAD = 5 * 1024 * 1024


def _incident(incident_id: int, *, for_update: bool = False) -> Incident:
    incident = queries.get_incident(db.session, incident_id, for_update=for_update)
    if incident is None:
        raise NotFound(_("Not found."))
    return incident


@incidents_staff.get("/")
@login_required
def incidents() -> str:
    """Every incident, newest first, with how far its run has come."""
    authorize(page_actor(), READ_INCIDENT)
    number = page_number()
    items, total = queries.list_incidents(db.session, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render_template("incidents/staff/list.html", items=items, page=Page(number, PAGE_SIZE, total))


@incidents_staff.route("/new", methods=["GET", "POST"])
@login_required
def declare() -> Response | str | tuple[str, int]:
    """Declare an incident: cause, fault, the public explanation in Korean and English, and the rule."""
    actor = page_actor()
    authorize(actor, MANAGE_INCIDENT)
    form = DeclareForm()
    if form.is_submitted():
        if form.validate():
            rule: dict[str, Any] = {"form": form.form.data, "method": form.method.data}
            if form.method.data == "fixed":
                rule["amount"] = form.amount.data
            else:
                rule.update(percent=(form.percent.data or "").strip(), minimum=form.minimum.data, cap=form.cap.data)
            try:
                incident = operations.declare_incident(
                    db.session,
                    title_ko=form.title_ko.data,
                    title_en=form.title_en.data,
                    cause=form.cause.data,
                    platform_at_fault=form.platform_at_fault.data,
                    explanation_ko=form.explanation_ko.data,
                    explanation_en=form.explanation_en.data,
                    rule=rule,
                    actor=actor,
                    now=clock.now(),
                )
            except ValidationFailed as exc:
                db.session.rollback()
                # The rule's fields are named rule.<field> by the operation; the form names them <field>.
                exc.errors = {name.removeprefix("rule."): messages for name, messages in exc.errors.items()}
                show_errors(form, exc)
            else:
                db.session.commit()
                flash(_("The incident is declared. Now select the affected orders."), "success")
                return redirect(url_for("incidents_staff.incident", incident_id=incident.id))
        return render_template("incidents/staff/declare.html", form=form), 422
    form.platform_at_fault.data = True
    return render_template("incidents/staff/declare.html", form=form)


def _render(incident: Incident, *, selection_form: SelectionForm | None = None) -> str:
    actor = page_actor()
    completed_or_running = incident.status in (IncidentStatus.RUNNING, IncidentStatus.COMPLETED)
    return render_template(
        "incidents/staff/incident.html",
        incident=incident,
        preview=queries.preview(db.session, incident) if incident.selected_orders else None,
        progress=queries.progress(incident, now=clock.now()),
        report=queries.incident_report(db.session, incident) if completed_or_running else None,
        selection_form=selection_form or SelectionForm(),
        run_form=FlaskForm(prefix="run"),
        may_manage=can(actor, MANAGE_INCIDENT),
    )


@incidents_staff.get("/<int:incident_id>")
@login_required
def incident(incident_id: int) -> str:
    """One incident: its explanation and rule, the selection and its preview, the run's progress and report."""
    authorize(page_actor(), READ_INCIDENT)
    return _render(_incident(incident_id))


def _local(value: datetime | None) -> datetime | None:
    """A time typed in the business time zone, as an aware instant."""
    return value.replace(tzinfo=ZoneInfo(current_app.config["TIMEZONE"])) if value is not None else None


def _order_ids(form: SelectionForm) -> list[str] | None:
    """The order ids of an uploaded file: one per line, or CSV with the id in the first column."""
    upload = form.order_file.data
    if not upload or not upload.filename:
        return None
    data = upload.stream.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ValidationFailed(_("The file is larger than %(limit)s.", limit="5 MB"), field="order_file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(_("The file must be UTF-8 text."), field="order_file") from None
    ids = [row[0].strip() for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    if ids and ids[0].lower() in ("order_id", "order", "id"):
        ids = ids[1:]
    if not ids:
        raise ValidationFailed(_("The file holds no order ids."), field="order_file")
    return ids


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@incidents_staff.post("/<int:incident_id>/selection")
@login_required
def select(incident_id: int) -> Response | tuple[str, int]:
    """Select the affected orders (replacing an earlier selection) and show the preview."""
    actor = page_actor()
    authorize(actor, MANAGE_INCIDENT)
    incident = _incident(incident_id, for_update=True)
    form = SelectionForm()
    status = 422
    if form.validate_on_submit():
        try:
            found = operations.select_orders(
                db.session,
                incident,
                sellers=_split(form.sellers.data),
                skus=_split(form.skus.data),
                paid_from=_local(form.paid_from.data),
                paid_to=_local(form.paid_to.data),
                coupon_code=(form.coupon_code.data or "").strip() or None,
                campaign=(form.campaign.data or "").strip() or None,
                order_ids=_order_ids(form),
                actor=actor,
                now=clock.now(),
            )
        except (ValidationFailed, Conflict) as exc:
            db.session.rollback()
            show_errors(form, exc)
            status = exc.status
        else:
            db.session.commit()
            flash(
                _(
                    "%(orders)s orders selected, %(unknown)s order ids not found.",
                    orders=found["orders"],
                    unknown=found["unknown_order_ids"],
                ),
                "success",
            )
            return redirect(url_for("incidents_staff.incident", incident_id=incident.id))
    return _render(incident, selection_form=form), status


@incidents_staff.post("/<int:incident_id>/run")
@login_required
def run(incident_id: int) -> Response:
    """Start the run: the scheduler compensates the selection in batches; this page shows its progress."""
    actor = page_actor()
    authorize(actor, MANAGE_INCIDENT)
    incident = _incident(incident_id, for_update=True)
    # CSRFProtect has checked the form's token already; the button carries nothing else.
    try:
        operations.start_incident(db.session, incident, actor=actor, now=clock.now())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        flash(str(exc.detail), "error")
    else:
        db.session.commit()
        flash(_("The run has started. Every affected buyer is compensated and told; progress shows below."), "success")
    return redirect(url_for("incidents_staff.incident", incident_id=incident.id))


STATUS_LABELS = {
    IncidentStatus.DECLARED: _l("declared"),
    IncidentStatus.RUNNING: _l("running"),
    IncidentStatus.COMPLETED: _l("completed"),
}


def rule_text(rule: dict[str, Any]) -> str:
    """ "10 % of each order, at most ₩100,000" or "₩5,000 per order"."""
    locale = current_locale()
    if rule.get("method") == "fixed":
        return _("%(amount)s per order", amount=format_won(int(rule.get("amount") or 0), locale))
    text = _("%(percent)s%% of each order", percent=rule.get("percent"))
    limits = []
    if rule.get("minimum"):
        limits.append(_("at least %(amount)s", amount=format_won(int(rule["minimum"]), locale)))
    if rule.get("cap"):
        limits.append(_("at most %(amount)s", amount=format_won(int(rule["cap"]), locale)))
    return f"{text} ({', '.join(limits)})" if limits else text


@incidents_staff.record_once
def _install_labels(state: BlueprintSetupState) -> None:
    """Incident words as template globals."""
    state.app.jinja_env.globals.update(
        incident_status_label=lambda status: label(STATUS_LABELS, status), incident_rule_text=rule_text
    )
