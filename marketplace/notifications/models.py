"""The outbox: every notice and outbound webhook, written in the transaction of the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.errors import IllegalTransition
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
    # Set while a relay holds the message between taking it and recording the outcome (see relay.py): the
    # outcome is recorded only by the relay whose lease it still is.
    lease: Mapped[str | None] = mapped_column(sa.String(32))

    @property
    def is_dead(self) -> bool:
        """Out of attempts: only staff (or `marketplace notifications retry`) bring it back."""
        return self.status is OutboxStatus.DEAD

    def retry(self, *, now: datetime) -> None:
        """Give a dead message a new round of attempts, due at once."""
        if self.status is not OutboxStatus.DEAD:
            raise IllegalTransition(
                _l("Only a message that has run out of attempts can be retried."), current_status=self.status.value
            )
        self.status = OutboxStatus.PENDING
        self.attempts = 0
        self.next_attempt_at = now
        self.lease = None

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a message."""
        return {
            "dedupe_key": self.dedupe_key,
            "status": self.status.value,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
        }


class DeliveryFailure(Base):
    """One failed attempt to deliver a message: when, which attempt, through which channel, and the error.

    ``outbox_messages.last_error`` holds only the latest; this table keeps every one (a manual retry starts the
    attempt count again, so the time tells the rounds apart).
    """

    __tablename__ = "outbox_delivery_failures"
    __table_args__ = (sa.Index(None, "message_id", "failed_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_messages.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    channel: Mapped[str] = mapped_column(sa.String(20))
    failed_at: Mapped[datetime]
    error: Mapped[str] = mapped_column(sa.Text)
    # A permanent failure (an address refused, a 4xx answer) dead-letters at once instead of retrying.
    permanent: Mapped[bool] = mapped_column(default=False)


class SellerReminder(Base):
    """A reminder to a seller that is still to come: written when a claim opens awaiting the seller, with the time
    the SLA policy of that moment gives it, and taken away when the reminder sweep reaches it.

    The sweep reads only the rows whose time has come, so a run with nothing due costs one index probe however many
    claims are open (it used to look up every claim in the reminder window in the outbox).
    """

    __tablename__ = "seller_reminders"

    claim_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("claims.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # None for the claims that were open when this table came (the migration cannot run the business calendar):
    # the sweep gives them their time, from the policy in force, before anything else.
    remind_at: Mapped[datetime | None] = mapped_column(index=True)
