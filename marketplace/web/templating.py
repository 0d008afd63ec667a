"""Filters and globals the templates share: money, local times, labels in the reader's language."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l

from marketplace.core.models import Role
from marketplace.core.money import format_won
from marketplace.orders.models import OrderStatus

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


def register(app: Flask) -> None:
    """Install the helpers on ``app``."""
    app.jinja_env.globals.update(
        current_locale=current_locale,
        role_label=lambda role: str(ROLE_LABELS[Role(role)]),
        order_status_label=lambda status: str(ORDER_STATUS_LABELS[OrderStatus(status)]),
    )
    app.jinja_env.filters.update(won=won, datetime_local=datetime_local, number=format_decimal)
