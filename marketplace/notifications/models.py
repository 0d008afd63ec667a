"""The outbox: every notice and outbound webhook, written in the transaction of the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, BigIntPK, JSONDocument


def _values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


def _enum(enum_class: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(enum_class, native_enum=False, length=20, values_callable=_values, validate_strings=True)


class Audience(enum.StrEnum):
    """Who a message is for: a buyer, a seller (its users and contact address), staff, or the marketplace's systems."""

    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"
    MARKETPLACE = "marketplace"


class OutboxStatus(enum.StrEnum):
    """Where a message stands: waiting (again, after a failed attempt), delivered, or given up on."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; another is scheduled at next_attempt_at
    DEAD = "dead"  # out of attempts; staff may retry it


class OutboxMessage(Base):
    """One notice to a person or one webhook to a system, delivered by the relay at least once.

    ``dedupe_key`` makes writing idempotent: one message per event and recipient, however often the change that
    causes it is replayed. ``topic`` names what happened (``claim.opened``, ``seller.standing_changed``) and, for a
    notice, which template renders it; ``payload`` is the template's context or the webhook's JSON body.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The relay reads only what is due, oldest first; its cost follows the due rows, not the table.
        sa.Index(
            "ix_outbox_messages_due",
            "next_attempt_at",
            postgresql_where=sa.text("status IN ('pending', 'failed')"),
            sqlite_where=sa.text("status IN ('pending', 'failed')"),
        ),
        # Each party's inbox, newest first.
        sa.Index(None, "audience", "recipient_id", "created_at"),
        sa.Index(None, "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    topic: Mapped[str] = mapped_column(sa.String(60))
    audience: Mapped[Audience] = mapped_column(_enum(Audience))
    # The buyer's or seller's id for their notices; None for staff and for the marketplace's webhooks.
    recipient_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    channel: Mapped[str] = mapped_column(sa.String(20))
    language: Mapped[str] = mapped_column(sa.String(5), default="ko")
    # Where it goes when the channel needs an address (an e-mail address); None when configuration decides.
    address: Mapped[str | None] = mapped_column(sa.String(254))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
