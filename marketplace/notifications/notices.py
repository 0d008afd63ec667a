"""Which notices each signal produces, for whom, and writing them: one read of the recipients, one insert.

A rule says: a signal of this name tells this audience (the buyer or the seller named in the signal's data) a notice
of this topic, once per event and recipient. The dedupe key is ``<topic>:<entity>:<audience>:<recipient>``, where
the entity is what the event is about (the claim, the violation, the compensation, the incident's order). Every
claim signal happens at most once per claim — the claim state machine never returns to ``awaiting_seller``, so a
claim is proposed, escalated, decided and refunded at most once — so the claim id is the whole entity.

Claim signals also become webhooks to the marketplace's systems (``claim.*``), keyed ``webhook:<name>:<claim>``.

Handlers run inside the transaction of the change, for lists of up to hundreds of thousands of signals (a mass
incident): the recipients' names, contacts and languages and the orders' numbers are read in one statement, the
rows are built in memory and written in one statement.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from marketplace.claims import signals as claim_signals
from marketplace.core.audit import jsonable
from marketplace.core.signals import Signal
from marketplace.notifications.models import Audience
from marketplace.notifications.outbox import WEBHOOK_CHANNEL, insert_messages, webhook_body
from marketplace.notifications.routing import route_notice
from marketplace.notifications.settings import NotifySettings
from marketplace.orders.models import Buyer, Order
from marketplace.sellers.models import Seller

# Signals other domains publish (their contracts are in the issue and in their own signals modules).
VIOLATION_RECORDED = "violation.recorded"
VIOLATION_OVERTURNED = "violation.overturned"
SANCTION_IMPOSED = "sanction.imposed"
SANCTION_ENDED = "sanction.ended"
APPEAL_DECIDED = "appeal.decided"
COMPENSATION_GRANTED = "compensation.granted"
COMPENSATION_PAID_OUT = "compensation.paid_out"
COMPENSATION_FAILED = "compensation.failed"
RECOVERY_BOOKED = "recovery.booked"
DEDUCTION_CONFIRMED = "deduction.confirmed"
INCIDENT_ORDER_COMPENSATED = "incident.order_compensated"
# Not a signal: the reminder sweep writes it (sweeps.py).
CLAIM_REMINDER = "claim.reminder"


@dataclass(frozen=True, slots=True)
class Rule:
    """A signal tells ``audience`` — the party whose id is ``data[recipient]`` — about ``data[entity...]``."""

    audience: Audience
    recipient: str
    entity: tuple[str, ...]


def _buyer(*entity: str) -> Rule:
    return Rule(Audience.BUYER, "buyer_id", entity)


def _seller(*entity: str) -> Rule:
    return Rule(Audience.SELLER, "seller_id", entity)


RULES: dict[str, tuple[Rule, ...]] = {
    claim_signals.OPENED: (_buyer("claim_id"), _seller("claim_id")),
    claim_signals.PROPOSED: (_buyer("claim_id"),),
    claim_signals.ACCEPTED: (_seller("claim_id"),),
    # Escalated against a silent seller, the seller's notice is the breach notice.
    claim_signals.ESCALATED: (_buyer("claim_id"), _seller("claim_id")),
    claim_signals.DECIDED: (_buyer("claim_id"), _seller("claim_id")),
    claim_signals.WITHDRAWN: (_seller("claim_id"),),
    claim_signals.REFUND_OVERDUE: (_buyer("claim_id"), _seller("claim_id")),
    claim_signals.REFUNDED: (_buyer("claim_id"),),
    CLAIM_REMINDER: (_seller("claim_id"),),
    VIOLATION_RECORDED: (_seller("violation_id"),),
    VIOLATION_OVERTURNED: (_seller("violation_id"),),
    SANCTION_IMPOSED: (_seller("sanction_id"),),
    SANCTION_ENDED: (_seller("sanction_id"),),
    APPEAL_DECIDED: (_seller("appeal_id"),),
    COMPENSATION_GRANTED: (_buyer("compensation_id"),),
    COMPENSATION_PAID_OUT: (_buyer("compensation_id"),),
    COMPENSATION_FAILED: (_buyer("compensation_id"),),
    RECOVERY_BOOKED: (_seller("compensation_id"),),
    DEDUCTION_CONFIRMED: (_seller("period"),),
    INCIDENT_ORDER_COMPENSATED: (_buyer("incident_id", "order_id"),),
}

# The other domains' signals this module turns into notices (claims are subscribed to as a whole).
OTHER_SIGNALS = tuple(name for name in RULES if not name.startswith("claim."))

# What a notice's reader never needs (the recipient is the row's, the rest is bookkeeping): left out of the stored
# payload, which keeps the rows a sweep of thousands of claims writes small. Webhooks carry the signal whole.
_NOT_FOR_READERS = frozenset({"status", "seller_id", "buyer_id", "order_id", "paid_at", "opened_by", "decided_by"})

# Ids per statement on SQLite (its limit on bound parameters is 32,766); PostgreSQL takes one array each.
_SQLITE_CHUNK = 10_000


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a notice is for, as the buyers and sellers tables know them."""

    name: str
    address: str | None
    language: str


def dedupe_key(topic: str, rule: Rule, data: Mapping[str, Any]) -> str:
    """One notice per event and recipient."""
    entity = ":".join(str(data[key]) for key in rule.entity)
    return f"{topic}:{entity}:{rule.audience.value}:{data[rule.recipient]}"


def current_settings() -> NotifySettings:
    """The app's notification settings; the defaults (everything to the log) outside an app."""
    return NotifySettings.from_config(current_app.config) if has_app_context() else NotifySettings()


def write_notices(
    session: Session,
    signals: Sequence[Signal],
    *,
    now: datetime,
    webhooks: bool = False,
    settings: NotifySettings | None = None,
) -> int:
    """Write the notices ``signals`` produce (and, with ``webhooks``, one webhook per signal); returns how many
    messages were new."""
    settings = settings or current_settings()
    wanted: list[tuple[Signal, Rule]] = [
        (signal, rule)
        for signal in signals
        for rule in RULES.get(signal.name, ())
        if signal.data.get(rule.recipient) is not None
    ]
    buyers = {signal.data[rule.recipient] for signal, rule in wanted if rule.audience is Audience.BUYER}
    sellers = {signal.data[rule.recipient] for signal, rule in wanted if rule.audience is Audience.SELLER}
    orders = {
        signal.data["order_id"]
        for signal, _rule in wanted
        if signal.data.get("order_id") is not None and "order_external_id" not in signal.data
    }
    people, order_numbers = load_recipients(session, buyers=buyers, sellers=sellers, orders=orders)

    rows: dict[str, dict[str, Any]] = {}
    for signal, rule in wanted:
        recipient_id = signal.data[rule.recipient]
        recipient = people.get((rule.audience, recipient_id))
        if recipient is None:
            continue
        key = dedupe_key(signal.name, rule, signal.data)
        channel, address = route_notice(rule.audience, recipient.address, settings)
        payload = _plain(signal.data, skip=_NOT_FOR_READERS)
        payload["at"] = signal.at.isoformat()
        payload["recipient_name"] = recipient.name
        if "order_external_id" not in payload:
            # The number the buyer and seller know the order by, when the signal names an order.
            payload["order_external_id"] = order_numbers.get(signal.data.get("order_id"))
        rows[key] = {
            "dedupe_key": key,
            "topic": signal.name,
            "audience": rule.audience.value,
            "recipient_id": recipient_id,
            "channel": channel,
            "language": recipient.language,
            "address": address,
            "payload": payload,
        }
    if webhooks:
        for signal in signals:
            key = f"webhook:{signal.name}:{signal.data['claim_id']}"
            data = _plain(signal.data)
            data["at"] = signal.at.isoformat()
            rows[key] = {
                "dedupe_key": key,
                "topic": signal.name,
                "audience": Audience.MARKETPLACE.value,
                "recipient_id": None,
                "channel": WEBHOOK_CHANNEL,
                "language": "ko",
                "address": None,
                "payload": webhook_body(signal.name, key, data),
            }
    return insert_messages(session, list(rows.values()), now=now)


def load_recipients(
    session: Session, *, buyers: Iterable[int], sellers: Iterable[int], orders: Iterable[int] = ()
) -> tuple[dict[tuple[Audience, int], Recipient], dict[int, str]]:
    """Names, contacts and languages of buyers and sellers, and orders' numbers, in one statement per chunk."""
    buyers, sellers, orders = sorted(set(buyers)), sorted(set(sellers)), sorted(set(orders))
    people: dict[tuple[Audience, int], Recipient] = {}
    order_numbers: dict[int, str] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    chunk = max(len(buyers), len(sellers), len(orders), 1) if postgres else _SQLITE_CHUNK
    for start in range(0, max(len(buyers), len(sellers), len(orders)), chunk):
        parts = []
        b, s, o = buyers[start : start + chunk], sellers[start : start + chunk], orders[start : start + chunk]
        if b:
            parts.append(
                sa.select(
                    sa.literal("buyer").label("kind"),
                    Buyer.id,
                    Buyer.name,
                    Buyer.contact.label("address"),
                    Buyer.language,
                ).where(_among(Buyer.id, b, postgres))
            )
        if s:
            parts.append(
                sa.select(
                    sa.literal("seller").label("kind"),
                    Seller.id,
                    Seller.name,
                    Seller.contact_email.label("address"),
                    Seller.language,
                ).where(_among(Seller.id, s, postgres))
            )
        if o:
            parts.append(
                sa.select(
                    sa.literal("order").label("kind"),
                    Order.id,
                    Order.external_id.label("name"),
                    sa.null().label("address"),
                    sa.null().label("language"),
                ).where(_among(Order.id, o, postgres))
            )
        statement = parts[0] if len(parts) == 1 else sa.union_all(*parts)
        for kind, row_id, name, address, language in session.execute(statement):
            if kind == "order":
                order_numbers[row_id] = name
            else:
                people[(Audience(kind), row_id)] = Recipient(
                    name=name, address=address, language=language if language in ("ko", "en") else "ko"
                )
    return people, order_numbers


def _among(column: Any, ids: list[int], postgres: bool) -> sa.ColumnElement[bool]:
    if postgres:
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.BigInteger)))
    return column.in_(ids)


def _plain(data: Mapping[str, Any], *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A JSON-safe copy of a signal's flat data (less ``skip``); nested values go through ``jsonable``."""
    plain: dict[str, Any] = {}
    for key, value in data.items():
        if key in skip:
            continue
        if value is None or isinstance(value, (str, int, float, bool)):
            plain[key] = value
        elif isinstance(value, datetime):
            plain[key] = value.astimezone(UTC).isoformat()
        elif isinstance(value, (enum.Enum, date, Decimal, Mapping, list, tuple, set, frozenset)):
            plain[key] = jsonable(value)
        else:
            plain[key] = str(value)
    return plain
