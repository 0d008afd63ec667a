"""Staff pages of the platform itself: the audit log and the policy pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace.core import clock, queries
from marketplace.core.errors import Conflict, ValidationFailed
from marketplace.core.models import PolicyVersion
from marketplace.core.permissions import EDIT_POLICIES, READ_AUDIT, VIEW_POLICIES, authorize, can
from marketplace.core.policies import (
    builtin_policy,
    current_policy,
    flatten,
    policy_history,
    policy_kind,
    policy_kinds,
    publish_policy,
    unflatten,
)
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


@core_staff.get("/policies")
@login_required
def policies() -> str:
    """Every policy kind with the version in force."""
    actor = page_actor()
    authorize(actor, VIEW_POLICIES)
    kinds = [(kind, current_policy(db.session, kind.name)) for kind in policy_kinds()]
    return render_template("core/staff/policies.html", kinds=kinds)


def _changes(history: list[PolicyVersion]) -> dict[int, list[str]]:
    """For each version, the fields it changed from the one before."""
    changed: dict[int, list[str]] = {}
    for newer, older in pairwise(history):
        before, after = flatten(older.document), flatten(newer.document)
        changed[newer.version] = sorted(path for path in {*before, *after} if before.get(path) != after.get(path))
    return changed


def _render_policy(
    name: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict | None = None,
    note: str = "",
    days: Any = None,
    preview: Any = None,
):
    actor = page_actor()
    kind = policy_kind(name)
    current = current_policy(db.session, name)
    history = [*policy_history(db.session, name), builtin_policy(name)]
    return render_template(
        "core/staff/policy.html",
        kind=kind,
        current=current,
        fields=flatten(current.document),
        values=values if values is not None else flatten(current.document),
        errors=errors or {},
        note=note,
        history=history,
        changes=_changes(history),
        may_edit=can(actor, EDIT_POLICIES),
        may_preview=kind.preview is not None and can(actor, kind.preview.permission),
        days=days if days is not None else (kind.preview.default_days if kind.preview else None),
        preview=preview,
        form=FlaskForm(),
    )


@core_staff.get("/policies/<name>")
@login_required
def policy(name: str) -> str:
    """The version in force field by field, the past versions with what each changed, and the edit form."""
    authorize(page_actor(), VIEW_POLICIES)
    return _render_policy(name)


def _parse(raw: str, like: Any) -> Any:
    """A typed field back in the type of the value it replaces (whole numbers stay whole)."""
    raw = raw.strip()
    if raw == "":
        # An empty field is "none" (no cap, no minimum); the validator says where that is not allowed.
        return "" if isinstance(like, str) else None
    if like is None:
        return int(raw) if raw.lstrip("-").isdigit() else raw
    if isinstance(like, bool):
        return raw in ("on", "true", "1")
    if isinstance(like, float):
        try:
            return float(raw)
        except ValueError:
            return raw  # the validator names it
    if isinstance(like, int):
        try:
            return int(raw)
        except ValueError:
            return raw  # the validator names it
    if isinstance(like, list):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


@core_staff.post("/policies/<name>")
@login_required
def publish(name: str) -> Response | tuple[str, int]:
    """Publish a new version from the form; it applies to what is computed from now on.

    With ``action=preview`` (the policy kind offers a what-if), nothing is published: the page comes back with the
    form as typed and what the candidate would change.
    """
    actor = page_actor()
    authorize(actor, EDIT_POLICIES)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    document = current_policy(db.session, name).document
    fields = flatten(document)
    values = {
        path: _parse(request.form.get(f"field:{path}", ""), like)
        if not isinstance(like, bool)
        else f"field:{path}" in request.form
        for path, like in fields.items()
    }
    note = request.form.get("note", "").strip()[:500]
    if request.form.get("action") == "preview":
        return _preview(name, values, document, note)
    try:
        candidate = unflatten(values, document)
        version = publish_policy(db.session, name, candidate, note=note, actor=actor, now=clock.now())
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        errors = {path: [str(message) for message in messages] for path, messages in exc.errors.items()}
        if not errors:
            errors = {"": [str(exc.detail)]}
        return _render_policy(name, values=values, errors=errors, note=note), exc.status
    db.session.commit()
    flash(_("Version %(version)d is in force from now on.", version=version.version), "success")
    return redirect(url_for("core_staff.policy", name=name))


def _preview(name: str, values: dict[str, Any], document: dict[str, Any], note: str) -> str | tuple[str, int]:
    """The what-if of the typed candidate beside the version in force; nothing is written."""
    kind = policy_kind(name)
    if kind.preview is None:
        abort(404)
    authorize(page_actor(), kind.preview.permission)
    raw_days = request.form.get("days", "").strip()
    days: Any = int(raw_days) if raw_days.isdigit() else raw_days
    try:
        candidate = unflatten(values, document)
        result = kind.preview.run(db.session, candidate, days=days, now=clock.now())
    except ValidationFailed as exc:
        db.session.rollback()
        errors = {
            path.removeprefix("document."): [str(message) for message in messages]
            for path, messages in exc.errors.items()
        }
        if not errors:
            errors = {"": [str(exc.detail)]}
        return _render_policy(name, values=values, errors=errors, note=note, days=raw_days), exc.status
    db.session.rollback()  # a what-if writes nothing
    return _render_policy(name, values=values, note=note, days=days, preview=result)
