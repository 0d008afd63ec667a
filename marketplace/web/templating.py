"""Filters and globals the templates share: money, local times, labels in the reader's language."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from marketplace.core import clock
from marketplace.core.models import Role
from marketplace.core.money import format_won
from marketplace.core.permissions import READ_AUDIT, Permission, can
from marketplace.orders.models import OrderStatus
from marketplace.web.paging import page_url

ROLE_LABELS = {
    Role.AGENT: _l("Agent"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.ADMIN: _l("Administrator"),
    Role.SELLER: _l("Seller"),
    Role.BUYER: _l("Buyer"),
}
ORDER_STATUS_LABELS = {
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.SHIPPED: _l("Shipped"),
    OrderStatus.DELIVERED: _l("Delivered"),
    OrderStatus.CANCELLED: _l("Cancelled"),
}


def current_locale() -> str:
    """The language code of the page."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def won(amount: int) -> str:
    """An amount of won, written the reader's way."""
    return format_won(amount, current_locale())


def datetime_local(value: datetime) -> str:
    """A UTC instant shown in business time (Asia/Seoul), with the zone named."""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def parse_iso(value: str | datetime) -> datetime:
    """An ISO 8601 instant stored in a JSON document, as a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def filesize(count: int) -> str:
    """A file's size for people: 340 KB, 2.1 MB."""
    if count >= 1024 * 1024:
        return f"{format_decimal(round(count / (1024 * 1024), 1))} MB"
    return f"{format_decimal(max(1, round(count / 1024)))} KB"


@dataclass(frozen=True, slots=True)
class TimeLeft:
    """How long until a deadline, said the way a person reads it, and how urgent it is."""

    text: str
    state: str  # "overdue", "soon" (under a day) or "ok"


def time_left(deadline: datetime, now: datetime | None = None) -> TimeLeft:
    """ "2 days 3 hours left", "5 hours 10 minutes left", "overdue by 1 day 2 hours"."""
    now = now or clock.now()
    seconds = int((deadline - now).total_seconds())
    overdue = seconds < 0
    minutes = abs(seconds) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        span = _("%(days)d d %(hours)d h", days=days, hours=hours)
    elif hours:
        span = _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    else:
        span = _("%(minutes)d min", minutes=minutes)
    if overdue:
        return TimeLeft(_("overdue by %(span)s", span=span), "overdue")
    return TimeLeft(_("%(span)s left", span=span), "soon" if seconds < 86_400 else "ok")


def countdown_labels() -> str:
    """The countdown's phrases (JSON, escaped into an attribute by the template) for static/app.js."""
    return str(
        json.dumps(
            {
                "dh": _("%(days)d d %(hours)d h", days=999001, hours=999002),
                "hm": _("%(hours)d h %(minutes)d min", hours=999002, minutes=999003),
                "m": _("%(minutes)d min", minutes=999003),
                "left": _("%(span)s left", span="{span}"),
                "overdue": _("overdue by %(span)s", span="{span}"),
            },
            ensure_ascii=False,
        )
    )


# Each portal's navigation: (endpoint, label, the permission it needs or None). Domains add their pages here.
NAV_LINKS: dict[str, list[tuple[str, object, Permission | None]]] = {
    "staff": [
        ("home_web.home", _l("Overview"), None),
        ("claims_staff.queue", _l("Claim queue"), None),
        ("sanctions_staff.sellers", _l("Sellers"), None),
        ("scorecard_staff.ranking", _l("Scorecards"), None),
        ("incidents_staff.incidents", _l("Incidents"), None),
        ("compensation_staff.all_deductions", _l("Deductions"), None),
        ("notifications_staff.outbox", _l("Notifications"), None),
        ("core_staff.policies", _l("Policies"), None),
        ("core_staff.audit_log", _l("Audit log"), READ_AUDIT),
    ],
    "seller": [
        ("claims_seller.seller_claims", _l("Claims"), None),
        ("sanctions_seller.own_standing", _l("My standing"), None),
        ("scorecard_seller.own_scorecard", _l("My scorecard"), None),
        ("compensation_seller.deductions", _l("Deductions"), None),
        ("notifications_inbox.inbox", _l("Inbox"), None),
        ("home_web.home", _l("Orders"), None),
    ],
    "buyer": [
        ("home_web.home", _l("My orders"), None),
        ("claims_buyer.buyer_claims", _l("My claims"), None),
        ("compensation_buyer.received", _l("My compensation"), None),
        ("notifications_inbox.inbox", _l("Inbox"), None),
    ],
}


def nav_links() -> list[tuple[str, str]]:
    """The navigation of the logged-in person's portal, limited to what their role may open."""
    from marketplace.web.session import page_actor

    actor = page_actor()
    if actor.role is None:
        return []
    portal = "staff" if actor.is_staff else actor.role.value
    return [
        (endpoint, str(label))
        for endpoint, label, permission in NAV_LINKS[portal]
        if permission is None or can(actor, permission)
    ]


def register(app: Flask) -> None:
    """Install the helpers on ``app``."""
    app.jinja_env.globals.update(
        current_locale=current_locale,
        time_left=time_left,
        countdown_labels=countdown_labels,
        nav_links=nav_links,
        page_url=page_url,
        now=clock.now,
        role_label=lambda role: str(ROLE_LABELS[Role(role)]),
        order_status_label=lambda status: str(ORDER_STATUS_LABELS[OrderStatus(status)]),
    )
    app.jinja_env.filters.update(
        won=won, datetime_local=datetime_local, number=format_decimal, filesize=filesize, parse_iso=parse_iso
    )
