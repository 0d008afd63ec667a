"""Staff pages of the platform itself: the audit log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import login_required

from marketplace.core import queries
from marketplace.core.permissions import READ_AUDIT, authorize
from marketplace.extensions import db
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor

core_staff = Blueprint("core_staff", __name__, url_prefix="/staff")

PAGE_SIZE = 50


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@core_staff.get("/audit")
@login_required
def audit_log() -> str:
    """Every state change, newest first: who, what, on which entity, before and after; with filters."""
    actor = page_actor()
    if not actor.is_staff:
        abort(403)
    authorize(actor, READ_AUDIT)
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    since, until = _day("since"), _day("until")
    number = page_number()
    args = {name: request.args.get(name, "").strip() for name in ("actor", "action", "entity_type", "entity_id")}
    records, total = queries.audit_records(
        db.session,
        actor=args["actor"] or None,
        action=args["action"] or None,
        entity_type=args["entity_type"] or None,
        entity_id=args["entity_id"] or None,
        # Days are business days in Seoul: "until 10-01" includes the whole of 1 October there.
        since=datetime.combine(since, time.min, zone) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, zone) if until else None,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    return render_template(
        "core/staff/audit.html",
        records=records,
        page=Page(number, PAGE_SIZE, total),
        filters={**args, "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""},
        names=queries.actor_names(db.session, [record.actor for record in records]),
    )
