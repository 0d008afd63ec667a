"""Accounts, API keys, platform holidays and the audit log."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, BigIntPK, JSONDocument

if TYPE_CHECKING:
    from marketplace.orders.models import Buyer
    from marketplace.sellers.models import Seller


class Role(enum.StrEnum):
    """What a login is: one of three staff levels, a seller's user, or a buyer."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    SELLER = "seller"
    BUYER = "buyer"

    @property
    def is_staff(self) -> bool:
        """Agents, supervisors and admins are trust-and-safety staff."""
        return self in STAFF_ROLES


STAFF_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


def _enum_values(enum_class: type[enum.Enum]) -> list[str]:
    return [member.value for member in enum_class]


class User(Base):
    """A person who logs in: staff, a seller's user (bound to one seller), or a buyer."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'seller' AND seller_id IS NOT NULL AND buyer_id IS NULL)"
            " OR (role = 'buyer' AND buyer_id IS NOT NULL AND seller_id IS NULL)"
            " OR (role IN ('agent', 'supervisor', 'admin') AND seller_id IS NULL AND buyer_id IS NULL)",
            name="role_binding",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=20, values_callable=_enum_values, validate_strings=True)
    )
    seller_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sellers.id", ondelete="RESTRICT"), index=True)
    buyer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("buyers.id", ondelete="RESTRICT"), index=True)
    language: Mapped[str] = mapped_column(sa.String(5), default="ko")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    seller: Mapped[Seller | None] = relationship(lazy="raise_on_sql")
    buyer: Mapped[Buyer | None] = relationship(lazy="raise_on_sql")

    # Flask-Login's protocol.
    @property
    def is_authenticated(self) -> bool:
        """A loaded user is an authenticated one."""
        return True

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session."""
        return str(self.id)

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a user (never the password hash)."""
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role.value,
            "seller_id": self.seller_id,
            "buyer_id": self.buyer_id,
            "language": self.language,
            "is_active": self.is_active,
        }


class ApiKey(Base):
    """A credential for one of the marketplace's systems; only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(80))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    @property
    def is_revoked(self) -> bool:
        """A revoked key is refused for good."""
        return self.revoked_at is not None

    def snapshot(self) -> dict[str, Any]:
        """What the audit log records of a key (never the secret or its hash)."""
        return {
            "name": self.name,
            "prefix": self.prefix,
            "scopes": sorted(self.scopes),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class PlatformHoliday(Base):
    """A day the platform closes on top of the public holidays (a company holiday, a system freeze)."""

    __tablename__ = "platform_holidays"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(80))


class AuditRecord(Base):
    """One state change: who, what, on which entity, before and after. Append-only and hash-chained."""

    __tablename__ = "audit_records"
    __table_args__ = (sa.Index(None, "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(sa.String(80), index=True)
    action: Mapped[str] = mapped_column(sa.String(80))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str] = mapped_column(sa.String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


class PolicyVersion(Base):
    """One version of a policy document (SLA, sanctions, compensation); the highest version is in force."""

    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int]
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(80))
