"""Pages: the staff's outbox (filters, paging, retry of dead messages) and each buyer's and seller's inbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from jinja2 import TemplateError
from werkzeug.wrappers import Response

from marketplace.core import clock
from marketplace.core.errors import NotFound
from marketplace.core.permissions import authorize
from marketplace.extensions import db
from marketplace.notifications import operations, queries
from marketplace.notifications.models import Audience, OutboxMessage, OutboxStatus
from marketplace.notifications.permissions import READ_INBOX, RETRY_MESSAGE, VIEW_OUTBOX
from marketplace.notifications.rendering import Notice, render_notice
from marketplace.web.paging import Page, page_number
from marketplace.web.session import page_actor
from marketplace.web.templating import current_locale

notifications_staff = Blueprint("notifications_staff", __name__, url_prefix="/staff/notifications")
notifications_inbox = Blueprint("notifications_inbox", __name__)

PAGE_SIZE = 25
INBOX_PAGE_SIZE = 10

STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Waiting"),
    OutboxStatus.SENT: _l("Sent"),
    OutboxStatus.FAILED: _l("Failed, will retry"),
    OutboxStatus.DEAD: _l("Gave up"),
}
AUDIENCE_LABELS = {
    Audience.BUYER: _l("Buyer"),
    Audience.SELLER: _l("Seller"),
    Audience.STAFF: _l("Staff"),
    Audience.MARKETPLACE: _l("Marketplace systems"),
}
CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "gateway": _l("Text message or app"),
    "webhook": _l("Webhook"),
    "log": _l("Log only"),
}


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "audience_labels": AUDIENCE_LABELS, "channel_labels": CHANNEL_LABELS}


def _filters(args: Any) -> tuple[queries.OutboxFilters, dict[str, str]]:
    """The list's filters from the query string, and a message for each one that could not be read."""
    filters = queries.OutboxFilters()
    errors: dict[str, str] = {}
    status = args.get("status", "")
    if status:
        try:
            filters = replace(filters, status=OutboxStatus(status))
        except ValueError:
            errors["status"] = _("Choose one of the statuses listed.")
    audience = args.get("audience", "")
    if audience:
        try:
            filters = replace(filters, audience=Audience(audience))
        except ValueError:
            errors["audience"] = _("Choose one of the audiences listed.")
    topic = args.get("topic", "").strip()
    if topic:
        filters = replace(filters, topic=topic[:60])
    for field in ("day_from", "day_to"):
        raw = args.get(field, "").strip()
        if raw:
            try:
                filters = replace(filters, **{field: date.fromisoformat(raw)})
            except ValueError:
                errors[field] = _("Enter a date as YYYY-MM-DD.")
    if filters.day_from and filters.day_to and filters.day_from > filters.day_to:
        errors["day_to"] = _("The end date is before the start date.")
        filters = replace(filters, day_to=None)
    return filters, errors


@notifications_staff.get("/")
@login_required
def outbox() -> tuple[str, int]:
    """The outbox, newest first, narrowed by status, topic, audience and day."""
    authorize(page_actor(), VIEW_OUTBOX)
    filters, errors = _filters(request.args)
    number = page_number()
    messages, total = queries.list_messages(
        db.session,
        filters,
        timezone=current_app.config["TIMEZONE"],
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    kept = {key: value for key, value in request.args.items() if key != "page" and value and key not in errors}
    return (
        render_template(
            "notifications/staff/outbox.html",
            messages=messages,
            page=Page(number, PAGE_SIZE, total),
            filters=filters,
            errors=errors,
            kept=kept,
            statuses=list(OutboxStatus),
            audiences=list(Audience),
            **_labels(),
        ),
        422 if errors else 200,
    )


@notifications_staff.get("/<int:message_id>")
@login_required
def message(message_id: int) -> str:
    """One message: where it goes, its content, and every failed attempt."""
    authorize(page_actor(), VIEW_OUTBOX)
    found = _message_or_404(message_id)
    return render_template(
        "notifications/staff/message.html",
        message=found,
        notice=_notice(found, current_locale()),
        failures=queries.delivery_failures(db.session, message_id),
        **_labels(),
    )


@notifications_staff.post("/<int:message_id>/retry")
@login_required
def retry(message_id: int) -> Response:
    """Give a dead message a new round of attempts (CSRF-checked, audited)."""
    actor = page_actor()
    authorize(actor, RETRY_MESSAGE)
    operations.retry_message(db.session, _message_or_404(message_id), actor=actor, now=clock.now())
    db.session.commit()
    flash(_("Message %(id)d will be sent again shortly.", id=message_id))
    return redirect(_back(request.form.get("next"), message_id))


@notifications_inbox.get("/inbox")
@login_required
def inbox() -> str:
    """The logged-in buyer's or seller's notices, in the reader's language, whatever became of the e-mail."""
    actor = page_actor()
    authorize(actor, READ_INBOX)
    number = page_number()
    notices, total = queries.inbox(db.session, actor, limit=INBOX_PAGE_SIZE, offset=(number - 1) * INBOX_PAGE_SIZE)
    language = current_locale()
    return render_template(
        "notifications/inbox/inbox.html",
        items=[(notice, _notice(notice, language)) for notice in notices],
        page=Page(number, INBOX_PAGE_SIZE, total),
        **_labels(),
    )


def _message_or_404(message_id: int) -> OutboxMessage:
    found = queries.get_message(db.session, message_id)
    if found is None:
        raise NotFound(_l("Not found."))
    return found


def _notice(message: OutboxMessage, language: str) -> Notice | None:
    """The notice as ``language`` reads it; None for a webhook, or a payload no template can render any more."""
    if message.audience is Audience.MARKETPLACE:
        return None
    try:
        return render_notice(
            message.topic,
            message.audience.value,
            language,
            message.payload,
            timezone=current_app.config["TIMEZONE"],
        )
    except (TemplateError, LookupError, ValueError, TypeError):
        current_app.logger.exception("notice %s cannot be rendered", message.id)
        return None


def _back(target: str | None, message_id: int) -> str:
    # Only back into the outbox pages: anything else would make the form an open redirect.
    prefix = url_for("notifications_staff.outbox")
    if target and target.startswith(prefix) and not target.startswith("//"):
        return target
    return url_for("notifications_staff.message", message_id=message_id)
