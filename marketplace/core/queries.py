"""Reads for accounts, API keys and the business calendar."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.core.calendar import BusinessCalendar
from marketplace.core.models import STAFF_ROLES, ApiKey, AuditRecord, PlatformHoliday, User

DEFAULT_TIMEZONE = "Asia/Seoul"
_CALENDAR_KEY = "business_calendar"


def get_user(session: Session, user_id: int) -> User | None:
    """The user with ``user_id``, if any."""
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail (case-insensitive), if any."""
    return session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def staff_members(session: Session) -> list[User]:
    """Active staff accounts, by name (whom a claim can be assigned to)."""
    return list(
        session.scalars(sa.select(User).where(User.role.in_(STAFF_ROLES), User.is_active).order_by(User.name, User.id))
    )


def user_names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    """The names of these logins, by id."""
    if not user_ids:
        return {}
    return dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(list(user_ids)))).tuples().all())


def actor_names(session: Session, refs: Iterable[str]) -> dict[str, str]:
    """Who an audit-style actor reference (``user:3``, ``seller_user:4``, ``system:scheduler``) names, for staff."""
    ids = {}
    for ref in set(refs):
        kind, _, number = ref.partition(":")
        if kind in ("user", "seller_user", "buyer_user") and number.isdigit():
            ids[ref] = int(number)
    names = user_names(session, set(ids.values()))
    return {ref: names[user_id] for ref, user_id in ids.items() if user_id in names}


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every API key, newest first."""
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.id.desc())))


def get_api_key_by_hash(session: Session, secret_hash: str) -> ApiKey | None:
    """The key whose secret hashes to ``secret_hash``."""
    return session.scalar(sa.select(ApiKey).where(ApiKey.secret_hash == secret_hash))


def platform_holidays(session: Session) -> dict[date, str]:
    """The days the platform added to the public holidays."""
    return dict(session.execute(sa.select(PlatformHoliday.day, PlatformHoliday.name)).tuples().all())


def load_calendar(session: Session, timezone: str) -> BusinessCalendar:
    """The business calendar: Korean public holidays plus the platform's own days."""
    return BusinessCalendar(timezone, extra_holidays=platform_holidays(session))


def business_calendar(session: Session) -> BusinessCalendar:
    """The calendar for this transaction (loaded once; a commit or rollback forgets it)."""
    calendar = session.info.get(_CALENDAR_KEY)
    if calendar is None:
        timezone = current_app.config["TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE
        calendar = session.info[_CALENDAR_KEY] = load_calendar(session, timezone)
    return calendar


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_calendar(session: Session, *_args: object) -> None:
    # A holiday added by another transaction must count from the next one on.
    session.info.pop(_CALENDAR_KEY, None)


def audit_records(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[AuditRecord], int]:
    """Audit records matching the filters, newest first, and how many match in all."""
    conditions: list[sa.ColumnElement[bool]] = []
    if actor:
        conditions.append(AuditRecord.actor == actor)
    if action:
        # "claim." finds every claim action; "claim.escalate" only that one.
        conditions.append(AuditRecord.action.startswith(action, autoescape=True))
    if entity_type:
        conditions.append(AuditRecord.entity_type == entity_type)
    if entity_id:
        conditions.append(AuditRecord.entity_id == entity_id)
    if since is not None:
        conditions.append(AuditRecord.occurred_at >= since)
    if until is not None:
        conditions.append(AuditRecord.occurred_at < until)
    total = session.scalar(sa.select(sa.func.count()).select_from(AuditRecord).where(*conditions)) or 0
    records = session.scalars(
        sa.select(AuditRecord).where(*conditions).order_by(AuditRecord.id.desc()).limit(limit).offset(offset)
    )
    return list(records), total


def recent_audit_records(session: Session, *, limit: int, offset: int = 0) -> tuple[list[AuditRecord], int]:
    """The newest audit records and how many there are in all."""
    total = session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) or 0
    records = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit).offset(offset))
    return list(records), total


def database_reachable(session: Session) -> bool:
    """Whether a trivial query succeeds."""
    try:
        session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        session.rollback()
        return False
    return True
